package distributor

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv2"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/bench/gen"
)

// pushDecoded checks what every receiver promises for a decoded request:
// either it is refused with InvalidArgument, or every span is stored.
func pushDecoded(t *testing.T, td ptrace.Traces) {
	t.Helper()
	rec := &recorder{}
	d := newTestDistributor(t, rec)
	accepted := td.SpanCount()
	if err := d.PushTraces(context.Background(), "t", "fuzz", td); err != nil {
		if c := status.Code(err); c != codes.InvalidArgument {
			t.Fatalf("refusal with code %v, want InvalidArgument: %v", c, err)
		}
		return
	}
	stored := 0
	var u ptrace.ProtoUnmarshaler
	for _, e := range rec.entries {
		part, err := u.UnmarshalTraces(e.Data)
		if err != nil {
			t.Fatalf("stored entry does not decode: %v", err)
		}
		stored += part.SpanCount()
	}
	if stored != accepted {
		t.Fatalf("accepted %d spans but stored %d", accepted, stored)
	}
}

func sampleJaegerBatch() *jaegerthrift.Batch {
	s := "v"
	return &jaegerthrift.Batch{
		Process: &jaegerthrift.Process{ServiceName: "svc", Tags: []*jaegerthrift.Tag{{Key: "host", VType: jaegerthrift.TagType_STRING, VStr: &s}}},
		Spans: []*jaegerthrift.Span{{TraceIdLow: 7, TraceIdHigh: 1, SpanId: 2, OperationName: "op", StartTime: 1_700_000_000_000_000, Duration: 1000,
			Logs: []*jaegerthrift.Log{{Timestamp: 1_700_000_000_000_100, Fields: []*jaegerthrift.Tag{{Key: "event", VType: jaegerthrift.TagType_STRING, VStr: &s}}}}}},
	}
}

func FuzzJaegerThriftHTTPDecode(f *testing.F) {
	b, _ := thrift.NewTSerializer().Write(context.Background(), sampleJaegerBatch())
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{0x0f, 0x00, 0x02, 0x0c, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		td, err := decodeJaegerThrift(body)
		if err != nil {
			return
		}
		pushDecoded(t, td)
	})
}

func FuzzJaegerAgentDatagram(f *testing.F) {
	for _, compact := range []bool{true, false} {
		tr := thrift.NewTMemoryBuffer()
		var p thrift.TProtocol = thrift.NewTBinaryProtocolConf(tr, nil)
		if compact {
			p = thrift.NewTCompactProtocolConf(tr, nil)
		}
		c := agent.NewAgentClientProtocol(tr, p, p)
		_ = c.EmitBatch(context.Background(), sampleJaegerBatch())
		f.Add(tr.Bytes(), compact)
	}
	f.Add([]byte("garbage"), true)
	f.Fuzz(func(t *testing.T, dgram []byte, compact bool) {
		rec := &recorder{}
		d := newTestDistributor(t, rec)
		protocol := protoJaegerBinary
		if compact {
			protocol = protoJaegerCompact
		}
		u := &udpAgent{d: d, protocol: protocol}
		// Whatever the datagram, decoding returns an error or nil; a panic
		// (survived in production, but a bug) fails the fuzz run.
		if err := processAgentDatagram(agent.NewAgentProcessor(&agentHandler{u: u}), protocol, dgram); errors.Is(err, errDecoderPanic) {
			t.Fatal(err)
		}
	})
}

func FuzzZipkinDecode(f *testing.F) {
	td := gen.New(5).Traces(2, 3)
	js, _ := zipkinv2.NewJSONTracesMarshaler().MarshalTraces(td)
	pb, _ := zipkinv2.NewProtobufTracesMarshaler().MarshalTraces(td)
	f.Add(js, false, "application/json")
	f.Add(pb, false, "application/x-protobuf")
	f.Add([]byte(`[{"traceId":"1","id":"2","name":"x","binaryAnnotations":[{"key":"k","value":"v"}]}]`), true, "application/json")
	f.Add([]byte{0x0c, 0x00, 0x00, 0x00, 0x01}, true, "application/x-thrift")
	f.Fuzz(func(t *testing.T, body []byte, v1 bool, ct string) {
		td, err := decodeZipkin(v1, ct, body)
		if err != nil {
			return
		}
		pushDecoded(t, td)
	})
}

func FuzzJaegerGRPCDecode(f *testing.F) {
	req := &api_v2.PostSpansRequest{}
	b, _ := req.Marshal()
	f.Add(b)
	f.Add([]byte{0x0a, 0x04, 0x0a, 0x02, 0x08, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		var r api_v2.PostSpansRequest
		if err := r.Unmarshal(body); err != nil {
			return // grpc answers such a body with an error before pace sees it
		}
		rec := &recorder{}
		d := newTestDistributor(t, rec)
		_, err := jaegerGRPC{d}.PostSpans(context.Background(), &r)
		if err != nil && status.Code(err) != codes.InvalidArgument {
			t.Fatalf("refusal with code %v, want InvalidArgument: %v", status.Code(err), err)
		}
	})
}
