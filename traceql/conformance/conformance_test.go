package conformance

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pace-tracing/pace/traceql"
)

// TestSearch runs every search case through the engine and compares the
// traces it matches with the case's predicate.
func TestSearch(t *testing.T) {
	traces := Traces()
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			q, err := traceql.Parse(c.Query)
			if err != nil {
				t.Fatalf("Parse(%s): %v", c.Query, err)
			}
			got := []string{}
			for _, tr := range traces {
				if len(q.Match(tr)) > 0 {
					got = append(got, hex.EncodeToString(tr.ID[:]))
				}
			}
			slices.Sort(got)
			want := ExpectedIDs(c, traces)
			if !slices.Equal(got, want) {
				t.Errorf("%s\nmatched %d traces, want %d\nunexpected: %s\nmissing:    %s",
					c.Query, len(got), len(want), idList(minus(got, want)), idList(minus(want, got)))
			}
		})
	}
}

// TestMetrics runs every metrics case through the engine and compares its
// series with the case's.
func TestMetrics(t *testing.T) {
	traces := Traces()
	for _, c := range MetricsCases {
		t.Run(c.Name, func(t *testing.T) {
			q, err := traceql.Parse(c.Query)
			if err != nil {
				t.Fatalf("Parse(%s): %v", c.Query, err)
			}
			m, err := q.NewMetrics(c.Range())
			if err != nil {
				t.Fatalf("NewMetrics(%s): %v", c.Query, err)
			}
			for _, tr := range traces {
				m.Observe(tr)
			}
			if diffs := CompareSeries(m.Series(), c.Want(traces), c.Tolerance); len(diffs) > 0 {
				t.Errorf("%s\n%s", c.Query, strings.Join(diffs, "\n"))
			}
		})
	}
}

// idList prints IDs with the dataset index of each trace, at most 10.
func idList(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	index := map[string]int{}
	for i := 0; i < NumTraces; i++ {
		index[TraceIDHex(i)] = i
	}
	var parts []string
	for k, id := range ids {
		if k == 10 {
			parts = append(parts, fmt.Sprintf("… (%d more)", len(ids)-10))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (#%d)", id, index[id]))
	}
	return strings.Join(parts, ", ")
}

// TestSpans runs the span-level cases: the spans of the returned
// spansets must be exactly the expected ones, trace by trace.
func TestSpans(t *testing.T) {
	traces := Traces()
	for _, c := range SpanCases {
		t.Run(c.Name, func(t *testing.T) {
			q, err := traceql.Parse(c.Query)
			if err != nil {
				t.Fatalf("Parse(%s): %v", c.Query, err)
			}
			bad := 0
			for ti, tr := range traces {
				index := make(map[*traceql.Span]int, len(tr.Spans))
				for i := range tr.Spans {
					index[&tr.Spans[i]] = i
				}
				var got []int
				for _, ss := range q.Match(tr) {
					for _, ms := range ss.Spans {
						i, ok := index[ms.Span]
						if !ok {
							t.Fatalf("trace #%d: a returned span does not point into the trace", ti)
						}
						got = append(got, i)
					}
				}
				slices.Sort(got)
				got = slices.Compact(got)
				want := c.Want(tr)
				if !slices.Equal(got, want) {
					if bad < 5 {
						t.Errorf("%s\ntrace #%d: spans %v, want %v", c.Query, ti, got, want)
					}
					bad++
				}
			}
			if bad > 5 {
				t.Errorf("… and %d more traces", bad-5)
			}
		})
	}
}

// TestSelectAttributes checks that select() reports the selected
// attributes on every returned span, keyed by their names without scope.
func TestSelectAttributes(t *testing.T) {
	const query = `{ kind = server && status = error } | select(span.http.method, resource.service.name, span.cache.hit)`
	q, err := traceql.Parse(query)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, tr := range Traces() {
		for _, ss := range q.Match(tr) {
			for _, ms := range ss.Spans {
				for _, key := range []string{"http.method", "service.name", "cache.hit"} {
					var want value
					var wantOK bool
					if key == "service.name" {
						want, wantOK = find(ms.Span.Resource.Attrs, key)
					} else {
						want, wantOK = find(ms.Span.Attrs, key)
					}
					got, gotOK := find(ms.Attrs, key)
					if gotOK != wantOK || (wantOK && valueString(got) != valueString(want)) {
						t.Errorf("span %x: %s = %s (present %v), want %s (present %v)",
							ms.Span.ID, key, valueString(got), gotOK, valueString(want), wantOK)
					}
					checked++
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("nothing matched")
	}
}
