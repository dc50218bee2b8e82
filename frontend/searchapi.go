package frontend

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/search"
	"github.com/pace-tracing/pace/traceql"
)

// registerSearchRoutes adds Tempo's search, tag and metrics endpoints.
func (f *Frontend) registerSearchRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/search", f.searchHandler)
	mux.HandleFunc("GET /api/search/tags", func(w http.ResponseWriter, r *http.Request) { f.tagsHandler(w, r, false) })
	mux.HandleFunc("GET /api/v2/search/tags", func(w http.ResponseWriter, r *http.Request) { f.tagsHandler(w, r, true) })
	mux.HandleFunc("GET /api/search/tag/{name}/values", func(w http.ResponseWriter, r *http.Request) { f.tagValuesHandler(w, r, false) })
	mux.HandleFunc("GET /api/v2/search/tag/{name}/values", func(w http.ResponseWriter, r *http.Request) { f.tagValuesHandler(w, r, true) })
	mux.HandleFunc("GET /api/metrics/query_range", func(w http.ResponseWriter, r *http.Request) { f.metricsHandler(w, r, false) })
	mux.HandleFunc("GET /api/metrics/query", func(w http.ResponseWriter, r *http.Request) { f.metricsHandler(w, r, true) })
}

// badParam is a 400 naming the parameter.
type badParam struct{ msg string }

func (e badParam) Error() string { return e.msg }

func paramErr(format string, args ...any) error { return badParam{fmt.Sprintf(format, args...)} }

// run executes req and writes the error response if it fails.
func (f *Frontend) run(w http.ResponseWriter, r *http.Request, req *pacepb.SearchRequest) (*search.Combiner, bool) {
	if f.s == nil {
		http.Error(w, "search is not available on this query-frontend", http.StatusNotImplemented)
		return nil, false
	}
	comb, err := f.s.Search(r.Context(), req)
	if err != nil {
		writeSearchError(w, err)
		if code := searchErrorStatus(err); code >= 500 {
			f.log.Error("search failed", "tenant", req.Tenant, "kind", req.Kind.String(), "query", req.Query, "err", err)
		}
		return nil, false
	}
	return comb, true
}

func searchErrorStatus(err error) int {
	var bp badParam
	switch {
	case errors.As(err, &bp), errors.Is(err, search.ErrBadRequest), status.Code(err) == codes.InvalidArgument:
		return http.StatusBadRequest
	case status.Code(err) == codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case status.Code(err) == codes.Canceled, errors.Is(err, context.Canceled):
		return 499 // the client went away
	}
	return http.StatusInternalServerError
}

func writeSearchError(w http.ResponseWriter, err error) {
	msg := err.Error()
	if s, ok := status.FromError(err); ok && s.Code() != codes.OK {
		msg = s.Message()
	}
	http.Error(w, msg, searchErrorStatus(err))
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mimeJSON)
	_, _ = w.Write(b)
}

// baseRequest reads the tenant and the parameters every endpoint shares.
func baseRequest(r *http.Request, kind pacepb.SearchRequest_Kind) (*pacepb.SearchRequest, error) {
	tenant, err := Tenant(r)
	if err != nil {
		return nil, paramErr("%s", err.Error())
	}
	req := &pacepb.SearchRequest{Kind: kind, Tenant: tenant, Query: r.URL.Query().Get("q")}
	if req.Start, err = timeParam(r, "start"); err != nil {
		return nil, err
	}
	if req.End, err = timeParam(r, "end"); err != nil {
		return nil, err
	}
	if req.Start != 0 && req.End != 0 && req.End < req.Start {
		return nil, paramErr("invalid time range: end is before start")
	}
	return req, nil
}

// timeParam parses a time: Unix seconds (Tempo's search API), or
// milliseconds, microseconds or nanoseconds told apart by magnitude, or
// RFC 3339. Zero is unset.
func timeParam(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && !math.IsInf(n, 0) {
		switch {
		case n < 1e11:
			return uint64(n * 1e9), nil
		case n < 1e14:
			return uint64(n * 1e6), nil
		case n < 1e17:
			return uint64(n * 1e3), nil
		}
		return uint64(n), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return uint64(t.UnixNano()), nil
	}
	return 0, paramErr("invalid %s %q: want Unix epoch seconds or RFC 3339", name, v)
}

func uintParam(r *http.Request, name string) (uint32, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, paramErr("invalid %s %q: want a non-negative integer", name, v)
	}
	return uint32(n), nil
}

func durationParam(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		if n, err2 := strconv.ParseFloat(v, 64); err2 == nil && n >= 0 {
			return uint64(n * 1e9), nil // plain seconds
		}
		return 0, paramErr("invalid %s %q: want a duration such as 100ms", name, v)
	}
	return uint64(d), nil
}

func (f *Frontend) searchHandler(w http.ResponseWriter, r *http.Request) {
	req, err := baseRequest(r, pacepb.SearchRequest_SEARCH)
	if err == nil {
		err = searchParams(r, req)
	}
	if err != nil {
		writeSearchError(w, err)
		return
	}
	comb, ok := f.run(w, r, req)
	if !ok {
		return
	}
	writeJSON(w, searchJSON(comb.Response()))
}

func searchParams(r *http.Request, req *pacepb.SearchRequest) error {
	var err error
	if req.MinDuration, err = durationParam(r, "minDuration"); err != nil {
		return err
	}
	if req.MaxDuration, err = durationParam(r, "maxDuration"); err != nil {
		return err
	}
	if req.Limit, err = uintParam(r, "limit"); err != nil {
		return err
	}
	if req.SpansPerSpanSet, err = uintParam(r, "spss"); err != nil {
		return err
	}
	if tags := r.URL.Query().Get("tags"); tags != "" && strings.TrimSpace(req.Query) == "" {
		if req.Query, err = TagsToTraceQL(tags); err != nil {
			return err
		}
	}
	return nil
}

// TagsToTraceQL turns the logfmt tags= of Tempo's search API into TraceQL:
// every pair must hold on one span (as a span or resource attribute);
// `name` is the span name and `status.code` the span status.
func TagsToTraceQL(tags string) (string, error) {
	pairs, err := parseLogfmt(tags)
	if err != nil {
		return "", paramErr("invalid tags %q: %s", tags, err.Error())
	}
	var conds []string
	for _, p := range pairs {
		k, v := p[0], p[1]
		switch k {
		case "name":
			conds = append(conds, "name = "+strconv.Quote(v))
		case "status.code", "status":
			conds = append(conds, "status = "+v)
			if v != "error" && v != "ok" && v != "unset" {
				return "", paramErr("invalid tags: status.code must be error, ok or unset, not %q", v)
			}
		default:
			attr := "." + quoteAttr(k)
			c := attr + " = " + strconv.Quote(v)
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				c = "(" + c + " || " + attr + " = " + strconv.FormatInt(n, 10) + ")"
			} else if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
				c = "(" + c + " || " + attr + " = " + strconv.FormatBool(b) + ")"
			}
			conds = append(conds, c)
		}
	}
	return "{ " + strings.Join(conds, " && ") + " }", nil
}

// quoteAttr writes an attribute name as a quoted TraceQL name, which takes
// any key (a bare one could read as a number or hold an operator).
// Quoted names know only the escapes \" and \\.
func quoteAttr(k string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
}

// parseLogfmt parses `k=v k2="v 2"`.
func parseLogfmt(s string) ([][2]string, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	var out [][2]string
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			return out, nil
		}
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ' ' {
			j++
		}
		if j == len(s) || s[j] != '=' || j == i {
			return nil, fmt.Errorf("want key=value at offset %d", i)
		}
		key := s[i:j]
		j++
		var val string
		if j < len(s) && s[j] == '"' {
			k := j + 1
			for k < len(s) && s[k] != '"' {
				if s[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(s) {
				return nil, fmt.Errorf("unterminated quote at offset %d", j)
			}
			v, err := strconv.Unquote(s[j : k+1])
			if err != nil {
				return nil, fmt.Errorf("bad quoted value at offset %d", j)
			}
			val, i = v, k+1
		} else {
			k := j
			for k < len(s) && s[k] != ' ' {
				k++
			}
			val, i = s[j:k], k
		}
		out = append(out, [2]string{key, val})
	}
}

func (f *Frontend) tagsHandler(w http.ResponseWriter, r *http.Request, v2 bool) {
	req, err := baseRequest(r, pacepb.SearchRequest_TAGS)
	if err != nil {
		writeSearchError(w, err)
		return
	}
	req.Scope = r.URL.Query().Get("scope")
	if !search.ValidScope(req.Scope) {
		writeSearchError(w, paramErr("invalid scope %q: want span, resource, event, link, instrumentation, intrinsic or all", req.Scope))
		return
	}
	scope := req.Scope
	resp := &pacepb.SearchResponse{Metrics: &pacepb.SearchMetrics{}}
	if scope != "intrinsic" { // intrinsics are a fixed list
		comb, ok := f.run(w, r, req)
		if !ok {
			return
		}
		resp = comb.Response()
	}
	if v2 {
		out := tagsV2JSON{Scopes: []scopeJSON{}, Metrics: metricsJSON(resp.Metrics)}
		for _, s := range resp.Scopes {
			out.Scopes = append(out.Scopes, scopeJSON{Name: s.Name, Tags: s.Tags})
		}
		if scope == "" || scope == "all" || scope == "intrinsic" {
			out.Scopes = append(out.Scopes, scopeJSON{Name: "intrinsic", Tags: search.Intrinsics})
		}
		writeJSON(w, out)
		return
	}
	set := map[string]bool{}
	for _, s := range resp.Scopes {
		for _, t := range s.Tags {
			set[t] = true
		}
	}
	writeJSON(w, tagsV1JSON{TagNames: slices.Sorted(maps.Keys(set)), Metrics: metricsJSON(resp.Metrics)})
}

func (f *Frontend) tagValuesHandler(w http.ResponseWriter, r *http.Request, v2 bool) {
	req, err := baseRequest(r, pacepb.SearchRequest_TAG_VALUES)
	if err != nil {
		writeSearchError(w, err)
		return
	}
	req.Tag, req.V2 = r.PathValue("name"), v2
	comb, ok := f.run(w, r, req)
	if !ok {
		return
	}
	resp := comb.Response()
	if v2 {
		out := tagValuesV2JSON{TagValues: []tagValueJSON{}, Metrics: metricsJSON(resp.Metrics)}
		for _, v := range resp.TagValues {
			out.TagValues = append(out.TagValues, tagValueJSON{Type: v.Type, Value: v.Value})
		}
		writeJSON(w, out)
		return
	}
	set := map[string]bool{}
	for _, v := range resp.TagValues {
		set[v.Value] = true
	}
	writeJSON(w, tagValuesV1JSON{TagValues: slices.Sorted(maps.Keys(set)), Metrics: metricsJSON(resp.Metrics)})
}

func (f *Frontend) metricsHandler(w http.ResponseWriter, r *http.Request, instant bool) {
	req, err := baseRequest(r, pacepb.SearchRequest_METRICS)
	if err != nil {
		writeSearchError(w, err)
		return
	}
	if req.Query == "" {
		writeSearchError(w, paramErr("q is required: a TraceQL metrics query such as {} | rate()"))
		return
	}
	now := uint64(time.Now().UnixNano())
	if req.End == 0 {
		req.End = now
	}
	if req.Start == 0 {
		since := uint64(time.Hour)
		if s := r.URL.Query().Get("since"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				writeSearchError(w, paramErr("invalid since %q: want a duration", s))
				return
			}
			since = uint64(d)
		}
		req.Start = req.End - min(req.End, since)
	}
	if req.End <= req.Start {
		writeSearchError(w, paramErr("invalid time range: end must be after start"))
		return
	}
	if instant {
		req.Step = req.End - req.Start
	} else if req.Step, err = durationParam(r, "step"); err != nil {
		writeSearchError(w, err)
		return
	} else if req.Step == 0 {
		req.Step = defaultStep(req.Start, req.End)
	}
	comb, ok := f.run(w, r, req)
	if !ok {
		return
	}
	series := comb.Series()
	m := metricsJSON(comb.Response().Metrics)
	if instant {
		out := instantJSON{Series: []instantSeriesJSON{}, Metrics: m}
		for _, s := range series {
			v := 0.0
			if len(s.Samples) > 0 {
				v = s.Samples[len(s.Samples)-1].Value
			}
			out.Series = append(out.Series, instantSeriesJSON{Labels: labelsJSON(s.Labels), Value: v, PromLabels: promLabels(s.Labels)})
		}
		writeJSON(w, out)
		return
	}
	out := rangeJSON{Series: []rangeSeriesJSON{}, Metrics: m}
	for _, s := range series {
		rs := rangeSeriesJSON{Labels: labelsJSON(s.Labels), PromLabels: promLabels(s.Labels), Samples: []sampleJSON{}}
		for _, p := range s.Samples {
			if math.IsNaN(p.Value) {
				continue
			}
			rs.Samples = append(rs.Samples, sampleJSON{TimestampMs: strconv.FormatInt(p.TimestampMs, 10), Value: p.Value})
		}
		out.Series = append(out.Series, rs)
	}
	writeJSON(w, out)
}

// JSON shapes of Tempo's responses (protobuf JSON: 64-bit integers as
// strings, IDs as hex).

type searchResponseJSON struct {
	Traces  []traceJSON `json:"traces"`
	Metrics *metricsOut `json:"metrics"`
}

type traceJSON struct {
	TraceID           string                      `json:"traceID"`
	RootServiceName   string                      `json:"rootServiceName"`
	RootTraceName     string                      `json:"rootTraceName,omitempty"`
	StartTimeUnixNano string                      `json:"startTimeUnixNano"`
	DurationMs        uint32                      `json:"durationMs"`
	SpanSet           *spanSetJSON                `json:"spanSet,omitempty"`
	SpanSets          []spanSetJSON               `json:"spanSets,omitempty"`
	ServiceStats      map[string]serviceStatsJSON `json:"serviceStats,omitempty"`
}

type serviceStatsJSON struct {
	SpanCount  uint32 `json:"spanCount"`
	ErrorCount uint32 `json:"errorCount,omitempty"`
}

type spanSetJSON struct {
	Spans      []spanJSON `json:"spans"`
	Matched    uint32     `json:"matched"`
	Attributes []attrJSON `json:"attributes,omitempty"`
}

type spanJSON struct {
	SpanID            string     `json:"spanID"`
	Name              string     `json:"name,omitempty"`
	StartTimeUnixNano string     `json:"startTimeUnixNano"`
	DurationNanos     string     `json:"durationNanos"`
	Attributes        []attrJSON `json:"attributes,omitempty"`
}

type attrJSON struct {
	Key   string         `json:"key"`
	Value map[string]any `json:"value"`
}

type metricsOut struct {
	InspectedTraces uint64 `json:"inspectedTraces,omitempty"`
	InspectedBytes  string `json:"inspectedBytes,omitempty"`
	InspectedSpans  string `json:"inspectedSpans,omitempty"`
	TotalBlocks     uint32 `json:"totalBlocks,omitempty"`
	CompletedJobs   uint32 `json:"completedJobs,omitempty"`
	TotalJobs       uint32 `json:"totalJobs,omitempty"`
	TotalBlockBytes string `json:"totalBlockBytes,omitempty"`
}

type tagsV1JSON struct {
	TagNames []string    `json:"tagNames"`
	Metrics  *metricsOut `json:"metrics"`
}

type scopeJSON struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type tagsV2JSON struct {
	Scopes  []scopeJSON `json:"scopes"`
	Metrics *metricsOut `json:"metrics"`
}

type tagValuesV1JSON struct {
	TagValues []string    `json:"tagValues"`
	Metrics   *metricsOut `json:"metrics"`
}

type tagValueJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type tagValuesV2JSON struct {
	TagValues []tagValueJSON `json:"tagValues"`
	Metrics   *metricsOut    `json:"metrics"`
}

type sampleJSON struct {
	TimestampMs string  `json:"timestampMs"`
	Value       float64 `json:"value"`
}

type rangeSeriesJSON struct {
	Labels     []attrJSON   `json:"labels"`
	Samples    []sampleJSON `json:"samples"`
	PromLabels string       `json:"promLabels"`
}

type rangeJSON struct {
	Series  []rangeSeriesJSON `json:"series"`
	Metrics *metricsOut       `json:"metrics"`
}

type instantSeriesJSON struct {
	Labels     []attrJSON `json:"labels"`
	Value      float64    `json:"value"`
	PromLabels string     `json:"promLabels"`
}

type instantJSON struct {
	Series  []instantSeriesJSON `json:"series"`
	Metrics *metricsOut         `json:"metrics"`
}

func u64s(n uint64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatUint(n, 10)
}

func metricsJSON(m *pacepb.SearchMetrics) *metricsOut {
	if m == nil {
		return &metricsOut{}
	}
	return &metricsOut{
		InspectedTraces: m.InspectedTraces,
		InspectedBytes:  u64s(m.InspectedBytes),
		InspectedSpans:  u64s(m.InspectedSpans),
		TotalBlocks:     m.TotalBlocks,
		CompletedJobs:   m.CompletedJobs,
		TotalJobs:       m.TotalJobs,
		TotalBlockBytes: u64s(m.TotalBlockBytes),
	}
}

func searchJSON(resp *pacepb.SearchResponse) searchResponseJSON {
	out := searchResponseJSON{Traces: []traceJSON{}, Metrics: metricsJSON(resp.Metrics)}
	for _, t := range resp.Traces {
		tj := traceJSON{
			TraceID:           hex.EncodeToString(t.TraceId),
			RootServiceName:   t.RootServiceName,
			RootTraceName:     t.RootTraceName,
			StartTimeUnixNano: strconv.FormatUint(t.StartTimeUnixNano, 10),
			DurationMs:        uint32(t.DurationNano / 1e6),
		}
		if len(t.ServiceStats) > 0 {
			tj.ServiceStats = map[string]serviceStatsJSON{}
			for k, v := range t.ServiceStats {
				tj.ServiceStats[k] = serviceStatsJSON{SpanCount: v.SpanCount, ErrorCount: v.ErrorCount}
			}
		}
		for _, ss := range t.SpanSets {
			sj := spanSetJSON{Spans: []spanJSON{}, Matched: ss.Matched, Attributes: attrsJSON(ss.Attributes)}
			for _, sp := range ss.Spans {
				sj.Spans = append(sj.Spans, spanJSON{
					SpanID:            hex.EncodeToString(sp.SpanId),
					Name:              sp.Name,
					StartTimeUnixNano: strconv.FormatUint(sp.StartTimeUnixNano, 10),
					DurationNanos:     strconv.FormatUint(sp.DurationNanos, 10),
					Attributes:        attrsJSON(sp.Attributes),
				})
			}
			tj.SpanSets = append(tj.SpanSets, sj)
		}
		if len(tj.SpanSets) > 0 {
			first := tj.SpanSets[0]
			tj.SpanSet = &first
		}
		out.Traces = append(out.Traces, tj)
	}
	return out
}

func attrsJSON(attrs []*pacepb.Attr) []attrJSON {
	var out []attrJSON
	for _, a := range attrs {
		v := search.ValueFromProto(a)
		if v.Type == traceql.TypeNil {
			continue
		}
		out = append(out, attrJSON{Key: a.Key, Value: anyValueJSON(v)})
	}
	return out
}

func labelsJSON(attrs []traceql.Attr) []attrJSON {
	out := []attrJSON{}
	for _, a := range attrs {
		out = append(out, attrJSON{Key: a.Key, Value: anyValueJSON(a.Value)})
	}
	return out
}

// anyValueJSON is an OTLP AnyValue in protobuf JSON, as Tempo renders
// TraceQL values: durations, statuses and kinds as strings.
func anyValueJSON(v traceql.Value) map[string]any {
	switch v.Type {
	case traceql.TypeString:
		return map[string]any{"stringValue": v.S}
	case traceql.TypeInt:
		return map[string]any{"intValue": strconv.FormatInt(v.I, 10)}
	case traceql.TypeFloat:
		return map[string]any{"doubleValue": jsonFloat(v.F)}
	case traceql.TypeBool:
		return map[string]any{"boolValue": v.B}
	case traceql.TypeDuration:
		return map[string]any{"stringValue": time.Duration(v.I).String()}
	case traceql.TypeStatus:
		if v.I >= 0 && int(v.I) < len(traceql.StatusNames) {
			return map[string]any{"stringValue": traceql.StatusNames[v.I]}
		}
	case traceql.TypeKind:
		if v.I >= 0 && int(v.I) < len(traceql.KindNames) {
			return map[string]any{"stringValue": traceql.KindNames[v.I]}
		}
	case traceql.TypeArray:
		vals := make([]map[string]any, len(v.Arr))
		for i, e := range v.Arr {
			vals[i] = anyValueJSON(e)
		}
		return map[string]any{"arrayValue": map[string]any{"values": vals}}
	}
	return map[string]any{}
}

// jsonFloat keeps NaN and infinities encodable, as protobuf JSON does.
func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// promLabels renders labels as Prometheus does: {a="x", b="y"}.
func promLabels(attrs []traceql.Attr) string {
	parts := make([]string, 0, len(attrs))
	for _, a := range attrs {
		var s string
		switch a.Value.Type {
		case traceql.TypeString:
			s = a.Value.S
		case traceql.TypeInt:
			s = strconv.FormatInt(a.Value.I, 10)
		case traceql.TypeFloat:
			s = strconv.FormatFloat(a.Value.F, 'g', -1, 64)
		case traceql.TypeBool:
			s = strconv.FormatBool(a.Value.B)
		default:
			if m := anyValueJSON(a.Value); m["stringValue"] != nil {
				s, _ = m["stringValue"].(string)
			} else {
				s = "<nil>"
			}
		}
		parts = append(parts, a.Key+"="+strconv.Quote(s))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
