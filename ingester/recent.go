package ingester

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/pace-tracing/pace/block"
)

// recentFile lists the blocks this ingester flushed and still answers for,
// so that it keeps answering for them after a restart: queriers learn a new
// block only at their next block-list poll, and an ingester restarted in
// between (a rolling restart flushes every ingester in turn) would
// otherwise leave its traces with nobody to find them for a while.
const recentFile = "recent-blocks.json"

type recentEntry struct {
	Tenant string    `json:"tenant"`
	Block  uuid.UUID `json:"block"`
	Until  time.Time `json:"until"`
}

// saveRecent writes the list of recent blocks (atomically: a crash leaves
// the old list or the new one).
func (i *Ingester) saveRecent() {
	i.mu.RLock()
	entries := make([]recentEntry, 0, len(i.recent))
	for _, rb := range i.recent {
		entries = append(entries, recentEntry{rb.tenant, rb.r.Meta().BlockID, rb.until})
	}
	i.mu.RUnlock()
	b, _ := json.Marshal(entries)
	path := filepath.Join(i.cfg.WALPath, recentFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err == nil {
		err = os.Rename(tmp, path)
		if err == nil {
			return
		}
	}
	i.log.Warn("could not save the list of recently flushed blocks; after a restart queriers find them at their next poll", "path", path)
}

// loadRecent opens the recent blocks of the last run that are still within
// complete_block_timeout.
func (i *Ingester) loadRecent(ctx context.Context) {
	b, err := os.ReadFile(filepath.Join(i.cfg.WALPath, recentFile))
	if err != nil {
		return
	}
	var entries []recentEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		i.log.Warn("ignoring an unreadable list of recently flushed blocks", "err", err)
		return
	}
	now := time.Now()
	for _, e := range entries {
		if !now.Before(e.Until) {
			continue
		}
		meta, err := block.ReadMeta(ctx, i.bkt, e.Tenant, e.Block)
		if err != nil {
			continue // compacted away and deleted, or never there
		}
		if i.sink != nil {
			i.sink.AddBlock(e.Tenant, meta)
		}
		i.mu.Lock()
		i.recent = append(i.recent, recentBlock{e.Tenant, block.NewReader(i.bkt, meta), e.Until})
		i.mu.Unlock()
	}
}
