package block

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/traceql"
)

// dumpTrace prints every field of a trace's model, in order (shared
// resources and scopes by content).
func dumpTrace(t *traceql.Trace) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%x root=%q/%q start=%d dur=%d spans=%d\n", t.ID, t.RootServiceName, t.RootSpanName, t.StartTimeUnixNano, t.DurationNano, len(t.Spans))
	for _, s := range t.Spans {
		res, sc := s.Resource, s.Scope
		s.Resource, s.Scope = nil, nil
		fmt.Fprintf(&b, "span %+v\n  resource %+v\n  scope %+v\n", s, *res, *sc)
	}
	return b.String()
}

// referenceTraces reads every trace of a block the way Search did before
// it built the model from the columns: parquet-go rows reconstructed into
// pqTrace, then traceFromRow.
func referenceTraces(t *testing.T, r *Reader) map[[16]byte]string {
	t.Helper()
	ctx := context.Background()
	rgs, _, err := r.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ra := &bucketReaderAt{ctx: ctx, bkt: r.bkt, name: r.meta.Dir() + DataFile, size: r.meta.Size}
	out := map[[16]byte]string{}
	for i := range rgs {
		err := readRows(ctx, &rgs[i], ra, 0, rgs[i].numRows, false, func(pt *pqTrace) error {
			tr, err := traceFromRow(pt)
			if err != nil {
				return err
			}
			out[tr.ID] = dumpTrace(tr)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// oddTrace has the nesting corner cases: a resource with no scope spans,
// a scope with no spans, a span with attributes only in events, a link with
// no attributes.
func oddTrace(id model.TraceID) ptrace.Traces {
	td := richTrace(id)
	rs := td.ResourceSpans().AppendEmpty() // no scope spans
	rs.Resource().Attributes().PutStr("service.name", "lonely")
	rs2 := td.ResourceSpans().AppendEmpty() // no attributes at all
	ss := rs2.ScopeSpans().AppendEmpty()
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID([16]byte(id))
	sp.SetSpanID([8]byte{7, 7, 7})
	sp.SetName("bare")
	ev := sp.Events().AppendEmpty()
	ev.Attributes().PutStr("only", "in event")
	sp.Links().AppendEmpty().SetSpanID([8]byte{1})
	return td
}

// TestAssembledModelMatchesReconstruction compares, for every trace,
// the model Search builds from the columns with the reference path, over
// blocks written with the default layout, tiny pages (rows over several
// pages) and tiny dictionaries (plain-encoded strings), with and without
// conditions that skip rows (seeks over pages).
func TestAssembledModelMatchesReconstruction(t *testing.T) {
	// Several row groups per layout, kept small: this runs under -race.
	ids, tds := genTraces(21, 600, 10)
	for _, i := range []int{0, 1, 2, 300, 599} {
		tds[i] = richTrace(ids[i])
	}
	tds[3] = oddTrace(ids[3])
	tds[598] = oddTrace(ids[598])
	conds := map[string][]traceql.Condition{
		"all": nil,
		"foo and 500": {
			{Scope: traceql.ScopeResource, Name: "service.name", Op: traceql.OpEq, Value: str("foo")},
			{Scope: traceql.ScopeSpan, Name: "http.status_code", Op: traceql.OpEq, Value: traceql.Value{Type: traceql.TypeInt, I: 500}},
		},
		"rare": {{Scope: traceql.ScopeIntrinsic, Name: "name", Op: traceql.OpEq, Value: str("root")}},
	}
	layouts := map[string]WriteOptions{
		"default":     {RowGroupSpans: 1600},
		"tiny pages":  {RowGroupSpans: 2400, PageSize: 256},
		"plain dicts": {RowGroupSpans: 1200, DictionaryMaxBytes: 64, PageSize: 2048},
	}
	for name, opts := range layouts {
		t.Run(name, func(t *testing.T) {
			bkt := buckets(t)["memory"]
			m := writeTraces(t, bkt, "t", ids, tds, opts)
			r := NewReader(bkt, m)
			want := referenceTraces(t, r)
			if len(want) != len(ids) {
				t.Fatalf("reference read %d traces, want %d", len(want), len(ids))
			}
			mid := uint64(m.StartTime.UnixNano()+m.EndTime.UnixNano()) / 2
			reqs := map[string]SearchRequest{
				"time and shard": {Start: mid, End: mid + 1e9, IDShard: 1, IDShards: 3},
				"shard and 500":  {Conditions: conds["foo and 500"][1:], IDShard: 2, IDShards: 4},
			}
			for cname, c := range conds {
				reqs[cname] = SearchRequest{Conditions: c}
			}
			for cname, req := range reqs {
				n := 0
				if _, err := r.Search(context.Background(), req, func(tr *traceql.Trace) bool {
					n++
					if got := dumpTrace(tr); got != want[tr.ID] {
						t.Fatalf("%s: trace %x differs\n got  %s\n want %s", cname, tr.ID, got, want[tr.ID])
					}
					return true
				}); err != nil {
					t.Fatal(err)
				}
				if n == 0 || cname == "all" && n != len(ids) {
					t.Fatalf("%s: %d traces", cname, n)
				}
			}
		})
	}
}
