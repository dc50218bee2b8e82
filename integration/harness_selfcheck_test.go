package integration

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	collectortracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// captureCollector is an in-process OTLP receiver that keeps every span.
type captureCollector struct {
	collectortracepb.UnimplementedTraceServiceServer
	mu  sync.Mutex
	rss []*tracepb.ResourceSpans
}

func (c *captureCollector) Export(_ context.Context, req *collectortracepb.ExportTraceServiceRequest) (*collectortracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rss = append(c.rss, req.ResourceSpans...)
	return &collectortracepb.ExportTraceServiceResponse{}, nil
}

func (c *captureCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	req := &collectortracepb.ExportTraceServiceRequest{}
	if r.Header.Get("Content-Type") == "application/json" {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		b, _ = (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	}
	if err := proto.Unmarshal(b, req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	_, _ = c.Export(r.Context(), req)
	if r.Header.Get("Content-Type") == "application/json" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

// TestHarnessSDKSpansMatchWhatTheExportersSend checks the harness itself:
// what sendWithSDK expects is exactly what the real exporters put on the
// wire, and the four trace-by-ID encodings decode back to it.
func TestHarnessSDKSpansMatchWhatTheExportersSend(t *testing.T) {
	for _, kind := range allSDKClients {
		t.Run(kind, func(t *testing.T) {
			c := &captureCollector{}
			gl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			gs := grpc.NewServer()
			collectortracepb.RegisterTraceServiceServer(gs, c)
			go func() { _ = gs.Serve(gl) }()
			t.Cleanup(gs.Stop)
			hl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("/v1/traces", c)
			hs := &http.Server{Handler: mux}
			go func() { _ = hs.Serve(hl) }()
			t.Cleanup(func() { hs.Close() })

			s := &Server{OTLPGRPCAddr: gl.Addr().String(), OTLPHTTPAddr: hl.Addr().String()}
			sent := sendWithSDK(t, s, kind, "", 2)
			c.mu.Lock()
			got := &tracepb.TracesData{ResourceSpans: c.rss}
			c.mu.Unlock()
			var want []*tracepb.ResourceSpans
			for _, e := range sent {
				want = append(want, e.Spans...)
			}
			if d := CompareTrace(want, got); len(d) > 0 {
				t.Fatalf("exporter sent something else than the harness expects:\n%v", d)
			}
			for _, f := range AllTraceForms {
				body := encodeLikeTempo(t, f, got)
				td, err := DecodeTraceResponse(f, body)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if d := CompareTrace(want, td); len(d) > 0 {
					t.Fatalf("%s round trip: %v", f, d)
				}
			}
		})
	}
}

// TestHarnessRawTracesSurviveOTLPJSON checks that hand-made traces (every
// value type) go through OTLP/JSON unchanged.
func TestHarnessRawTracesSurviveOTLPJSON(t *testing.T) {
	r := newRawTrace("x", 7)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(OTLPJSON(t, r.Data()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	back := &tracepb.TracesData{}
	if err := proto.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	if d := CompareTrace(r.Expected().Spans, back); len(d) > 0 {
		t.Fatal(d)
	}
	if d := CompareTrace(r.Expected().Spans, r.Data(r.Spans[3:]...)); len(d) != 3 {
		t.Fatalf("CompareTrace should report 3 missing spans, got %v", d)
	}
	dup := mergeData(r.Data(), r.Data(r.Spans[:1]...))
	if d := CompareTrace(r.Expected().Spans, dup); len(d) != 1 {
		t.Fatalf("CompareTrace should report 1 duplicate, got %v", d)
	}
}

// encodeLikeTempo renders a trace the way Tempo answers trace-by-ID.
func encodeLikeTempo(t *testing.T, f TraceForm, td *tracepb.TracesData) []byte {
	t.Helper()
	switch {
	case !f.V2 && !f.Proto:
		var batches []json.RawMessage
		for _, rs := range td.ResourceSpans {
			b, err := protojson.Marshal(rs)
			if err != nil {
				t.Fatal(err)
			}
			batches = append(batches, b)
		}
		b, _ := json.Marshal(map[string]any{"batches": batches})
		return b
	case !f.V2 && f.Proto:
		b, _ := proto.Marshal(td)
		return b
	case f.V2 && !f.Proto:
		tb, _ := protojson.Marshal(td)
		b, _ := json.Marshal(map[string]any{"trace": json.RawMessage(tb), "status": "COMPLETE"})
		return b
	default:
		tb, _ := proto.Marshal(td)
		b := protowire.AppendTag(nil, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, tb)
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		return protowire.AppendBytes(b, []byte("msg"))
	}
}
