package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// ---------------------------------------------------------------------------
// OpenTelemetry Go SDK as the client

// recordingExporter passes spans to a real exporter and remembers the ones
// that were acknowledged, and every error.
type recordingExporter struct {
	sdktrace.SpanExporter
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
	errs  []error
}

func (r *recordingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := r.SpanExporter.ExportSpans(ctx, spans)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
	} else {
		r.spans = append(r.spans, spans...)
	}
	return err
}

// sdkClient kinds.
const (
	grpcBatch   = "otlptracegrpc/batch"
	grpcSync    = "otlptracegrpc/syncer"
	httpProto   = "otlptracehttp/protobuf/batch"
	httpGzip    = "otlptracehttp/protobuf+gzip/syncer"
	httpJSONSDK = "otlptracehttp/json/batch"
)

var allSDKClients = []string{grpcBatch, grpcSync, httpProto, httpGzip, httpJSONSDK}

// newSDKExporter makes a real OTLP exporter of the given kind pointing at s.
func newSDKExporter(t *testing.T, s *Server, kind, tenant string) (sdktrace.SpanExporter, bool) {
	t.Helper()
	ctx := context.Background()
	var (
		exp   sdktrace.SpanExporter
		err   error
		batch bool
	)
	switch kind {
	case grpcBatch, grpcSync:
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(s.OTLPGRPCAddr),
			otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
			otlptracegrpc.WithTimeout(30 * time.Second),
		}
		if tenant != "" {
			opts = append(opts, otlptracegrpc.WithHeaders(map[string]string{"x-scope-orgid": tenant}))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
		batch = kind == grpcBatch
	case httpProto, httpGzip, httpJSONSDK:
		opts := []otlptracehttp.Option{
			otlptracehttp.WithEndpoint(s.OTLPHTTPAddr),
			otlptracehttp.WithInsecure(),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
			otlptracehttp.WithTimeout(30 * time.Second),
		}
		if kind == httpGzip {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		if kind == httpJSONSDK {
			opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
		}
		if tenant != "" {
			opts = append(opts, otlptracehttp.WithHeaders(map[string]string{"X-Scope-OrgID": tenant}))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
		batch = kind != httpGzip
	default:
		t.Fatalf("unknown SDK client %q", kind)
	}
	if err != nil {
		t.Fatalf("%s: new exporter: %v", kind, err)
	}
	return exp, batch
}

// sendWithSDK emits nTraces traces through the OpenTelemetry SDK with an
// exporter of the given kind, shuts the provider down (which flushes), and
// returns what the server acknowledged, per trace. It fails the test on any
// export error.
// emitSDKTraces makes a tracer provider exporting to exp (batched, or
// synchronously), emits nTraces traces through it and returns it for the
// caller to flush and shut down.
func emitSDKTraces(exp sdktrace.SpanExporter, res *resource.Resource, batch bool, nTraces int) *sdktrace.TracerProvider {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.AlwaysSample())}
	if batch {
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour), sdktrace.WithMaxExportBatchSize(7)))
	} else {
		opts = append(opts, sdktrace.WithSyncer(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	tracer := tp.Tracer("pace/integration", trace.WithInstrumentationVersion("1.2.3"))
	var prev trace.SpanContext
	for i := 0; i < nTraces; i++ {
		prev = emitSDKTrace(tracer, i, prev)
	}
	return tp
}

func sendWithSDK(t *testing.T, s *Server, kind, tenant string, nTraces int) []ExpectedTrace {
	t.Helper()
	exp, batch := newSDKExporter(t, s, kind, tenant)
	rec := &recordingExporter{SpanExporter: exp}
	res := resource.NewSchemaless(
		attribute.String("service.name", "svc-"+strings.NewReplacer("/", "-", "+", "-").Replace(kind)),
		attribute.String("deployment.environment", "integration"),
		attribute.Int64("host.cpus", 2),
	)
	tp := emitSDKTraces(rec, res, batch, nTraces)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("%s: ForceFlush: %v", kind, err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("%s: Shutdown: %v", kind, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) > 0 {
		t.Fatalf("%s: export failed: %v", kind, errors.Join(rec.errs...))
	}
	byTrace := map[string][]*tracepb.ResourceSpans{}
	for _, sp := range rec.spans {
		id := sp.SpanContext().TraceID().String()
		byTrace[id] = append(byTrace[id], sdkSpanToOTLP(sp))
	}
	if len(byTrace) != nTraces {
		t.Fatalf("%s: exporter acknowledged spans of %d traces, want %d", kind, len(byTrace), nTraces)
	}
	var out []ExpectedTrace
	for id, rss := range byTrace {
		out = append(out, ExpectedTrace{ID: id, Spans: rss})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// everyAttributeType is one attribute of each type the SDK can send.
func everyAttributeType(i int) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("str", fmt.Sprintf("value-%d ✓ naïve", i)),
		attribute.String("empty.str", ""),
		attribute.Bool("bool.true", true),
		attribute.Bool("bool.false", false),
		attribute.Int64("int", int64(-42-i)),
		attribute.Int64("int.big", 1<<62+int64(i)),
		attribute.Float64("float", 3.25+float64(i)),
		attribute.StringSlice("str.slice", []string{"a", "b", ""}),
		attribute.BoolSlice("bool.slice", []bool{true, false}),
		attribute.Int64Slice("int.slice", []int64{1, -2, 1 << 40}),
		attribute.Float64Slice("float.slice", []float64{0.5, -1.25}),
		attribute.String("http.request.method", "GET"),
		attribute.Int("http.response.status_code", 200+i),
	}
}

// emitSDKTrace makes one trace of six spans: a server root with every
// attribute type and a link to the previous trace, client and internal
// children with events, an error status, an OK status and a grandchild.
func emitSDKTrace(tracer trace.Tracer, i int, prev trace.SpanContext) trace.SpanContext {
	base := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	rootOpts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(everyAttributeType(i)...),
		trace.WithTimestamp(base),
	}
	if prev.IsValid() {
		rootOpts = append(rootOpts, trace.WithLinks(trace.Link{SpanContext: prev, Attributes: []attribute.KeyValue{attribute.String("link.kind", "previous"), attribute.Int("link.n", i)}}))
	}
	ctx, root := tracer.Start(context.Background(), fmt.Sprintf("GET /checkout/%d", i), rootOpts...)
	root.AddEvent("request.received", trace.WithTimestamp(base.Add(time.Millisecond)), trace.WithAttributes(attribute.Int("bytes", 512), attribute.Bool("cached", false)))

	cctx, db := tracer.Start(ctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(base.Add(2*time.Millisecond)),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("db.statement", "SELECT * FROM orders WHERE id = $1")))
	_, gc := tracer.Start(cctx, "pool.acquire", trace.WithTimestamp(base.Add(3*time.Millisecond)))
	gc.End(trace.WithTimestamp(base.Add(4 * time.Millisecond)))
	db.SetStatus(otelcodes.Ok, "")
	db.End(trace.WithTimestamp(base.Add(9 * time.Millisecond)))

	_, pay := tracer.Start(ctx, "POST payments", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(base.Add(10*time.Millisecond)))
	pay.AddEvent("retry", trace.WithTimestamp(base.Add(11*time.Millisecond)), trace.WithAttributes(attribute.Int("attempt", 2)))
	pay.RecordError(errors.New("payment gateway timeout"), trace.WithTimestamp(base.Add(12*time.Millisecond)))
	pay.SetStatus(otelcodes.Error, "gateway timeout")
	pay.End(trace.WithTimestamp(base.Add(20 * time.Millisecond)))

	_, prod := tracer.Start(ctx, "publish order.created", trace.WithSpanKind(trace.SpanKindProducer), trace.WithTimestamp(base.Add(21*time.Millisecond)),
		trace.WithAttributes(attribute.StringSlice("messaging.destinations", []string{"orders", "audit"})))
	prod.End(trace.WithTimestamp(base.Add(22 * time.Millisecond)))

	_, cons := tracer.Start(ctx, "consume order.created", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(base.Add(23*time.Millisecond)))
	cons.End(trace.WithTimestamp(base.Add(25 * time.Millisecond)))

	root.End(trace.WithTimestamp(base.Add(30 * time.Millisecond)))
	return root.SpanContext()
}

// sdkSpanToOTLP converts what the SDK handed to the exporter into OTLP, the
// way the OTLP exporters do.
func sdkSpanToOTLP(sp sdktrace.ReadOnlySpan) *tracepb.ResourceSpans {
	sc := sp.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	out := &tracepb.Span{
		TraceId:           tid[:],
		SpanId:            sid[:],
		TraceState:        sc.TraceState().String(),
		Name:              sp.Name(),
		Kind:              tracepb.Span_SpanKind(sp.SpanKind()),
		StartTimeUnixNano: uint64(sp.StartTime().UnixNano()),
		EndTimeUnixNano:   uint64(sp.EndTime().UnixNano()),
		Attributes:        sdkAttrs(sp.Attributes()),
	}
	if p := sp.Parent(); p.SpanID().IsValid() {
		psid := p.SpanID()
		out.ParentSpanId = psid[:]
	}
	for _, e := range sp.Events() {
		out.Events = append(out.Events, &tracepb.Span_Event{TimeUnixNano: uint64(e.Time.UnixNano()), Name: e.Name, Attributes: sdkAttrs(e.Attributes)})
	}
	for _, l := range sp.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		out.Links = append(out.Links, &tracepb.Span_Link{TraceId: ltid[:], SpanId: lsid[:], TraceState: l.SpanContext.TraceState().String(), Attributes: sdkAttrs(l.Attributes)})
	}
	switch st := sp.Status(); st.Code {
	case otelcodes.Error:
		out.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: st.Description}
	case otelcodes.Ok:
		out.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
	}
	scope := sp.InstrumentationScope()
	return &tracepb.ResourceSpans{
		Resource: &resourcepb.Resource{Attributes: sdkAttrs(sp.Resource().Attributes())},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: scopeProto(scope),
			Spans: []*tracepb.Span{out},
		}},
	}
}

func scopeProto(s instrumentation.Scope) *commonpb.InstrumentationScope {
	return &commonpb.InstrumentationScope{Name: s.Name, Version: s.Version}
}

func sdkAttrs(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for _, kv := range kvs {
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: sdkValue(kv.Value)})
	}
	return out
}

func sdkValue(v attribute.Value) *commonpb.AnyValue {
	arr := func(vals []*commonpb.AnyValue) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	}
	switch v.Type() {
	case attribute.BOOL:
		return boolV(v.AsBool())
	case attribute.INT64:
		return intV(v.AsInt64())
	case attribute.FLOAT64:
		return floatV(v.AsFloat64())
	case attribute.STRING:
		return strV(v.AsString())
	case attribute.BOOLSLICE:
		var vals []*commonpb.AnyValue
		for _, x := range v.AsBoolSlice() {
			vals = append(vals, boolV(x))
		}
		return arr(vals)
	case attribute.INT64SLICE:
		var vals []*commonpb.AnyValue
		for _, x := range v.AsInt64Slice() {
			vals = append(vals, intV(x))
		}
		return arr(vals)
	case attribute.FLOAT64SLICE:
		var vals []*commonpb.AnyValue
		for _, x := range v.AsFloat64Slice() {
			vals = append(vals, floatV(x))
		}
		return arr(vals)
	case attribute.STRINGSLICE:
		var vals []*commonpb.AnyValue
		for _, x := range v.AsStringSlice() {
			vals = append(vals, strV(x))
		}
		return arr(vals)
	}
	return strV(v.Emit())
}

func strV(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
func boolV(b bool) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
}
func intV(i int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
}
func floatV(f float64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
}
func bytesV(b []byte) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: b}}
}
func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

// ---------------------------------------------------------------------------
// Raw OTLP traces (for hand-made requests)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// rawTrace is a trace built by hand, spread over two services (resources).
type rawTrace struct {
	ID    []byte
	Spans []*tracepb.Span // Spans[0] is the root
}

func (r rawTrace) Hex() string { return hex.EncodeToString(r.ID) }

// newRawTrace makes a trace of n spans (n >= 1) whose attributes cover every
// OTLP value type, including bytes, nested arrays and key-value lists.
func newRawTrace(label string, n int) rawTrace {
	id := randomBytes(16)
	base := uint64(time.Now().Add(-2 * time.Minute).UnixNano())
	r := rawTrace{ID: id}
	for i := 0; i < n; i++ {
		sp := &tracepb.Span{
			TraceId:           id,
			SpanId:            randomBytes(8),
			Name:              fmt.Sprintf("%s op-%02d", label, i),
			Kind:              tracepb.Span_SpanKind(1 + i%5),
			StartTimeUnixNano: base + uint64(i)*1_000_000,
			EndTimeUnixNano:   base + uint64(i)*1_000_000 + 500_000,
			Attributes: []*commonpb.KeyValue{
				kv("str", strV(fmt.Sprintf("%s-%d ✓", label, i))),
				kv("bool", boolV(i%2 == 0)),
				kv("int", intV(int64(i)-1<<40)),
				kv("double", floatV(float64(i)+0.125)),
				kv("bytes", bytesV([]byte{0, 1, 2, 0xfe, 0xff, byte(i)})),
				kv("array", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{strV("x"), intV(7), boolV(true), floatV(-0.5)}}}}),
				kv("kvlist", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
					kv("inner.str", strV("v")),
					kv("inner.int", intV(99)),
					kv("inner.list", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{kv("deep", boolV(false))}}}}),
				}}}}),
				kv("index", intV(int64(i))),
			},
			Events: []*tracepb.Span_Event{{
				TimeUnixNano: base + uint64(i)*1_000_000 + 100_000,
				Name:         "event-" + label,
				Attributes:   []*commonpb.KeyValue{kv("event.n", intV(int64(i))), kv("event.b", bytesV([]byte("hi")))},
			}},
			Status: &tracepb.Status{Code: tracepb.Status_StatusCode(i % 3), Message: map[bool]string{true: "failed " + label, false: ""}[i%3 == 2]},
		}
		if i > 0 {
			sp.ParentSpanId = r.Spans[(i-1)/2].SpanId
		} else {
			sp.TraceState = "vendor=abc,other=1"
		}
		if i == 1 {
			sp.Links = []*tracepb.Span_Link{{TraceId: randomBytes(16), SpanId: randomBytes(8), TraceState: "k=v", Attributes: []*commonpb.KeyValue{kv("link.attr", strV("linked"))}}}
		}
		r.Spans = append(r.Spans, sp)
	}
	return r
}

// resourceSpans groups spans into two services: even-indexed spans (by
// position in the full trace) in "frontend", odd ones in "backend".
func (r rawTrace) resourceSpans(spans ...*tracepb.Span) []*tracepb.ResourceSpans {
	idx := map[*tracepb.Span]int{}
	for i, sp := range r.Spans {
		idx[sp] = i
	}
	var fe, be []*tracepb.Span
	for _, sp := range spans {
		if idx[sp]%2 == 0 {
			fe = append(fe, sp)
		} else {
			be = append(be, sp)
		}
	}
	mk := func(service string, spans []*tracepb.Span) *tracepb.ResourceSpans {
		return &tracepb.ResourceSpans{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
				kv("service.name", strV(service)),
				kv("k8s.pod.uid", strV("c0ffee-"+service)),
				kv("process.pid", intV(4242)),
			}},
			ScopeSpans: []*tracepb.ScopeSpans{{
				Scope: &commonpb.InstrumentationScope{Name: "raw-" + service, Version: "0.9"},
				Spans: spans,
			}},
		}
	}
	var out []*tracepb.ResourceSpans
	if len(fe) > 0 {
		out = append(out, mk("frontend", fe))
	}
	if len(be) > 0 {
		out = append(out, mk("backend", be))
	}
	return out
}

// Data is the OTLP request body for some of the trace's spans (all when
// none are given).
func (r rawTrace) Data(spans ...*tracepb.Span) *tracepb.TracesData {
	if len(spans) == 0 {
		spans = r.Spans
	}
	return &tracepb.TracesData{ResourceSpans: r.resourceSpans(spans...)}
}

// Expected is what the whole trace must read back as.
func (r rawTrace) Expected() ExpectedTrace {
	return ExpectedTrace{ID: r.Hex(), Spans: r.resourceSpans(r.Spans...)}
}

// mergeData puts several traces into one request.
func mergeData(tds ...*tracepb.TracesData) *tracepb.TracesData {
	out := &tracepb.TracesData{}
	for _, td := range tds {
		out.ResourceSpans = append(out.ResourceSpans, td.ResourceSpans...)
	}
	return out
}
