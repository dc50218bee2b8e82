package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOTLPGRPCAndHTTPTracesReadBackByID: traces sent by every kind of OTLP
// client come back by ID, exactly as sent, right after the client's flush
// returns (from the live data) and again after POST /flush (from blocks).
func TestOTLPGRPCAndHTTPTracesReadBackByID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		var all []ExpectedTrace

		// The OpenTelemetry Go SDK with the real exporters.
		for _, kind := range allSDKClients {
			sent := sendWithSDK(t, s, kind, "", 3)
			for _, want := range sent {
				s.RequireTraceAllForms(t, "", want, "right after "+kind+" flushed")
			}
			all = append(all, sent...)
		}

		// Hand-made OTLP/JSON (hex IDs, as the OTLP spec says).
		jsonTrace := newRawTrace("json", 9)
		s.SendOTLPJSON(t, "", jsonTrace.Data())
		s.RequireTraceAllForms(t, "", jsonTrace.Expected(), "right after OTLP/JSON POST")
		all = append(all, jsonTrace.Expected())

		// Hand-made gzip-compressed protobuf with two traces in one request.
		gzA, gzB := newRawTrace("gzip-a", 7), newRawTrace("gzip-b", 4)
		s.SendOTLPProtobuf(t, "", mergeData(gzA.Data(), gzB.Data()), true)
		for _, want := range []ExpectedTrace{gzA.Expected(), gzB.Expected()} {
			s.RequireTraceAllForms(t, "", want, "right after gzip protobuf POST")
			all = append(all, want)
		}

		// Plain protobuf and a raw gRPC Export.
		pbTrace := newRawTrace("protobuf", 5)
		s.SendOTLPProtobuf(t, "", pbTrace.Data(), false)
		grpcTrace := newRawTrace("grpc", 6)
		if _, err := s.GRPCExport(t, "", grpcTrace.Data()); err != nil {
			t.Fatalf("gRPC Export: %v", err)
		}
		for _, want := range []ExpectedTrace{pbTrace.Expected(), grpcTrace.Expected()} {
			s.RequireTraceAllForms(t, "", want, "right after export")
			all = append(all, want)
		}

		// The lone process's metrics-generator gets every accepted span.
		accepted := s.Metric(t, "pace_distributor_spans_received_total", nil)
		if got := s.WaitMetric(t, "pace_metrics_generator_spans_received_total", nil, accepted, 10*time.Second); got != accepted || accepted == 0 {
			t.Errorf("metrics-generator received %v spans, distributor accepted %v", got, accepted)
		}

		s.Flush(t)
		if objs := s.StoredObjects(t); len(objs) == 0 {
			t.Errorf("after POST /flush: the %s object store is empty", s.opts.Backend)
		} else {
			t.Logf("after POST /flush: %d objects in the %s store, e.g. %s", len(objs), s.opts.Backend, objs[0])
		}
		for _, want := range all {
			s.RequireTraceAllForms(t, "", want, "after POST /flush")
		}

		// start/end (unix seconds) around the trace find it; a window long
		// before it does not.
		now := time.Now()
		around := url.Values{
			"start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)},
			"end":   {strconv.FormatInt(now.Add(time.Hour).Unix(), 10)},
		}
		before := url.Values{"start": {"1000000000"}, "end": {"1000003600"}}
		for _, want := range []ExpectedTrace{all[0], jsonTrace.Expected()} {
			for _, f := range AllTraceForms {
				s.RequireTrace(t, "", want, f, around, "after flush, with start/end around the trace")
				s.RequireNotFound(t, "", want.ID, f, before, "after flush, with start/end in 2001")
			}
		}

		// After a flush the object store alone holds every trace.
		s.RestartWithoutWAL()
		for _, want := range all {
			s.RequireTraceAllForms(t, "", want, "after flush, kill -9 and restart without the WAL")
		}
	})
}

// TestHTTPEndpointsAnswerLikeTempo: the operational endpoints Grafana and
// operators use.
func TestHTTPEndpointsAnswerLikeTempo(t *testing.T) {
	s := StartServer(t, ServerOptions{Backend: "local"})

	resp, body := s.Do(t, http.MethodGet, "/api/echo", "", nil, nil)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "echo" {
		t.Errorf("GET /api/echo: want 200 \"echo\", got %d %q", resp.StatusCode, truncate(body))
	}
	resp, body = s.Do(t, http.MethodGet, "/ready", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /ready: want 200, got %d %q", resp.StatusCode, truncate(body))
	}
	resp, body = s.Do(t, http.MethodGet, "/metrics", "", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "# TYPE") {
		t.Errorf("GET /metrics: want 200 with Prometheus text, got %d %q", resp.StatusCode, truncate(body))
	}
	resp, body = s.Do(t, http.MethodGet, "/api/status/buildinfo", "", nil, nil)
	var bi map[string]any
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/status/buildinfo: want 200, got %d %q", resp.StatusCode, truncate(body))
	} else if err := json.Unmarshal(body, &bi); err != nil {
		t.Errorf("GET /api/status/buildinfo: not JSON: %v %q", err, truncate(body))
	} else {
		for _, k := range []string{"version", "revision", "branch", "buildUser", "buildDate", "goVersion"} {
			if _, ok := bi[k]; !ok {
				t.Errorf("GET /api/status/buildinfo: no %q in %s", k, truncate(body))
			}
		}
		if v, _ := bi["goVersion"].(string); !strings.HasPrefix(v, "go") {
			t.Errorf("GET /api/status/buildinfo: goVersion %q does not look like a Go version", v)
		}
	}
}
