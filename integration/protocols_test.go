package integration

// Helpers shared by the Jaeger and Zipkin tests: real protocol clients
// (thrift over HTTP and UDP, the Jaeger gRPC collector API, Zipkin HTTP),
// /metrics reading, and a user-level summary of a trace read back by ID.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	jaegermodel "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// ---------------------------------------------------------------------------
// Jaeger: thrift over HTTP

// JaegerThriftBody serializes a batch as thrift binary, the body of the
// Jaeger collector's POST /api/traces.
func JaegerThriftBody(t testing.TB, b *jaeger.Batch) []byte {
	t.Helper()
	body, err := thrift.NewTSerializer().Write(context.Background(), b)
	if err != nil {
		t.Fatalf("thrift-serialize jaeger.Batch: %v", err)
	}
	return body
}

// PostJaegerThrift posts a raw body to the Jaeger thrift HTTP receiver.
func (s *Server) PostJaegerThrift(t testing.TB, tenant, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	hdr := http.Header{}
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	return doHTTP(t, http.MethodPost, "http://"+s.JaegerHTTPAddr+"/api/traces", tenant, hdr, body)
}

// SendJaegerThrift posts a batch and requires a 202.
func (s *Server) SendJaegerThrift(t testing.TB, tenant string, b *jaeger.Batch) {
	t.Helper()
	resp, rb := s.PostJaegerThrift(t, tenant, "application/x-thrift", JaegerThriftBody(t, b))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST Jaeger /api/traces: want 202, got %d %q", resp.StatusCode, truncate(rb))
	}
}

// ---------------------------------------------------------------------------
// Jaeger: agent over UDP

// udpTransport is a thrift transport that sends what was written since the
// last Flush as one UDP datagram, like the Jaeger clients' agent transport.
type udpTransport struct {
	conn net.Conn
	buf  bytes.Buffer
}

func (u *udpTransport) Open() error                 { return nil }
func (u *udpTransport) IsOpen() bool                { return true }
func (u *udpTransport) Close() error                { return u.conn.Close() }
func (u *udpTransport) Read([]byte) (int, error)    { return 0, io.EOF }
func (u *udpTransport) Write(p []byte) (int, error) { return u.buf.Write(p) }
func (u *udpTransport) RemainingBytes() uint64      { return 0 }
func (u *udpTransport) Flush(context.Context) error {
	defer u.buf.Reset()
	_, err := u.conn.Write(u.buf.Bytes())
	return err
}

// NewAgentClient returns the generated Jaeger agent client writing to the
// UDP agent at addr with the compact or the binary thrift protocol.
func NewAgentClient(t testing.TB, addr string, compact bool) *agent.AgentClient {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatalf("dial udp %s: %v", addr, err)
	}
	tr := &udpTransport{conn: conn}
	t.Cleanup(func() { _ = tr.Close() })
	var f thrift.TProtocolFactory
	if compact {
		f = thrift.NewTCompactProtocolFactoryConf(&thrift.TConfiguration{})
	} else {
		f = thrift.NewTBinaryProtocolFactoryConf(&thrift.TConfiguration{})
	}
	return agent.NewAgentClientFactory(tr, f)
}

// SendJaegerUDP emits a batch to the compact (6831) or binary (6832) agent.
func (s *Server) SendJaegerUDP(t testing.TB, compact bool, b *jaeger.Batch) {
	t.Helper()
	addr := s.JaegerBinaryAddr
	if compact {
		addr = s.JaegerCompactAddr
	}
	if err := NewAgentClient(t, addr, compact).EmitBatch(context.Background(), b); err != nil {
		t.Fatalf("agent emitBatch to %s: %v", addr, err)
	}
}

// SendUDPDatagram sends raw bytes as one datagram.
func SendUDPDatagram(t testing.TB, addr string, b []byte) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatalf("dial udp %s: %v", addr, err)
	}
	defer conn.Close()
	if n, err := conn.Write(b); err != nil || n != len(b) {
		t.Fatalf("send %d-byte datagram to %s: wrote %d, %v", len(b), addr, n, err)
	}
}

// ---------------------------------------------------------------------------
// Jaeger: gRPC collector API

// JaegerPostSpans sends one api_v2 PostSpans request.
func (s *Server) JaegerPostSpans(t testing.TB, tenant string, b *jaegermodel.Batch) error {
	t.Helper()
	conn, err := grpc.NewClient(s.JaegerGRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc client: %v", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if tenant != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-scope-orgid", tenant)
	}
	_, err = api_v2.NewCollectorServiceClient(conn).PostSpans(ctx, &api_v2.PostSpansRequest{Batch: *b})
	return err
}

// thriftToModel converts a thrift batch into the api_v2 (protobuf) model the
// way a Jaeger client would have built it directly.
func thriftToModel(b *jaeger.Batch) *jaegermodel.Batch {
	kvs := func(tags []*jaeger.Tag) []jaegermodel.KeyValue {
		var out []jaegermodel.KeyValue
		for _, tg := range tags {
			kv := jaegermodel.KeyValue{Key: tg.Key}
			switch tg.VType {
			case jaeger.TagType_STRING:
				kv.VType, kv.VStr = jaegermodel.ValueType_STRING, tg.GetVStr()
			case jaeger.TagType_BOOL:
				kv.VType, kv.VBool = jaegermodel.ValueType_BOOL, tg.GetVBool()
			case jaeger.TagType_LONG:
				kv.VType, kv.VInt64 = jaegermodel.ValueType_INT64, tg.GetVLong()
			case jaeger.TagType_DOUBLE:
				kv.VType, kv.VFloat64 = jaegermodel.ValueType_FLOAT64, tg.GetVDouble()
			case jaeger.TagType_BINARY:
				kv.VType, kv.VBinary = jaegermodel.ValueType_BINARY, tg.GetVBinary()
			}
			out = append(out, kv)
		}
		return out
	}
	micros := func(us int64) time.Time { return time.UnixMicro(us).UTC() }
	out := &jaegermodel.Batch{Process: &jaegermodel.Process{ServiceName: b.Process.ServiceName, Tags: kvs(b.Process.Tags)}}
	for _, sp := range b.Spans {
		tid := jaegermodel.NewTraceID(uint64(sp.TraceIdHigh), uint64(sp.TraceIdLow))
		m := &jaegermodel.Span{
			TraceID:       tid,
			SpanID:        jaegermodel.NewSpanID(uint64(sp.SpanId)),
			OperationName: sp.OperationName,
			Flags:         jaegermodel.Flags(sp.Flags),
			StartTime:     micros(sp.StartTime),
			Duration:      time.Duration(sp.Duration) * time.Microsecond,
			Tags:          kvs(sp.Tags),
		}
		// The thrift parentSpanId becomes a CHILD_OF reference, first, as
		// the Jaeger clients do.
		if sp.ParentSpanId != 0 {
			m.References = append(m.References, jaegermodel.NewChildOfRef(tid, jaegermodel.NewSpanID(uint64(sp.ParentSpanId))))
		}
		for _, r := range sp.References {
			if r.RefType == jaeger.SpanRefType_CHILD_OF && r.SpanId == sp.ParentSpanId && r.TraceIdHigh == sp.TraceIdHigh && r.TraceIdLow == sp.TraceIdLow {
				continue // already there
			}
			ref := jaegermodel.SpanRef{
				TraceID: jaegermodel.NewTraceID(uint64(r.TraceIdHigh), uint64(r.TraceIdLow)),
				SpanID:  jaegermodel.NewSpanID(uint64(r.SpanId)),
				RefType: jaegermodel.SpanRefType_CHILD_OF,
			}
			if r.RefType == jaeger.SpanRefType_FOLLOWS_FROM {
				ref.RefType = jaegermodel.SpanRefType_FOLLOWS_FROM
			}
			m.References = append(m.References, ref)
		}
		for _, l := range sp.Logs {
			m.Logs = append(m.Logs, jaegermodel.Log{Timestamp: micros(l.Timestamp), Fields: kvs(l.Fields)})
		}
		out.Spans = append(out.Spans, m)
	}
	return out
}

// Thrift tag constructors.
func jStr(k, v string) *jaeger.Tag {
	return &jaeger.Tag{Key: k, VType: jaeger.TagType_STRING, VStr: &v}
}
func jBool(k string, v bool) *jaeger.Tag {
	return &jaeger.Tag{Key: k, VType: jaeger.TagType_BOOL, VBool: &v}
}
func jLong(k string, v int64) *jaeger.Tag {
	return &jaeger.Tag{Key: k, VType: jaeger.TagType_LONG, VLong: &v}
}
func jDouble(k string, v float64) *jaeger.Tag {
	return &jaeger.Tag{Key: k, VType: jaeger.TagType_DOUBLE, VDouble: &v}
}
func jBinary(k string, v []byte) *jaeger.Tag {
	return &jaeger.Tag{Key: k, VType: jaeger.TagType_BINARY, VBinary: v}
}

// jaegerIDs splits a 16-byte trace ID into thrift's high and low halves.
func jaegerIDs(id []byte) (hi, lo int64) {
	for i := 0; i < 8; i++ {
		hi = hi<<8 | int64(id[i])
		lo = lo<<8 | int64(id[8+i])
	}
	return hi, lo
}

func spanHex(id int64) string { return fmt.Sprintf("%016x", uint64(id)) }

// ---------------------------------------------------------------------------
// Zipkin

// PostZipkin posts a raw body to the Zipkin receiver (path /api/v2/spans or
// /api/v1/spans).
func (s *Server) PostZipkin(t testing.TB, tenant, path, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	hdr := http.Header{}
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	return doHTTP(t, http.MethodPost, "http://"+s.ZipkinAddr+path, tenant, hdr, body)
}

// SendZipkin posts a body and requires a 202.
func (s *Server) SendZipkin(t testing.TB, tenant, path, contentType string, body []byte) {
	t.Helper()
	resp, rb := s.PostZipkin(t, tenant, path, contentType, body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST Zipkin %s (%s): want 202, got %d %q", path, contentType, resp.StatusCode, truncate(rb))
	}
}

// statusRecorder is an HTTP client that remembers every answer's status, for
// clients (zipkin-go's reporter) that only log failures.
type statusRecorder struct {
	tenant string
	codes  chan int
}

func (r *statusRecorder) Do(req *http.Request) (*http.Response, error) {
	if r.tenant != "" {
		req.Header.Set("X-Scope-OrgID", r.tenant)
	}
	resp, err := HTTPClient.Do(req)
	if err != nil {
		r.codes <- -1
		return nil, err
	}
	r.codes <- resp.StatusCode
	return resp, nil
}

// ---------------------------------------------------------------------------
// /metrics

// Metric returns the value of the sample of name whose labels include all
// of labels (0 when there is none).
func (s *Server) Metric(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	resp, body := s.Do(t, http.MethodGet, "/metrics", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, truncate(body))
	}
	sum := 0.0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		lbls := line[len(name):sp]
		ok := true
		for k, v := range labels {
			if !strings.Contains(lbls, k+`="`+v+`"`) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: cannot parse %q: %v", line, err)
		}
		sum += f
	}
	return sum
}

// WaitMetric polls until the metric reaches want or timeout passes and
// returns the last value.
func (s *Server) WaitMetric(t testing.TB, name string, labels map[string]string, want float64, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := s.Metric(t, name, labels)
		if v >= want || time.Now().After(deadline) {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// What a user sees of a trace

// seenSpan is one span as a user sees it in the query answer.
type seenSpan struct {
	Service string
	Name    string
	Kind    string
	Parent  string
	Status  string
	Attrs   map[string]string // key -> "type:value"
	Res     map[string]string
	Events  []string
	Links   []string
}

// renderValue shows an attribute value with its type, e.g. "int:42".
func renderValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return "str:" + x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return "bool:" + strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return "int:" + strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return "double:" + strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return "bytes:" + base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, renderValue(e))
		}
		return "array:[" + strings.Join(parts, ",") + "]"
	case *commonpb.AnyValue_KvlistValue:
		var parts []string
		for _, kv := range sortedAttrs(x.KvlistValue.GetValues()) {
			parts = append(parts, kv.Key+"="+renderValue(kv.Value))
		}
		return "kvlist:{" + strings.Join(parts, ",") + "}"
	}
	return "empty"
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.Key] = renderValue(kv.Value)
	}
	return m
}

// seenSpans groups the spans of a trace by span ID (hex).
func seenSpans(td *tracepb.TracesData) map[string][]seenSpan {
	out := map[string][]seenSpan{}
	for _, rs := range td.GetResourceSpans() {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s := seenSpan{
					Service: strings.TrimPrefix(res["service.name"], "str:"),
					Name:    sp.Name,
					Kind:    sp.Kind.String(),
					Parent:  hex.EncodeToString(sp.ParentSpanId),
					Status:  sp.GetStatus().GetCode().String(),
					Attrs:   attrMap(sp.Attributes),
					Res:     res,
				}
				for _, e := range sp.Events {
					s.Events = append(s.Events, e.Name)
				}
				for _, l := range sp.Links {
					s.Links = append(s.Links, hex.EncodeToString(l.TraceId)+"/"+hex.EncodeToString(l.SpanId))
				}
				id := hex.EncodeToString(sp.SpanId)
				out[id] = append(out[id], s)
			}
		}
	}
	return out
}

// wantSpan is what a test expects of one span; empty fields are not checked.
type wantSpan struct {
	ID      string
	Parent  string
	Service string
	Name    string
	Kind    tracepb.Span_SpanKind
	Status  tracepb.Status_StatusCode
	Attrs   map[string]string // subset, "type:value"
	Events  []string          // names, in order
	Links   int
}

// wantTrace is a trace ID (hex) and its spans.
type wantTrace struct {
	ID    string
	Spans []wantSpan
}

// checkSeen compares what came back with what was expected; it returns the
// differences.
func checkSeen(td *tracepb.TracesData, want []wantSpan) []string {
	var diffs []string
	got := seenSpans(td)
	n := 0
	for _, ss := range got {
		n += len(ss)
	}
	if n != len(want) {
		diffs = append(diffs, fmt.Sprintf("want %d spans, got %d", len(want), n))
	}
	for _, w := range want {
		gs := got[w.ID]
		if len(gs) == 0 {
			diffs = append(diffs, fmt.Sprintf("span %s (%q) missing", w.ID, w.Name))
			continue
		}
		var g seenSpan
		found := false
		for _, c := range gs { // Zipkin shared spans repeat an ID
			if c.Name == w.Name && (w.Service == "" || c.Service == w.Service) {
				g, found = c, true
			}
		}
		if !found {
			diffs = append(diffs, fmt.Sprintf("span %s: no span named %q of service %q among %+v", w.ID, w.Name, w.Service, gs))
			continue
		}
		if g.Parent != w.Parent && !(w.Parent == "" && g.Parent == "") {
			diffs = append(diffs, fmt.Sprintf("span %s (%q): parent %q, want %q", w.ID, w.Name, g.Parent, w.Parent))
		}
		if w.Kind != 0 && g.Kind != w.Kind.String() {
			diffs = append(diffs, fmt.Sprintf("span %s (%q): kind %s, want %s", w.ID, w.Name, g.Kind, w.Kind))
		}
		if w.Status != 0 && g.Status != w.Status.String() {
			diffs = append(diffs, fmt.Sprintf("span %s (%q): status %s, want %s", w.ID, w.Name, g.Status, w.Status))
		}
		var keys []string
		for k := range w.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if g.Attrs[k] != w.Attrs[k] {
				diffs = append(diffs, fmt.Sprintf("span %s (%q): attribute %s = %q, want %q", w.ID, w.Name, k, g.Attrs[k], w.Attrs[k]))
			}
		}
		if w.Events != nil && strings.Join(g.Events, "|") != strings.Join(w.Events, "|") {
			diffs = append(diffs, fmt.Sprintf("span %s (%q): events %q, want %q", w.ID, w.Name, g.Events, w.Events))
		}
		if len(g.Links) != w.Links {
			diffs = append(diffs, fmt.Sprintf("span %s (%q): %d links %q, want %d", w.ID, w.Name, len(g.Links), g.Links, w.Links))
		}
	}
	return diffs
}

// RequireSeen reads a trace in every form and reports any difference from
// want. With wait > 0 it first polls (v1 JSON) until every span is there,
// for protocols without an acknowledgement (UDP).
func (s *Server) RequireSeen(t testing.TB, tenant string, want wantTrace, wait time.Duration, when string) {
	t.Helper()
	if wait > 0 {
		deadline := time.Now().Add(wait)
		for {
			r := s.GetTrace(t, tenant, want.ID, TraceForm{}, nil)
			if r.Status == http.StatusOK && r.Trace != nil && CountSpans(r.Trace) >= len(want.Spans) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: trace %s (tenant %q) not complete after %v: last answer %d with %d spans, want %d", when, want.ID, tenant, wait, r.Status, countOrZero(r.Trace), len(want.Spans))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, f := range AllTraceForms {
		r := s.GetTrace(t, tenant, want.ID, f, nil)
		label := fmt.Sprintf("%s: GET trace %s (%s, tenant %q)", when, want.ID, f, tenant)
		if r.Status != http.StatusOK {
			t.Errorf("%s: want 200, got %d %q", label, r.Status, truncate(r.Body))
			continue
		}
		if r.DecodeErr != nil {
			t.Errorf("%s: cannot decode: %v", label, r.DecodeErr)
			continue
		}
		if d := checkSeen(r.Trace, want.Spans); len(d) > 0 {
			t.Errorf("%s: differences:\n  %s", label, strings.Join(d, "\n  "))
		}
	}
}

func countOrZero(td *tracepb.TracesData) int {
	if td == nil {
		return 0
	}
	return CountSpans(td)
}
