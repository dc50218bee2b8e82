package integration

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	jaegermodel "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestBadInputPerProtocol: malformed Jaeger and Zipkin requests get the
// documented 4xx (or InvalidArgument) with a message; bad UDP datagrams are
// counted by reason and logged; afterwards the server is ready, earlier
// traces are intact and new ones are accepted.
func TestBadInputPerProtocol(t *testing.T) {
	s := StartServer(t, ServerOptions{Backend: "local"})
	before := time.Now().Add(-time.Minute)

	// Good traces first, one flushed to a block and one live.
	var good []wantTrace
	tid, want, base := newJaegerTrace("before-bad-http")
	s.SendJaegerThrift(t, "", jaegerRichBatch(tid, base, randomBytes(16), before, "before-bad-http"))
	good = append(good, want)
	ztid, zbase := randomBytes(16), randomSpanBase()
	s.SendZipkin(t, "", "/api/v2/spans", "application/json", ZipkinJSON(t, zipkinRichSpans(ztid, zbase, before, "before-bad-zipkin")))
	good = append(good, wantZipkinV2(ztid, zbase, "before-bad-zipkin"))
	s.Flush(t)
	utid, uwant, ubase := newJaegerTrace("before-bad-udp")
	s.SendJaegerUDP(t, true, jaegerRichBatch(utid, ubase, randomBytes(16), before, "before-bad-udp"))
	s.RequireSeen(t, "", uwant, 5*time.Second, "UDP trace before bad input")
	good = append(good, uwant)

	expect := func(name string, resp *http.Response, body []byte, want int, mention string) {
		t.Helper()
		switch {
		case resp.StatusCode != want:
			t.Errorf("%s: want %d, got %d %q", name, want, resp.StatusCode, truncate(body))
		case len(bytes.TrimSpace(body)) == 0:
			t.Errorf("%s: got %d with an empty body, want an error message", name, resp.StatusCode)
		case mention != "" && !strings.Contains(strings.ToLower(string(body)), mention):
			t.Errorf("%s: got %d %q, want a message that mentions %q", name, resp.StatusCode, truncate(body), mention)
		default:
			t.Logf("%s: %d %s", name, resp.StatusCode, strings.TrimSpace(truncate(body)))
		}
	}

	// Jaeger thrift over HTTP.
	okBody := JaegerThriftBody(t, jaegerRichBatch(randomBytes(16), randomSpanBase(), randomBytes(16), before, "bad"))
	resp, rb := s.PostJaegerThrift(t, "", "application/x-thrift", okBody[:len(okBody)/2])
	expect("Jaeger HTTP: truncated thrift body", resp, rb, 400, "")
	resp, rb = s.PostJaegerThrift(t, "", "application/json", okBody)
	expect("Jaeger HTTP: Content-Type application/json", resp, rb, 415, "content-type")
	resp, rb = s.PostJaegerThrift(t, "", "", okBody)
	expect("Jaeger HTTP: no Content-Type", resp, rb, 415, "content-type")
	zero := jaegerRichBatch(make([]byte, 16), randomSpanBase(), randomBytes(16), before, "zero-id")
	resp, rb = s.PostJaegerThrift(t, "", "application/x-thrift", JaegerThriftBody(t, zero))
	expect("Jaeger HTTP: traceIdLow=traceIdHigh=0", resp, rb, 400, "trace id")

	// Jaeger gRPC.
	zm := thriftToModel(jaegerRichBatch(randomBytes(16), randomSpanBase(), randomBytes(16), before, "zero-id-grpc"))
	zm.Spans[1].TraceID = jaegermodel.TraceID{}
	err := s.JaegerPostSpans(t, "", zm)
	if st, _ := status.FromError(err); err == nil || st.Code() != codes.InvalidArgument || !strings.Contains(strings.ToLower(st.Message()), "trace id") {
		t.Errorf("Jaeger gRPC: span with a zero trace ID: want InvalidArgument naming the trace ID, got %v", err)
	} else {
		t.Logf("Jaeger gRPC: span with a zero trace ID: %v", err)
	}
	s.RequireNotFound(t, "", zm.Spans[0].TraceID.String(), TraceForm{V2: true}, nil, "the good spans of the refused gRPC batch")

	// Zipkin.
	resp, rb = s.PostZipkin(t, "", "/api/v2/spans", "application/json", []byte(`[{"traceId": "abc`))
	expect("Zipkin v2: invalid JSON", resp, rb, 400, "")
	resp, rb = s.PostZipkin(t, "", "/api/v1/spans", "application/json", []byte(`{"not": "a list"}`))
	expect("Zipkin v1: JSON of the wrong shape", resp, rb, 400, "")
	resp, rb = s.PostZipkin(t, "", "/api/v2/spans", "application/x-protobuf", []byte{0xff, 0xff, 0xff, 0x0a})
	expect("Zipkin v2: garbage protobuf", resp, rb, 400, "")
	resp, rb = s.PostZipkin(t, "", "/api/v2/spans", "application/xml", []byte(`<spans/>`))
	expect("Zipkin v2: Content-Type application/xml", resp, rb, 415, "content-type")
	resp, rb = s.PostZipkin(t, "", "/api/v1/spans", "application/x-protobuf", []byte{0x0a})
	expect("Zipkin v1: Content-Type application/x-protobuf", resp, rb, 415, "content-type")
	zeroZipkin := []byte(`[{"traceId":"00000000000000000000000000000000","id":"0000000000000001","name":"zero","timestamp":1741064767123456,"duration":10,"localEndpoint":{"serviceName":"zero"}}]`)
	resp, rb = s.PostZipkin(t, "", "/api/v2/spans", "application/json", zeroZipkin)
	expect("Zipkin v2 JSON: traceId all zeros", resp, rb, 400, "trace id")
	zeroZipkinV1 := []byte(`[{"traceId":"0000000000000000","id":"0000000000000001","name":"zero","timestamp":1741064767123456,"duration":10}]`)
	resp, rb = s.PostZipkin(t, "", "/api/v1/spans", "application/json", zeroZipkinV1)
	expect("Zipkin v1 JSON: traceId all zeros", resp, rb, 400, "trace")
	// A well-formed body with one huge tag, just over the 16 MiB limit.
	bigTID, bigBase := randomBytes(16), randomSpanBase()
	bigSpans := zipkinRichSpans(bigTID, bigBase, before, "big")
	bigSpans[0].Tags["blob"] = strings.Repeat("x", 16<<20)
	resp, rb = s.PostZipkin(t, "", "/api/v2/spans", "application/json", ZipkinJSON(t, bigSpans))
	expect("Zipkin v2: JSON body over 16 MiB", resp, rb, 413, "too large")
	bigSpans = nil
	s.RequireNotFound(t, "", wantZipkinV2(bigTID, bigBase, "big").ID, TraceForm{V2: true}, nil, "the oversize Zipkin trace")

	// UDP agents: nothing answers, so look at the drop counters and the log.
	const dropped = "pace_distributor_udp_datagrams_dropped_total"
	counter := func(proto, reason string) map[string]string {
		return map[string]string{"protocol": proto, "reason": reason}
	}
	expectDrop := func(name, proto, reason string, send func()) {
		t.Helper()
		l := counter(proto, reason)
		was := s.Metric(t, dropped, l)
		send()
		if got := s.WaitMetric(t, dropped, l, was+1, 5*time.Second); got != was+1 {
			t.Errorf("%s: %s%v went from %v to %v, want +1", name, dropped, l, was, got)
		} else {
			t.Logf("%s: %s%v +1", name, dropped, l)
		}
	}
	expectDrop("UDP compact: datagram of 65,100 bytes", "jaeger_thrift_compact", "too_large", func() {
		SendUDPDatagram(t, s.JaegerCompactAddr, bytes.Repeat([]byte{0x82}, 65100))
	})
	expectDrop("UDP binary: garbage datagram", "jaeger_thrift_binary", "decode_error", func() {
		SendUDPDatagram(t, s.JaegerBinaryAddr, []byte("this is not a thrift message at all"))
	})
	expectDrop("UDP compact: garbage datagram", "jaeger_thrift_compact", "decode_error", func() {
		SendUDPDatagram(t, s.JaegerCompactAddr, []byte{0x82, 0x21, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f})
	})
	zspan := &zipkincore.Span{TraceID: 1, ID: 2, Name: "legacy", Annotations: []*zipkincore.Annotation{}, BinaryAnnotations: []*zipkincore.BinaryAnnotation{}}
	for _, compact := range []bool{true, false} {
		proto := map[bool]string{true: "jaeger_thrift_compact", false: "jaeger_thrift_binary"}[compact]
		addr := map[bool]string{true: s.JaegerCompactAddr, false: s.JaegerBinaryAddr}[compact]
		expectDrop("UDP: agent emitZipkinBatch ("+proto+")", proto, "unsupported", func() {
			if err := NewAgentClient(t, addr, compact).EmitZipkinBatch(context.Background(), []*zipkincore.Span{zspan}); err != nil {
				t.Fatalf("emitZipkinBatch: %v", err)
			}
		})
	}
	log, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	var dropLines []string
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "dropped Jaeger agent datagram") {
			dropLines = append(dropLines, line)
		}
	}
	if len(dropLines) == 0 {
		t.Errorf("server log has no \"dropped Jaeger agent datagram\" line")
	} else if !strings.Contains(dropLines[0], "too_large") {
		t.Errorf("first \"dropped Jaeger agent datagram\" log line does not name too_large: %s", dropLines[0])
	} else {
		t.Logf("log: %d drop lines, first: %s", len(dropLines), dropLines[0])
	}
	// A flood of garbage is counted in full but logged at most once a second.
	flood := counter("jaeger_thrift_binary", "decode_error")
	was := s.Metric(t, dropped, flood)
	floodStart := time.Now()
	for i := 0; i < 50; i++ {
		SendUDPDatagram(t, s.JaegerBinaryAddr, []byte("garbage"))
	}
	if got := s.WaitMetric(t, dropped, flood, was+50, 5*time.Second); got != was+50 {
		t.Errorf("50 garbage datagrams: %s%v went from %v to %v, want +50", dropped, flood, was, got)
	}
	elapsed := time.Since(floodStart)
	log, err = os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "dropped Jaeger agent datagram") && strings.Contains(line, "jaeger_thrift_binary") {
			n++
		}
	}
	// Earlier binary drops logged at most 2 lines; the flood at most one
	// per started second.
	if limit := 2 + int(elapsed/time.Second) + 1; n > limit {
		t.Errorf("after 50 bad datagrams in %v the log has %d binary drop lines, want at most %d (one per second)", elapsed, n, limit)
	}

	// Still serving: ready, earlier traces intact, new traces accepted on
	// every protocol (UDP too: the emitZipkinBatch did not kill the agent).
	resp, rb = s.Do(t, http.MethodGet, "/ready", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after bad input: /ready %d %q", resp.StatusCode, truncate(rb))
	}
	for _, w := range good {
		s.RequireSeen(t, "", w, 0, "after bad input")
	}
	var after []wantTrace
	atid, awant, abase := newJaegerTrace("after-bad-http")
	s.SendJaegerThrift(t, "", jaegerRichBatch(atid, abase, randomBytes(16), time.Now(), "after-bad-http"))
	after = append(after, awant)
	gtid, gwant, gbase := newJaegerTrace("after-bad-grpc")
	if err := s.JaegerPostSpans(t, "", thriftToModel(jaegerRichBatch(gtid, gbase, randomBytes(16), time.Now(), "after-bad-grpc"))); err != nil {
		t.Errorf("PostSpans after bad input: %v", err)
	}
	after = append(after, gwant)
	zt, zb := randomBytes(16), randomSpanBase()
	s.SendZipkin(t, "", "/api/v2/spans", "application/x-protobuf", ZipkinProto(t, zipkinRichSpans(zt, zb, time.Now(), "after-bad-zipkin")))
	after = append(after, wantZipkinV2(zt, zb, "after-bad-zipkin"))
	for _, w := range after {
		s.RequireSeen(t, "", w, 0, "sent after bad input")
	}
	for _, compact := range []bool{true, false} {
		svc := map[bool]string{true: "after-bad-udp-compact", false: "after-bad-udp-binary"}[compact]
		ut, uw, ub := newJaegerTrace(svc)
		s.SendJaegerUDP(t, compact, jaegerRichBatch(ut, ub, randomBytes(16), time.Now(), svc))
		s.RequireSeen(t, "", uw, 5*time.Second, "UDP trace sent after bad input")
		after = append(after, uw)
	}
	s.Flush(t)
	for _, w := range append(good, after...) {
		s.RequireSeen(t, "", w, 0, "after bad input and POST /flush")
	}
}
