// Package ingester is the ingester role: per-tenant live traces in memory,
// a write-ahead log so that every acknowledged span survives a crash, and
// blocks cut by age and size and flushed to the object store.
package ingester

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/wal"
)

// BlockSink learns of every block the ingester writes, before the ingester
// drops its in-memory copy, so a trace never falls between the two.
type BlockSink interface {
	AddBlock(tenant string, m *block.Meta)
}

// Ingester is safe for concurrent use.
type Ingester struct {
	services.Service

	cfg     Config
	bkt     objstore.Bucket
	sink    BlockSink
	log     *slog.Logger
	metrics *metrics

	mu        sync.RWMutex
	instances map[string]*instance
	// recent are blocks this ingester flushed, still answered for.
	recent []recentBlock

	// Owns, when set, reports whether this ingester is the first healthy
	// replica of a trace: metrics queries count a live trace only there.
	Owns func(tenant string, id model.TraceID) bool

	flushQueue  chan *headBlock
	flushWG     sync.WaitGroup
	flushCtx    context.Context
	flushCancel context.CancelFunc
}

type recentBlock struct {
	tenant string
	r      *block.Reader
	until  time.Time
}

// instance is one tenant's data.
type instance struct {
	tenant     string
	mu         sync.RWMutex
	head       *headBlock
	completing []*headBlock
}

// New builds an ingester; it starts when its service starts (WAL replay first).
func New(cfg Config, bkt objstore.Bucket, sink BlockSink, log *slog.Logger, reg prometheus.Registerer) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	i := &Ingester{
		cfg: cfg, bkt: bkt, sink: sink, log: log,
		metrics:    newMetrics(reg),
		instances:  make(map[string]*instance),
		flushQueue: make(chan *headBlock, 4096),
	}
	i.flushCtx, i.flushCancel = context.WithCancel(context.Background())
	i.Service = services.NewBasicService(i.starting, i.running, i.stopping)
	return i, nil
}

func (i *Ingester) starting(ctx context.Context) error {
	if err := os.MkdirAll(i.cfg.WALPath, 0o755); err != nil {
		return fmt.Errorf("wal directory: %w", err)
	}
	if err := i.replayWAL(); err != nil {
		return err
	}
	i.loadRecent(ctx)
	for n := 0; n < i.cfg.ConcurrentFlushes; n++ {
		i.flushWG.Add(1)
		go i.flushLoop()
	}
	return nil
}

func (i *Ingester) running(ctx context.Context) error {
	t := time.NewTicker(i.cfg.FlushCheckPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			i.sweep(false)
		}
	}
}

// stopping closes the WAL segments; whatever is not yet in the object store
// is replayed and flushed by the next start.
func (i *Ingester) stopping(_ error) error {
	i.flushCancel() // ends the flush loops and any queueing; the WAL keeps the data
	i.flushWG.Wait()
	i.mu.RLock()
	defer i.mu.RUnlock()
	var errs []error
	for _, rb := range i.recent {
		_ = rb.r.Close()
	}
	for _, inst := range i.instances {
		inst.mu.Lock()
		if inst.head != nil {
			errs = append(errs, inst.head.seg.Close())
		}
		for _, hb := range inst.completing {
			errs = append(errs, hb.seg.Close())
		}
		inst.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (i *Ingester) instance(tenant string) *instance {
	i.mu.RLock()
	inst := i.instances[tenant]
	i.mu.RUnlock()
	if inst != nil {
		return inst
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if inst = i.instances[tenant]; inst == nil {
		inst = &instance{tenant: tenant}
		i.instances[tenant] = inst
	}
	return inst
}

// Push stores the entries of one request. When it returns nil the entries
// are in the WAL and readable by FindTraceByID. The Data slices are kept; the
// caller must not reuse them.
func (i *Ingester) Push(ctx context.Context, tenant string, entries []wal.Entry) error {
	if i.State() != services.Running {
		return status.Error(codes.Unavailable, "ingester is not running")
	}
	if pending := uint64(i.metrics.pendingBytes.Load()); pending > i.cfg.MaxPendingBytes {
		i.metrics.refused.Inc()
		return status.Errorf(codes.ResourceExhausted,
			"ingester: %d bytes wait for a flush to the object store, over ingester.max_pending_bytes (%d); retry later", pending, i.cfg.MaxPendingBytes)
	}
	rec, err := wal.EncodeRecord(entries)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	inst := i.instance(tenant)
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.head == nil {
		id := uuid.New()
		dir := filepath.Join(i.cfg.WALPath, tenant)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return status.Errorf(codes.Unavailable, "wal: %v", err)
		}
		seg, err := wal.Create(filepath.Join(dir, id.String()+wal.Ext))
		if err != nil {
			return status.Errorf(codes.Unavailable, "wal: %v", err)
		}
		inst.head = newHeadBlock(tenant, id, seg)
	}
	if err := inst.head.seg.Write(rec); err != nil {
		return status.Errorf(codes.Unavailable, "%v", err)
	}
	var n uint64
	for _, e := range entries {
		inst.head.add(e)
		n += uint64(len(e.Data))
	}
	i.metrics.bytesReceived.WithLabelValues(tenant).Add(float64(n))
	i.metrics.pendingBytes.Add(int64(n))
	if inst.head.bytes >= i.cfg.MaxBlockBytes {
		i.cutLocked(inst)
	}
	return nil
}

// cutLocked turns the head into a completing block and queues its flush.
func (i *Ingester) cutLocked(inst *instance) *headBlock {
	hb := inst.head
	if hb == nil {
		return nil
	}
	inst.head = nil
	inst.completing = append(inst.completing, hb)
	i.metrics.blocksCut.Inc()
	go i.queueFlush(hb)
	return hb
}

// queueFlush hands a cut block to the flush loops; at shutdown it gives up,
// and the WAL keeps the block's data for the next start.
func (i *Ingester) queueFlush(hb *headBlock) {
	select {
	case i.flushQueue <- hb:
	case <-i.flushCtx.Done():
	}
}

// sweep cuts heads that are old enough (or all of them when force is set),
// syncs the WAL, and returns the blocks that are waiting for a flush.
func (i *Ingester) sweep(force bool) []*headBlock {
	i.mu.Lock()
	now := time.Now()
	kept := i.recent[:0]
	for _, rb := range i.recent {
		if now.Before(rb.until) {
			kept = append(kept, rb)
		} else {
			_ = rb.r.Close()
		}
	}
	i.recent = kept
	i.mu.Unlock()
	i.mu.RLock()
	insts := make([]*instance, 0, len(i.instances))
	for _, inst := range i.instances {
		insts = append(insts, inst)
	}
	i.mu.RUnlock()
	var pending []*headBlock
	for _, inst := range insts {
		inst.mu.Lock()
		if inst.head != nil {
			if force || time.Since(inst.head.created) >= i.cfg.MaxBlockDuration {
				i.cutLocked(inst)
			} else if err := inst.head.seg.Sync(); err != nil {
				i.log.Warn("wal sync failed", "tenant", inst.tenant, "err", err)
			}
		}
		pending = append(pending, inst.completing...)
		live := 0
		if inst.head != nil {
			live = len(inst.head.traces)
		}
		i.metrics.liveTraces.WithLabelValues(inst.tenant).Set(float64(live))
		inst.mu.Unlock()
	}
	return pending
}

// Flush cuts every head and waits until every block is in the object store.
func (i *Ingester) Flush(ctx context.Context) error {
	if i.State() != services.Running {
		return errors.New("ingester is not running")
	}
	for _, hb := range i.sweep(true) {
		select {
		case <-hb.done:
		case <-ctx.Done():
			return fmt.Errorf("flush of block %s (tenant %s): %w", hb.id, hb.tenant, ctx.Err())
		}
	}
	return nil
}

func (i *Ingester) flushLoop() {
	defer i.flushWG.Done()
	for {
		var hb *headBlock
		select {
		case hb = <-i.flushQueue:
		case <-i.flushCtx.Done():
			return
		}
		backoff := time.Second
		for {
			if i.flushCtx.Err() != nil {
				return // shutting down: the WAL keeps the data for the next start
			}
			err := i.flushBlock(hb)
			if err == nil {
				break
			}
			i.metrics.flushFailures.Inc()
			i.log.Error("block flush failed; will retry", "tenant", hb.tenant, "block", hb.id, "err", err)
			select {
			case <-time.After(backoff):
			case <-i.flushCtx.Done():
				return
			}
			backoff = min(backoff*2, time.Minute)
		}
	}
}

// flushBlock writes a completing block and then, only then, drops it from
// memory and deletes its WAL segment.
func (i *Ingester) flushBlock(hb *headBlock) error {
	ctx, cancel := context.WithTimeout(i.flushCtx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	meta, err := block.ReadMeta(ctx, i.bkt, hb.tenant, hb.id)
	if err != nil {
		// Not there yet (the usual case): write it.
		meta, err = block.WriteBlock(ctx, i.bkt, hb.tenant, hb.iterator(), block.WriteOptions{BlockID: hb.id})
		if err != nil {
			return err
		}
	}
	if i.sink != nil {
		i.sink.AddBlock(hb.tenant, meta)
	}
	i.mu.Lock()
	i.recent = append(i.recent, recentBlock{hb.tenant, block.NewReader(i.bkt, meta), time.Now().Add(i.cfg.CompleteBlockTimeout)})
	i.mu.Unlock()
	i.saveRecent()
	inst := i.instance(hb.tenant)
	inst.mu.Lock()
	for n, c := range inst.completing {
		if c == hb {
			inst.completing = append(inst.completing[:n], inst.completing[n+1:]...)
			break
		}
	}
	inst.mu.Unlock()
	if err := hb.seg.Remove(); err != nil {
		i.log.Warn("removing flushed WAL segment", "path", hb.seg.Path(), "err", err)
	}
	i.metrics.pendingBytes.Add(-int64(hb.bytes))
	i.metrics.blocksFlushed.Inc()
	i.metrics.flushDuration.Observe(time.Since(start).Seconds())
	i.log.Info("block flushed", "tenant", hb.tenant, "block", hb.id, "traces", meta.TotalObjects, "spans", meta.TotalSpans, "bytes", meta.Size, "took", time.Since(start).Round(time.Millisecond))
	close(hb.done)
	return nil
}

// FindTraceByID returns the tenant's spans of the trace that are in memory
// (head and blocks waiting for their flush); found is false if there are none.
func (i *Ingester) FindTraceByID(ctx context.Context, tenant string, id model.TraceID) (ptrace.Traces, bool, error) {
	inst, recent := i.tenantData(tenant)
	var found []ptrace.Traces
	for _, r := range recent {
		td, ok, err := r.FindTraceByID(ctx, id)
		if err != nil {
			return ptrace.Traces{}, false, fmt.Errorf("recently flushed block %s: %w", r.Meta().BlockID, err)
		}
		if ok {
			found = append(found, td)
		}
	}
	live, ok, err := i.findLive(inst, id)
	if err != nil {
		return ptrace.Traces{}, false, err
	}
	if ok {
		found = append(found, live)
	}
	td, ok := model.Merge(found)
	return td, ok, nil
}

// tenantData is the tenant's in-memory data (nil if none) and its recently
// flushed blocks.
func (i *Ingester) tenantData(tenant string) (*instance, []*block.Reader) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	var recent []*block.Reader
	for _, rb := range i.recent {
		if rb.tenant == tenant {
			recent = append(recent, rb.r)
		}
	}
	return i.instances[tenant], recent
}

// findLive returns the trace's spans held in memory.
func (i *Ingester) findLive(inst *instance, id model.TraceID) (ptrace.Traces, bool, error) {
	if inst == nil {
		return ptrace.Traces{}, false, nil
	}
	var parts [][]byte
	inst.mu.RLock()
	if inst.head != nil {
		if lt := inst.head.traces[id]; lt != nil {
			parts = append(parts, lt.parts...)
		}
	}
	for _, hb := range inst.completing {
		if lt := hb.traces[id]; lt != nil {
			parts = append(parts, lt.parts...)
		}
	}
	inst.mu.RUnlock()
	if len(parts) == 0 {
		return ptrace.Traces{}, false, nil
	}
	td, err := decodeParts(parts)
	if err != nil {
		return ptrace.Traces{}, false, fmt.Errorf("decoding live trace %s: %w", id, err)
	}
	return td, true, nil
}

// replayWAL rebuilds every segment left by the last run as a completing block.
func (i *Ingester) replayWAL() error {
	tenants, err := os.ReadDir(i.cfg.WALPath)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if !t.IsDir() {
			continue
		}
		dir := filepath.Join(i.cfg.WALPath, t.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, f := range files {
			name := f.Name()
			id, perr := uuid.Parse(strings.TrimSuffix(name, wal.Ext))
			if !strings.HasSuffix(name, wal.Ext) || perr != nil {
				i.log.Warn("ignoring unknown file in WAL directory", "path", filepath.Join(dir, name))
				continue
			}
			if err := i.replaySegment(t.Name(), id, filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (i *Ingester) replaySegment(tenant string, id uuid.UUID, path string) error {
	seg, err := wal.Open(path)
	if err != nil {
		return err
	}
	hb := newHeadBlock(tenant, id, seg)
	entries := 0
	_, err = wal.Replay(path, func(e wal.Entry) error {
		e.Data = append([]byte(nil), e.Data...)
		hb.add(e)
		entries++
		return nil
	})
	if err != nil {
		if !errors.Is(err, wal.ErrCorrupt) {
			return fmt.Errorf("replaying %s: %w", path, err)
		}
		// A torn tail was never acknowledged; everything before it is kept.
		i.metrics.walCorrupt.Inc()
		i.log.Warn("WAL segment has a torn or corrupt tail; kept what precedes it", "path", path, "err", err)
	}
	i.metrics.walReplayed.Add(float64(entries))
	i.metrics.pendingBytes.Add(int64(hb.bytes))
	if len(hb.traces) == 0 {
		return seg.Remove()
	}
	inst := i.instance(tenant)
	inst.mu.Lock()
	inst.completing = append(inst.completing, hb)
	inst.mu.Unlock()
	i.log.Info("replayed WAL segment", "tenant", tenant, "block", id, "traces", len(hb.traces), "entries", entries)
	go i.queueFlush(hb)
	return nil
}
