package accesspoint

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestReadyDecidesMembership: a new backend gets nothing until its /ready
// passes; one whose /ready turns 503 leaves within two intervals, gets no
// requests, and comes back when ready again.
func TestReadyDecidesMembership(t *testing.T) {
	const interval = 100 * time.Millisecond
	h := NewHealth(interval, interval, testLogger(t))
	reg := prometheus.NewRegistry()
	p := NewPool("query_http", "query-frontend", h, reg)
	var bs []*httpBackend
	for i := range 3 {
		bs = append(bs, newHTTPBackend(t, fmt.Sprintf("w%d", i)))
	}
	p.Set([]Backend{bs[0].backend(), bs[1].backend(), bs[2].backend()})
	if got := p.Healthy(); len(got) != 0 {
		t.Fatalf("before any check: healthy = %v, want none", got)
	}
	runHealth(t, h)
	waitHealthy(t, p, 3)
	srv, _ := front(t, NewHTTPProxy(p, WithLogger(testLogger(t))))

	bs[1].ready.Store(false)
	start := time.Now()
	waitFor(t, 5*time.Second, func() bool { return !hasBackend(p.Healthy(), "w1") })
	// Two intervals, plus scheduling slack for a loaded machine under -race.
	if d := time.Since(start); d > 2*interval+50*time.Millisecond {
		t.Errorf("unready backend left after %v, want within 2 intervals (%v)", d, 2*interval)
	}
	if !h.Healthy(bs[0].backend().ReadyURL) || h.Healthy(bs[1].backend().ReadyURL) {
		t.Error("Health.Healthy disagrees with the pool")
	}
	if v := metricValue(t, reg, "pace_accesspoint_backends", map[string]string{"pool": "query_http", "state": "unhealthy"}); v != 1 {
		t.Errorf("backends{state=unhealthy} = %v, want 1", v)
	}
	hits := bs[1].hits.Load()
	for range 6 {
		resp, err := http.Get(srv.URL + "/api/echo")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if bs[1].hits.Load() != hits {
		t.Error("unready backend still got requests")
	}

	bs[1].ready.Store(true)
	waitFor(t, 2*time.Second, func() bool { return hasBackend(p.Healthy(), "w1") })

	// Leaving the pool for good stops its checks.
	p.Set([]Backend{bs[0].backend()})
	if h.Healthy(bs[1].backend().ReadyURL) {
		t.Error("removed backend's ready URL still tracked")
	}
}
