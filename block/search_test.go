package block

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"testing"

	"github.com/pace-tracing/pace/traceql"
)

// searchAll returns the IDs of the traces Search hands out for req.
func searchAll(t *testing.T, r *Reader, req SearchRequest) []string {
	t.Helper()
	var ids []string
	if _, err := r.Search(context.Background(), req, func(tr *traceql.Trace) bool {
		ids = append(ids, traceIDHex(tr.ID))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

func traceIDHex(id [16]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 32)
	for i, c := range id {
		b[2*i], b[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(b)
}

func str(s string) traceql.Value { return traceql.Value{Type: traceql.TypeString, S: s} }

// TestSearchPrunesExactlyByEachCondition checks that with one condition the
// rows Search reads are exactly the traces that satisfy it, computed by
// brute force over every trace of the block.
func TestSearchPrunesExactlyByEachCondition(t *testing.T) {
	ids, tds := genTraces(7, 600, 8)
	tds[0] = richTrace(ids[0]) // every value type, orphans, a second root
	bkt := buckets(t)["memory"]
	m := writeTraces(t, bkt, "t", ids, tds, WriteOptions{RowGroupSpans: 1000})
	r := NewReader(bkt, m)
	all := map[string]*traceql.Trace{}
	if _, err := r.Search(context.Background(), SearchRequest{}, func(tr *traceql.Trace) bool {
		all[traceIDHex(tr.ID)] = tr
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != len(ids) {
		t.Fatalf("unconditioned search read %d traces, want %d", len(all), len(ids))
	}
	anySpan := func(f func(*traceql.Span) bool) func(*traceql.Trace) bool {
		return func(tr *traceql.Trace) bool {
			for i := range tr.Spans {
				if f(&tr.Spans[i]) {
					return true
				}
			}
			return false
		}
	}
	attr := func(attrs []traceql.Attr, key string) (traceql.Value, bool) {
		for _, a := range attrs {
			if a.Key == key {
				return a.Value, true
			}
		}
		return traceql.Value{}, false
	}
	mid := m.StartTime.UnixNano() + (m.EndTime.UnixNano()-m.StartTime.UnixNano())/2
	cases := []struct {
		name string
		cond traceql.Condition
		want func(*traceql.Trace) bool
	}{
		{"service name", traceql.Condition{Scope: traceql.ScopeResource, Name: "service.name", Op: traceql.OpEq, Value: str("cart")},
			anySpan(func(s *traceql.Span) bool { v, _ := attr(s.Resource.Attrs, "service.name"); return v.S == "cart" })},
		{"service regex", traceql.Condition{Scope: traceql.ScopeResource, Name: "service.name", Op: traceql.OpRegex, Value: str("c.*t")},
			anySpan(func(s *traceql.Span) bool {
				v, _ := attr(s.Resource.Attrs, "service.name")
				return v.S == "cart" || v.S == "checkout"
			})},
		{"resource attr", traceql.Condition{Scope: traceql.ScopeResource, Name: "service.instance.id", Op: traceql.OpNeq, Value: str("x")},
			anySpan(func(s *traceql.Span) bool { _, ok := attr(s.Resource.Attrs, "service.instance.id"); return ok })},
		{"span int attr", traceql.Condition{Scope: traceql.ScopeSpan, Name: "http.status_code", Op: traceql.OpEq, Value: traceql.Value{Type: traceql.TypeInt, I: 500}},
			anySpan(func(s *traceql.Span) bool {
				v, _ := attr(s.Attrs, "http.status_code")
				return v.Type == traceql.TypeInt && v.I == 500
			})},
		{"span float vs int", traceql.Condition{Scope: traceql.ScopeSpan, Name: "order.total", Op: traceql.OpGt, Value: traceql.Value{Type: traceql.TypeInt, I: 499}},
			anySpan(func(s *traceql.Span) bool {
				v, _ := attr(s.Attrs, "order.total")
				return v.Type == traceql.TypeFloat && v.F > 499
			})},
		{"span bool", traceql.Condition{Scope: traceql.ScopeSpan, Name: "cache.hit", Op: traceql.OpEq, Value: traceql.Value{Type: traceql.TypeBool, B: true}},
			anySpan(func(s *traceql.Span) bool {
				v, _ := attr(s.Attrs, "cache.hit")
				return v.Type == traceql.TypeBool && v.B
			})},
		{"name", traceql.Condition{Scope: traceql.ScopeIntrinsic, Name: "name", Op: traceql.OpEq, Value: str("cart.Get")},
			anySpan(func(s *traceql.Span) bool { return s.Name == "cart.Get" })},
		{"status", traceql.Condition{Scope: traceql.ScopeIntrinsic, Name: "status", Op: traceql.OpEq, Value: traceql.Value{Type: traceql.TypeStatus, I: 2}},
			anySpan(func(s *traceql.Span) bool { return s.StatusCode == 2 })},
		{"kind", traceql.Condition{Scope: traceql.ScopeIntrinsic, Name: "kind", Op: traceql.OpEq, Value: traceql.Value{Type: traceql.TypeKind, I: 5}},
			anySpan(func(s *traceql.Span) bool { return s.Kind == 5 })},
		{"duration", traceql.Condition{Scope: traceql.ScopeIntrinsic, Name: "duration", Op: traceql.OpGt, Value: traceql.Value{Type: traceql.TypeDuration, I: 100e6}},
			anySpan(func(s *traceql.Span) bool { return s.DurationNano > 100e6 })},
		{"root service", traceql.Condition{Scope: traceql.ScopeTrace, Name: "rootServiceName", Op: traceql.OpEq, Value: str("frontend")},
			func(tr *traceql.Trace) bool { return tr.RootServiceName == "frontend" }},
		{"trace duration", traceql.Condition{Scope: traceql.ScopeTrace, Name: "traceDuration", Op: traceql.OpLt, Value: traceql.Value{Type: traceql.TypeDuration, I: 30e6}},
			func(tr *traceql.Trace) bool { return tr.DurationNano < 30e6 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want []string
			for id, tr := range all {
				if c.want(tr) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			if len(want) == 0 || len(want) == len(all) {
				t.Fatalf("the case selects %d of %d traces; it must split them", len(want), len(all))
			}
			got := searchAll(t, r, SearchRequest{Conditions: []traceql.Condition{c.cond}})
			if !slices.Equal(got, want) {
				t.Fatalf("search read %d traces, want exactly the %d that satisfy the condition", len(got), len(want))
			}
		})
	}
	t.Run("time range", func(t *testing.T) {
		var want []string
		for id, tr := range all {
			if tr.StartTimeUnixNano <= uint64(mid) && tr.StartTimeUnixNano+tr.DurationNano >= uint64(mid) {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		got := searchAll(t, r, SearchRequest{Start: uint64(mid), End: uint64(mid)})
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("search read %d traces, want the %d overlapping the instant", len(got), len(want))
		}
	})
	t.Run("stops when told", func(t *testing.T) {
		n := 0
		st, err := r.Search(context.Background(), SearchRequest{}, func(*traceql.Trace) bool { n++; return n < 5 })
		if err != nil || n != 5 || st.InspectedTraces != 5 {
			t.Fatalf("read %d traces (stats %+v, err %v), want a stop after 5", n, st, err)
		}
	})
}

// TestTagSummaryListsEveryKeyAndValue compares the block's tag summary with
// the keys and values of its traces, found by reading every trace.
func TestTagSummaryListsEveryKeyAndValue(t *testing.T) {
	ids, tds := genTraces(11, 300, 6)
	tds[0] = richTrace(ids[0])
	bkt := buckets(t)["memory"]
	m := writeTraces(t, bkt, "t", ids, tds, WriteOptions{RowGroupSpans: 500})
	if m.TagsSize == 0 {
		t.Fatal("meta says the block has no tag summary")
	}
	r := NewReader(bkt, m)
	sum, err := r.Tags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]map[string]bool{} // scope → key → value text
	add := func(scope string, attrs []traceql.Attr) {
		for _, a := range attrs {
			if want[scope] == nil {
				want[scope] = map[string]map[string]bool{}
			}
			if want[scope][a.Key] == nil {
				want[scope][a.Key] = map[string]bool{}
			}
			v := a.Value
			switch v.Type {
			case traceql.TypeString:
				want[scope][a.Key]["s:"+v.S] = true
			case traceql.TypeInt:
				want[scope][a.Key][fmt.Sprintf("i:%d", v.I)] = true
			case traceql.TypeFloat:
				want[scope][a.Key][fmt.Sprintf("f:%g", v.F)] = true
			case traceql.TypeBool:
				want[scope][a.Key][fmt.Sprintf("b:%t", v.B)] = true
			}
		}
	}
	if _, err := r.Search(context.Background(), SearchRequest{}, func(tr *traceql.Trace) bool {
		for i := range tr.Spans {
			s := &tr.Spans[i]
			add(TagScopeResource, s.Resource.Attrs)
			add(TagScopeScope, s.Scope.Attrs)
			add(TagScopeSpan, s.Attrs)
			add(TagScopeSpan+"-name", []traceql.Attr{{Key: "name", Value: str(s.Name)}})
			for _, e := range s.Events {
				add(TagScopeEvent, e.Attrs)
			}
			for _, l := range s.Links {
				add(TagScopeLink, l.Attrs)
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for scope, keys := range want {
		sumScope := scope
		if scope == TagScopeSpan+"-name" {
			sumScope = TagScopeIntrinsic
		}
		for key, vals := range keys {
			tv := sum.Scopes[sumScope][key]
			if tv == nil {
				t.Errorf("%s.%s missing from the summary", scope, key)
				continue
			}
			got := map[string]bool{}
			for _, s := range tv.Strings {
				got["s:"+s] = true
			}
			for _, i := range tv.Ints {
				got[fmt.Sprintf("i:%d", i)] = true
			}
			for _, f := range tv.Floats {
				got[fmt.Sprintf("f:%g", f)] = true
			}
			for _, b := range tv.Bools {
				got[fmt.Sprintf("b:%t", b)] = true
			}
			if tv.Truncated {
				if len(got) != MaxTagValues {
					t.Errorf("%s.%s: truncated with %d values, want %d", scope, key, len(got), MaxTagValues)
				}
				for v := range got {
					if !vals[v] {
						t.Errorf("%s.%s: summary has %s, which no span has", scope, key, v)
					}
				}
				continue
			}
			if !maps.Equal(got, vals) {
				t.Errorf("%s.%s: summary has %d values, the traces %d", scope, key, len(got), len(vals))
			}
		}
	}
	if tv := sum.Scopes[TagScopeSpan]["user.id"]; tv == nil || !tv.Truncated {
		t.Error("user.id (10,000 distinct values) should be truncated")
	}
	// richTrace has an empty service name and an int one besides svc-a.
	if tv := sum.Scopes[TagScopeResource]["service.name"]; tv == nil || len(tv.Strings) != 11 || !slices.Equal(tv.Ints, []int64{5}) {
		t.Errorf("resource service.name values = %+v, want the 9 generated services, svc-a, \"\" and 5", tv)
	}
}

// TestSearchReadsEveryRowOfLargeRowGroups covers row groups of several
// windows: every trace is handed out once.
func TestSearchReadsEveryRowOfLargeRowGroups(t *testing.T) {
	ids, tds := genTraces(5, 3000, 2)
	bkt := buckets(t)["memory"]
	m := writeTraces(t, bkt, "t", ids, tds, WriteOptions{RowGroupSpans: 5000})
	r := NewReader(bkt, m)
	got := searchAll(t, r, SearchRequest{})
	want := make([]string, len(ids))
	for i, id := range ids {
		want[i] = traceIDHex(id)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("search handed out %d traces, want each of the %d once", len(got), len(want))
	}
	cond := traceql.Condition{Scope: traceql.ScopeResource, Name: "service.name", Op: traceql.OpEq, Value: str("foo")}
	n := 0
	for _, id := range searchAll(t, r, SearchRequest{Conditions: []traceql.Condition{cond}}) {
		_ = id
		n++
	}
	if n == 0 || n == len(ids) {
		t.Fatalf("service.name = foo selected %d of %d traces", n, len(ids))
	}
}

// TestBlockAndLiveModelsAgree: a trace read back from a block gives the
// same TraceQL model as the same trace converted from OTLP (the ingester's
// path), so a query answers alike on live data and blocks.
func TestBlockAndLiveModelsAgree(t *testing.T) {
	ids, _ := genTraces(9, 1, 1)
	td := richTrace(ids[0])
	bkt := buckets(t)["memory"]
	m := writeTraces(t, bkt, "t", ids, []ptrace.Traces{td}, WriteOptions{})
	var fromBlock *traceql.Trace
	if _, err := NewReader(bkt, m).Search(context.Background(), SearchRequest{}, func(tr *traceql.Trace) bool { fromBlock = tr; return true }); err != nil {
		t.Fatal(err)
	}
	live := traceql.TracesFromOTLP(td)
	if fromBlock == nil || len(live) != 1 {
		t.Fatalf("block gave %v, OTLP %d traces", fromBlock, len(live))
	}
	if got, want := normTrace(fromBlock), normTrace(live[0]); got != want {
		t.Errorf("block model differs from the live one:\n block %s\n live  %s", got, want)
	}
}

// normTrace prints a trace with attributes sorted and shared pointers
// replaced by their content.
func normTrace(tr *traceql.Trace) string {
	attrs := func(as []traceql.Attr) string {
		s := make([]string, len(as))
		for i, a := range as {
			s[i] = fmt.Sprintf("%s=%+v", a.Key, a.Value)
		}
		slices.Sort(s)
		return fmt.Sprint(s)
	}
	out := fmt.Sprintf("%x root=%q/%q start=%d dur=%d\n", tr.ID, tr.RootServiceName, tr.RootSpanName, tr.StartTimeUnixNano, tr.DurationNano)
	for _, s := range tr.Spans {
		out += fmt.Sprintf("span %x parent=%x/%d %q kind=%d status=%d/%q %d+%d attrs=%s res=%s scope=%s/%s/%s",
			s.ID, s.ParentID, s.Parent, s.Name, s.Kind, s.StatusCode, s.StatusMessage, s.StartTimeUnixNano, s.DurationNano,
			attrs(s.Attrs), attrs(s.Resource.Attrs), s.Scope.Name, s.Scope.Version, attrs(s.Scope.Attrs))
		for _, e := range s.Events {
			out += fmt.Sprintf(" event %q +%d %s", e.Name, e.TimeSinceStartNano, attrs(e.Attrs))
		}
		for _, l := range s.Links {
			out += fmt.Sprintf(" link %x/%x %s", l.TraceID, l.SpanID, attrs(l.Attrs))
		}
		out += "\n"
	}
	return out
}
