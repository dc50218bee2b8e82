package search

import (
	"testing"

	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/traceql"
)

func span(id byte) *pacepb.SearchSpan {
	return &pacepb.SearchSpan{SpanId: []byte{id, 0, 0, 0, 0, 0, 0, 0}}
}

// TestCombinerMergesReplicaAnswers: the same trace from three sources (two
// replicas and a block with a later part) becomes one result with every
// span once, the root names of the part that holds the root, and the
// whole time range.
func TestCombinerMergesReplicaAnswers(t *testing.T) {
	req := &pacepb.SearchRequest{Kind: pacepb.SearchRequest_SEARCH}
	if err := Normalize(req); err != nil {
		t.Fatal(err)
	}
	c, err := NewCombiner(req)
	if err != nil {
		t.Fatal(err)
	}
	id := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	replica := func() *pacepb.TraceSearchMetadata {
		return &pacepb.TraceSearchMetadata{TraceId: id, RootServiceName: "svc", RootTraceName: "GET /", StartTimeUnixNano: 100, DurationNano: 50,
			SpanSets: []*pacepb.SpanSet{{Spans: []*pacepb.SearchSpan{span(1), span(2)}, Matched: 2}}}
	}
	later := &pacepb.TraceSearchMetadata{TraceId: id, RootServiceName: traceql.NoRootName, RootTraceName: traceql.NoRootName, StartTimeUnixNano: 120, DurationNano: 80,
		SpanSets: []*pacepb.SpanSet{{Spans: []*pacepb.SearchSpan{span(3)}, Matched: 1}}}
	for _, r := range []*pacepb.TraceSearchMetadata{later, replica(), replica()} {
		if err := c.Add(&pacepb.SearchResponse{Traces: []*pacepb.TraceSearchMetadata{r}, Metrics: &pacepb.SearchMetrics{InspectedTraces: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	resp := c.Response()
	if len(resp.Traces) != 1 {
		t.Fatalf("%d results, want 1", len(resp.Traces))
	}
	got := resp.Traces[0]
	if got.RootServiceName != "svc" || got.RootTraceName != "GET /" {
		t.Errorf("root %q/%q, want svc/GET / (from the part with the root)", got.RootServiceName, got.RootTraceName)
	}
	if got.StartTimeUnixNano != 100 || got.DurationNano != 100 {
		t.Errorf("start %d duration %d, want 100 and 100 (until the later part's end)", got.StartTimeUnixNano, got.DurationNano)
	}
	if len(got.SpanSets) != 1 || len(got.SpanSets[0].Spans) != 3 {
		t.Fatalf("span sets %v, want one with spans 1, 2, 3 once each", got.SpanSets)
	}
	if resp.Metrics.InspectedTraces != 3 {
		t.Errorf("inspected traces %d, want the sum 3", resp.Metrics.InspectedTraces)
	}
}

// TestCombinerStopsAtTheLimit: a search is done at its limit and answers
// at most that many traces, newest first.
func TestCombinerStopsAtTheLimit(t *testing.T) {
	req := &pacepb.SearchRequest{Kind: pacepb.SearchRequest_SEARCH, Limit: 2}
	_ = Normalize(req)
	c, _ := NewCombiner(req)
	for i := byte(1); i <= 3; i++ {
		_ = c.Add(&pacepb.SearchResponse{Traces: []*pacepb.TraceSearchMetadata{{TraceId: []byte{i, 15: 0}, StartTimeUnixNano: uint64(i)}}})
	}
	if !c.Done() {
		t.Error("not done after 3 traces with limit 2")
	}
	resp := c.Response()
	if len(resp.Traces) != 2 || resp.Traces[0].StartTimeUnixNano != 2 || resp.Traces[1].StartTimeUnixNano != 1 {
		t.Errorf("answer %v, want the two kept, newest first", resp.Traces)
	}
}

// TestMetricsCombineAcrossSources: partial metrics states from two sources
// add up, and an Exec that counts spans once drops a copy of a span seen
// in another block.
func TestMetricsCombineAcrossSources(t *testing.T) {
	req := &pacepb.SearchRequest{Kind: pacepb.SearchRequest_METRICS, Query: "{ } | count_over_time()", Start: 1000, End: 2000, Step: 1000}
	trace := &traceql.Trace{ID: [16]byte{1}, StartTimeUnixNano: 1100, Spans: []traceql.Span{
		{ID: [8]byte{1}, Parent: -1, StartTimeUnixNano: 1100}, {ID: [8]byte{2}, Parent: 0, StartTimeUnixNano: 1200},
	}}
	count := func(resp *pacepb.SearchResponse) float64 {
		c, err := NewCombiner(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Add(resp); err != nil {
			t.Fatal(err)
		}
		total := 0.0
		for _, s := range c.Series() {
			for _, p := range s.Samples {
				total += p.Value
			}
		}
		return total
	}
	e, err := NewExec(req)
	if err != nil {
		t.Fatal(err)
	}
	e.CountSpansOnce()
	e.Add(trace)
	e.Add(trace) // the same spans from a replica's block
	r1, _ := e.Response()
	if got := count(r1); got != 2 {
		t.Errorf("counted %g spans, want 2 (each once)", got)
	}
	e2, _ := NewExec(req)
	e2.CountOwnedOnly(func([16]byte) bool { return false })
	e2.Add(trace)
	r2, _ := e2.Response()
	if got := count(r2); got != 0 {
		t.Errorf("an ingester that is not the trace's first replica counted %g spans, want 0", got)
	}
	// Two sources' states merge.
	c, _ := NewCombiner(req)
	_ = c.Add(r1)
	e3, _ := NewExec(req)
	e3.Add(trace)
	r3, _ := e3.Response()
	_ = c.Add(r3)
	total := 0.0
	for _, s := range c.Series() {
		for _, p := range s.Samples {
			total += p.Value
		}
	}
	if total != 4 {
		t.Errorf("merged count %g, want 4", total)
	}
}
