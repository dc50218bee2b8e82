// Package search runs the TraceQL side of pace's query path: it evaluates a
// search, tag or metrics request over traces from any source (ingester
// memory, blocks) and combines the answers of many sources and jobs into
// one, with no trace twice.
package search

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/traceql"
)

// Defaults of Tempo's search API.
const (
	DefaultLimit     = 20
	DefaultSpss      = 3
	DefaultMaxValues = 10000
)

// ErrBadRequest wraps errors in the request itself (the query does not
// parse, a bad range): the client's fault, a 400.
var ErrBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// Normalize fills the request's defaults and checks it.
func Normalize(req *pacepb.SearchRequest) error {
	if req.Limit == 0 {
		req.Limit = DefaultLimit
	}
	if req.SpansPerSpanSet == 0 {
		req.SpansPerSpanSet = DefaultSpss
	}
	if req.MaxValues == 0 {
		req.MaxValues = DefaultMaxValues
	}
	if req.End != 0 && req.Start > req.End {
		return badRequest("start must not be after end")
	}
	if req.MaxDuration != 0 && req.MinDuration > req.MaxDuration {
		return badRequest("minDuration must not be greater than maxDuration")
	}
	if req.Kind == pacepb.SearchRequest_METRICS {
		if req.Start == 0 || req.End == 0 || req.End <= req.Start {
			return badRequest("a metrics query needs start < end")
		}
		if req.Step == 0 {
			return badRequest("a metrics query needs a step")
		}
	}
	return nil
}

// Parse parses the request's query; an empty query matches every span. The
// error wraps ErrBadRequest and carries the parser's position.
func Parse(req *pacepb.SearchRequest) (*traceql.Query, error) {
	text := strings.TrimSpace(req.Query)
	if text == "" {
		text = "{}"
	}
	q, err := traceql.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid TraceQL query: %w", ErrBadRequest, err)
	}
	if req.Kind == pacepb.SearchRequest_METRICS && !q.IsMetrics() {
		return nil, badRequest("invalid TraceQL query: a metrics query must end in a metrics function such as rate() or count_over_time()")
	}
	if req.Kind != pacepb.SearchRequest_METRICS && q.IsMetrics() {
		return nil, badRequest("invalid TraceQL query: metrics functions belong to /api/metrics/query_range")
	}
	return q, nil
}

// Exec evaluates one request over the traces handed to Add; safe for
// concurrent use.
type Exec struct {
	req      *pacepb.SearchRequest
	q        *traceql.Query
	conds    []traceql.Condition
	tag      tagName // TAG_VALUES
	matchAll bool    // see MatchesAll

	mu      sync.Mutex
	comb    *Combiner
	metrics *traceql.Metrics
	owns    func(id [16]byte) bool
	seen    map[uint64]struct{}
	// the owns answer for the last trace asked about
	lastID           [16]byte
	lastOwn, lastSet bool
}

// CountOwnedOnly makes a metrics request count only the traces for which
// owns is true: an ingester counts the traces it is the first replica of,
// so that replicas do not count a span several times.
func (e *Exec) CountOwnedOnly(owns func(id [16]byte) bool) {
	if e.metrics == nil {
		return
	}
	e.owns = owns
	e.metrics.Keep = e.keep
}

// CountSpansOnce makes a metrics request count a span (trace and span ID)
// once however many blocks hold a copy of it: blocks written by the
// replicas of one trace, before the compactor has merged them.
func (e *Exec) CountSpansOnce() {
	if e.metrics == nil {
		return
	}
	e.seen = map[uint64]struct{}{}
	e.metrics.Keep = e.keep
}

// keep runs under e.mu (Add holds it around Observe).
func (e *Exec) keep(t *traceql.Trace, s *traceql.Span) bool {
	if e.owns != nil {
		if !e.lastSet || e.lastID != t.ID {
			e.lastID, e.lastOwn, e.lastSet = t.ID, e.owns(t.ID), true
		}
		if !e.lastOwn {
			return false
		}
	}
	if e.seen != nil {
		h := spanHash(t.ID, s.ID)
		if _, dup := e.seen[h]; dup {
			return false
		}
		e.seen[h] = struct{}{}
	}
	return true
}

// spanHash is FNV-1a over the trace and span IDs.
func spanHash(tid [16]byte, sid [8]byte) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range tid {
		h = (h ^ uint64(b)) * 1099511628211
	}
	for _, b := range sid {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return h
}

// NewExec prepares req (normalized) for evaluation.
func NewExec(req *pacepb.SearchRequest) (*Exec, error) {
	if err := Normalize(req); err != nil {
		return nil, err
	}
	q, err := Parse(req)
	if err != nil {
		return nil, err
	}
	comb, err := NewCombiner(req)
	if err != nil {
		return nil, err
	}
	e := &Exec{req: req, q: q, conds: q.Conditions(), comb: comb, matchAll: matchesAll(req.Query)}
	switch req.Kind {
	case pacepb.SearchRequest_TAG_VALUES:
		if e.tag, err = parseTagName(req.Tag, req.V2); err != nil {
			return nil, err
		}
	case pacepb.SearchRequest_METRICS:
		if e.metrics, err = q.NewMetrics(traceql.MetricsRange{Start: req.Start, End: req.End, Step: req.Step}); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	return e, nil
}

// Request is the request being run.
func (e *Exec) Request() *pacepb.SearchRequest { return e.req }

// BlockRequest is what a block needs to know to skip what cannot match.
// A metrics job over blocks covers a slice of the trace-ID space rather
// than a set of blocks, so that every copy of a trace is in one job.
func (e *Exec) BlockRequest() block.SearchRequest {
	br := block.SearchRequest{Conditions: e.conds, Start: e.req.Start, End: e.req.End}
	if e.req.Kind == pacepb.SearchRequest_METRICS {
		br.IDShard, br.IDShards = int(e.req.BlockShard), int(e.req.BlockShards)
	}
	return br
}

// MatchesAll reports whether the query selects every span ({} or empty):
// tag requests can then be answered from block summaries.
func (e *Exec) MatchesAll() bool { return e.matchAll }

// matchesAll is MatchesAll of a query text, worked out once per request.
func matchesAll(query string) bool {
	t := strings.Join(strings.Fields(query), "")
	return t == "" || t == "{}" || t == "{true}"
}

// Overlaps reports whether a trace's time range meets the request's.
func (e *Exec) Overlaps(start, duration uint64) bool {
	if e.req.End != 0 && start > e.req.End {
		return false
	}
	if e.req.Start != 0 && start+duration < e.req.Start {
		return false
	}
	return true
}

// Done reports whether the request has what it needs (a search at its limit).
func (e *Exec) Done() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.comb.Done()
}

// Add evaluates t and keeps what it contributes; it returns false once the
// request is done.
func (e *Exec) Add(t *traceql.Trace) bool {
	if !e.Overlaps(t.StartTimeUnixNano, t.DurationNano) {
		return !e.Done()
	}
	if e.req.MinDuration != 0 && t.DurationNano < e.req.MinDuration ||
		e.req.MaxDuration != 0 && t.DurationNano > e.req.MaxDuration {
		return !e.Done()
	}
	switch e.req.Kind {
	case pacepb.SearchRequest_METRICS:
		e.mu.Lock()
		e.metrics.Observe(t)
		e.mu.Unlock()
		return true
	case pacepb.SearchRequest_TAGS, pacepb.SearchRequest_TAG_VALUES:
		var sets []traceql.Spanset
		if !e.MatchesAll() {
			if sets = e.q.Match(t); len(sets) == 0 {
				return !e.Done()
			}
		}
		resp := &pacepb.SearchResponse{}
		if e.req.Kind == pacepb.SearchRequest_TAGS {
			resp.Scopes = collectTags(t, sets, e.MatchesAll(), e.req.Scope)
		} else {
			resp.TagValues = collectValues(t, sets, e.MatchesAll(), e.tag)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		_ = e.comb.Add(resp)
		return !e.comb.Done()
	}
	sets := e.q.Match(t)
	if len(sets) == 0 {
		return !e.Done()
	}
	md := traceResult(t, sets, e.req.SpansPerSpanSet)
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.comb.Add(&pacepb.SearchResponse{Traces: []*pacepb.TraceSearchMetadata{md}})
	return !e.comb.Done()
}

// AddSummary answers a tag request from a block's tag summary. It returns
// false when the summary cannot answer (the query filters spans, or the
// tag's values were truncated): the block must then be scanned.
func (e *Exec) AddSummary(ts *block.TagSummary) bool {
	if !e.MatchesAll() {
		return false
	}
	resp := &pacepb.SearchResponse{}
	switch e.req.Kind {
	case pacepb.SearchRequest_TAGS:
		resp.Scopes = summaryTags(ts, e.req.Scope)
	case pacepb.SearchRequest_TAG_VALUES:
		vals, ok := summaryValues(ts, e.tag)
		if !ok {
			return false
		}
		resp.TagValues = vals
	default:
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.comb.Add(resp)
	return true
}

// SearchBlock runs e over one block: from the block's tag summary when
// that answers the request, else by reading what may match. What it read
// is added to e's stats.
func (e *Exec) SearchBlock(ctx context.Context, r *block.Reader) error {
	m := r.Meta()
	stats := &pacepb.SearchMetrics{TotalBlocks: 1, TotalBlockBytes: uint64(m.Size)}
	defer e.AddStats(stats)
	// A summary that cannot be read is no answer: the scan below reads the
	// block itself and reports what is wrong with it.
	if ts, err := r.Tags(ctx); err == nil && e.AddSummary(ts) {
		return nil
	}
	st, err := r.Search(ctx, e.BlockRequest(), e.Add)
	stats.InspectedTraces, stats.InspectedBytes = uint64(st.InspectedTraces), uint64(st.InspectedBytes)
	if err != nil {
		return fmt.Errorf("block %s: %w", m.BlockID, err)
	}
	return nil
}

// AddResponse merges the answer of another source (the ingesters).
func (e *Exec) AddResponse(resp *pacepb.SearchResponse) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(resp.MetricsPartial) > 0 {
		if err := e.metrics.MergeMarshaled(resp.MetricsPartial); err != nil {
			return fmt.Errorf("merging metrics: %w", err)
		}
		resp = &pacepb.SearchResponse{Traces: resp.Traces, Scopes: resp.Scopes, TagValues: resp.TagValues, Metrics: resp.Metrics}
	}
	return e.comb.Add(resp)
}

// AddStats counts what a source read.
func (e *Exec) AddStats(m *pacepb.SearchMetrics) {
	e.mu.Lock()
	defer e.mu.Unlock()
	addMetrics(e.comb.metrics, m)
}

// Response is the result so far.
func (e *Exec) Response() (*pacepb.SearchResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	resp := e.comb.Response()
	if e.metrics != nil {
		b, err := e.metrics.Marshal()
		if err != nil {
			return nil, err
		}
		resp.MetricsPartial = b
	}
	return resp, nil
}

func addMetrics(dst, m *pacepb.SearchMetrics) {
	if m == nil {
		return
	}
	dst.InspectedTraces += m.InspectedTraces
	dst.InspectedBytes += m.InspectedBytes
	dst.InspectedSpans += m.InspectedSpans
	dst.TotalBlocks += m.TotalBlocks
	dst.TotalBlockBytes += m.TotalBlockBytes
	dst.CompletedJobs += m.CompletedJobs
	dst.TotalJobs += m.TotalJobs
}

// traceResult is the search result of one trace.
func traceResult(t *traceql.Trace, sets []traceql.Spanset, spss uint32) *pacepb.TraceSearchMetadata {
	md := &pacepb.TraceSearchMetadata{
		TraceId:           append([]byte(nil), t.ID[:]...),
		RootServiceName:   t.RootServiceName,
		RootTraceName:     t.RootSpanName,
		StartTimeUnixNano: t.StartTimeUnixNano,
		DurationNano:      t.DurationNano,
		ServiceStats:      map[string]*pacepb.ServiceStats{},
	}
	for i := range t.Spans {
		sp := &t.Spans[i]
		svc := serviceName(sp)
		st := md.ServiceStats[svc]
		if st == nil {
			st = &pacepb.ServiceStats{}
			md.ServiceStats[svc] = st
		}
		st.SpanCount++
		if sp.StatusCode == 2 {
			st.ErrorCount++
		}
	}
	for _, set := range sets {
		ps := &pacepb.SpanSet{Matched: uint32(len(set.Spans)), Attributes: attrsToProto(set.Attrs)}
		for i, ms := range set.Spans {
			if uint32(i) >= spss {
				break
			}
			ps.Spans = append(ps.Spans, &pacepb.SearchSpan{
				SpanId:            append([]byte(nil), ms.Span.ID[:]...),
				Name:              ms.Span.Name,
				StartTimeUnixNano: ms.Span.StartTimeUnixNano,
				DurationNanos:     ms.Span.DurationNano,
				Attributes:        attrsToProto(ms.Attrs),
			})
		}
		md.SpanSets = append(md.SpanSets, ps)
	}
	return md
}

func serviceName(sp *traceql.Span) string {
	if sp.Resource != nil {
		for _, a := range sp.Resource.Attrs {
			if a.Key == "service.name" && a.Value.Type == traceql.TypeString {
				return a.Value.S
			}
		}
	}
	return ""
}

func attrsToProto(attrs []traceql.Attr) []*pacepb.Attr {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*pacepb.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = valueToProto(a.Key, a.Value)
	}
	return out
}

func valueToProto(key string, v traceql.Value) *pacepb.Attr {
	p := &pacepb.Attr{Key: key, Type: uint32(v.Type), S: v.S, I: v.I, F: v.F, B: v.B}
	for _, e := range v.Arr {
		p.Arr = append(p.Arr, valueToProto("", e))
	}
	return p
}

// ValueFromProto is the inverse of the encoding in responses.
func ValueFromProto(p *pacepb.Attr) traceql.Value {
	v := traceql.Value{Type: traceql.Type(p.Type), S: p.S, I: p.I, F: p.F, B: p.B}
	for _, e := range p.Arr {
		v.Arr = append(v.Arr, ValueFromProto(e))
	}
	return v
}
