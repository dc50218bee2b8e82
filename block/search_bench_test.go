package block

import (
	"context"
	"testing"

	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/traceql"
)

// BenchmarkSearchLimit20 searches a block of bench/gen traces (200,000
// spans, flushed as the ingester writes them) for the query of the search
// benchmark and stops at 20 matching traces, as /api/search does: warm with
// the reader open, cold with a new reader each time.
func BenchmarkSearchLimit20(b *testing.B) {
	ids, tds := genTraces(42, 20_000, 10)
	bkt := buckets(b)["filesystem"]
	m := writeTraces(b, bkt, "t", ids, tds, WriteOptions{})
	q, err := traceql.Parse(`{ resource.service.name = "foo" && span.http.status_code = 500 }`)
	if err != nil {
		b.Fatal(err)
	}
	req := SearchRequest{Conditions: q.Conditions()}
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold" // a new reader each time: footer and page index read first
		}
		b.Run(name, func(b *testing.B) { benchSearch(b, bkt, m, q, req, cold) })
	}
}

func benchSearch(b *testing.B, bkt objstore.Bucket, m *Meta, q *traceql.Query, req SearchRequest, cold bool) {
	r := NewReader(bkt, m) // as a querier keeps it: footer and page index cached
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if cold {
			r = NewReader(bkt, m)
		}
		found := 0
		if _, err := r.Search(context.Background(), req, func(t *traceql.Trace) bool {
			if len(q.Match(t)) > 0 {
				found++
			}
			return found < 20
		}); err != nil {
			b.Fatal(err)
		}
		if found != 20 {
			b.Fatalf("found %d traces, want 20", found)
		}
	}
}
