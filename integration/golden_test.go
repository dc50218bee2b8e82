package integration

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite integration/testdata/golden/*.json from what the server answers")

// goldenProtocols are the ingest protocols with a golden file each.
var goldenProtocols = []string{
	"zipkin_v2_json",
	"zipkin_v2_proto",
	"zipkin_v1_json",
	"jaeger_thrift_http",
	"jaeger_grpc",
	"jaeger_udp_compact",
	"jaeger_udp_binary",
}

// goldenBase is the fixed start of every golden trace (microsecond precision,
// the finest Jaeger and Zipkin carry).
var goldenBase = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

// goldenLinkedTrace is the trace the Jaeger references point to.
var goldenLinkedTrace = mustHex("b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// goldenIDs are the fixed trace ID and span-ID base of a protocol's trace.
func goldenIDs(i int) ([]byte, uint64) {
	return mustHex(fmt.Sprintf("5ace%028x", i+1)), 0x5ace000000000000 + uint64(i+1)<<8
}

// sendGolden sends protocol p's golden trace.
func sendGolden(t *testing.T, s *Server, i int, p string) {
	t.Helper()
	tid, base := goldenIDs(i)
	svc := "golden-" + strings.ReplaceAll(p, "_", "-")
	switch p {
	case "zipkin_v2_json":
		s.SendZipkin(t, "", "/api/v2/spans", "application/json", ZipkinJSON(t, zipkinRichSpans(tid, base, goldenBase, svc)))
	case "zipkin_v2_proto":
		s.SendZipkin(t, "", "/api/v2/spans", "application/x-protobuf", ZipkinProto(t, zipkinRichSpans(tid, base, goldenBase, svc)))
	case "zipkin_v1_json":
		s.SendZipkin(t, "", "/api/v1/spans", "application/json", zipkinV1Rich(tid, base, goldenBase, svc))
	case "jaeger_thrift_http":
		s.SendJaegerThrift(t, "", jaegerRichBatch(tid, base, goldenLinkedTrace, goldenBase, svc))
	case "jaeger_grpc":
		if err := s.JaegerPostSpans(t, "", thriftToModel(jaegerRichBatch(tid, base, goldenLinkedTrace, goldenBase, svc))); err != nil {
			t.Fatalf("Jaeger gRPC PostSpans: %v", err)
		}
	case "jaeger_udp_compact", "jaeger_udp_binary":
		s.SendJaegerUDP(t, p == "jaeger_udp_compact", jaegerRichBatch(tid, base, goldenLinkedTrace, goldenBase, svc))
	default:
		t.Fatalf("unknown protocol %q", p)
	}
}

// TestFidelityGolden sends one rich trace with fixed IDs and times per
// ingest protocol and compares GET /api/traces/{id} (JSON, spans sorted by
// ID, attributes by key, keys sorted) with testdata/golden/<protocol>.json,
// live and again after POST /flush. `go test ./integration -run Golden
// -update` rewrites the files.
func TestFidelityGolden(t *testing.T) {
	s := StartServer(t, ServerOptions{Backend: "local"})
	for i, p := range goldenProtocols {
		sendGolden(t, s, i, p)
	}
	check := func(t *testing.T, i int, p string, update bool) {
		tid, _ := goldenIDs(i)
		id := hex.EncodeToString(tid)
		var got []byte
		deadline := time.Now().Add(5 * time.Second) // UDP has no acknowledgement
		for {
			resp, body := s.Do(t, http.MethodGet, "/api/traces/"+id, "", http.Header{"Accept": {"application/json"}}, nil)
			if resp.StatusCode == http.StatusOK {
				got = normalizeTraceJSON(t, body)
				if !strings.HasPrefix(p, "jaeger_udp") || strings.Count(string(got), `"spanId"`) >= 4 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /api/traces/%s: %d %q", id, resp.StatusCode, truncate(body))
			}
			time.Sleep(50 * time.Millisecond)
		}
		path := filepath.Join("testdata", "golden", p+".json")
		if update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", path)
			return
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden file (run with -update to create it): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("GET /api/traces/%s differs from %s (rerun with -update and review the diff):\n%s", id, path, lineDiff(string(want), string(got)))
		}
	}
	for i, p := range goldenProtocols {
		t.Run(p, func(t *testing.T) { check(t, i, p, *updateGolden) })
	}
	s.Flush(t)
	t.Run("from_blocks", func(t *testing.T) {
		for i, p := range goldenProtocols {
			t.Run(p, func(t *testing.T) { check(t, i, p, false) })
		}
	})
}

// normalizeTraceJSON decodes a trace answer and re-encodes it indented with
// sorted keys, spans sorted by spanId, attribute lists by key and batches
// and scopeSpans by content, so the file does not depend on storage order.
func normalizeTraceJSON(t testing.TB, body []byte) []byte {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("trace answer is not JSON: %v: %q", err, truncate(body))
	}
	v = normalizeJSON(v, "")
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func normalizeJSON(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeJSON(e, k)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeJSON(e, "")
		}
		enc := func(e any) string { b, _ := json.Marshal(e); return string(b) }
		field := func(e any, f string) string {
			if m, ok := e.(map[string]any); ok {
				s, _ := m[f].(string)
				return s
			}
			return ""
		}
		switch key {
		case "attributes":
			sort.SliceStable(x, func(i, j int) bool {
				if a, b := field(x[i], "key"), field(x[j], "key"); a != b {
					return a < b
				}
				return enc(x[i]) < enc(x[j])
			})
		case "spans":
			sort.SliceStable(x, func(i, j int) bool {
				if a, b := field(x[i], "spanId"), field(x[j], "spanId"); a != b {
					return a < b
				}
				return enc(x[i]) < enc(x[j])
			})
		case "batches", "resourceSpans", "scopeSpans":
			sort.SliceStable(x, func(i, j int) bool { return enc(x[i]) < enc(x[j]) })
		}
		return x
	}
	return v
}

// lineDiff shows the lines that differ (a small diff; the golden files are
// short).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	n := max(len(w), len(g))
	for i := 0; i < n && len(out) < 60; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, fmt.Sprintf("line %d:\n  - %s\n  + %s", i+1, a, b))
		}
	}
	return strings.Join(out, "\n")
}
