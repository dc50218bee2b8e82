package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/bench/gen"
)

// traceServer serves /api/traces/<id> from generated traces.
func traceServer(t *testing.T, traces map[string]ptrace.Traces) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/api/traces/")
		td, ok := traces[id]
		if !ok {
			http.Error(w, "trace not found", http.StatusNotFound)
			return
		}
		if r.Header.Get("Accept") == "application/protobuf" {
			b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
			w.Write(b)
			return
		}
		b, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		// Tempo v1 shape: {"batches":[...]}.
		w.Write([]byte(strings.Replace(string(b), `"resourceSpans"`, `"batches"`, 1)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func oneTraceEach(seed uint64, n, spans int) (map[string]ptrace.Traces, []string) {
	g := gen.New(seed)
	m := map[string]ptrace.Traces{}
	var ids []string
	for range n {
		td := g.Traces(1, spans)
		id := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID()
		h := hex.EncodeToString(id[:])
		m[h] = td
		ids = append(ids, h)
	}
	return m, ids
}

func TestReadbackJSONAndProtobuf(t *testing.T) {
	traces, ids := oneTraceEach(5, 30, 10)
	srv := traceServer(t, traces)
	for _, format := range []string{"json", "protobuf"} {
		res, err := Run(context.Background(), Config{
			BaseURL: srv.URL, Path: "/api/traces/", IDs: ids, N: 20, SpansPerTrace: 10, Format: format,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 20 || res.OK != 20 || res.Failed != 0 {
			t.Fatalf("%s: %+v", format, res)
		}
		if res.P50Ms <= 0 || res.P99Ms < res.P50Ms || res.MaxMs < res.P99Ms {
			t.Fatalf("%s: implausible latencies %+v", format, res)
		}
	}
}

func TestReadbackFailures(t *testing.T) {
	traces, ids := oneTraceEach(5, 3, 10)
	short, shortIDs := oneTraceEach(6, 1, 4)
	for k, v := range short {
		traces[k] = v
	}
	srv := traceServer(t, traces)
	missing := "0123456789abcdef0123456789abcdef"
	all := append(append(ids, shortIDs...), missing)
	res, err := Run(context.Background(), Config{
		BaseURL: srv.URL, Path: "/api/traces/", IDs: all, SpansPerTrace: 10, Format: "json",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 3 || res.Failed != 2 {
		t.Fatalf("%+v", res)
	}
	joined := strings.Join(res.Errors, "\n")
	if !strings.Contains(joined, "HTTP 404") || !strings.Contains(joined, "4 spans, want 10") {
		t.Fatalf("errors: %s", joined)
	}
}

func TestCountJSONBase64AndWrongTrace(t *testing.T) {
	want := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	b64 := base64.StdEncoding.EncodeToString(want[:])
	body := fmt.Sprintf(`{"trace":{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":%q},{"traceId":%q,"events":[{"name":"x"}]}]}]},
		{"instrumentationLibrarySpans":[{"spans":[{"traceId":%q}]}]}]}}`, b64, b64, hex.EncodeToString(want[:]))
	n, err := countJSON([]byte(body), want)
	if err != nil || n != 3 {
		t.Fatalf("got %d, %v", n, err)
	}
	other := want
	other[0] = 99
	if _, err := countJSON([]byte(body), other); err == nil {
		t.Fatal("spans of another trace accepted")
	}
}
