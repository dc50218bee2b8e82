package main

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/bench/gen"
)

// sink is a minimal OTLP/gRPC trace server that decodes every request
// with pdata and records what it saw.
type sink struct {
	ptraceotlp.UnimplementedGRPCServer

	reject int64 // rejected_spans to report per request
	fail   bool  // answer every request with an error

	mu       sync.Mutex
	requests []map[[16]byte]int // per request: spans per trace ID
	spans    int
	tenants  map[string]int
}

func (s *sink) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	if s.fail {
		return ptraceotlp.NewExportResponse(), status.Error(codes.ResourceExhausted, "sink says no")
	}
	td := req.Traces()
	byID := map[[16]byte]int{}
	_ = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
		byID[[16]byte(sp.TraceID())]++
		return nil
	})
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.requests = append(s.requests, byID)
	s.spans += td.SpanCount()
	if s.tenants == nil {
		s.tenants = map[string]int{}
	}
	for _, t := range md.Get("x-scope-orgid") {
		s.tenants[t]++
	}
	s.mu.Unlock()
	resp := ptraceotlp.NewExportResponse()
	if s.reject > 0 {
		resp.PartialSuccess().SetRejectedSpans(s.reject)
		resp.PartialSuccess().SetErrorMessage("too many")
	}
	return resp, nil
}

func startSink(t *testing.T, s *sink) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, s)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func testConfig(addr string) Config {
	return Config{
		Endpoint:         addr,
		Clients:          2,
		Duration:         400 * time.Millisecond,
		TracesPerRequest: 20,
		SpansPerTrace:    5,
		PoolSize:         3,
		Seed:             42,
		SampleIDs:        50,
	}
}

func TestLoadPatchesUniqueIDsAndSinkDecodesAll(t *testing.T) {
	s := &sink{}
	cfg := testConfig(startSink(t, s))
	cfg.Tenant = "bench"

	var mu sync.Mutex
	sent := map[[16]byte]int{} // trace ID -> send sequence number
	var sends int
	cfg.onSend = func(_ int, ids [][16]byte) {
		mu.Lock()
		defer mu.Unlock()
		if len(ids) != cfg.TracesPerRequest {
			t.Errorf("patched %d trace IDs, want %d", len(ids), cfg.TracesPerRequest)
		}
		for _, id := range ids {
			if id == ([16]byte{}) {
				t.Error("patched an all-zero trace ID")
			}
			if _, dup := sent[id]; dup {
				t.Errorf("trace ID %x patched twice", id)
			}
			sent[id] = sends
		}
		sends++
	}

	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequestsFailed != 0 || res.RequestsOK == 0 {
		t.Fatalf("ok=%d failed=%d errors=%v", res.RequestsOK, res.RequestsFailed, res.Errors)
	}
	// More requests than the pool holds, so pool entries were re-patched.
	if res.RequestsOK <= int64(cfg.Clients*cfg.PoolSize) {
		t.Fatalf("only %d requests sent; pool reuse not exercised", res.RequestsOK)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if int64(len(s.requests)) != res.RequestsOK || sends != len(s.requests) {
		t.Fatalf("sink saw %d requests, loadgen sent %d (ok %d)", len(s.requests), sends, res.RequestsOK)
	}
	perReq := cfg.TracesPerRequest * cfg.SpansPerTrace
	if s.spans != len(s.requests)*perReq || res.SpansSent != int64(s.spans) || res.SpansAccepted != int64(s.spans) {
		t.Fatalf("sink decoded %d spans, want %d; loadgen says sent %d accepted %d",
			s.spans, len(s.requests)*perReq, res.SpansSent, res.SpansAccepted)
	}
	for i, byID := range s.requests {
		if len(byID) != cfg.TracesPerRequest {
			t.Fatalf("request %d: %d distinct trace IDs, want %d", i, len(byID), cfg.TracesPerRequest)
		}
		seq := -1
		for id, n := range byID {
			if n != cfg.SpansPerTrace {
				t.Fatalf("request %d: trace %x has %d spans, want %d", i, id, n, cfg.SpansPerTrace)
			}
			q, ok := sent[id]
			if !ok {
				t.Fatalf("request %d: trace %x was never patched in", i, id)
			}
			if seq >= 0 && q != seq {
				t.Fatalf("request %d mixes IDs of sends %d and %d", i, seq, q)
			}
			seq = q
		}
	}
	if s.tenants["bench"] != len(s.requests) {
		t.Errorf("tenant header on %d of %d requests", s.tenants["bench"], len(s.requests))
	}

	// The ID sample holds only accepted IDs, no duplicates.
	if len(res.SampledTraceIDs) != cfg.SampleIDs {
		t.Fatalf("sampled %d IDs, want %d", len(res.SampledTraceIDs), cfg.SampleIDs)
	}
	seen := map[string]bool{}
	for _, h := range res.SampledTraceIDs {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 16 {
			t.Fatalf("bad sampled ID %q", h)
		}
		if _, ok := sent[[16]byte(b)]; !ok || seen[h] {
			t.Fatalf("sampled ID %s not sent or duplicated", h)
		}
		seen[h] = true
	}
	if res.SpansPerSecond <= 0 || res.LatencyP50Ms <= 0 || res.LatencyP99Ms < res.LatencyP50Ms {
		t.Errorf("implausible figures: %+v", res)
	}
}

func TestPartialSuccessCountsRejected(t *testing.T) {
	s := &sink{reject: 7}
	cfg := testConfig(startSink(t, s))
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequestsOK == 0 || res.SpansRejected != 7*res.RequestsOK {
		t.Fatalf("rejected %d over %d requests, want 7 each", res.SpansRejected, res.RequestsOK)
	}
	if res.SpansAccepted != res.SpansSent-res.SpansRejected {
		t.Fatalf("accepted %d, sent %d, rejected %d", res.SpansAccepted, res.SpansSent, res.SpansRejected)
	}
	if len(res.SampledTraceIDs) != 0 {
		t.Fatalf("sampled IDs from partly rejected requests: %v", res.SampledTraceIDs)
	}
	if len(res.Errors) == 0 || !strings.Contains(res.Errors[0], "too many") {
		t.Fatalf("errors = %v", res.Errors)
	}
}

func TestFailedRequestsReported(t *testing.T) {
	s := &sink{fail: true}
	cfg := testConfig(startSink(t, s))
	cfg.Duration = 100 * time.Millisecond
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequestsOK != 0 || res.RequestsFailed == 0 || res.SpansAccepted != 0 {
		t.Fatalf("ok=%d failed=%d accepted=%d", res.RequestsOK, res.RequestsFailed, res.SpansAccepted)
	}
	if len(res.Errors) == 0 || len(res.Errors) > maxErrors || !strings.Contains(res.Errors[0], "sink says no") {
		t.Fatalf("errors = %v", res.Errors)
	}
}

func TestRejectedSpansParse(t *testing.T) {
	resp := ptraceotlp.NewExportResponse()
	b, _ := resp.MarshalProto()
	if n, _, err := rejectedSpans(b); err != nil || n != 0 {
		t.Fatalf("empty response: %d, %v", n, err)
	}
	resp.PartialSuccess().SetRejectedSpans(123456789)
	resp.PartialSuccess().SetErrorMessage("over limit")
	b, _ = resp.MarshalProto()
	n, msg, err := rejectedSpans(b)
	if err != nil || n != 123456789 || msg != "over limit" {
		t.Fatalf("got %d %q %v", n, msg, err)
	}
	if _, _, err := rejectedSpans([]byte{0x0a, 0x05, 0x08}); err == nil {
		t.Fatal("truncated response parsed without error")
	}
}

func TestBuildRequestOffsets(t *testing.T) {
	r, err := buildRequest(OTLPGRPC, gen.New(3), 100, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.msgs) != 1 || r.traces != 100 || r.spans != 1000 || len(r.msgs[0].locs) != 1000 {
		t.Fatalf("%d messages, %d traces, %d spans", len(r.msgs), r.traces, r.spans)
	}
	if per := r.bytes() / r.spans; per < 300 || per > 800 {
		t.Errorf("%d bytes per span, expected about 500", per)
	}
}

func BenchmarkPatch(b *testing.B) {
	for _, p := range Protocols {
		b.Run(string(p), func(b *testing.B) {
			r, err := buildRequest(p, gen.New(3), 100, 10, 65000)
			if err != nil {
				b.Fatal(err)
			}
			rng := testRand()
			var ids [][16]byte
			b.SetBytes(int64(r.bytes()))
			for b.Loop() {
				ids = r.patch(rng, ids)
			}
		})
	}
}

func testRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
