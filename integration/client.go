package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	collectortracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// HTTPClient is used for every request the harness makes.
var HTTPClient = &http.Client{Timeout: 60 * time.Second}

// ---------------------------------------------------------------------------
// Query API

// TraceForm is one way of asking for a trace by ID.
type TraceForm struct {
	V2    bool // /api/v2/traces instead of /api/traces
	Proto bool // Accept: application/protobuf
}

func (f TraceForm) String() string {
	v, e := "v1", "json"
	if f.V2 {
		v = "v2"
	}
	if f.Proto {
		e = "protobuf"
	}
	return v + "/" + e
}

// AllTraceForms are v1 and v2, JSON and protobuf.
var AllTraceForms = []TraceForm{{false, false}, {false, true}, {true, false}, {true, true}}

// TraceResult is what a trace-by-ID request answered.
type TraceResult struct {
	Status      int
	ContentType string
	Body        []byte
	Trace       *tracepb.TracesData // decoded for a 200
	DecodeErr   error
}

// Do sends an HTTP request to the server's query port with an optional tenant.
func (s *Server) Do(t testing.TB, method, path, tenant string, hdr http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	return doHTTP(t, method, s.HTTPURL+path, tenant, hdr, body)
}

func doHTTP(t testing.TB, method, u, tenant string, hdr http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, u, err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	resp, err := HTTPClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp, b
}

// GetTrace asks for a trace by ID (hex) in the given form. tenant "" sends
// no X-Scope-OrgID header. query may be nil.
func (s *Server) GetTrace(t testing.TB, tenant, id string, form TraceForm, query url.Values) TraceResult {
	t.Helper()
	path := "/api/traces/" + id
	if form.V2 {
		path = "/api/v2/traces/" + id
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	hdr := http.Header{}
	if form.Proto {
		hdr.Set("Accept", "application/protobuf")
	} else {
		hdr.Set("Accept", "application/json")
	}
	resp, body := s.Do(t, http.MethodGet, path, tenant, hdr, nil)
	r := TraceResult{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body}
	if r.Status == http.StatusOK {
		r.Trace, r.DecodeErr = DecodeTraceResponse(form, body)
	}
	return r
}

// DecodeTraceResponse decodes a 200 answer of /api/traces or /api/v2/traces.
func DecodeTraceResponse(form TraceForm, body []byte) (*tracepb.TracesData, error) {
	td := &tracepb.TracesData{}
	switch {
	case !form.V2 && !form.Proto:
		var v1 struct {
			Batches []json.RawMessage `json:"batches"`
		}
		if err := json.Unmarshal(body, &v1); err != nil {
			return nil, fmt.Errorf("v1 JSON: %v", err)
		}
		for i, raw := range v1.Batches {
			rs := &tracepb.ResourceSpans{}
			if err := protojson.Unmarshal(raw, rs); err != nil {
				return nil, fmt.Errorf("v1 JSON batches[%d]: %v", i, err)
			}
			td.ResourceSpans = append(td.ResourceSpans, rs)
		}
	case !form.V2 && form.Proto:
		if err := proto.Unmarshal(body, td); err != nil {
			return nil, fmt.Errorf("v1 protobuf (TracesData): %v", err)
		}
	case form.V2 && !form.Proto:
		var v2 struct {
			Trace   json.RawMessage `json:"trace"`
			Status  string          `json:"status"`
			Message string          `json:"message"`
		}
		if err := json.Unmarshal(body, &v2); err != nil {
			return nil, fmt.Errorf("v2 JSON: %v", err)
		}
		if len(v2.Trace) == 0 {
			return nil, fmt.Errorf("v2 JSON: no \"trace\" field")
		}
		if err := protojson.Unmarshal(v2.Trace, td); err != nil {
			return nil, fmt.Errorf("v2 JSON trace: %v", err)
		}
	default:
		// TraceByIDResponse: field 1 is the trace (TracesData wire format).
		b := body
		found := false
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return nil, fmt.Errorf("v2 protobuf: %v", protowire.ParseError(n))
			}
			b = b[n:]
			if num == 1 && typ == protowire.BytesType {
				v, m := protowire.ConsumeBytes(b)
				if m < 0 {
					return nil, fmt.Errorf("v2 protobuf field 1: %v", protowire.ParseError(m))
				}
				if err := proto.Unmarshal(v, td); err != nil {
					return nil, fmt.Errorf("v2 protobuf trace: %v", err)
				}
				found = true
				b = b[m:]
				continue
			}
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, fmt.Errorf("v2 protobuf field %d: %v", num, protowire.ParseError(m))
			}
			b = b[m:]
		}
		if !found {
			return nil, fmt.Errorf("v2 protobuf: TraceByIDResponse has no trace (field 1)")
		}
	}
	return td, nil
}

// Flush asks the server to write every live trace to the object store.
func (s *Server) Flush(t testing.TB) {
	t.Helper()
	resp, body := s.Do(t, http.MethodPost, "/flush", "", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /flush: want 204, got %d %q", resp.StatusCode, truncate(body))
	}
}

// ---------------------------------------------------------------------------
// OTLP ingest

// PostOTLP posts a raw body to /v1/traces and returns the answer.
func (s *Server) PostOTLP(t testing.TB, tenant, contentType, contentEncoding string, body []byte) (*http.Response, []byte) {
	t.Helper()
	hdr := http.Header{}
	hdr.Set("Content-Type", contentType)
	if contentEncoding != "" {
		hdr.Set("Content-Encoding", contentEncoding)
	}
	return doHTTP(t, http.MethodPost, s.OTLPHTTPURL+"/v1/traces", tenant, hdr, body)
}

// SendOTLPProtobuf posts td as OTLP protobuf (gzip-compressed when gz) and
// requires a 200 with a well-formed ExportTraceServiceResponse.
func (s *Server) SendOTLPProtobuf(t testing.TB, tenant string, td *tracepb.TracesData, gz bool) {
	t.Helper()
	body, err := proto.Marshal(&collectortracepb.ExportTraceServiceRequest{ResourceSpans: td.ResourceSpans})
	if err != nil {
		t.Fatal(err)
	}
	enc := ""
	if gz {
		body, enc = Gzip(body), "gzip"
	}
	resp, rb := s.PostOTLP(t, tenant, "application/x-protobuf", enc, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces (protobuf, gzip=%v): want 200, got %d %q", gz, resp.StatusCode, truncate(rb))
	}
	var er collectortracepb.ExportTraceServiceResponse
	if err := proto.Unmarshal(rb, &er); err != nil {
		t.Errorf("POST /v1/traces (protobuf): answer is not an ExportTraceServiceResponse: %v (%q, Content-Type %q)", err, truncate(rb), resp.Header.Get("Content-Type"))
	}
	if ps := er.GetPartialSuccess(); ps.GetRejectedSpans() != 0 {
		t.Errorf("POST /v1/traces (protobuf): %d spans rejected: %s", ps.GetRejectedSpans(), ps.GetErrorMessage())
	}
}

// OTLPJSON renders td as OTLP/JSON as the OTLP spec defines it (hex IDs,
// integer enums, 64-bit integers as strings).
func OTLPJSON(t testing.TB, td *tracepb.TracesData) []byte {
	t.Helper()
	b, err := proto.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		t.Fatalf("pdata: %v", err)
	}
	j, err := (&ptrace.JSONMarshaler{}).MarshalTraces(pt)
	if err != nil {
		t.Fatalf("pdata JSON: %v", err)
	}
	return j
}

// SendOTLPJSON posts td as OTLP/JSON and requires a 200 with a JSON answer.
func (s *Server) SendOTLPJSON(t testing.TB, tenant string, td *tracepb.TracesData) {
	t.Helper()
	resp, rb := s.PostOTLP(t, tenant, "application/json", "", OTLPJSON(t, td))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces (JSON): want 200, got %d %q", resp.StatusCode, truncate(rb))
	}
	if !json.Valid(rb) {
		t.Errorf("POST /v1/traces (JSON): answer is not JSON: %q (Content-Type %q)", truncate(rb), resp.Header.Get("Content-Type"))
	}
}

// GRPCExport sends one OTLP gRPC Export request.
func (s *Server) GRPCExport(t testing.TB, tenant string, td *tracepb.TracesData) (*collectortracepb.ExportTraceServiceResponse, error) {
	t.Helper()
	conn, err := grpc.NewClient(s.OTLPGRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc client: %v", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if tenant != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-scope-orgid", tenant)
	}
	return collectortracepb.NewTraceServiceClient(conn).Export(ctx, &collectortracepb.ExportTraceServiceRequest{ResourceSpans: td.ResourceSpans})
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func truncate(b []byte) string {
	const max = 500
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Comparing traces

// ExpectedTrace is what was sent for one trace ID.
type ExpectedTrace struct {
	ID    string // hex
	Spans []*tracepb.ResourceSpans
}

// canonicalSpan turns one span with its resource and scope into a message
// holding only what a user can see and compare: resource attributes, scope
// name and version, and the span's IDs, name, kind, times, attributes,
// events, links and status. Attribute lists are sorted by key.
func canonicalSpan(res *resourcepb.Resource, scope *commonpb.InstrumentationScope, sp *tracepb.Span) *tracepb.ResourceSpans {
	c := &tracepb.Span{
		TraceId:           sp.TraceId,
		SpanId:            sp.SpanId,
		TraceState:        sp.TraceState,
		ParentSpanId:      sp.ParentSpanId,
		Name:              sp.Name,
		Kind:              sp.Kind,
		StartTimeUnixNano: sp.StartTimeUnixNano,
		EndTimeUnixNano:   sp.EndTimeUnixNano,
		Attributes:        sortedAttrs(sp.Attributes),
	}
	for _, e := range sp.Events {
		c.Events = append(c.Events, &tracepb.Span_Event{TimeUnixNano: e.TimeUnixNano, Name: e.Name, Attributes: sortedAttrs(e.Attributes)})
	}
	for _, l := range sp.Links {
		c.Links = append(c.Links, &tracepb.Span_Link{TraceId: l.TraceId, SpanId: l.SpanId, TraceState: l.TraceState, Attributes: sortedAttrs(l.Attributes)})
	}
	if sp.Status != nil && (sp.Status.Code != 0 || sp.Status.Message != "") {
		c.Status = &tracepb.Status{Code: sp.Status.Code, Message: sp.Status.Message}
	}
	return &tracepb.ResourceSpans{
		Resource: &resourcepb.Resource{Attributes: sortedAttrs(res.GetAttributes())},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: scope.GetName(), Version: scope.GetVersion()},
			Spans: []*tracepb.Span{c},
		}},
	}
}

func sortedAttrs(in []*commonpb.KeyValue) []*commonpb.KeyValue {
	if len(in) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(in))
	for i, kv := range in {
		out[i] = &commonpb.KeyValue{Key: kv.Key, Value: sortedValue(kv.Value)}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func sortedValue(v *commonpb.AnyValue) *commonpb.AnyValue {
	if kl, ok := v.GetValue().(*commonpb.AnyValue_KvlistValue); ok {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: sortedAttrs(kl.KvlistValue.GetValues())}}}
	}
	if a, ok := v.GetValue().(*commonpb.AnyValue_ArrayValue); ok {
		vals := make([]*commonpb.AnyValue, len(a.ArrayValue.GetValues()))
		for i, x := range a.ArrayValue.GetValues() {
			vals[i] = sortedValue(x)
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	}
	return v
}

type flatSpan struct {
	id   string
	name string
	c    *tracepb.ResourceSpans
}

func flatten(rss []*tracepb.ResourceSpans) []flatSpan {
	var out []flatSpan
	for _, rs := range rss {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				out = append(out, flatSpan{id: hex.EncodeToString(sp.SpanId), name: sp.Name, c: canonicalSpan(rs.Resource, ss.Scope, sp)})
			}
		}
	}
	return out
}

// CountSpans counts the spans in td.
func CountSpans(td *tracepb.TracesData) int { return len(flatten(td.GetResourceSpans())) }

var showJSON = protojson.MarshalOptions{Multiline: false}

// CompareTrace returns the differences between what was sent (want) and
// what came back (got): spans missing, unexpected, duplicated or changed.
// An empty result means the trace came back exactly.
func CompareTrace(want []*tracepb.ResourceSpans, got *tracepb.TracesData) []string {
	var diffs []string
	w := map[string]flatSpan{}
	var order []string
	for _, fs := range flatten(want) {
		if _, dup := w[fs.id]; !dup {
			order = append(order, fs.id)
		}
		w[fs.id] = fs
	}
	g := map[string][]flatSpan{}
	for _, fs := range flatten(got.GetResourceSpans()) {
		g[fs.id] = append(g[fs.id], fs)
	}
	for _, id := range order {
		ws := w[id]
		gs := g[id]
		switch {
		case len(gs) == 0:
			diffs = append(diffs, fmt.Sprintf("span %s (%q) missing", id, ws.name))
		case len(gs) > 1:
			diffs = append(diffs, fmt.Sprintf("span %s (%q) returned %d times", id, ws.name, len(gs)))
		}
		if len(gs) > 0 && !proto.Equal(ws.c, gs[0].c) {
			diffs = append(diffs, fmt.Sprintf("span %s (%q) differs:\n  sent: %s\n  got:  %s", id, ws.name, showJSON.Format(ws.c), showJSON.Format(gs[0].c)))
		}
	}
	var extra []string
	for id, gs := range g {
		if _, ok := w[id]; !ok {
			extra = append(extra, fmt.Sprintf("unexpected span %s (%q) returned %d times", id, gs[0].name, len(gs)))
		}
	}
	sort.Strings(extra)
	return append(diffs, extra...)
}

// RequireTrace reads a trace in the given form and reports (t.Errorf) any
// difference from what was sent. It returns false when something differed.
func (s *Server) RequireTrace(t testing.TB, tenant string, want ExpectedTrace, form TraceForm, query url.Values, when string) bool {
	t.Helper()
	r := s.GetTrace(t, tenant, want.ID, form, query)
	label := fmt.Sprintf("%s: GET trace %s (%s, tenant %q)", when, want.ID, form, tenant)
	if r.Status != http.StatusOK {
		t.Errorf("%s: want 200, got %d %q", label, r.Status, truncate(r.Body))
		return false
	}
	if r.DecodeErr != nil {
		t.Errorf("%s: cannot decode answer (Content-Type %q): %v; body %q", label, r.ContentType, r.DecodeErr, truncate(r.Body))
		return false
	}
	if form.Proto && !strings.Contains(r.ContentType, "protobuf") {
		t.Errorf("%s: want Content-Type application/protobuf, got %q", label, r.ContentType)
	}
	if !form.Proto && !strings.Contains(r.ContentType, "json") {
		t.Errorf("%s: want Content-Type application/json, got %q", label, r.ContentType)
	}
	diffs := CompareTrace(want.Spans, r.Trace)
	if len(diffs) > 0 {
		const max = 12
		more := ""
		if len(diffs) > max {
			more = fmt.Sprintf("\n  … and %d more", len(diffs)-max)
			diffs = diffs[:max]
		}
		t.Errorf("%s: sent %d spans, got %d; differences:\n  %s%s", label, len(flatten(want.Spans)), CountSpans(r.Trace), strings.Join(diffs, "\n  "), more)
		return false
	}
	return true
}

// RequireTraceAllForms checks a trace in every form (v1/v2, JSON/protobuf).
func (s *Server) RequireTraceAllForms(t testing.TB, tenant string, want ExpectedTrace, when string) {
	t.Helper()
	for _, f := range AllTraceForms {
		s.RequireTrace(t, tenant, want, f, nil, when)
	}
}

// RequireNotFound checks that a trace ID answers 404 for tenant.
func (s *Server) RequireNotFound(t testing.TB, tenant, id string, form TraceForm, query url.Values, when string) {
	t.Helper()
	r := s.GetTrace(t, tenant, id, form, query)
	if r.Status != http.StatusNotFound {
		n := 0
		if r.Trace != nil {
			n = CountSpans(r.Trace)
		}
		t.Errorf("%s: GET trace %s (%s, tenant %q, query %q): want 404, got %d (%d spans) %q", when, id, form, tenant, query.Encode(), r.Status, n, truncate(r.Body))
	}
}
