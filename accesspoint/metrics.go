package accesspoint

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
)

// poolMetrics are one pool's series. Each pool registers its own collectors
// with a constant pool label, so pools share a Registerer without sharing
// state.
type poolMetrics struct {
	requests *prometheus.CounterVec
	retries  prometheus.Counter
	udp      *prometheus.CounterVec
}

func newPoolMetrics(p *Pool, reg prometheus.Registerer) *poolMetrics {
	pool := prometheus.Labels{"pool": p.name}
	m := &poolMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pace_accesspoint_requests_total",
			Help: "Requests the access point answered, by pool and outcome: the HTTP status class (2xx ... 5xx), " +
				"grpc_<Code> for gRPC calls, canceled when the client left before an answer, " +
				"or aborted when the backend's answer broke off midway.",
			ConstLabels: pool,
		}, []string{"class"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "pace_accesspoint_retries_total",
			Help:        "Requests sent again to another backend after the previous one could not be reached or answered 502/503.",
			ConstLabels: pool,
		}),
		udp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "pace_accesspoint_udp_datagrams_total",
			Help:        "UDP datagrams received by the access point, by result: forwarded, or dropped (no healthy backend, or the send failed).",
			ConstLabels: pool,
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.retries, m.udp, &backendsCollector{
			p: p,
			desc: prometheus.NewDesc("pace_accesspoint_backends",
				"Backends in the pool, by state: healthy (getting traffic) or unhealthy (not ready, or ejected after a connection failure).",
				[]string{"state"}, pool),
		})
	}
	return m
}

// backendsCollector counts the pool's members at scrape time, so the gauge
// is never stale and the request path does no bookkeeping for it.
type backendsCollector struct {
	p    *Pool
	desc *prometheus.Desc
}

func (c *backendsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *backendsCollector) Collect(ch chan<- prometheus.Metric) {
	var healthy, unhealthy float64
	for _, m := range *c.p.members.Load() {
		if m.usable() {
			healthy++
		} else {
			unhealthy++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, healthy, "healthy")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, unhealthy, "unhealthy")
}

var (
	httpClasses = [...]string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"}
	grpcClasses = func() (c [17]string) {
		for i := range c {
			c[i] = "grpc_" + codes.Code(i).String()
		}
		return c
	}()
)

// outcome is the class label for a finished request. For gRPC the status
// lives in the grpc-status header (trailers-only answer) or trailer; the
// reverse proxy leaves trailers in the header map, under http.TrailerPrefix
// when they were not announced.
func outcome(code int, h http.Header, grpc, canceled bool) string {
	if canceled || code == 0 {
		return "canceled"
	}
	if grpc && code == http.StatusOK {
		v := h["Grpc-Status"]
		if len(v) == 0 {
			v = h[http.TrailerPrefix+"Grpc-Status"]
		}
		if len(v) > 0 {
			if n, err := strconv.Atoi(v[0]); err == nil && n >= 0 && n < len(grpcClasses) {
				return grpcClasses[n]
			}
			return "grpc_Unknown"
		}
	}
	if c := code / 100; c >= 1 && c <= 5 {
		return httpClasses[c]
	}
	return "other"
}
