package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	jaegermodel "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	jaegertranslator "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/jaeger"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv2"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/model"
)

// decode parses one wire message of protocol p with the receivers'
// translators.
func decode(p Protocol, body []byte) (ptrace.Traces, error) {
	ctx := context.Background()
	switch p {
	case OTLPGRPC, OTLPHTTP:
		req := ptraceotlp.NewExportRequest()
		err := req.UnmarshalProto(body)
		return req.Traces(), err
	case ZipkinJSON:
		return zipkinv2.NewJSONTracesUnmarshaler(false).UnmarshalTraces(body)
	case ZipkinProto:
		return zipkinv2.NewProtobufTracesUnmarshaler(false, false).UnmarshalTraces(body)
	case JaegerGRPC:
		var req api_v2.PostSpansRequest
		if err := req.Unmarshal(body); err != nil {
			return ptrace.Traces{}, err
		}
		return jaegertranslator.ProtoToTraces([]*jaegermodel.Batch{&req.Batch})
	case JaegerThriftHTTP:
		var b jaegerthrift.Batch
		if err := thrift.NewTDeserializer().Read(ctx, &b, body); err != nil {
			return ptrace.Traces{}, err
		}
		return jaegertranslator.ThriftToTraces(&b)
	case JaegerUDPCompact:
		buf := thrift.NewTMemoryBufferLen(len(body))
		buf.Write(body)
		pr := thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{})
		name, typ, _, err := pr.ReadMessageBegin(ctx)
		if err != nil {
			return ptrace.Traces{}, err
		}
		if name != "emitBatch" || typ != thrift.ONEWAY {
			return ptrace.Traces{}, fmt.Errorf("message %q type %d", name, typ)
		}
		var args agent.AgentEmitBatchArgs
		if err := args.Read(ctx, pr); err != nil {
			return ptrace.Traces{}, err
		}
		if err := pr.ReadMessageEnd(ctx); err != nil {
			return ptrace.Traces{}, err
		}
		if buf.Len() != 0 {
			return ptrace.Traces{}, fmt.Errorf("%d bytes left after the message", buf.Len())
		}
		return jaegertranslator.ThriftToTraces(args.Batch)
	}
	return ptrace.Traces{}, fmt.Errorf("unknown protocol %q", p)
}

// spansByTrace counts spans per trace ID and checks every span has a
// service name.
func spansByTrace(t *testing.T, td ptrace.Traces, into map[[16]byte]int) {
	t.Helper()
	_ = model.ForEachSpan(td, func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
		if v, ok := rs.Resource().Attributes().Get("service.name"); !ok || v.Str() == "" {
			t.Errorf("span %s without service.name", sp.SpanID())
		}
		into[[16]byte(sp.TraceID())]++
		return nil
	})
}

// Every protocol's request, patched twice, decodes to the patched IDs with
// every trace whole.
func TestEncodingsDecodeAfterPatch(t *testing.T) {
	for _, p := range Protocols {
		t.Run(string(p), func(t *testing.T) {
			const traces, spt, maxDgram = 100, 10, 65000
			r, err := buildRequest(p, gen.New(5), traces, spt, maxDgram)
			if err != nil {
				t.Fatal(err)
			}
			if !p.multiMessage() && len(r.msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(r.msgs))
			}
			if p.multiMessage() && len(r.msgs) < 2 {
				t.Fatalf("%d messages; expected one per process", len(r.msgs))
			}
			rng := testRand()
			seen := map[[16]byte]bool{}
			for round := range 3 {
				var ids [][16]byte
				if round > 0 { // round 0 checks the generated IDs as built
					ids = r.patch(rng, nil)
					if len(ids) != traces {
						t.Fatalf("%d IDs patched", len(ids))
					}
				}
				got := map[[16]byte]int{}
				spans := 0
				for i, m := range r.msgs {
					if p == JaegerUDPCompact && len(m.body) > maxDgram {
						t.Fatalf("datagram of %d bytes", len(m.body))
					}
					td, err := decode(p, m.body)
					if err != nil {
						t.Fatalf("round %d message %d: %v", round, i, err)
					}
					if td.SpanCount() != m.spans {
						t.Fatalf("message %d: %d spans decoded, %d recorded", i, td.SpanCount(), m.spans)
					}
					spans += td.SpanCount()
					spansByTrace(t, td, got)
				}
				if spans != traces*spt || len(got) != traces {
					t.Fatalf("round %d: %d spans in %d traces", round, spans, len(got))
				}
				for id, n := range got {
					if n != spt {
						t.Fatalf("trace %x: %d spans", id, n)
					}
				}
				for _, id := range ids {
					if got[id] != spt {
						t.Fatalf("patched ID %x not in the decoded messages", id)
					}
					if seen[id] {
						t.Fatalf("ID %x patched twice", id)
					}
					seen[id] = true
				}
			}
		})
	}
}

// protoSink receives any protocol, decodes every message and checks that
// the trace IDs are ones loadgen patched in.
type protoSink struct {
	p Protocol

	mu      sync.Mutex
	msgs    int
	spans   int
	byTrace map[[16]byte]int
	tenants map[string]int
	errs    []error
}

func (s *protoSink) record(t *testing.T, body []byte, tenant string) {
	td, err := decode(s.p, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs = append(s.errs, err)
		return
	}
	if s.byTrace == nil {
		s.byTrace, s.tenants = map[[16]byte]int{}, map[string]int{}
	}
	s.msgs++
	s.spans += td.SpanCount()
	s.tenants[tenant]++
	spansByTrace(t, td, s.byTrace)
}

type jaegerCollector struct {
	t *testing.T
	s *protoSink
}

func (c jaegerCollector) PostSpans(ctx context.Context, req *api_v2.PostSpansRequest) (*api_v2.PostSpansResponse, error) {
	body, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	md, _ := metadata.FromIncomingContext(ctx)
	c.s.record(c.t, body, fmt.Sprint(md.Get("x-scope-orgid")))
	return &api_v2.PostSpansResponse{}, nil
}

// start serves the sink on a loopback port and returns its address.
func (s *protoSink) start(t *testing.T) string {
	t.Helper()
	switch s.p {
	case JaegerGRPC:
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		api_v2.RegisterCollectorServiceServer(srv, jaegerCollector{t, s})
		go srv.Serve(lis)
		t.Cleanup(srv.Stop)
		return lis.Addr().String()
	case JaegerUDPCompact:
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 65536)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				s.record(t, append([]byte(nil), buf[:n]...), "")
			}
		}()
		t.Cleanup(func() { pc.Close(); <-done })
		return pc.LocalAddr().String()
	}
	path := map[Protocol]string{OTLPHTTP: "/v1/traces", ZipkinJSON: "/api/v2/spans", ZipkinProto: "/api/v2/spans", JaegerThriftHTTP: "/api/traces"}[s.p]
	ctype := map[Protocol]string{OTLPHTTP: "application/x-protobuf", ZipkinJSON: "application/json", ZipkinProto: "application/x-protobuf", JaegerThriftHTTP: "application/x-thrift"}[s.p]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != path || r.Header.Get("Content-Type") != ctype {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"), http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.record(t, body, r.Header.Get("X-Scope-OrgID"))
		if s.p == OTLPHTTP {
			b, _ := ptraceotlp.NewExportResponse().MarshalProto()
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.Write(b)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestProtocolsEndToEnd(t *testing.T) {
	for _, p := range Protocols {
		if p == OTLPGRPC {
			continue // TestLoadPatchesUniqueIDsAndSinkDecodesAll
		}
		t.Run(string(p), func(t *testing.T) {
			s := &protoSink{p: p}
			cfg := testConfig(s.start(t))
			cfg.Protocol = p
			cfg.Tenant = "bench"
			cfg.Duration = 300 * time.Millisecond
			var mu sync.Mutex
			sent := map[[16]byte]bool{}
			cfg.onSend = func(_ int, ids [][16]byte) {
				mu.Lock()
				defer mu.Unlock()
				for _, id := range ids {
					if sent[id] {
						t.Errorf("ID %x patched twice", id)
					}
					sent[id] = true
				}
			}
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.RequestsFailed != 0 || res.RequestsOK == 0 || res.Protocol != string(p) {
				t.Fatalf("ok=%d failed=%d errors=%v", res.RequestsOK, res.RequestsFailed, res.Errors)
			}
			if p == JaegerUDPCompact {
				time.Sleep(100 * time.Millisecond) // let the sink drain its socket
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.errs) > 0 {
				t.Fatalf("sink could not decode: %v", s.errs[0])
			}
			for id, n := range s.byTrace {
				if !sent[id] || n > cfg.SpansPerTrace {
					t.Fatalf("trace %x: sent %v, %d spans", id, sent[id], n)
				}
			}
			if p == JaegerUDPCompact {
				// No acknowledgement: the sink may have dropped datagrams.
				if res.DatagramsSent != res.RequestsOK || s.msgs == 0 || int64(s.spans) > res.SpansSent {
					t.Fatalf("datagrams %d (ok %d), sink got %d with %d spans of %d sent",
						res.DatagramsSent, res.RequestsOK, s.msgs, s.spans, res.SpansSent)
				}
				return
			}
			if int64(s.msgs) != res.RequestsOK || int64(s.spans) != res.SpansAccepted || res.SpansAccepted != res.SpansSent {
				t.Fatalf("sink got %d messages with %d spans; loadgen: %d ok, %d sent, %d accepted",
					s.msgs, s.spans, res.RequestsOK, res.SpansSent, res.SpansAccepted)
			}
			for id, n := range s.byTrace {
				if n != cfg.SpansPerTrace {
					t.Fatalf("trace %x: %d spans, want %d", id, n, cfg.SpansPerTrace)
				}
			}
			if s.tenants["bench"] != s.msgs && s.tenants["[bench]"] != s.msgs {
				t.Fatalf("tenant on %v of %d messages", s.tenants, s.msgs)
			}
			if len(res.SampledTraceIDs) == 0 {
				t.Fatal("no trace IDs sampled")
			}
		})
	}
}

func TestZigzagFixedWidth(t *testing.T) {
	rng := testRand()
	for range 10000 {
		id := newID(rng, true)
		for _, k := range []idKind{idHighVarint, idLowVarint} {
			if n := len(k.pattern(id)); n != 10 {
				t.Fatalf("%x: varint of %d bytes", id, n)
			}
		}
		for _, v := range []uint64{1, 1 << 63, 12345} {
			if unzigzag(zigzag(v)) != v {
				t.Fatalf("zigzag round trip of %d", v)
			}
		}
	}
}

func TestRateLimit(t *testing.T) {
	s := &protoSink{p: JaegerUDPCompact}
	cfg := testConfig(s.start(t))
	cfg.Protocol = JaegerUDPCompact
	cfg.Duration = time.Second
	cfg.Rate = 5000
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 100 spans per request, in one datagram per process of a few spans.
	if res.SpansSent < 4000 || res.SpansSent > 5500 {
		t.Fatalf("sent %d spans in %.2fs at rate 5000/s", res.SpansSent, res.DurationSeconds)
	}
}
