package compactor

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	blocksCompacted   prometheus.Counter
	blocksWritten     prometheus.Counter
	blocksDeleted     *prometheus.CounterVec
	spansDeduplicated prometheus.Counter
	spansMerged       prometheus.Counter
	cycleDuration     prometheus.Histogram
	skippedNotOwner   prometheus.Counter
	jobFailures       prometheus.Counter
	indexWrites       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		blocksCompacted:   f.NewCounter(prometheus.CounterOpts{Name: "pace_compactor_blocks_compacted_total", Help: "Input blocks marked compacted after their data was written to a new block."}),
		blocksWritten:     f.NewCounter(prometheus.CounterOpts{Name: "pace_compactor_blocks_written_total", Help: "Blocks written by compaction."}),
		blocksDeleted:     f.NewCounterVec(prometheus.CounterOpts{Name: "pace_compactor_blocks_deleted_total", Help: "Blocks deleted, by reason (retention: past block retention; compacted: past compacted-block retention)."}, []string{"reason"}),
		spansDeduplicated: f.NewCounter(prometheus.CounterOpts{Name: "pace_compactor_spans_deduplicated_total", Help: "Duplicate spans dropped by compaction (spans in - spans out)."}),
		spansMerged:       f.NewCounter(prometheus.CounterOpts{Name: "pace_compactor_spans_written_total", Help: "Spans written to compacted blocks."}),
		cycleDuration:     f.NewHistogram(prometheus.HistogramOpts{Name: "pace_compactor_cycle_duration_seconds", Help: "Duration of a compaction cycle.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}),
		skippedNotOwner:   f.NewCounter(prometheus.CounterOpts{Name: "pace_compactor_jobs_skipped_not_owner_total", Help: "Jobs left to the compactor that owns them."}),
		jobFailures:       f.NewCounter(prometheus.CounterOpts{Name: "pace_compactor_job_failures_total", Help: "Compaction, retention and index jobs that failed and will be retried next cycle."}),
		indexWrites:       f.NewCounter(prometheus.CounterOpts{Name: "pace_compactor_index_writes_total", Help: "Tenant block indexes written."}),
	}
	m.blocksDeleted.WithLabelValues("retention")
	m.blocksDeleted.WithLabelValues("compacted")
	return m
}
