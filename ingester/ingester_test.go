package ingester

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/wal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct {
	mu    sync.Mutex
	metas []*block.Meta
}

func (s *sink) AddBlock(_ string, m *block.Meta) {
	s.mu.Lock()
	s.metas = append(s.metas, m)
	s.mu.Unlock()
}

func testConfig(dir string) Config {
	return Config{MaxBlockDuration: time.Hour, MaxBlockBytes: 1 << 30, FlushCheckPeriod: time.Hour,
		ConcurrentFlushes: 1, MaxPendingBytes: 1 << 30, ReplicationFactor: 1, WALPath: dir}
}

func start(t *testing.T, cfg Config, bkt objstore.Bucket, s BlockSink) *Ingester {
	t.Helper()
	ing, err := New(cfg, bkt, s, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := services.StartAndAwaitRunning(context.Background(), ing); err != nil {
		t.Fatal(err)
	}
	return ing
}

// entries splits generated traces into ingester entries, as the distributor does.
func entries(t *testing.T, seed uint64, n int) ([]wal.Entry, map[model.TraceID]int) {
	t.Helper()
	td := gen.New(seed).Traces(n, 5)
	byID := map[model.TraceID]ptrace.Traces{}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			sl := sss.At(j).Spans()
			for k := 0; k < sl.Len(); k++ {
				id := model.TraceID(sl.At(k).TraceID())
				part, ok := byID[id]
				if !ok {
					part = ptrace.NewTraces()
					byID[id] = part
				}
				sl.At(k).CopyTo(part.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty())
			}
		}
	}
	var out []wal.Entry
	counts := map[model.TraceID]int{}
	var m ptrace.ProtoMarshaler
	for id, part := range byID {
		b, _ := m.MarshalTraces(part)
		out = append(out, wal.Entry{ID: id, Data: b})
		counts[id] = part.SpanCount()
	}
	return out, counts
}

func expectTraces(t *testing.T, find func(model.TraceID) (ptrace.Traces, bool, error), want map[model.TraceID]int) {
	t.Helper()
	for id, n := range want {
		td, ok, err := find(id)
		if err != nil || !ok {
			t.Fatalf("trace %s: found=%v err=%v", id, ok, err)
		}
		if td.SpanCount() != n {
			t.Fatalf("trace %s has %d spans, want %d", id, td.SpanCount(), n)
		}
	}
}

func TestPushedTraceIsReadableAtOnce(t *testing.T) {
	ing := start(t, testConfig(t.TempDir()), objstore.NewInMemBucket(), nil)
	defer services.StopAndAwaitTerminated(context.Background(), ing) //nolint:errcheck
	es, want := entries(t, 1, 20)
	if err := ing.Push(context.Background(), "t1", es); err != nil {
		t.Fatal(err)
	}
	expectTraces(t, func(id model.TraceID) (ptrace.Traces, bool, error) {
		return ing.FindTraceByID(context.Background(), "t1", id)
	}, want)
	if _, ok, _ := ing.FindTraceByID(context.Background(), "t2", es[0].ID); ok {
		t.Fatal("another tenant sees the trace")
	}
}

func TestFlushWritesBlockThenDropsMemoryAndWAL(t *testing.T) {
	dir := t.TempDir()
	bkt := objstore.NewInMemBucket()
	s := &sink{}
	ing := start(t, testConfig(dir), bkt, s)
	defer services.StopAndAwaitTerminated(context.Background(), ing) //nolint:errcheck
	es, want := entries(t, 2, 30)
	if err := ing.Push(context.Background(), "t1", es); err != nil {
		t.Fatal(err)
	}
	if err := ing.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	metas, err := block.ListBlocks(context.Background(), bkt, "t1")
	if err != nil || len(metas) != 1 || len(s.metas) != 1 {
		t.Fatalf("blocks in store %d (err %v), told to sink %d; want 1 and 1", len(metas), err, len(s.metas))
	}
	if metas[0].TotalObjects != int64(len(want)) {
		t.Fatalf("block has %d traces, want %d", metas[0].TotalObjects, len(want))
	}
	r := block.NewReader(bkt, metas[0])
	defer r.Close()
	expectTraces(t, func(id model.TraceID) (ptrace.Traces, bool, error) {
		return r.FindTraceByID(context.Background(), id)
	}, want)
	if _, ok, _ := ing.findLive(ing.instance("t1"), es[0].ID); ok {
		t.Fatal("flushed trace still held in memory")
	}
	// ...but the ingester still answers for it from the object store until
	// queriers elsewhere have polled the new block.
	expectTraces(t, func(id model.TraceID) (ptrace.Traces, bool, error) {
		return ing.FindTraceByID(context.Background(), "t1", id)
	}, want)
	segs, _ := filepath.Glob(filepath.Join(dir, "t1", "*"+wal.Ext))
	if len(segs) != 0 {
		t.Fatalf("WAL segments left after flush: %v", segs)
	}
}

func TestCrashedIngesterReplaysWALAndFlushesOnce(t *testing.T) {
	dir := t.TempDir()
	bkt := objstore.NewInMemBucket()
	first := start(t, testConfig(dir), bkt, nil)
	es, want := entries(t, 3, 25)
	if err := first.Push(context.Background(), "t1", es); err != nil {
		t.Fatal(err)
	}
	// Keep a copy of the segments as they are before any flush; stopping
	// leaves them in place, as a crash would (the kill -9 case is covered by
	// the integration tests with the real binary).
	segs, _ := filepath.Glob(filepath.Join(dir, "t1", "*"+wal.Ext))
	saved := map[string][]byte{}
	for _, p := range segs {
		saved[p], _ = os.ReadFile(p)
	}
	_ = services.StopAndAwaitTerminated(context.Background(), first)

	second := start(t, testConfig(dir), bkt, nil)
	expectTraces(t, func(id model.TraceID) (ptrace.Traces, bool, error) {
		return second.FindTraceByID(context.Background(), "t1", id)
	}, want)
	if err := second.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = services.StopAndAwaitTerminated(context.Background(), second)

	// The block exists; put the WAL back as if the crash came between the
	// block write and the segment removal: the replay must not write it twice.
	for p, b := range saved {
		_ = os.WriteFile(p, b, 0o644)
	}
	third := start(t, testConfig(dir), bkt, nil)
	if err := third.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = services.StopAndAwaitTerminated(context.Background(), third)
	metas, _ := block.ListBlocks(context.Background(), bkt, "t1")
	if len(metas) != 1 {
		t.Fatalf("%d blocks after replaying an already-flushed segment, want 1", len(metas))
	}
}

func TestHeadIsCutBySize(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxBlockBytes = 10 << 10
	bkt := objstore.NewInMemBucket()
	ing := start(t, cfg, bkt, nil)
	defer services.StopAndAwaitTerminated(context.Background(), ing) //nolint:errcheck
	for seed := uint64(10); seed < 14; seed++ {
		es, _ := entries(t, seed, 10)
		if err := ing.Push(context.Background(), "t1", es); err != nil {
			t.Fatal(err)
		}
	}
	if err := ing.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	metas, _ := block.ListBlocks(context.Background(), bkt, "t1")
	if len(metas) < 4 {
		t.Fatalf("%d blocks for 4 pushes over max_block_bytes, want ≥ 4", len(metas))
	}
}

func TestPushRefusedWhenFlushesFallBehind(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxPendingBytes = 1
	ing := start(t, cfg, objstore.NewInMemBucket(), nil)
	defer services.StopAndAwaitTerminated(context.Background(), ing) //nolint:errcheck
	es, _ := entries(t, 5, 5)
	if err := ing.Push(context.Background(), "t1", es); err != nil {
		t.Fatal(err)
	}
	err := ing.Push(context.Background(), "t1", es)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("got %v, want ResourceExhausted naming the limit", err)
	}
}

func TestHeadIsCutAndFlushedByAge(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxBlockDuration = 200 * time.Millisecond
	cfg.FlushCheckPeriod = 50 * time.Millisecond
	bkt := objstore.NewInMemBucket()
	ing := start(t, cfg, bkt, nil)
	defer services.StopAndAwaitTerminated(context.Background(), ing) //nolint:errcheck
	es, want := entries(t, 20, 10)
	if err := ing.Push(context.Background(), "t1", es); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		metas, _ := block.ListBlocks(context.Background(), bkt, "t1")
		if len(metas) == 1 && metas[0].TotalObjects == int64(len(want)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no block %v after max_block_duration; blocks: %d", 10*time.Second, len(metas))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A restart (a rolling configuration change flushes every ingester in
// turn) must not leave flushed traces with nobody to answer for them
// until queriers poll the new blocks: the ingester keeps answering for
// the blocks it flushed within complete_block_timeout.
func TestRestartedIngesterStillAnswersForItsRecentBlocks(t *testing.T) {
	dir := t.TempDir()
	bkt := objstore.NewInMemBucket()
	cfg := testConfig(dir)
	cfg.CompleteBlockTimeout = time.Hour
	first := start(t, cfg, bkt, nil)
	es, want := entries(t, 7, 20)
	if err := first.Push(context.Background(), "t1", es); err != nil {
		t.Fatal(err)
	}
	if err := first.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := services.StopAndAwaitTerminated(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	second := start(t, cfg, bkt, s)
	defer services.StopAndAwaitTerminated(context.Background(), second) //nolint:errcheck
	expectTraces(t, func(id model.TraceID) (ptrace.Traces, bool, error) {
		return second.FindTraceByID(context.Background(), "t1", id)
	}, want)
	if len(s.metas) != 1 {
		t.Errorf("the restarted ingester told its querier of %d blocks, want 1", len(s.metas))
	}
}
