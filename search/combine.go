package search

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/traceql"
)

// Combiner merges the answers of several sources or jobs of one request:
// a trace found more than once becomes one result (earliest start, latest
// end, the root names of whichever part holds the root, span sets merged
// without a span twice). Not safe for concurrent use.
type Combiner struct {
	req     *pacepb.SearchRequest
	traces  map[[16]byte]*pacepb.TraceSearchMetadata
	scopes  map[string]map[string]struct{}
	values  map[string]*pacepb.TagValue
	acc     *traceql.Metrics
	metrics *pacepb.SearchMetrics
}

// NewCombiner combines answers to req (normalized).
func NewCombiner(req *pacepb.SearchRequest) (*Combiner, error) {
	c := &Combiner{
		req:     req,
		traces:  map[[16]byte]*pacepb.TraceSearchMetadata{},
		scopes:  map[string]map[string]struct{}{},
		values:  map[string]*pacepb.TagValue{},
		metrics: &pacepb.SearchMetrics{},
	}
	if req.Kind == pacepb.SearchRequest_METRICS {
		q, err := Parse(req)
		if err != nil {
			return nil, err
		}
		if c.acc, err = q.NewMetrics(traceql.MetricsRange{Start: req.Start, End: req.End, Step: req.Step}); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	return c, nil
}

// Done reports whether more answers can change nothing the client sees.
func (c *Combiner) Done() bool {
	switch c.req.Kind {
	case pacepb.SearchRequest_SEARCH:
		return len(c.traces) >= int(c.req.Limit)
	case pacepb.SearchRequest_TAG_VALUES:
		return len(c.values) >= int(c.req.MaxValues)
	}
	return false
}

// AddJobs records how many jobs the request had and how many completed.
func (c *Combiner) AddJobs(total, completed uint32) {
	c.metrics.TotalJobs += total
	c.metrics.CompletedJobs += completed
}

// Add merges one answer.
func (c *Combiner) Add(resp *pacepb.SearchResponse) error {
	addMetrics(c.metrics, resp.Metrics)
	for _, t := range resp.Traces {
		var id [16]byte
		copy(id[:], t.TraceId)
		if have := c.traces[id]; have != nil {
			mergeTrace(have, t, c.req.SpansPerSpanSet)
		} else if !c.Done() {
			c.traces[id] = t
		}
	}
	for _, s := range resp.Scopes {
		set := c.scopes[s.Name]
		if set == nil {
			set = map[string]struct{}{}
			c.scopes[s.Name] = set
		}
		for _, t := range s.Tags {
			set[t] = struct{}{}
		}
	}
	for _, v := range resp.TagValues {
		if c.Done() {
			break
		}
		c.values[v.Type+"\x00"+v.Value] = v
	}
	if len(resp.MetricsPartial) > 0 && c.acc != nil {
		if err := c.acc.MergeMarshaled(resp.MetricsPartial); err != nil {
			return fmt.Errorf("merging metrics: %w", err)
		}
	}
	return nil
}

// Response is the combined answer: traces newest first and at most limit of
// them, tags and values sorted, the merged metrics state.
func (c *Combiner) Response() *pacepb.SearchResponse {
	resp := &pacepb.SearchResponse{Metrics: c.metrics}
	if c.acc != nil {
		b, err := c.acc.Marshal()
		if err == nil {
			resp.MetricsPartial = b
		}
	}
	for _, t := range c.traces {
		resp.Traces = append(resp.Traces, t)
	}
	sort.Slice(resp.Traces, func(i, j int) bool {
		a, b := resp.Traces[i], resp.Traces[j]
		if a.StartTimeUnixNano != b.StartTimeUnixNano {
			return a.StartTimeUnixNano > b.StartTimeUnixNano
		}
		return bytes.Compare(a.TraceId, b.TraceId) < 0
	})
	if c.req.Kind == pacepb.SearchRequest_SEARCH && len(resp.Traces) > int(c.req.Limit) {
		resp.Traces = resp.Traces[:c.req.Limit]
	}
	names := make([]string, 0, len(c.scopes))
	for n := range c.scopes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st := &pacepb.ScopeTags{Name: n}
		for t := range c.scopes[n] {
			st.Tags = append(st.Tags, t)
		}
		sort.Strings(st.Tags)
		resp.Scopes = append(resp.Scopes, st)
	}
	for _, v := range c.values {
		resp.TagValues = append(resp.TagValues, v)
	}
	sort.Slice(resp.TagValues, func(i, j int) bool {
		a, b := resp.TagValues[i], resp.TagValues[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Value < b.Value
	})
	return resp
}

// Series is the combined result of a metrics request.
func (c *Combiner) Series() []traceql.Series {
	if c.acc == nil {
		return nil
	}
	return c.acc.Series()
}

func mergeTrace(dst, src *pacepb.TraceSearchMetadata, spss uint32) {
	end := max(dst.StartTimeUnixNano+dst.DurationNano, src.StartTimeUnixNano+src.DurationNano)
	if src.StartTimeUnixNano != 0 && (dst.StartTimeUnixNano == 0 || src.StartTimeUnixNano < dst.StartTimeUnixNano) {
		dst.StartTimeUnixNano = src.StartTimeUnixNano
	}
	dst.DurationNano = end - dst.StartTimeUnixNano
	if hasRoot(src.RootServiceName) && !hasRoot(dst.RootServiceName) {
		dst.RootServiceName, dst.RootTraceName = src.RootServiceName, src.RootTraceName
	}
	for svc, st := range src.ServiceStats {
		have := dst.ServiceStats[svc]
		if have == nil {
			if dst.ServiceStats == nil {
				dst.ServiceStats = map[string]*pacepb.ServiceStats{}
			}
			dst.ServiceStats[svc] = st
			continue
		}
		have.SpanCount = max(have.SpanCount, st.SpanCount)
		have.ErrorCount = max(have.ErrorCount, st.ErrorCount)
	}
	for _, ss := range src.SpanSets {
		var into *pacepb.SpanSet
		for _, d := range dst.SpanSets {
			if sameAttrs(d.Attributes, ss.Attributes) {
				into = d
				break
			}
		}
		if into == nil {
			dst.SpanSets = append(dst.SpanSets, ss)
			continue
		}
		into.Matched = max(into.Matched, ss.Matched)
		for _, sp := range ss.Spans {
			if uint32(len(into.Spans)) >= spss {
				break
			}
			dup := false
			for _, have := range into.Spans {
				if bytes.Equal(have.SpanId, sp.SpanId) {
					dup = true
					break
				}
			}
			if !dup {
				into.Spans = append(into.Spans, sp)
			}
		}
		into.Matched = max(into.Matched, uint32(len(into.Spans)))
	}
}

func hasRoot(name string) bool { return name != "" && name != traceql.NoRootName }

func sameAttrs(a, b []*pacepb.Attr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Type != b[i].Type || a[i].S != b[i].S || a[i].I != b[i].I || a[i].F != b[i].F || a[i].B != b[i].B {
			return false
		}
	}
	return true
}
