package ingester

import (
	"errors"
	"flag"
	"time"
)

// Config of the ingester role.
type Config struct {
	// MaxBlockDuration cuts the head block this long after its first write.
	MaxBlockDuration time.Duration `yaml:"max_block_duration"`
	// MaxBlockBytes cuts the head block once it holds this many bytes of OTLP protobuf.
	MaxBlockBytes uint64 `yaml:"max_block_bytes"`
	// FlushCheckPeriod is how often heads are checked for age and the WAL synced.
	FlushCheckPeriod time.Duration `yaml:"flush_check_period"`
	// ConcurrentFlushes is the number of blocks written to the object store at once.
	ConcurrentFlushes int `yaml:"concurrent_flushes"`
	// MaxPendingBytes bounds the data held in memory waiting for a flush;
	// beyond it pushes are refused (RESOURCE_EXHAUSTED) instead of running out of memory.
	MaxPendingBytes uint64 `yaml:"max_pending_bytes"`
	// CompleteBlockTimeout is how long the ingester keeps answering for a
	// block it flushed (reading it from the object store), so queriers in
	// other processes have time to find it by their block-list poll.
	CompleteBlockTimeout time.Duration `yaml:"complete_block_timeout"`
	// ReplicationFactor is how many ingesters store each trace; a write
	// succeeds on a quorum of them.
	ReplicationFactor int `yaml:"replication_factor"`
	// WALPath is set from storage.trace.wal.path.
	WALPath string `yaml:"-"`
}

// RegisterFlags registers the ingester flags with their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.MaxBlockDuration, "ingester.max-block-duration", 5*time.Minute, "Cut the head block after this long.")
	f.Uint64Var(&c.MaxBlockBytes, "ingester.max-block-bytes", 128<<20, "Cut the head block at this many bytes.")
	f.DurationVar(&c.FlushCheckPeriod, "ingester.flush-check-period", 10*time.Second, "How often to check heads for age and sync the WAL.")
	f.IntVar(&c.ConcurrentFlushes, "ingester.concurrent-flushes", 2, "Blocks written to the object store at once.")
	f.Uint64Var(&c.MaxPendingBytes, "ingester.max-pending-bytes", 512<<20, "Refuse pushes while this many bytes wait for a flush.")
	f.DurationVar(&c.CompleteBlockTimeout, "ingester.complete-block-timeout", 3*time.Minute, "Keep answering for flushed blocks this long (longer than storage.trace.blocklist_poll + blocklist_index_max_age).")
	f.IntVar(&c.ReplicationFactor, "ingester.replication-factor", 1, "Ingesters that store each trace (3 with three or more ingesters); writes succeed on a quorum.")
}

// Validate checks the values.
func (c *Config) Validate() error {
	switch {
	case c.MaxBlockDuration <= 0:
		return errors.New("ingester.max_block_duration must be positive")
	case c.MaxBlockBytes == 0:
		return errors.New("ingester.max_block_bytes must be positive")
	case c.FlushCheckPeriod <= 0:
		return errors.New("ingester.flush_check_period must be positive")
	case c.ConcurrentFlushes <= 0:
		return errors.New("ingester.concurrent_flushes must be positive")
	case c.ReplicationFactor < 1:
		return errors.New("ingester.replication_factor must be at least 1")
	case c.WALPath == "":
		return errors.New("storage.trace.wal.path is empty")
	}
	return nil
}
