package compactor

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-tracing/pace/backend"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const tenant = "t1"

func testConfig(t testing.TB) Config {
	var cfg Config
	cfg.RegisterFlags(flag.NewFlagSet("test", flag.PanicOnError))
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func buckets(t *testing.T) map[string]objstore.Bucket {
	fs, err := filesystem.NewBucket(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]objstore.Bucket{"filesystem": fs, "memory": backend.NewInMemory()}
}

// genTraces makes n traces whose spans all start within seconds of base.
func genTraces(seed uint64, n, spans int, base time.Time) map[model.TraceID]ptrace.Traces {
	g := gen.New(seed)
	out := make(map[model.TraceID]ptrace.Traces, n)
	for range n {
		td := g.Traces(1, spans)
		shift(td, base)
		out[model.TraceID(td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID())] = td
	}
	return out
}

// shift moves td's spans so that the earliest starts at base.
func shift(td ptrace.Traces, base time.Time) {
	var first pcommon.Timestamp
	_ = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
		if first == 0 || sp.StartTimestamp() < first {
			first = sp.StartTimestamp()
		}
		return nil
	})
	d := pcommon.Timestamp(base.UnixNano()) - first
	_ = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
		sp.SetStartTimestamp(sp.StartTimestamp() + d)
		sp.SetEndTimestamp(sp.EndTimestamp() + d)
		return nil
	})
}

type sliceIter struct {
	ids []model.TraceID
	tds []ptrace.Traces
}

func (s *sliceIter) Next(context.Context) (model.TraceID, ptrace.Traces, error) {
	if len(s.ids) == 0 {
		return model.TraceID{}, ptrace.Traces{}, io.EOF
	}
	id, td := s.ids[0], s.tds[0]
	s.ids, s.tds = s.ids[1:], s.tds[1:]
	return id, td, nil
}

func writeBlock(t testing.TB, bkt objstore.Bucket, traces map[model.TraceID]ptrace.Traces) *block.Meta {
	t.Helper()
	it := &sliceIter{}
	for id := range traces {
		it.ids = append(it.ids, id)
	}
	sort.Slice(it.ids, func(i, j int) bool { return it.ids[i].Compare(it.ids[j]) < 0 })
	for _, id := range it.ids {
		it.tds = append(it.tds, traces[id])
	}
	m, err := block.WriteBlock(context.Background(), bkt, tenant, it, block.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type spanKey struct {
	trace model.TraceID
	span  pcommon.SpanID
	kind  ptrace.SpanKind
}

type spanVal struct {
	name       string
	start, end pcommon.Timestamp
	attrs, res map[string]any
}

// spans indexes the spans of traces; it fails on a span present twice.
func spans(t *testing.T, into map[spanKey]spanVal, traces map[model.TraceID]ptrace.Traces) {
	t.Helper()
	for id, td := range traces {
		_ = model.ForEachSpan(td, func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
			k := spanKey{id, sp.SpanID(), sp.Kind()}
			v := spanVal{sp.Name(), sp.StartTimestamp(), sp.EndTimestamp(), sp.Attributes().AsRaw(), rs.Resource().Attributes().AsRaw()}
			if old, dup := into[k]; dup && !reflect.DeepEqual(old, v) {
				t.Fatalf("span %v differs between copies", k)
			}
			into[k] = v
			return nil
		})
	}
}

// union is what a reader must see: every span of every input once.
func union(t *testing.T, sets ...map[model.TraceID]ptrace.Traces) map[spanKey]spanVal {
	out := map[spanKey]spanVal{}
	for _, s := range sets {
		spans(t, out, s)
	}
	return out
}

// readLive reads every live block of the tenant and returns its spans,
// failing if a trace appears twice in one block or a span twice in a trace;
// traces found in several blocks are combined as a reader would.
func readLive(t *testing.T, bkt objstore.Bucket) (map[spanKey]spanVal, []*block.Meta) {
	t.Helper()
	live, _, err := block.ListBlocksAndCompacted(context.Background(), bkt, tenant)
	if err != nil {
		t.Fatal(err)
	}
	frags := map[model.TraceID][]ptrace.Traces{}
	for _, m := range live {
		seen := map[model.TraceID]bool{}
		err := block.NewReader(bkt, m).Iterate(context.Background(), func(id model.TraceID, td ptrace.Traces) error {
			if seen[id] {
				return fmt.Errorf("trace %s twice in block %s", id, m.BlockID)
			}
			seen[id] = true
			frags[id] = append(frags[id], td)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := map[spanKey]spanVal{}
	for id, fs := range frags {
		td := model.Combine(fs...)
		n := len(out)
		spans(t, out, map[model.TraceID]ptrace.Traces{id: td})
		if len(out)-n != td.SpanCount() {
			t.Fatalf("trace %s: a span twice after Combine", id)
		}
	}
	return out, live
}

// blockSpans is the span count of one block, checking no span is in it twice.
func checkNoDupInBlock(t *testing.T, bkt objstore.Bucket, m *block.Meta) {
	t.Helper()
	err := block.NewReader(bkt, m).Iterate(context.Background(), func(id model.TraceID, td ptrace.Traces) error {
		seen := map[spanKey]bool{}
		return model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
			k := spanKey{id, sp.SpanID(), sp.Kind()}
			if seen[k] {
				return fmt.Errorf("span %v twice in block %s", k, m.BlockID)
			}
			seen[k] = true
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func requireSameSpans(t *testing.T, want, got map[spanKey]spanVal) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d spans, want %d", len(got), len(want))
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("span %v lost", k)
		}
		if !reflect.DeepEqual(v, g) {
			t.Fatalf("span %v changed:\nwant %+v\ngot  %+v", k, v, g)
		}
	}
}

// windowBase is a time in the middle of a compaction window (1h), so that
// blocks of a test never straddle two windows.
func windowBase(hoursAgo int) time.Time {
	return time.Now().Truncate(time.Hour).Add(-time.Duration(hoursAgo)*time.Hour - 30*time.Minute)
}

func TestCompactDeduplicatesReplicas(t *testing.T) {
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			base := windowBase(1)
			replicated := genTraces(1, 40, 8, base)
			other1 := genTraces(2, 30, 5, base)
			other2 := genTraces(3, 30, 5, base.Add(time.Minute))
			// One trace split between two blocks, partly overlapping:
			// the same trace ID with spans in both.
			var splitID model.TraceID
			for id := range replicated {
				splitID = id
				break
			}
			extra := genTraces(4, 1, 6, base)
			for _, td := range extra {
				_ = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
					sp.SetTraceID(pcommon.TraceID(splitID))
					return nil
				})
				other2[splitID] = model.Combine(td, replicated[splitID]) // overlaps the replicas
			}
			want := union(t, replicated, other1, other2)
			var spansIn int64
			for _, s := range []map[model.TraceID]ptrace.Traces{replicated, replicated, replicated, other1, other2} {
				spansIn += writeBlock(t, bkt, s).TotalSpans
			}

			reg := prometheus.NewRegistry()
			c := New(testConfig(t), bkt, nil, nil, reg)
			if err := c.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			got, live := readLive(t, bkt)
			if len(live) != 1 || live[0].CompactionLevel != 1 {
				t.Fatalf("%d live blocks after compaction, want 1 at level 1", len(live))
			}
			checkNoDupInBlock(t, bkt, live[0])
			requireSameSpans(t, want, got)
			traces := map[model.TraceID]bool{}
			for k := range want {
				traces[k.trace] = true
			}
			if live[0].TotalSpans != int64(len(want)) || live[0].TotalObjects != int64(len(traces)) {
				t.Fatalf("meta: %d spans %d traces", live[0].TotalSpans, live[0].TotalObjects)
			}
			_, compacted, err := block.ListBlocksAndCompacted(ctx, bkt, tenant)
			if err != nil || len(compacted) != 5 {
				t.Fatalf("%d compacted, want 5 (%v)", len(compacted), err)
			}
			if v := counterValue(c.metrics.spansDeduplicated); int64(v) != spansIn-int64(len(want)) {
				t.Fatalf("spans deduplicated %v, want %d", v, spansIn-int64(len(want)))
			}
			if v := counterValue(c.metrics.blocksWritten); v != 1 {
				t.Fatalf("blocks written %v", v)
			}
			if v := counterValue(c.metrics.blocksCompacted); v != 5 {
				t.Fatalf("blocks compacted %v", v)
			}
			// A second cycle has nothing to do.
			if err := c.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			if v := counterValue(c.metrics.blocksWritten); v != 1 {
				t.Fatalf("blocks written %v after an idle cycle", v)
			}

			// The index lists the live block and the compacted ones.
			idx, err := block.ReadIndex(ctx, bkt, tenant)
			if err != nil {
				t.Fatal(err)
			}
			if len(idx.Metas) != 1 || idx.Metas[0].BlockID != live[0].BlockID || len(idx.Compacted) != 5 {
				t.Fatalf("index: %d live %d compacted", len(idx.Metas), len(idx.Compacted))
			}
			if time.Since(idx.CreatedAt) > time.Minute {
				t.Fatalf("index createdAt %v", idx.CreatedAt)
			}
		})
	}
}

// splitOwner gives odd windows to one compactor and even ones (and the
// index) to the other, and records which keys each was asked about.
type splitOwner struct {
	odd bool
	mu  sync.Mutex
	got map[string]bool
}

func (o *splitOwner) Owns(key string) (bool, error) {
	parts := strings.Split(key, "/")
	mine := !o.odd
	if parts[0] == "compact" {
		w, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			return false, err
		}
		mine = (w/3600)%2 == 1 == o.odd
	}
	if mine {
		o.mu.Lock()
		o.got[key] = true
		o.mu.Unlock()
	}
	return mine, nil
}

func TestTwoCompactorsShareTheWork(t *testing.T) {
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			const windows, perWindow = 6, 3
			var sets []map[model.TraceID]ptrace.Traces
			for w := range windows {
				base := windowBase(2 + w)
				for b := range perWindow {
					s := genTraces(uint64(100*w+b), 20, 4, base.Add(time.Duration(b)*time.Minute))
					sets = append(sets, s)
					writeBlock(t, bkt, s)
				}
			}
			want := union(t, sets...)
			cfg := testConfig(t)
			owners := []*splitOwner{{odd: false, got: map[string]bool{}}, {odd: true, got: map[string]bool{}}}
			var cs []*Compactor
			for _, o := range owners {
				cs = append(cs, New(cfg, bkt, o, nil, prometheus.NewRegistry()))
			}
			for range 2 {
				var wg sync.WaitGroup
				errs := make([]error, len(cs))
				for i, c := range cs {
					wg.Go(func() { errs[i] = c.RunCycle(ctx) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
			}
			var written []float64
			total := 0.0
			for _, c := range cs {
				v := counterValue(c.metrics.blocksWritten)
				written = append(written, v)
				total += v
				if counterValue(c.metrics.skippedNotOwner) == 0 {
					t.Fatal("a compactor skipped no job")
				}
			}
			if total != windows || written[0] != windows/2 || written[1] != windows/2 {
				t.Fatalf("blocks written per compactor %v, want %d each", written, windows/2)
			}
			got, live := readLive(t, bkt)
			if len(live) != windows {
				t.Fatalf("%d live blocks, want %d", len(live), windows)
			}
			for _, m := range live {
				checkNoDupInBlock(t, bkt, m)
			}
			requireSameSpans(t, want, got)
			for k := range owners[1].got {
				if owners[0].got[k] {
					t.Fatalf("job %s owned by both", k)
				}
			}
		})
	}
}

func TestRetention(t *testing.T) {
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			old := writeBlock(t, bkt, genTraces(1, 10, 3, time.Now().Add(-800*time.Hour)))
			fresh := writeBlock(t, bkt, genTraces(2, 10, 3, windowBase(1)))
			reg := prometheus.NewRegistry()
			c := New(testConfig(t), bkt, nil, nil, reg)
			if err := c.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			live, _, err := block.ListBlocksAndCompacted(ctx, bkt, tenant)
			if err != nil || len(live) != 1 || live[0].BlockID != fresh.BlockID {
				t.Fatalf("after retention: %d live, %v", len(live), err)
			}
			if n := countObjects(t, bkt, block.BlockDir(tenant, old.BlockID)); n != 0 {
				t.Fatalf("%d objects left of the deleted block", n)
			}
			if v := counterValue(c.metrics.blocksDeleted.WithLabelValues("retention")); v != 1 {
				t.Fatalf("deleted (retention) %v", v)
			}

			// Compacted inputs stay readable for CompactedBlockRetention, then go.
			in2 := writeBlock(t, bkt, genTraces(3, 10, 3, windowBase(1)))
			if err := c.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			_, compacted, _ := block.ListBlocksAndCompacted(ctx, bkt, tenant)
			if len(compacted) != 2 {
				t.Fatalf("%d compacted, want 2", len(compacted))
			}
			for _, id := range []uuid.UUID{fresh.BlockID, in2.BlockID} {
				if _, err := block.ReadMeta(ctx, bkt, tenant, id); err != nil {
					t.Fatalf("compacted input not readable: %v", err)
				}
			}
			c.now = func() time.Time { return time.Now().Add(30 * time.Minute) }
			if err := c.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			if _, compacted, _ = block.ListBlocksAndCompacted(ctx, bkt, tenant); len(compacted) != 2 {
				t.Fatal("compacted inputs deleted before compacted_block_retention")
			}
			c.now = func() time.Time { return time.Now().Add(61 * time.Minute) }
			if err := c.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			live, compacted, _ = block.ListBlocksAndCompacted(ctx, bkt, tenant)
			if len(live) != 1 || len(compacted) != 0 {
				t.Fatalf("live %d compacted %d, want 1 and 0", len(live), len(compacted))
			}
			for _, id := range []uuid.UUID{fresh.BlockID, in2.BlockID} {
				if n := countObjects(t, bkt, block.BlockDir(tenant, id)); n != 0 {
					t.Fatalf("%d objects left of compacted block %s", n, id)
				}
			}
			if v := counterValue(c.metrics.blocksDeleted.WithLabelValues("compacted")); v != 2 {
				t.Fatalf("deleted (compacted) %v", v)
			}
			idx, err := block.ReadIndex(ctx, bkt, tenant)
			if err != nil || len(idx.Metas) != 1 || len(idx.Compacted) != 0 {
				t.Fatalf("index after deletions: %+v %v", idx, err)
			}

			// Once every block is gone, the index is emptied.
			c.now = func() time.Time { return time.Now().Add(1000 * time.Hour) }
			if err := c.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			if idx, err = block.ReadIndex(ctx, bkt, tenant); err != nil || len(idx.Metas) != 0 {
				t.Fatalf("index of an empty tenant: %+v %v", idx, err)
			}
		})
	}
}

func countObjects(t *testing.T, bkt objstore.Bucket, dir string) int {
	t.Helper()
	n := 0
	if err := bkt.Iter(context.Background(), dir, func(string) error { n++; return nil }, objstore.WithRecursiveIter()); err != nil {
		t.Fatal(err)
	}
	return n
}

var errCrash = errors.New("simulated crash")

func TestCrashBeforeMarkingInputs(t *testing.T) {
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			base := windowBase(1)
			replicated := genTraces(1, 30, 6, base)
			other := genTraces(2, 20, 4, base)
			want := union(t, replicated, other)
			var inputs []*block.Meta
			for _, s := range []map[model.TraceID]ptrace.Traces{replicated, replicated, replicated, other} {
				inputs = append(inputs, writeBlock(t, bkt, s))
			}
			c := New(testConfig(t), bkt, nil, nil, prometheus.NewRegistry())
			var out *block.Meta
			c.afterWrite = func(m *block.Meta) error { out = m; return errCrash }
			if err := c.RunCycle(ctx); !errors.Is(err, errCrash) {
				t.Fatalf("want the crash, got %v", err)
			}
			// Inputs and output are all live: a reader sees duplicates,
			// which Combine removes; nothing is lost.
			got, live := readLive(t, bkt)
			if len(live) != 5 {
				t.Fatalf("%d live blocks, want 4 inputs + 1 output", len(live))
			}
			requireSameSpans(t, want, got)
			for id := range replicated {
				var parts []ptrace.Traces
				for _, m := range live {
					td, ok, err := block.NewReader(bkt, m).FindTraceByID(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if ok {
						parts = append(parts, td)
					}
				}
				if len(parts) != 4 {
					t.Fatalf("trace in %d blocks, want 4", len(parts))
				}
				if n, w := model.Combine(parts...).SpanCount(), replicated[id].SpanCount(); n != w {
					t.Fatalf("combined trace has %d spans, want %d", n, w)
				}
			}

			// A new process (no cache) finishes the job without rewriting.
			c2 := New(testConfig(t), bkt, nil, nil, prometheus.NewRegistry())
			if err := c2.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			if v := counterValue(c2.metrics.blocksWritten); v != 0 {
				t.Fatalf("the restarted compactor wrote %v blocks", v)
			}
			if v := counterValue(c2.metrics.blocksCompacted); v != 4 {
				t.Fatalf("the restarted compactor marked %v inputs, want 4", v)
			}
			got, live = readLive(t, bkt)
			if len(live) != 1 || live[0].BlockID != out.BlockID {
				t.Fatalf("%d live blocks after recovery", len(live))
			}
			requireSameSpans(t, want, got)
			idx, err := block.ReadIndex(ctx, bkt, tenant)
			if err != nil || len(idx.Metas) != 1 || len(idx.Compacted) != 4 {
				t.Fatalf("index after recovery: %v", err)
			}
		})
	}
}

// failingBucket fails uploads whose name ends with failSuffix.
type failingBucket struct {
	objstore.Bucket
	failSuffix string
}

func (b *failingBucket) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	body, err := io.ReadAll(r) // as the in-memory backend does
	if err != nil {
		return err
	}
	if strings.HasSuffix(name, b.failSuffix) {
		return errors.New("injected upload failure")
	}
	return b.Bucket.Upload(ctx, name, bytes.NewReader(body), opts...)
}

func TestFailedWriteLeavesInputsAlone(t *testing.T) {
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := genTraces(1, 20, 4, windowBase(1)), genTraces(2, 20, 4, windowBase(1))
			writeBlock(t, bkt, a)
			writeBlock(t, bkt, b)
			want := union(t, a, b)
			before := countObjects(t, bkt, tenant+"/")
			fb := &failingBucket{Bucket: bkt, failSuffix: "/" + block.BloomFile}
			c := New(testConfig(t), fb, OwnAll{}, nil, prometheus.NewRegistry())
			c.cfg.BlockRetention = 1000 * time.Hour
			if err := c.RunCycle(ctx); err == nil {
				t.Fatal("cycle with failing uploads succeeded")
			}
			if v := counterValue(c.metrics.jobFailures); v != 1 {
				t.Fatalf("job failures %v", v)
			}
			// Only the index was added: the half-written block is gone.
			if after := countObjects(t, bkt, tenant+"/"); after != before+1 {
				t.Fatalf("%d objects, want %d + index", after, before)
			}
			got, live := readLive(t, bkt)
			if len(live) != 2 {
				t.Fatalf("%d live", len(live))
			}
			requireSameSpans(t, want, got)
			fb.failSuffix = "no such object"
			if err := c.RunCycle(ctx); err != nil {
				t.Fatal(err)
			}
			got, live = readLive(t, bkt)
			if len(live) != 1 {
				t.Fatalf("%d live after retry", len(live))
			}
			requireSameSpans(t, want, got)
		})
	}
}

func TestWindowsAndLevelsAreNotMixed(t *testing.T) {
	bkt := backend.NewInMemory()
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.MaxInputBlocks = 3
	// 7 blocks in one window: 3 + 3 merged, 1 left; 1 block alone in another window.
	for i := range 7 {
		writeBlock(t, bkt, genTraces(uint64(i), 5, 2, windowBase(1).Add(time.Duration(i)*time.Minute)))
	}
	lone := writeBlock(t, bkt, genTraces(99, 5, 2, windowBase(3)))
	c := New(cfg, bkt, nil, nil, prometheus.NewRegistry())
	if err := c.RunCycle(ctx); err != nil {
		t.Fatal(err)
	}
	live, _, _ := block.ListBlocksAndCompacted(ctx, bkt, tenant)
	levels := map[int]int{}
	for _, m := range live {
		levels[m.CompactionLevel]++
	}
	if len(live) != 4 || levels[0] != 2 || levels[1] != 2 {
		t.Fatalf("live blocks by level %v, want 2 at level 0 and 2 at level 1", levels)
	}
	// Next cycle: the two level-1 blocks of the window merge into level 2;
	// the level-0 leftover and the lone block stay.
	if err := c.RunCycle(ctx); err != nil {
		t.Fatal(err)
	}
	live, _, _ = block.ListBlocksAndCompacted(ctx, bkt, tenant)
	levels = map[int]int{}
	for _, m := range live {
		levels[m.CompactionLevel]++
	}
	if len(live) != 3 || levels[2] != 1 || levels[0] != 2 {
		t.Fatalf("live blocks by level %v", levels)
	}
	found := false
	for _, m := range live {
		found = found || m.BlockID == lone.BlockID
	}
	if !found {
		t.Fatal("the lone block of another window was compacted")
	}
}

func TestMaxBlockBytes(t *testing.T) {
	bkt := backend.NewInMemory()
	var metas []*block.Meta
	for i := range 4 {
		metas = append(metas, writeBlock(t, bkt, genTraces(uint64(i), 10, 2, windowBase(1).Add(time.Duration(i)*time.Minute))))
	}
	cfg := testConfig(t)
	cfg.MaxBlockBytes = uint64(metas[0].TotalBytes() + metas[1].TotalBytes()/2) // two inputs exceed it
	c := New(cfg, bkt, nil, nil, prometheus.NewRegistry())
	if err := c.RunCycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	live, _, _ := block.ListBlocksAndCompacted(context.Background(), bkt, tenant)
	if len(live) != 2 || counterValue(c.metrics.blocksWritten) != 2 {
		t.Fatalf("%d live, %v written; want two jobs of two inputs", len(live), counterValue(c.metrics.blocksWritten))
	}
}

func TestServiceRunsCycles(t *testing.T) {
	bkt := backend.NewInMemory()
	writeBlock(t, bkt, genTraces(1, 5, 2, windowBase(1)))
	writeBlock(t, bkt, genTraces(2, 5, 2, windowBase(1)))
	cfg := testConfig(t)
	cfg.CompactionCycle = time.Second
	c := New(cfg, bkt, nil, nil, prometheus.NewRegistry())
	ctx := context.Background()
	if err := c.StartAsync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.AwaitRunning(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(c.metrics.blocksWritten) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	c.StopAsync()
	if err := c.AwaitTerminated(ctx); err != nil {
		t.Fatal(err)
	}
	if counterValue(c.metrics.blocksWritten) != 1 {
		t.Fatal("the service did not compact")
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := testConfig(t)
	if cfg.CompactionCycle != 30*time.Second || cfg.CompactionWindow != time.Hour || cfg.MaxInputBlocks != 8 ||
		cfg.MinInputBlocks != 2 || cfg.MaxBlockBytes != 100<<30 || cfg.BlockRetention != 720*time.Hour || cfg.CompactedBlockRetention != time.Hour {
		t.Fatalf("defaults %+v", cfg)
	}
	bad := cfg
	bad.MinInputBlocks = 1
	if bad.Validate() == nil {
		t.Fatal("min_input_blocks 1 accepted")
	}
	bad = cfg
	bad.MaxInputBlocks = 1
	if bad.Validate() == nil {
		t.Fatal("max < min accepted")
	}
}

func BenchmarkCompact(b *testing.B) {
	bkt := backend.NewInMemory()
	base := windowBase(1)
	replicated := genTraces(1, 3000, 10, base)
	var inputs []*block.Meta
	var spansIn int64
	for _, s := range []map[model.TraceID]ptrace.Traces{replicated, replicated, replicated, genTraces(2, 3000, 10, base)} {
		m := writeBlock(b, bkt, s)
		inputs = append(inputs, m)
		spansIn += m.TotalSpans
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		it := newMergeIterator(ctx, bkt, inputs)
		out, err := block.WriteBlock(ctx, bkt, tenant, it, block.WriteOptions{CompactionLevel: 1})
		it.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if out.TotalSpans != 6000*10 {
			b.Fatalf("%d spans out", out.TotalSpans)
		}
		if err := block.DeleteBlock(ctx, bkt, tenant, out.BlockID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(spansIn)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

func counterValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
