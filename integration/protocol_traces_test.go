package integration

// Rich Jaeger and Zipkin traces: the same builders make the golden-file
// traces (fixed IDs and times) and the read-back traces (random IDs, now).

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/openzipkin/zipkin-go/reporter"
)

// jaegerSpanIDs are the span IDs of jaegerRichBatch: root, client,
// producer, consumer.
func jaegerSpanIDs(base uint64) [4]int64 {
	return [4]int64{int64(base + 1), int64(base + 2), int64(base + 3), int64(base + 4)}
}

// jaegerRichBatch is one trace of four spans carrying everything the Jaeger
// model has: process tags of every type, span tags of every type (string,
// bool, long, double, binary), span.kind server/client/producer/consumer,
// error=true, otel.status_code, logs with fields of every type, a parent by
// parentSpanId and a parent by CHILD_OF reference only, FOLLOWS_FROM and
// CHILD_OF references to another trace.
func jaegerRichBatch(traceID []byte, spanBase uint64, other []byte, base time.Time, svc string) *jaeger.Batch {
	hi, lo := jaegerIDs(traceID)
	ohi, olo := jaegerIDs(other)
	ids := jaegerSpanIDs(spanBase)
	us := func(d time.Duration) int64 { return base.Add(d).UnixMicro() }
	ms := time.Millisecond
	seq := int64(7)
	return &jaeger.Batch{
		Process: &jaeger.Process{ServiceName: svc, Tags: []*jaeger.Tag{
			jStr("hostname", "host-1"),
			jStr("ip", "10.1.2.3"),
			jStr("jaeger.version", "Go-2.30.0"),
			jLong("process.pid", 4242),
			jBool("process.debug", true),
			jDouble("process.load", 0.75),
			jBinary("process.blob", []byte{0x01, 0x02, 0xff}),
		}},
		SeqNo: &seq,
		Spans: []*jaeger.Span{
			{
				TraceIdHigh: hi, TraceIdLow: lo, SpanId: ids[0], ParentSpanId: 0,
				OperationName: "GET /checkout", Flags: 1, StartTime: us(0), Duration: (30 * ms).Microseconds(),
				Tags: []*jaeger.Tag{
					jStr("span.kind", "server"),
					jStr("str", "value ✓ naïve"),
					jStr("empty.str", ""),
					jBool("bool.true", true),
					jBool("bool.false", false),
					jLong("long", -42),
					jLong("long.big", 1<<62+5),
					jDouble("double", 3.25),
					jBinary("binary", []byte{0xde, 0xad, 0xbe, 0xef}),
					jStr("http.method", "GET"),
					jLong("http.status_code", 500),
					jBool("error", true),
				},
				Logs: []*jaeger.Log{
					{Timestamp: us(1 * ms), Fields: []*jaeger.Tag{jStr("event", "request.received"), jLong("bytes", 512), jBool("cached", false)}},
					{Timestamp: us(12 * ms), Fields: []*jaeger.Tag{jStr("event", "error"), jStr("error.object", "timeout"), jStr("message", "payment gateway timeout"), jDouble("ratio", 0.5), jBinary("payload", []byte("hi"))}},
					{Timestamp: us(13 * ms), Fields: []*jaeger.Tag{jStr("message", "a log without an event field")}},
				},
				References: []*jaeger.SpanRef{{RefType: jaeger.SpanRefType_FOLLOWS_FROM, TraceIdHigh: ohi, TraceIdLow: olo, SpanId: 0x0b01}},
			},
			{
				TraceIdHigh: hi, TraceIdLow: lo, SpanId: ids[1], ParentSpanId: ids[0],
				OperationName: "SELECT orders", Flags: 1, StartTime: us(2 * ms), Duration: (7 * ms).Microseconds(),
				Tags: []*jaeger.Tag{
					jStr("span.kind", "client"),
					jStr("db.system", "postgresql"),
					jStr("peer.service", "orders-db"),
					jStr("otel.status_code", "OK"),
				},
				References: []*jaeger.SpanRef{
					{RefType: jaeger.SpanRefType_CHILD_OF, TraceIdHigh: hi, TraceIdLow: lo, SpanId: ids[0]},
					{RefType: jaeger.SpanRefType_FOLLOWS_FROM, TraceIdHigh: ohi, TraceIdLow: olo, SpanId: 0x0b02},
				},
			},
			{
				TraceIdHigh: hi, TraceIdLow: lo, SpanId: ids[2], ParentSpanId: ids[0],
				OperationName: "publish order.created", Flags: 1, StartTime: us(21 * ms), Duration: (1 * ms).Microseconds(),
				Tags: []*jaeger.Tag{jStr("span.kind", "producer"), jStr("message_bus.destination", "orders")},
			},
			{
				// Parent only by reference (parentSpanId 0), plus a CHILD_OF
				// reference to another trace.
				TraceIdHigh: hi, TraceIdLow: lo, SpanId: ids[3], ParentSpanId: 0,
				OperationName: "consume order.created", Flags: 1, StartTime: us(23 * ms), Duration: (2 * ms).Microseconds(),
				Tags: []*jaeger.Tag{
					jStr("span.kind", "consumer"),
					jStr("otel.status_code", "ERROR"),
					jStr("otel.status_description", "poison message"),
				},
				References: []*jaeger.SpanRef{
					{RefType: jaeger.SpanRefType_CHILD_OF, TraceIdHigh: hi, TraceIdLow: lo, SpanId: ids[2]},
					{RefType: jaeger.SpanRefType_CHILD_OF, TraceIdHigh: ohi, TraceIdLow: olo, SpanId: 0x0b03},
				},
			},
		},
	}
}

// zipkinSpanIDs are the span IDs of zipkinRichSpans: server root, client
// (shared with the server side), producer, consumer.
func zipkinSpanIDs(base uint64) [4]zipkinmodel.ID {
	return [4]zipkinmodel.ID{zipkinmodel.ID(base + 1), zipkinmodel.ID(base + 2), zipkinmodel.ID(base + 3), zipkinmodel.ID(base + 4)}
}

// zipkinRichSpans is one Zipkin v2 trace with everything the model has:
// kinds SERVER/CLIENT/PRODUCER/CONSUMER, a shared server span with the
// client's ID, local and remote endpoints (IPv4, IPv6, port), debug, string
// tags (including an error tag), and annotations.
func zipkinRichSpans(traceID []byte, spanBase uint64, base time.Time, svc string) []*zipkinmodel.SpanModel {
	tid := zipkinmodel.TraceID{High: binary.BigEndian.Uint64(traceID[:8]), Low: binary.BigEndian.Uint64(traceID[8:])}
	ids := zipkinSpanIDs(spanBase)
	ms := time.Millisecond
	local := &zipkinmodel.Endpoint{ServiceName: svc, IPv4: net.ParseIP("10.0.0.1"), Port: 8080}
	return []*zipkinmodel.SpanModel{
		{
			SpanContext:    zipkinmodel.SpanContext{TraceID: tid, ID: ids[0], Debug: true},
			Name:           "get /checkout",
			Kind:           zipkinmodel.Server,
			Timestamp:      base,
			Duration:       30 * ms,
			LocalEndpoint:  local,
			RemoteEndpoint: &zipkinmodel.Endpoint{ServiceName: "browser", IPv6: net.ParseIP("2001:db8::7"), Port: 54321},
			Annotations: []zipkinmodel.Annotation{
				{Timestamp: base.Add(1 * ms), Value: "request.received"},
				{Timestamp: base.Add(12 * ms), Value: "retry"},
			},
			Tags: map[string]string{
				"http.method":      "GET",
				"http.path":        "/checkout",
				"http.status_code": "500",
				"error":            "payment failed",
				"str":              "value ✓ naïve",
				"num.as.string":    "42",
				"bool.as.string":   "true",
			},
		},
		{
			SpanContext:    zipkinmodel.SpanContext{TraceID: tid, ID: ids[1], ParentID: &ids[0]},
			Name:           "select orders",
			Kind:           zipkinmodel.Client,
			Timestamp:      base.Add(2 * ms),
			Duration:       7 * ms,
			LocalEndpoint:  local,
			RemoteEndpoint: &zipkinmodel.Endpoint{ServiceName: "postgres", IPv4: net.ParseIP("10.0.0.9"), Port: 5432},
			Tags:           map[string]string{"db.statement": "SELECT * FROM orders"},
		},
		{
			// The server side of the same RPC, sharing the client's span ID.
			SpanContext:   zipkinmodel.SpanContext{TraceID: tid, ID: ids[1], ParentID: &ids[0]},
			Name:          "select orders",
			Kind:          zipkinmodel.Server,
			Shared:        true,
			Timestamp:     base.Add(3 * ms),
			Duration:      5 * ms,
			LocalEndpoint: &zipkinmodel.Endpoint{ServiceName: "orders-db", IPv4: net.ParseIP("10.0.0.9"), Port: 5432},
		},
		{
			SpanContext:    zipkinmodel.SpanContext{TraceID: tid, ID: ids[2], ParentID: &ids[0]},
			Name:           "publish order.created",
			Kind:           zipkinmodel.Producer,
			Timestamp:      base.Add(21 * ms),
			Duration:       1 * ms,
			LocalEndpoint:  local,
			RemoteEndpoint: &zipkinmodel.Endpoint{ServiceName: "kafka"},
			Tags:           map[string]string{"kafka.topic": "orders"},
		},
		{
			SpanContext:    zipkinmodel.SpanContext{TraceID: tid, ID: ids[3], ParentID: &ids[2]},
			Name:           "consume order.created",
			Kind:           zipkinmodel.Consumer,
			Timestamp:      base.Add(23 * ms),
			Duration:       2 * ms,
			LocalEndpoint:  &zipkinmodel.Endpoint{ServiceName: "audit"},
			RemoteEndpoint: &zipkinmodel.Endpoint{ServiceName: "kafka"},
		},
	}
}

// ZipkinJSON serializes spans as Zipkin v2 JSON with zipkin-go.
func ZipkinJSON(t testing.TB, spans []*zipkinmodel.SpanModel) []byte {
	t.Helper()
	b, err := reporter.JSONSerializer{}.Serialize(spans)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ZipkinProto serializes spans as Zipkin v2 protobuf (ListOfSpans).
func ZipkinProto(t testing.TB, spans []*zipkinmodel.SpanModel) []byte {
	t.Helper()
	b, err := zipkin_proto3.SpanSerializer{}.Serialize(spans)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// zipkinV1Rich is a hand-written Zipkin v1 JSON trace: server (sr/ss and a
// custom annotation, "ca" client address), client (cs/cr, "sa" server
// address), producer (ms) and consumer (mr), string binary annotations
// including an error and lc (local component), debug.
func zipkinV1Rich(traceID []byte, spanBase uint64, base time.Time, svc string) []byte {
	tid := hex.EncodeToString(traceID)
	id := func(i uint64) string { return fmt.Sprintf("%016x", spanBase+i) }
	us := func(d time.Duration) int64 { return base.Add(d).UnixMicro() }
	ms := time.Millisecond
	ep := map[string]any{"serviceName": svc, "ipv4": "10.0.0.1", "port": 8080}
	type m = map[string]any
	spans := []m{
		{
			"traceId": tid, "id": id(1), "name": "get /checkout", "timestamp": us(0), "duration": (30 * ms).Microseconds(), "debug": true,
			"annotations": []m{
				{"timestamp": us(0), "value": "sr", "endpoint": ep},
				{"timestamp": us(1 * ms), "value": "request.received", "endpoint": ep},
				{"timestamp": us(30 * ms), "value": "ss", "endpoint": ep},
			},
			"binaryAnnotations": []m{
				{"key": "http.method", "value": "GET", "endpoint": ep},
				{"key": "http.status_code", "value": "500", "endpoint": ep},
				{"key": "error", "value": "payment failed", "endpoint": ep},
				{"key": "str", "value": "value ✓ naïve", "endpoint": ep},
				{"key": "lc", "value": "checkout-handler", "endpoint": ep},
				{"key": "ca", "value": "true", "endpoint": m{"serviceName": "browser", "ipv6": "2001:db8::7", "port": 54321}},
			},
		},
		{
			"traceId": tid, "id": id(2), "parentId": id(1), "name": "select orders", "timestamp": us(2 * ms), "duration": (7 * ms).Microseconds(),
			"annotations": []m{
				{"timestamp": us(2 * ms), "value": "cs", "endpoint": ep},
				{"timestamp": us(9 * ms), "value": "cr", "endpoint": ep},
			},
			"binaryAnnotations": []m{
				{"key": "db.statement", "value": "SELECT * FROM orders", "endpoint": ep},
				{"key": "sa", "value": "true", "endpoint": m{"serviceName": "postgres", "ipv4": "10.0.0.9", "port": 5432}},
			},
		},
		{
			"traceId": tid, "id": id(3), "parentId": id(1), "name": "publish order.created", "timestamp": us(21 * ms), "duration": (1 * ms).Microseconds(),
			"annotations": []m{{"timestamp": us(21 * ms), "value": "ms", "endpoint": ep}},
			"binaryAnnotations": []m{
				{"key": "kafka.topic", "value": "orders", "endpoint": ep},
			},
		},
		{
			"traceId": tid, "id": id(4), "parentId": id(3), "name": "consume order.created", "timestamp": us(23 * ms), "duration": (2 * ms).Microseconds(),
			"annotations": []m{{"timestamp": us(23 * ms), "value": "mr", "endpoint": m{"serviceName": "audit"}}},
		},
	}
	b, err := json.Marshal(spans)
	if err != nil {
		panic(err)
	}
	return b
}
