package compactor

import (
	"errors"
	"flag"
	"time"
)

// Config of the compactor role.
type Config struct {
	// CompactionCycle is the time between two cycles.
	CompactionCycle time.Duration `yaml:"compaction_cycle"`
	// CompactionWindow groups blocks by the window their StartTime falls in;
	// only blocks of one window (and one compaction level) are merged together.
	CompactionWindow time.Duration `yaml:"compaction_window"`
	// MaxInputBlocks is the most blocks merged into one.
	MaxInputBlocks int `yaml:"max_input_blocks"`
	// MinInputBlocks is the fewest blocks worth a compaction.
	MinInputBlocks int `yaml:"min_input_blocks"`
	// MaxBlockBytes stops adding inputs to a job once their sizes add up to
	// it; blocks already this big are not compacted again.
	MaxBlockBytes uint64 `yaml:"max_block_bytes"`
	// BlockRetention deletes blocks whose newest span is older than this.
	BlockRetention time.Duration `yaml:"block_retention"`
	// CompactedBlockRetention is how long a compacted block stays readable
	// (for queries in flight) before it is deleted.
	CompactedBlockRetention time.Duration `yaml:"compacted_block_retention"`
}

// RegisterFlags registers the compactor flags with their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.CompactionCycle, "compactor.compaction-cycle", 30*time.Second, "Time between compaction cycles.")
	f.DurationVar(&c.CompactionWindow, "compactor.compaction-window", time.Hour, "Blocks whose start times fall in the same window of this length are compacted together.")
	f.IntVar(&c.MaxInputBlocks, "compactor.max-input-blocks", 8, "Most blocks merged into one.")
	f.IntVar(&c.MinInputBlocks, "compactor.min-input-blocks", 2, "Fewest blocks worth a compaction.")
	f.Uint64Var(&c.MaxBlockBytes, "compactor.max-block-bytes", 100<<30, "Stop adding inputs to a compaction once their sizes add up to this; blocks this big are not compacted again.")
	f.DurationVar(&c.BlockRetention, "compactor.block-retention", 720*time.Hour, "Delete blocks whose data is older than this.")
	f.DurationVar(&c.CompactedBlockRetention, "compactor.compacted-block-retention", time.Hour, "Keep compacted blocks readable this long before deleting them.")
}

// Validate checks the values.
func (c *Config) Validate() error {
	switch {
	case c.CompactionCycle <= 0:
		return errors.New("compactor.compaction_cycle must be positive")
	case c.CompactionWindow <= 0:
		return errors.New("compactor.compaction_window must be positive")
	case c.MinInputBlocks < 2:
		return errors.New("compactor.min_input_blocks must be at least 2")
	case c.MaxInputBlocks < c.MinInputBlocks:
		return errors.New("compactor.max_input_blocks must be at least compactor.min_input_blocks")
	case c.MaxBlockBytes == 0:
		return errors.New("compactor.max_block_bytes must be positive")
	case c.BlockRetention <= 0:
		return errors.New("compactor.block_retention must be positive")
	case c.CompactedBlockRetention <= 0:
		return errors.New("compactor.compacted_block_retention must be positive")
	}
	return nil
}
