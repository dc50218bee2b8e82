package ingester

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	bytesReceived *prometheus.CounterVec
	liveTraces    *prometheus.GaugeVec
	pendingBytes  *atomic.Int64
	blocksCut     prometheus.Counter
	blocksFlushed prometheus.Counter
	flushFailures prometheus.Counter
	flushDuration prometheus.Histogram
	refused       prometheus.Counter
	walReplayed   prometheus.Counter
	walCorrupt    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	pending := new(atomic.Int64)
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "pace_ingester_pending_bytes", Help: "Bytes held in memory until their block is in the object store."},
		func() float64 { return float64(pending.Load()) })
	return &metrics{
		pendingBytes:  pending,
		bytesReceived: f.NewCounterVec(prometheus.CounterOpts{Name: "pace_ingester_bytes_received_total", Help: "OTLP protobuf bytes pushed to the ingester, by tenant."}, []string{"tenant"}),
		liveTraces:    f.NewGaugeVec(prometheus.GaugeOpts{Name: "pace_ingester_live_traces", Help: "Traces in the head block, by tenant."}, []string{"tenant"}),
		blocksCut:     f.NewCounter(prometheus.CounterOpts{Name: "pace_ingester_blocks_cut_total", Help: "Head blocks cut for flushing."}),
		blocksFlushed: f.NewCounter(prometheus.CounterOpts{Name: "pace_ingester_blocks_flushed_total", Help: "Blocks written to the object store."}),
		flushFailures: f.NewCounter(prometheus.CounterOpts{Name: "pace_ingester_failed_flushes_total", Help: "Block flushes that failed and will be retried."}),
		flushDuration: f.NewHistogram(prometheus.HistogramOpts{Name: "pace_ingester_flush_duration_seconds", Help: "Time to write one block to the object store.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}),
		refused:       f.NewCounter(prometheus.CounterOpts{Name: "pace_ingester_refused_pushes_total", Help: "Pushes refused because too much data waits for a flush."}),
		walReplayed:   f.NewCounter(prometheus.CounterOpts{Name: "pace_ingester_wal_replayed_entries_total", Help: "Trace entries recovered from the WAL at start."}),
		walCorrupt:    f.NewCounter(prometheus.CounterOpts{Name: "pace_ingester_wal_corrupt_segments_total", Help: "WAL segments whose tail was torn or corrupt at replay."}),
	}
}
