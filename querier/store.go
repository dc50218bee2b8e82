package querier

import (
	"context"
	"flag"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/block"
)

// StoreConfig controls how the block list is kept.
type StoreConfig struct {
	// BlocklistPoll is how often the object store is listed for new and deleted blocks.
	BlocklistPoll time.Duration `yaml:"blocklist_poll"`
	// IndexMaxAge: a compactor's per-tenant index older than this is not
	// trusted and the blocks are listed instead.
	IndexMaxAge time.Duration `yaml:"blocklist_index_max_age"`
}

// Staleness is the longest a querier can go without seeing a block that
// exists: an index up to IndexMaxAge old, read up to one poll ago.
func (c StoreConfig) Staleness() time.Duration { return c.BlocklistPoll + c.IndexMaxAge }

// RegisterFlags registers the flags with defaults.
func (c *StoreConfig) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.IndexMaxAge, "storage.trace.blocklist-index-max-age", 90*time.Second, "Use a compactor's block index only while it is younger than this.")
	f.DurationVar(&c.BlocklistPoll, "storage.trace.blocklist-poll", 30*time.Second, "How often to read the block list (the compactor's per-tenant index, or a listing) for blocks written by other processes.")
}

// Store is the block list of every tenant with a cached reader per block.
// Blocks this process writes are added at once (AddBlock); blocks written
// elsewhere are found by the periodic poll. Safe for concurrent use.
type Store struct {
	services.Service

	bkt objstore.Bucket
	cfg StoreConfig
	log *slog.Logger

	mu      sync.RWMutex
	tenants map[string]map[uuid.UUID]*block.Reader

	blocks prometheus.Gauge
	polls  *prometheus.CounterVec
}

// NewStore makes a store; the first poll runs when its service starts.
func NewStore(bkt objstore.Bucket, cfg StoreConfig, log *slog.Logger, reg prometheus.Registerer) *Store {
	f := promauto.With(reg)
	s := &Store{
		bkt: bkt, cfg: cfg, log: log,
		tenants: make(map[string]map[uuid.UUID]*block.Reader),
		blocks:  f.NewGauge(prometheus.GaugeOpts{Name: "pace_blocklist_blocks", Help: "Blocks known to the querier, all tenants."}),
		polls:   f.NewCounterVec(prometheus.CounterOpts{Name: "pace_blocklist_polls_total", Help: "Block list polls, by result."}, []string{"result"}),
	}
	s.Service = services.NewTimerService(max(cfg.BlocklistPoll, time.Second), s.poll, s.poll, s.stopping)
	return s
}

// AddBlock makes a block visible to queries at once.
func (s *Store) AddBlock(tenant string, m *block.Meta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bl := s.tenants[tenant]
	if bl == nil {
		bl = make(map[uuid.UUID]*block.Reader)
		s.tenants[tenant] = bl
	}
	if _, ok := bl[m.BlockID]; !ok {
		bl[m.BlockID] = block.NewReader(s.bkt, m)
		s.blocks.Inc()
	}
}

// ReplaceBlocks makes a compaction's output visible at once. Its inputs
// stay searchable until they are deleted (compacted_block_retention later):
// other queriers learn of the output only at their next poll, and a
// query-frontend spreads one request's block shards over several queriers,
// so until every querier knows the output the inputs must remain where
// some querier may look for them. Duplicates are merged away by readers.
func (s *Store) ReplaceBlocks(tenant string, out *block.Meta, _ []*block.Meta) {
	s.AddBlock(tenant, out)
}

// gone reports whether an error reading r's block came from the block
// having been deleted (its meta.json is gone): compacted away, its data is
// in the output, so the block is simply skipped.
func (s *Store) gone(ctx context.Context, r *block.Reader) bool {
	ok, err := s.bkt.Exists(ctx, r.Meta().Dir()+block.MetaFile)
	return err == nil && !ok
}

// poll lists every tenant's blocks: new ones are added, vanished ones dropped.
func (s *Store) poll(ctx context.Context) error {
	tenants, err := block.ListTenants(ctx, s.bkt)
	if err != nil {
		s.polls.WithLabelValues("error").Inc()
		s.log.Warn("block list poll failed", "err", err)
		return nil // keep serving what we know; the next poll retries
	}
	found := make(map[string]map[uuid.UUID]*block.Meta, len(tenants))
	for _, t := range tenants {
		metas, err := s.liveBlocks(ctx, t)
		if err != nil {
			s.polls.WithLabelValues("error").Inc()
			s.log.Warn("block list poll failed", "tenant", t, "err", err)
			return nil
		}
		found[t] = make(map[uuid.UUID]*block.Meta, len(metas))
		for _, m := range metas {
			found[t][m.BlockID] = m
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Tenants whose last block is gone are not listed at all: drop theirs too.
	for t := range s.tenants {
		if _, ok := found[t]; !ok {
			found[t] = nil
		}
	}
	total := 0
	for t, metas := range found {
		bl := s.tenants[t]
		if bl == nil {
			bl = make(map[uuid.UUID]*block.Reader)
			s.tenants[t] = bl
		}
		for id, m := range metas {
			if _, ok := bl[id]; !ok {
				bl[id] = block.NewReader(s.bkt, m)
			}
		}
		for id, r := range bl {
			if _, ok := metas[id]; !ok {
				_ = r.Close()
				delete(bl, id)
			}
		}
		if len(bl) == 0 {
			delete(s.tenants, t)
		}
		total += len(bl)
	}
	s.blocks.Set(float64(total))
	s.polls.WithLabelValues("ok").Inc()
	return nil
}

func (s *Store) stopping(_ error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, bl := range s.tenants {
		for _, r := range bl {
			_ = r.Close()
		}
	}
	return nil
}

// readers returns the tenant's blocks that may hold data in [start, end]
// (zero times mean unbounded).
func (s *Store) readers(tenant string, start, end time.Time) []*block.Reader {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*block.Reader
	for _, r := range s.tenants[tenant] {
		m := r.Meta()
		if !start.IsZero() && m.EndTime.Before(start) {
			continue
		}
		if !end.IsZero() && m.StartTime.After(end) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// liveBlocks is a tenant's block list: the compactor's index when it is
// fresh (one read instead of a listing), else a listing. Compacted blocks
// are in it until they are deleted.
func (s *Store) liveBlocks(ctx context.Context, tenant string) ([]*block.Meta, error) {
	idx, err := block.ReadIndex(ctx, s.bkt, tenant)
	if err == nil && time.Since(idx.CreatedAt) < s.cfg.IndexMaxAge {
		// Blocks flushed since the index was written are not in it yet: their
		// ingesters keep answering for them (ingester.complete_block_timeout)
		// until a later index lists them.
		return withCompacted(idx.Metas, idx.Compacted), nil
	}
	live, compacted, err := block.ListBlocksAndCompacted(ctx, s.bkt, tenant)
	return withCompacted(live, compacted), err
}

// withCompacted adds the compacted blocks not yet deleted to the live ones
// (see ReplaceBlocks).
func withCompacted(live []*block.Meta, compacted []*block.CompactedMeta) []*block.Meta {
	out := append(make([]*block.Meta, 0, len(live)+len(compacted)), live...)
	for _, c := range compacted {
		out = append(out, &c.Meta)
	}
	return out
}
