package block

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/model"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) { cleanupBench(); os.Exit(code) }))
}

// sliceIter yields pre-built traces in the order given.
type sliceIter struct {
	ids []model.TraceID
	tds []ptrace.Traces
	i   int
}

func (s *sliceIter) Next(context.Context) (model.TraceID, ptrace.Traces, error) {
	if s.i == len(s.ids) {
		return model.TraceID{}, ptrace.Traces{}, io.EOF
	}
	s.i++
	return s.ids[s.i-1], s.tds[s.i-1], nil
}

// genTraces makes n realistic traces sorted by ID.
func genTraces(seed uint64, n, spans int) ([]model.TraceID, []ptrace.Traces) {
	g := gen.New(seed)
	ids := make([]model.TraceID, n)
	tds := make([]ptrace.Traces, n)
	for i := range n {
		td := g.Traces(1, spans)
		tds[i] = td
		ids[i] = model.TraceID(td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID())
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ids[idx[a]].Compare(ids[idx[b]]) < 0 })
	sids := make([]model.TraceID, n)
	stds := make([]ptrace.Traces, n)
	for i, j := range idx {
		sids[i], stds[i] = ids[j], tds[j]
	}
	return sids, stds
}

func buckets(t testing.TB) map[string]objstore.Bucket {
	fs, err := filesystem.NewBucket(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]objstore.Bucket{"filesystem": fs, "memory": objstore.NewInMemBucket()}
}

func protoBytes(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requireSameTrace(t *testing.T, want, got ptrace.Traces) {
	t.Helper()
	if w, g := protoBytes(t, want), protoBytes(t, got); !bytes.Equal(w, g) {
		wj, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(want)
		gj, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(got)
		t.Fatalf("trace differs after round trip\nwant %s\ngot  %s", wj, gj)
	}
}

func putAllValueTypes(m pcommon.Map) {
	m.PutStr("str", "value")
	m.PutStr("empty.str", "")
	m.PutInt("int", -42)
	m.PutInt("int.zero", 0)
	m.PutDouble("double", 3.25)
	m.PutBool("bool.false", false)
	m.PutBool("bool.true", true)
	m.PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 2, 0xff})
	m.PutEmptyBytes("bytes.empty")
	m.PutEmpty("empty")
	s := m.PutEmptySlice("slice")
	s.AppendEmpty().SetStr("a")
	s.AppendEmpty().SetInt(7)
	s.AppendEmpty() // empty value inside an array
	s.AppendEmpty().SetEmptyMap().PutDouble("in.slice", 1.5)
	s.AppendEmpty().SetEmptySlice()
	m.PutEmptySlice("slice.empty")
	mm := m.PutEmptyMap("map")
	mm.PutStr("k", "v")
	mm.PutEmptyMap("nested").PutEmptySlice("deep").AppendEmpty().SetBool(true)
	mm.PutEmpty("nothing")
	m.PutEmptyMap("map.empty")
}

// richTrace exercises every OTLP field the block must keep.
func richTrace(id model.TraceID) ptrace.Traces {
	td := ptrace.NewTraces()
	tid := pcommon.TraceID(id)
	sid := func(b byte) pcommon.SpanID { return pcommon.SpanID{b, 1, 2, 3, 4, 5, 6, b} }

	rs := td.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	rs.Resource().Attributes().PutStr("service.name", "svc-a")
	putAllValueTypes(rs.Resource().Attributes())
	rs.Resource().SetDroppedAttributesCount(3)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.SetSchemaUrl("scope-schema")
	ss.Scope().SetName("my.scope")
	ss.Scope().SetVersion("1.2.3")
	putAllValueTypes(ss.Scope().Attributes())
	ss.Scope().SetDroppedAttributesCount(2)

	root := ss.Spans().AppendEmpty()
	root.SetTraceID(tid)
	root.SetSpanID(sid(1))
	root.SetName("root")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(1_700_000_000_000_000_000)
	root.SetEndTimestamp(1_700_000_001_000_000_000)
	root.TraceState().FromRaw("vendor=abc,other=1")
	root.SetFlags(0x101)
	root.Status().SetCode(ptrace.StatusCodeError)
	root.Status().SetMessage("boom")
	putAllValueTypes(root.Attributes())
	root.SetDroppedAttributesCount(1)
	root.SetDroppedEventsCount(2)
	root.SetDroppedLinksCount(3)
	ev := root.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(1_700_000_000_500_000_000)
	putAllValueTypes(ev.Attributes())
	ev.SetDroppedAttributesCount(4)
	ev2 := root.Events().AppendEmpty() // event before the span start, no name
	ev2.SetTimestamp(1_699_999_999_000_000_000)
	lk := root.Links().AppendEmpty()
	lk.SetTraceID(pcommon.TraceID{9, 9, 9})
	lk.SetSpanID(sid(9))
	lk.TraceState().FromRaw("k=v")
	lk.SetFlags(1)
	putAllValueTypes(lk.Attributes())
	lk.SetDroppedAttributesCount(5)
	root.Links().AppendEmpty() // empty link

	for k := ptrace.SpanKindUnspecified; k <= ptrace.SpanKindConsumer; k++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(sid(byte(10 + k)))
		sp.SetParentSpanID(sid(1))
		sp.SetName("child")
		sp.SetKind(k)
		sp.Status().SetCode(ptrace.StatusCode(int(k) % 3))
		sp.SetStartTimestamp(1_700_000_000_100_000_000)
		sp.SetEndTimestamp(1_700_000_000_100_000_000) // zero duration
	}

	// A second resource without service.name, and one whose service.name is
	// not a string; spans whose parent is elsewhere (not in this trace).
	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutInt("other", 1)
	ss2 := rs2.ScopeSpans().AppendEmpty()
	sp := ss2.Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid(30))
	sp.SetParentSpanID(pcommon.SpanID{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1})
	sp.SetStartTimestamp(1_700_000_000_200_000_000)
	sp.SetEndTimestamp(1_700_000_000_300_000_000)
	rs2.ScopeSpans().AppendEmpty() // scope with no spans

	rs3 := td.ResourceSpans().AppendEmpty()
	rs3.Resource().Attributes().PutInt("service.name", 5)
	sp = rs3.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid(31))
	sp.SetParentSpanID(sid(30)) // parent in an earlier resource
	sp.SetName("")

	// Same service again in another ResourceSpans, with an empty service name too.
	rs4 := td.ResourceSpans().AppendEmpty()
	rs4.Resource().Attributes().PutStr("service.name", "svc-a")
	sp = rs4.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid(32))
	sp.SetParentSpanID(sid(14))
	rs5 := td.ResourceSpans().AppendEmpty()
	rs5.Resource().Attributes().PutStr("service.name", "")
	sp = rs5.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid(33))
	td.ResourceSpans().AppendEmpty() // resource with no scopes
	return td
}

func writeTraces(t testing.TB, bkt objstore.Bucket, tenant string, ids []model.TraceID, tds []ptrace.Traces, opts WriteOptions) *Meta {
	t.Helper()
	m, err := WriteBlock(context.Background(), bkt, tenant, &sliceIter{ids: ids, tds: tds}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTripKeepsEveryOTLPField(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ids := []model.TraceID{{0, 1}, {0, 2}, {0xff, 0xff}}
			tds := []ptrace.Traces{richTrace(ids[0]), richTrace(ids[1]), richTrace(ids[2])}
			// A realistic trace too, under the rich one's ID neighbour.
			gids, gtds := genTraces(1, 1, 10)
			ids = append(ids[:2], gids[0], ids[2])
			tds = append(tds[:2], gtds[0], tds[2])
			if ids[2].Compare(ids[1]) <= 0 || ids[2].Compare(ids[3]) >= 0 {
				t.Fatal("seeded generator produced an ID outside the test's range; pick another seed")
			}
			m := writeTraces(t, bkt, "t1", ids, tds, WriteOptions{})
			if m.TotalObjects != 4 || m.TotalSpans != int64(3*tds[0].SpanCount()+10) {
				t.Fatalf("meta counts: %+v", m)
			}
			r := NewReader(bkt, m)
			defer r.Close()
			for i, id := range ids {
				got, ok, err := r.FindTraceByID(ctx, id)
				if err != nil || !ok {
					t.Fatalf("trace %s: found=%v err=%v", id, ok, err)
				}
				requireSameTrace(t, tds[i], got)
			}
			var n int
			err := r.Iterate(ctx, func(id model.TraceID, td ptrace.Traces) error {
				if id != ids[n] {
					t.Fatalf("iterate: got %s at %d, want %s", id, n, ids[n])
				}
				requireSameTrace(t, tds[n], td)
				n++
				return nil
			})
			if err != nil || n != len(ids) {
				t.Fatalf("iterate: n=%d err=%v", n, err)
			}
		})
	}
}

func TestMetaDescribesTheBlock(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	ids, tds := genTraces(2, 100, 10)
	m := writeTraces(t, bkt, "tenant-a", ids, tds, WriteOptions{CompactionLevel: 2})
	got, err := ReadMeta(context.Background(), bkt, "tenant-a", m.BlockID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != FormatVersion || got.TenantID != "tenant-a" || got.CompactionLevel != 2 ||
		got.TotalObjects != 100 || got.TotalSpans != 1000 || got.MinID != ids[0].String() ||
		got.MaxID != ids[99].String() || got.Size <= 0 || got.BloomSize <= 0 ||
		got.StartTime.IsZero() || got.EndTime.Before(got.StartTime) || got.CreatedAt.IsZero() {
		t.Fatalf("bad meta %+v", got)
	}
	attrs, err := bkt.Attributes(context.Background(), m.Dir()+DataFile)
	if err != nil || attrs.Size != got.Size {
		t.Fatalf("data size %d, meta says %d (%v)", attrs.Size, got.Size, err)
	}
}

func TestTraceFoundInItsBlockAndNotElsewhere(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ids, tds := genTraces(3, 2000, 10)
			// Keep every other trace: the others are in range but absent.
			var in, out []model.TraceID
			var intds []ptrace.Traces
			for i := range ids {
				if i%2 == 0 {
					in, intds = append(in, ids[i]), append(intds, tds[i])
				} else {
					out = append(out, ids[i])
				}
			}
			// Small row groups and pages so lookups cross row groups and pages.
			m := writeTraces(t, bkt, "t", in, intds, WriteOptions{RowGroupSpans: 2000, PageSize: 4 << 10})
			if m.RowGroups < 5 {
				t.Fatalf("want several row groups, got %d", m.RowGroups)
			}
			r := NewReader(bkt, m)
			defer r.Close()
			for i := 0; i < len(in); i += 7 {
				id := in[i]
				got, ok, err := r.FindTraceByID(ctx, id)
				if err != nil || !ok {
					t.Fatalf("trace %d %s: found=%v err=%v", i, id, ok, err)
				}
				requireSameTrace(t, intds[i], got)
			}
			for i := 0; i < len(out); i += 5 {
				id := out[i]
				if _, ok, err := r.FindTraceByID(ctx, id); err != nil || ok {
					t.Fatalf("absent trace %s: found=%v err=%v", id, ok, err)
				}
			}
			for _, id := range []model.TraceID{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
				if _, ok, err := r.FindTraceByID(ctx, id); err != nil || ok {
					t.Fatalf("out-of-range trace %s: found=%v err=%v", id, ok, err)
				}
			}
		})
	}
}

func TestManyBlocksEachTraceInOne(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			var metas []*Meta
			var all [][]model.TraceID
			for b := range 5 {
				ids, tds := genTraces(uint64(100+b), 50, 5)
				metas = append(metas, writeTraces(t, bkt, "t", ids, tds, WriteOptions{}))
				all = append(all, ids)
			}
			writeTraces(t, bkt, "other", all[0][:1], []ptrace.Traces{ptrace.NewTraces()}, WriteOptions{})
			listed, err := ListBlocks(ctx, bkt, "t")
			if err != nil || len(listed) != 5 {
				t.Fatalf("ListBlocks: %d blocks, err %v", len(listed), err)
			}
			tenants, err := ListTenants(ctx, bkt)
			if err != nil || strings.Join(tenants, ",") != "other,t" {
				t.Fatalf("ListTenants: %v %v", tenants, err)
			}
			readers := make([]*Reader, len(listed))
			for i, m := range listed {
				readers[i] = NewReader(bkt, m)
			}
			for b, ids := range all {
				for i := 0; i < len(ids); i += 3 {
					id := ids[i]
					var found []uuid.UUID
					for _, r := range readers {
						if _, ok, err := r.FindTraceByID(ctx, id); err != nil {
							t.Fatal(err)
						} else if ok {
							found = append(found, r.Meta().BlockID)
						}
					}
					if len(found) != 1 || found[0] != metas[b].BlockID {
						t.Fatalf("trace %s found in %v, want only %s", id, found, metas[b].BlockID)
					}
				}
			}
		})
	}
}

func TestHalfWrittenBlockIsIgnored(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ids, tds := genTraces(4, 10, 3)
			m := writeTraces(t, bkt, "t", ids, tds, WriteOptions{})
			// A block whose writer died before meta.json: data and bloom only.
			half := uuid.New()
			for _, f := range []string{DataFile, BloomFile} {
				if err := bkt.Upload(ctx, BlockDir("t", half)+f, strings.NewReader("partial")); err != nil {
					t.Fatal(err)
				}
			}
			// A tenant that only has a half-written block.
			if err := bkt.Upload(ctx, BlockDir("ghost", half)+DataFile, strings.NewReader("partial")); err != nil {
				t.Fatal(err)
			}
			metas, err := ListBlocks(ctx, bkt, "t")
			if err != nil || len(metas) != 1 || metas[0].BlockID != m.BlockID {
				t.Fatalf("ListBlocks = %v, %v", metas, err)
			}
			if _, err := ReadMeta(ctx, bkt, "t", half); !errors.Is(err, ErrBlockNotFound) {
				t.Fatalf("ReadMeta of half-written block: %v", err)
			}
			tenants, err := ListTenants(ctx, bkt)
			if err != nil || len(tenants) != 1 || tenants[0] != "t" {
				t.Fatalf("ListTenants = %v, %v", tenants, err)
			}
		})
	}
}

type failingIter struct {
	sliceIter
	failAt int
}

func (f *failingIter) Next(ctx context.Context) (model.TraceID, ptrace.Traces, error) {
	if f.i == f.failAt {
		return model.TraceID{}, ptrace.Traces{}, errors.New("source broke")
	}
	return f.sliceIter.Next(ctx)
}

func objectCount(t *testing.T, bkt objstore.Bucket) int {
	t.Helper()
	n := 0
	if err := bkt.Iter(context.Background(), "", func(string) error { n++; return nil }, objstore.WithRecursiveIter()); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOutOfOrderIDsRejectedAndNothingLeftBehind(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ids, tds := genTraces(5, 300, 5)
			ids[200], ids[201] = ids[201], ids[200]
			_, err := WriteBlock(ctx, bkt, "t", &sliceIter{ids: ids, tds: tds}, WriteOptions{RowGroupSpans: 100})
			if !errors.Is(err, ErrOutOfOrder) {
				t.Fatalf("want ErrOutOfOrder, got %v", err)
			}
			dup := []model.TraceID{ids[0], ids[0]}
			_, err = WriteBlock(ctx, bkt, "t", &sliceIter{ids: dup, tds: tds[:2]}, WriteOptions{})
			if !errors.Is(err, ErrOutOfOrder) {
				t.Fatalf("duplicate ID: want ErrOutOfOrder, got %v", err)
			}
			_, err = WriteBlock(ctx, bkt, "t", &failingIter{sliceIter{ids: ids, tds: tds}, 150}, WriteOptions{})
			if err == nil || !strings.Contains(err.Error(), "source broke") {
				t.Fatalf("want iterator error, got %v", err)
			}
			_, err = WriteBlock(ctx, bkt, "t", &sliceIter{}, WriteOptions{})
			if !errors.Is(err, ErrEmptyBlock) {
				t.Fatalf("want ErrEmptyBlock, got %v", err)
			}
			if n := objectCount(t, bkt); n != 0 {
				t.Fatalf("%d objects left behind by failed writes", n)
			}
		})
	}
}

func TestDeleteBlock(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ids, tds := genTraces(6, 20, 3)
			m1 := writeTraces(t, bkt, "t", ids[:10], tds[:10], WriteOptions{})
			m2 := writeTraces(t, bkt, "t", ids[10:], tds[10:], WriteOptions{})
			if err := DeleteBlock(ctx, bkt, "t", m1.BlockID); err != nil {
				t.Fatal(err)
			}
			metas, err := ListBlocks(ctx, bkt, "t")
			if err != nil || len(metas) != 1 || metas[0].BlockID != m2.BlockID {
				t.Fatalf("after delete: %v %v", metas, err)
			}
			for _, f := range []string{MetaFile, BloomFile, DataFile} {
				if ok, _ := bkt.Exists(ctx, m1.Dir()+f); ok {
					t.Fatalf("%s still exists", f)
				}
			}
			// Deleting again (or a half-deleted block) is fine.
			if err := DeleteBlock(ctx, bkt, "t", m1.BlockID); err != nil {
				t.Fatal(err)
			}
			r := NewReader(bkt, m2)
			if _, ok, err := r.FindTraceByID(ctx, ids[15]); err != nil || !ok {
				t.Fatalf("other block: %v %v", ok, err)
			}
		})
	}
}

func TestConcurrentLookups(t *testing.T) {
	ctx := context.Background()
	bkt := objstore.NewInMemBucket()
	ids, tds := genTraces(7, 200, 5)
	m := writeTraces(t, bkt, "t", ids, tds, WriteOptions{RowGroupSpans: 200, PageSize: 8 << 10})
	r := NewReader(bkt, m)
	defer r.Close()
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			for i := w; i < len(ids); i += 4 {
				got, ok, err := r.FindTraceByID(ctx, ids[i])
				if err == nil && (!ok || got.SpanCount() != 5) {
					err = errors.New("trace not found or incomplete: " + ids[i].String())
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestExplicitBlockIDIsIdempotent(t *testing.T) {
	ctx := context.Background()
	bkt := objstore.NewInMemBucket()
	ids, tds := genTraces(8, 20, 3)
	id := uuid.New()
	// A half-written block under that ID is overwritten.
	if err := bkt.Upload(ctx, BlockDir("t", id)+DataFile, strings.NewReader("partial")); err != nil {
		t.Fatal(err)
	}
	m1 := writeTraces(t, bkt, "t", ids, tds, WriteOptions{BlockID: id})
	if m1.BlockID != id {
		t.Fatalf("block ID %s, want %s", m1.BlockID, id)
	}
	// Writing it again keeps the complete block, even if the rewrite would fail.
	m2, err := WriteBlock(ctx, bkt, "t", &failingIter{sliceIter{ids: ids, tds: tds}, 0}, WriteOptions{BlockID: id})
	if err != nil || m2.BlockID != id || m2.TotalObjects != 20 {
		t.Fatalf("rewrite: %+v %v", m2, err)
	}
	if _, ok, err := NewReader(bkt, m2).FindTraceByID(ctx, ids[3]); err != nil || !ok {
		t.Fatalf("lookup after rewrite: %v %v", ok, err)
	}
}
