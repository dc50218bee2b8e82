package coordinator

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	workers *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		workers: promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
			Name: "pace_coordinator_workers", Help: "Registered workers, by the state they report.",
		}, []string{"state"}),
	}
}

func (m *metrics) observe(workers []entry) {
	for _, s := range []string{StateWaiting, StateStarting, StateReady, StateRestarting, StateFailed} {
		n := 0
		for _, w := range workers {
			if w.reg.State == s {
				n++
			}
		}
		m.workers.WithLabelValues(s).Set(float64(n))
	}
}
