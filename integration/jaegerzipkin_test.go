package integration

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/openzipkin/zipkin-go/reporter"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// randomSpanBase is a random span-ID base with room for a few spans.
func randomSpanBase() uint64 {
	return binary.BigEndian.Uint64(randomBytes(8))&^0xff | 0x10
}

// newJaegerTrace picks random IDs for a jaegerRichBatch and says what a user
// should see of it.
func newJaegerTrace(svc string) (tid []byte, want wantTrace, base uint64) {
	tid, base = randomBytes(16), randomSpanBase()
	ids := jaegerSpanIDs(base)
	want = wantTrace{ID: hex.EncodeToString(tid), Spans: []wantSpan{
		{
			ID: spanHex(ids[0]), Service: svc, Name: "GET /checkout", Kind: tracepb.Span_SPAN_KIND_SERVER, Status: tracepb.Status_STATUS_CODE_ERROR,
			Attrs: map[string]string{
				"str": "str:value ✓ naïve", "empty.str": "str:", "bool.true": "bool:true", "bool.false": "bool:false",
				"long": "int:-42", "long.big": "int:4611686018427387909", "double": "double:3.25",
				"binary": "bytes:" + base64.StdEncoding.EncodeToString([]byte{0xde, 0xad, 0xbe, 0xef}), "http.status_code": "int:500",
			},
			Events: []string{"request.received", "error", ""}, Links: 1,
		},
		{ID: spanHex(ids[1]), Parent: spanHex(ids[0]), Service: svc, Name: "SELECT orders", Kind: tracepb.Span_SPAN_KIND_CLIENT, Status: tracepb.Status_STATUS_CODE_OK,
			Attrs: map[string]string{"db.system": "str:postgresql"}, Links: 1},
		{ID: spanHex(ids[2]), Parent: spanHex(ids[0]), Service: svc, Name: "publish order.created", Kind: tracepb.Span_SPAN_KIND_PRODUCER},
		{ID: spanHex(ids[3]), Parent: spanHex(ids[2]), Service: svc, Name: "consume order.created", Kind: tracepb.Span_SPAN_KIND_CONSUMER, Status: tracepb.Status_STATUS_CODE_ERROR, Links: 1},
	}}
	return tid, want, base
}

// TestJaegerThriftHTTPTracesReadBackByID: thrift-binary batches posted to
// the Jaeger collector endpoint come back by ID, live and from blocks.
func TestJaegerThriftHTTPTracesReadBackByID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		var all []wantTrace
		for i := 0; i < 3; i++ {
			svc := fmt.Sprintf("jaeger-http-%d", i)
			tid, want, base := newJaegerTrace(svc)
			s.SendJaegerThrift(t, "", jaegerRichBatch(tid, base, randomBytes(16), time.Now().Add(-time.Minute), svc))
			s.RequireSeen(t, "", want, 0, "right after POST /api/traces answered 202")
			all = append(all, want)
		}
		requireSpansReceived(t, s, DefaultTenant, "jaeger_thrift_http", 12)
		s.Flush(t)
		for _, w := range all {
			s.RequireSeen(t, "", w, 0, "after POST /flush")
		}
	})
}

// TestJaegerGRPCTracesReadBackByID: api_v2 CollectorService.PostSpans.
func TestJaegerGRPCTracesReadBackByID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		var all []wantTrace
		for i := 0; i < 3; i++ {
			svc := fmt.Sprintf("jaeger-grpc-%d", i)
			tid, want, base := newJaegerTrace(svc)
			if err := s.JaegerPostSpans(t, "", thriftToModel(jaegerRichBatch(tid, base, randomBytes(16), time.Now().Add(-time.Minute), svc))); err != nil {
				t.Fatalf("PostSpans: %v", err)
			}
			s.RequireSeen(t, "", want, 0, "right after PostSpans returned")
			all = append(all, want)
		}
		requireSpansReceived(t, s, DefaultTenant, "jaeger_grpc", 12)
		s.Flush(t)
		for _, w := range all {
			s.RequireSeen(t, "", w, 0, "after POST /flush")
		}
	})
}

// TestJaegerUDPAgentTracesReadBackByID: the generated thrift agent client
// (emitBatch, one datagram each) on the compact and binary UDP ports. UDP has
// no answer, so the trace is polled for; on loopback nothing may be lost.
func TestJaegerUDPAgentTracesReadBackByID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		var all []wantTrace
		for _, compact := range []bool{true, false} {
			proto := map[bool]string{true: "jaeger_thrift_compact", false: "jaeger_thrift_binary"}[compact]
			for i := 0; i < 3; i++ {
				svc := fmt.Sprintf("%s-%d", proto, i)
				tid, want, base := newJaegerTrace(svc)
				s.SendJaegerUDP(t, compact, jaegerRichBatch(tid, base, randomBytes(16), time.Now().Add(-time.Minute), svc))
				all = append(all, want)
			}
		}
		for _, w := range all {
			s.RequireSeen(t, "", w, 5*time.Second, "after emitBatch over UDP")
		}
		requireSpansReceived(t, s, DefaultTenant, "jaeger_thrift_compact", 12)
		requireSpansReceived(t, s, DefaultTenant, "jaeger_thrift_binary", 12)
		for _, reason := range []string{"too_large", "decode_error", "queue_full", "unsupported", "push_failed"} {
			if v := s.Metric(t, "pace_distributor_udp_datagrams_dropped_total", map[string]string{"reason": reason}); v != 0 {
				t.Errorf("pace_distributor_udp_datagrams_dropped_total{reason=%q} = %v after good datagrams, want 0", reason, v)
			}
		}
		s.Flush(t)
		for _, w := range all {
			s.RequireSeen(t, "", w, 0, "after POST /flush")
		}
	})
}

// requireSpansReceived checks pace_distributor_spans_received_total.
func requireSpansReceived(t *testing.T, s *Server, tenant, protocol string, want float64) {
	t.Helper()
	labels := map[string]string{"tenant": tenant, "protocol": protocol}
	if got := s.WaitMetric(t, "pace_distributor_spans_received_total", labels, want, 5*time.Second); got != want {
		t.Errorf("pace_distributor_spans_received_total%v = %v, want %v", labels, got, want)
	}
}

// wantZipkinV2 is what a user should see of zipkinRichSpans.
func wantZipkinV2(tid []byte, base uint64, svc string) wantTrace {
	ids := zipkinSpanIDs(base)
	h := func(id zipkinmodel.ID) string { return fmt.Sprintf("%016x", uint64(id)) }
	return wantTrace{ID: hex.EncodeToString(tid), Spans: []wantSpan{
		{ID: h(ids[0]), Service: svc, Name: "get /checkout", Kind: tracepb.Span_SPAN_KIND_SERVER, Status: tracepb.Status_STATUS_CODE_ERROR,
			Attrs:  map[string]string{"http.method": "str:GET", "http.status_code": "str:500", "num.as.string": "str:42", "str": "str:value ✓ naïve", "service.peer.name": "str:browser"},
			Events: []string{"request.received", "retry"}},
		{ID: h(ids[1]), Parent: h(ids[0]), Service: svc, Name: "select orders", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			Attrs: map[string]string{"db.statement": "str:SELECT * FROM orders", "service.peer.name": "str:postgres"}},
		{ID: h(ids[1]), Parent: h(ids[0]), Service: "orders-db", Name: "select orders", Kind: tracepb.Span_SPAN_KIND_SERVER},
		{ID: h(ids[2]), Parent: h(ids[0]), Service: svc, Name: "publish order.created", Kind: tracepb.Span_SPAN_KIND_PRODUCER},
		{ID: h(ids[3]), Parent: h(ids[2]), Service: "audit", Name: "consume order.created", Kind: tracepb.Span_SPAN_KIND_CONSUMER},
	}}
}

// wantZipkinV1 is what a user should see of zipkinV1Rich.
func wantZipkinV1(tid []byte, base uint64, svc string) wantTrace {
	h := func(i uint64) string { return fmt.Sprintf("%016x", base+i) }
	return wantTrace{ID: hex.EncodeToString(tid), Spans: []wantSpan{
		{ID: h(1), Service: svc, Name: "get /checkout", Kind: tracepb.Span_SPAN_KIND_SERVER, Status: tracepb.Status_STATUS_CODE_ERROR,
			Attrs: map[string]string{"http.method": "str:GET", "str": "str:value ✓ naïve"}, Events: []string{"request.received"}},
		{ID: h(2), Parent: h(1), Service: svc, Name: "select orders", Kind: tracepb.Span_SPAN_KIND_CLIENT, Attrs: map[string]string{"db.statement": "str:SELECT * FROM orders"}},
		{ID: h(3), Parent: h(1), Service: svc, Name: "publish order.created", Kind: tracepb.Span_SPAN_KIND_PRODUCER},
		{ID: h(4), Parent: h(3), Service: "audit", Name: "consume order.created", Kind: tracepb.Span_SPAN_KIND_CONSUMER},
	}}
}

// TestZipkinTracesReadBackByID: zipkin-go's own HTTP reporter with its JSON
// and protobuf serializers (v2), and hand-written v1 JSON.
func TestZipkinTracesReadBackByID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		var all []wantTrace
		for _, ser := range []reporter.SpanSerializer{reporter.JSONSerializer{}, zipkin_proto3.SpanSerializer{}} {
			rec := &statusRecorder{codes: make(chan int, 100)}
			rep := zipkinhttp.NewReporter("http://"+s.ZipkinAddr+"/api/v2/spans",
				zipkinhttp.Serializer(ser), zipkinhttp.Client(rec), zipkinhttp.BatchSize(7), zipkinhttp.BatchInterval(time.Hour))
			for i := 0; i < 3; i++ {
				svc := fmt.Sprintf("zipkin-go-%s-%d", ser.ContentType(), i)
				tid, base := randomBytes(16), randomSpanBase()
				for _, sp := range zipkinRichSpans(tid, base, time.Now().Add(-time.Minute).Truncate(time.Microsecond), svc) {
					rep.Send(*sp)
				}
				all = append(all, wantZipkinV2(tid, base, svc))
			}
			if err := rep.Close(); err != nil {
				t.Fatalf("zipkin-go reporter (%s): Close: %v", ser.ContentType(), err)
			}
			close(rec.codes)
			n := 0
			for c := range rec.codes {
				n++
				if c != http.StatusAccepted {
					t.Errorf("zipkin-go reporter (%s): server answered %d, want 202", ser.ContentType(), c)
				}
			}
			if n == 0 {
				t.Errorf("zipkin-go reporter (%s) sent nothing", ser.ContentType())
			}
		}
		for i := 0; i < 2; i++ {
			svc := fmt.Sprintf("zipkin-v1-%d", i)
			tid, base := randomBytes(16), randomSpanBase()
			s.SendZipkin(t, "", "/api/v1/spans", "application/json", zipkinV1Rich(tid, base, time.Now().Add(-time.Minute), svc))
			all = append(all, wantZipkinV1(tid, base, svc))
		}
		for _, w := range all {
			s.RequireSeen(t, "", w, 0, "right after the Zipkin POSTs")
		}
		requireSpansReceived(t, s, DefaultTenant, "zipkin", 6*5+2*4)
		s.Flush(t)
		for _, w := range all {
			s.RequireSeen(t, "", w, 0, "after POST /flush")
		}
	})
}

// TestJaegerZipkinTenantsAreIsolated: X-Scope-OrgID on Zipkin and Jaeger
// HTTP, x-scope-orgid metadata on Jaeger gRPC.
func TestJaegerZipkinTenantsAreIsolated(t *testing.T) {
	s := StartServer(t, ServerOptions{Backend: "local"})
	const team = "team-a"
	var all []wantTrace

	ztid, zbase := randomBytes(16), randomSpanBase()
	s.SendZipkin(t, team, "/api/v2/spans", "application/json", ZipkinJSON(t, zipkinRichSpans(ztid, zbase, time.Now().Add(-time.Minute), "zipkin-team-a")))
	all = append(all, wantZipkinV2(ztid, zbase, "zipkin-team-a"))

	htid, hwant, hbase := newJaegerTrace("jaeger-http-team-a")
	s.SendJaegerThrift(t, team, jaegerRichBatch(htid, hbase, randomBytes(16), time.Now().Add(-time.Minute), "jaeger-http-team-a"))
	all = append(all, hwant)

	gtid, gwant, gbase := newJaegerTrace("jaeger-grpc-team-a")
	if err := s.JaegerPostSpans(t, team, thriftToModel(jaegerRichBatch(gtid, gbase, randomBytes(16), time.Now().Add(-time.Minute), "jaeger-grpc-team-a"))); err != nil {
		t.Fatalf("PostSpans for %s: %v", team, err)
	}
	all = append(all, gwant)

	for _, p := range []string{"zipkin", "jaeger_thrift_http", "jaeger_grpc"} {
		if v := s.Metric(t, "pace_distributor_spans_received_total", map[string]string{"tenant": DefaultTenant, "protocol": p}); v != 0 {
			t.Errorf("spans_received_total{tenant=%q,protocol=%q} = %v, want 0 (everything was sent for %s)", DefaultTenant, p, v, team)
		}
	}
	requireSpansReceived(t, s, team, "zipkin", 5)
	requireSpansReceived(t, s, team, "jaeger_thrift_http", 4)
	requireSpansReceived(t, s, team, "jaeger_grpc", 4)

	check := func(when string) {
		for _, w := range all {
			s.RequireSeen(t, team, w, 0, when)
			for _, f := range AllTraceForms {
				for _, other := range []string{"", DefaultTenant, "team-b"} {
					s.RequireNotFound(t, other, w.ID, f, nil, when+": team-a's trace asked by another tenant")
				}
			}
		}
	}
	check("live")
	s.Flush(t)
	check("after POST /flush")
}
