// Package compactor is the compactor role: it merges the blocks of a time
// window into bigger ones, dropping the duplicate spans that replication
// wrote to several blocks, deletes blocks past retention and writes each
// tenant's block index. Several compactors share the work: every job has a
// key and only the compactor that owns the key (Owner) does the job.
//
// Crash safety. A compaction writes <new block>/sources.json (the input
// block IDs), then the new block (meta.json last), then compacted.json into
// each input. Until an input is marked it stays live, so a reader sees its
// spans twice (in the input and in the new block) and dedupes them; no data
// is lost at any point. A cycle that finds a live block whose sources.json
// names live blocks marks those compacted, finishing the interrupted job.
// Compacted blocks stay readable for CompactedBlockRetention, then are
// deleted.
package compactor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/model"
)

// Owner decides which compactor does a job. Job keys are
// "index/<tenant>" (retention and the tenant index) and
// "compact/<tenant>/<window start, unix seconds>/<compaction level>".
type Owner interface {
	Owns(jobKey string) (bool, error)
}

// OwnAll owns every job: a lone compactor.
type OwnAll struct{}

// Owns implements Owner.
func (OwnAll) Owns(string) (bool, error) { return true, nil }

// Compactor is a dskit timer service running one cycle per CompactionCycle.
type Compactor struct {
	services.Service

	// OnCompacted, when set, learns of every compaction as soon as its
	// inputs are marked (a querier in this process swaps them for the output
	// at once instead of at its next block-list poll).
	OnCompacted func(tenant string, out *block.Meta, inputs []*block.Meta)

	cfg     Config
	bkt     objstore.Bucket
	owner   Owner
	log     *slog.Logger
	metrics *metrics
	lister  *block.Lister

	cycleMu sync.Mutex // one cycle at a time
	// sources caches the sources.json of compacted blocks (nil slice: none),
	// by <tenant>/<block ID>; guarded by cycleMu.
	sources map[string][]uuid.UUID

	now func() time.Time
	// afterWrite, when set (tests), runs after a compaction's output is
	// written and before its inputs are marked; an error aborts the job
	// there, as a crash would.
	afterWrite func(out *block.Meta) error
}

// New builds a compactor; a nil owner owns every job. cfg is expected to be
// valid (Config.Validate).
func New(cfg Config, bkt objstore.Bucket, owner Owner, log *slog.Logger, reg prometheus.Registerer) *Compactor {
	if owner == nil {
		owner = OwnAll{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Compactor{
		cfg: cfg, bkt: bkt, owner: owner, log: log,
		metrics: newMetrics(reg),
		lister:  block.NewLister(bkt),
		sources: map[string][]uuid.UUID{},
		now:     time.Now,
	}
	c.Service = services.NewTimerService(max(cfg.CompactionCycle, time.Second), nil, c.iteration, nil)
	return c
}

func (c *Compactor) iteration(ctx context.Context) error {
	if err := c.RunCycle(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("compaction cycle had errors; retrying next cycle", "err", err)
	}
	return nil // a failed cycle must not stop the service
}

// RunCycle runs one cycle over every tenant: retention, compaction, index.
// Errors of one job do not stop the others; they are all returned.
func (c *Compactor) RunCycle(ctx context.Context) error {
	c.cycleMu.Lock()
	defer c.cycleMu.Unlock()
	start := time.Now()
	defer func() { c.metrics.cycleDuration.Observe(time.Since(start).Seconds()) }()

	tenants, err := c.listTenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	var errs []error
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.runTenant(ctx, t); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// listTenants lists the top-level directories that are valid tenant names:
// unlike block.ListTenants it includes tenants left with an index but no
// block, whose index must be emptied.
func (c *Compactor) listTenants(ctx context.Context) ([]string, error) {
	var out []string
	err := c.bkt.Iter(ctx, "", func(name string) error {
		if len(name) < 2 || name[len(name)-1] != '/' {
			return nil
		}
		t := name[:len(name)-1]
		if model.ValidateTenant(t) == nil {
			out = append(out, t)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func (c *Compactor) owns(key string) bool {
	ok, err := c.owner.Owns(key)
	if err != nil {
		c.log.Warn("job ownership unknown; skipping", "job", key, "err", err)
		return false
	}
	if !ok {
		c.metrics.skippedNotOwner.Inc()
	}
	return ok
}

func (c *Compactor) runTenant(ctx context.Context, tenant string) error {
	ownsIndex := c.owns("index/" + tenant)
	live, compacted, err := c.lister.List(ctx, tenant)
	if err != nil {
		return err
	}
	now := c.now()
	var errs []error

	// Finish compactions interrupted between writing the output and marking
	// the inputs: the output is complete (it is listed), so its live inputs
	// are redundant. Any compactor may do it: marking is idempotent.
	live, err = c.finishInterrupted(ctx, tenant, live, now)
	if err != nil {
		errs = append(errs, err)
	}

	// Retention. Blocks past retention are not compacted by anyone.
	cutoff := now.Add(-c.cfg.BlockRetention)
	kept := live[:0:0]
	for _, m := range live {
		if !m.EndTime.Before(cutoff) {
			kept = append(kept, m)
			continue
		}
		if !ownsIndex {
			continue
		}
		if err := block.DeleteBlock(ctx, c.bkt, tenant, m.BlockID); err != nil {
			c.metrics.jobFailures.Inc()
			errs = append(errs, fmt.Errorf("retention: %w", err))
			continue
		}
		c.metrics.blocksDeleted.WithLabelValues("retention").Inc()
		c.log.Info("deleted block past retention", "tenant", tenant, "block", m.BlockID, "end", m.EndTime)
	}
	live = kept
	if ownsIndex {
		ccutoff := now.Add(-c.cfg.CompactedBlockRetention)
		for _, cm := range compacted {
			if !cm.CompactedTime.Before(ccutoff) {
				continue
			}
			if err := block.DeleteBlock(ctx, c.bkt, tenant, cm.BlockID); err != nil {
				c.metrics.jobFailures.Inc()
				errs = append(errs, fmt.Errorf("delete compacted: %w", err))
				continue
			}
			c.metrics.blocksDeleted.WithLabelValues("compacted").Inc()
		}
	}

	// Compaction, one job per (window, level) group we own.
	if err := c.compactTenant(ctx, tenant, live); err != nil {
		errs = append(errs, err)
	}

	if ownsIndex {
		if err := c.writeIndex(ctx, tenant); err != nil {
			c.metrics.jobFailures.Inc()
			errs = append(errs, fmt.Errorf("index: %w", err))
		}
	}
	return errors.Join(errs...)
}

// finishInterrupted marks compacted the live blocks that a live compacted
// block names in its sources.json, and returns the remaining live blocks.
func (c *Compactor) finishInterrupted(ctx context.Context, tenant string, live []*block.Meta, now time.Time) ([]*block.Meta, error) {
	byID := make(map[uuid.UUID]*block.Meta, len(live))
	for _, m := range live {
		byID[m.BlockID] = m
	}
	// Forget cached sources of blocks no longer live.
	prefix := tenant + "/"
	for key := range c.sources {
		if len(key) > len(prefix) && key[:len(prefix)] == prefix {
			if id, err := uuid.Parse(key[len(prefix):]); err != nil || byID[id] == nil {
				delete(c.sources, key)
			}
		}
	}
	var errs []error
	redundant := map[uuid.UUID]bool{}
	for _, m := range live {
		if m.CompactionLevel == 0 {
			continue // written by an ingester
		}
		key := prefix + m.BlockID.String()
		srcs, ok := c.sources[key]
		if !ok {
			s, err := block.ReadSources(ctx, c.bkt, tenant, m.BlockID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if s != nil {
				srcs = s.Blocks
			}
			c.sources[key] = srcs
		}
		for _, id := range srcs {
			in := byID[id]
			if in == nil || redundant[id] {
				continue
			}
			// The listing may be older than the compaction's own marking (a
			// compaction that took longer than a cycle): a block marked
			// since is done, not interrupted, and counted once.
			done, err := c.bkt.Exists(ctx, in.Dir()+block.CompactedFile)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			redundant[id] = true
			if done {
				continue
			}
			if err := block.MarkCompacted(ctx, c.bkt, in, now); err != nil {
				delete(redundant, id)
				errs = append(errs, err)
				continue
			}
			c.metrics.blocksCompacted.Inc()
			c.log.Info("finished interrupted compaction: marked input compacted", "tenant", tenant, "block", id, "output", m.BlockID)
		}
	}
	if len(redundant) == 0 {
		return live, errors.Join(errs...)
	}
	out := live[:0:0]
	for _, m := range live {
		if !redundant[m.BlockID] {
			out = append(out, m)
		}
	}
	return out, errors.Join(errs...)
}

type groupKey struct {
	window int64 // unix seconds
	level  int
}

func (c *Compactor) windowOf(t time.Time) int64 {
	w := int64(c.cfg.CompactionWindow / time.Second)
	if w <= 0 {
		w = 1
	}
	s := t.Unix()
	s -= ((s % w) + w) % w
	return s
}

func (c *Compactor) compactTenant(ctx context.Context, tenant string, live []*block.Meta) error {
	groups := map[groupKey][]*block.Meta{}
	for _, m := range live {
		if m.TotalBytes() >= int64(min(c.cfg.MaxBlockBytes, 1<<62)) {
			continue // big enough
		}
		k := groupKey{c.windowOf(m.StartTime), m.CompactionLevel}
		groups[k] = append(groups[k], m)
	}
	keys := make([]groupKey, 0, len(groups))
	for k, g := range groups {
		if len(g) >= c.cfg.MinInputBlocks {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].window != keys[j].window {
			return keys[i].window < keys[j].window
		}
		return keys[i].level < keys[j].level
	})
	var errs []error
	for _, k := range keys {
		jobKey := "compact/" + tenant + "/" + strconv.FormatInt(k.window, 10) + "/" + strconv.Itoa(k.level)
		if !c.owns(jobKey) {
			continue
		}
		g := groups[k]
		block.SortMetas(g) // oldest first
		for len(g) >= c.cfg.MinInputBlocks {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, size := 0, uint64(0)
			for n < len(g) && n < c.cfg.MaxInputBlocks && size < c.cfg.MaxBlockBytes {
				size += uint64(g[n].TotalBytes())
				n++
			}
			if n < c.cfg.MinInputBlocks {
				break
			}
			if err := c.compact(ctx, tenant, g[:n]); err != nil {
				c.metrics.jobFailures.Inc()
				errs = append(errs, fmt.Errorf("job %s: %w", jobKey, err))
				break
			}
			g = g[n:]
		}
	}
	return errors.Join(errs...)
}

// compact merges inputs into one new block, then marks them compacted.
func (c *Compactor) compact(ctx context.Context, tenant string, inputs []*block.Meta) error {
	start := time.Now()
	outID := uuid.New()
	level := 0
	var spansIn int64
	ids := make([]uuid.UUID, len(inputs))
	for i, m := range inputs {
		level = max(level, m.CompactionLevel)
		spansIn += m.TotalSpans
		ids[i] = m.BlockID
	}
	level++
	if err := block.WriteSources(ctx, c.bkt, tenant, outID, &block.Sources{Blocks: ids, CreatedAt: c.now().UTC()}); err != nil {
		return err
	}
	it := newMergeIterator(ctx, c.bkt, inputs)
	out, err := block.WriteBlock(ctx, c.bkt, tenant, it, block.WriteOptions{BlockID: outID, CompactionLevel: level})
	it.Close()
	if err != nil {
		// WriteBlock deleted what it had written, sources.json included.
		return fmt.Errorf("write compacted block: %w", err)
	}
	c.metrics.blocksWritten.Inc()
	c.metrics.spansMerged.Add(float64(out.TotalSpans))
	if d := spansIn - out.TotalSpans; d > 0 {
		c.metrics.spansDeduplicated.Add(float64(d))
	}
	c.sources[tenant+"/"+outID.String()] = ids
	if c.afterWrite != nil {
		if err := c.afterWrite(out); err != nil {
			return err
		}
	}
	now := c.now()
	var errs []error
	for _, m := range inputs {
		if err := block.MarkCompacted(ctx, c.bkt, m, now); err != nil {
			errs = append(errs, err) // the next cycle marks it (sources.json)
			continue
		}
		c.metrics.blocksCompacted.Inc()
	}
	if c.OnCompacted != nil {
		c.OnCompacted(tenant, out, inputs)
	}
	c.log.Info("compacted blocks", "tenant", tenant, "inputs", len(inputs), "output", outID, "level", level,
		"traces", out.TotalObjects, "spans_in", spansIn, "spans_out", out.TotalSpans, "bytes", out.TotalBytes(), "duration", time.Since(start))
	return errors.Join(errs...)
}

// writeIndex lists the tenant again (cheap: metas are cached) and writes
// its index. A tenant left with no block at all gets an empty index if it
// had one.
func (c *Compactor) writeIndex(ctx context.Context, tenant string) error {
	live, compacted, err := c.lister.List(ctx, tenant)
	if err != nil {
		return err
	}
	if len(live) == 0 && len(compacted) == 0 {
		ok, err := c.bkt.Exists(ctx, block.IndexPath(tenant))
		if err != nil || !ok {
			return err
		}
	}
	if live == nil {
		live = []*block.Meta{}
	}
	if compacted == nil {
		compacted = []*block.CompactedMeta{}
	}
	if err := block.WriteIndex(ctx, c.bkt, tenant, &block.Index{CreatedAt: c.now().UTC(), Metas: live, Compacted: compacted}); err != nil {
		return err
	}
	c.metrics.indexWrites.Inc()
	return nil
}
