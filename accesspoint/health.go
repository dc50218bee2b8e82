package accesspoint

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Default health-check settings: a worker that stops answering /ready
// leaves the pools within about two intervals.
const (
	DefaultCheckInterval = time.Second
	DefaultCheckTimeout  = time.Second
)

// Health polls the /ready URL of every backend any pool holds and keeps the
// answer. One Health serves all pools: a worker has one /ready whatever
// number of ports it is proxied on, so it is checked once per interval.
//
// A URL is healthy after a check answered 200 and until a check fails; a
// URL never checked yet is unhealthy, so a new worker gets no traffic before
// it says it is ready.
type Health struct {
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger
	client   *http.Client

	mu      sync.Mutex
	targets map[string]*target // by ready URL

	kick chan struct{} // a target was added: check it without waiting a tick
}

// target is the health of one ready URL, shared by every pool member that
// names it. Fields are atomic because the request path reads them on every
// pick.
type target struct {
	url  string
	refs int // members holding it; guarded by Health.mu

	healthy atomic.Bool
	checked atomic.Bool  // at least one check finished
	busy    atomic.Bool  // a check is in flight; checks never overlap
	passAt  atomic.Int64 // start (monotonic, see now) of the last passing check
}

// NewHealth returns a checker that polls every interval with the given
// per-check timeout (zero values take the defaults). Nothing is checked
// until Run is called.
func NewHealth(interval, timeout time.Duration, log *slog.Logger) *Health {
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	if log == nil {
		log = slog.Default()
	}
	return &Health{
		interval: interval,
		timeout:  timeout,
		log:      log,
		client: &http.Client{
			Transport: &http.Transport{
				Proxy:               nil, // workers are never reached through an environment proxy
				DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     3 * interval,
				DisableCompression:  true,
			},
			// A redirect from /ready is not a 200 from /ready.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		targets: make(map[string]*target),
		kick:    make(chan struct{}, 1),
	}
}

// Run checks every known ready URL at once and then every interval, until
// ctx is done; it returns after the checks in flight have finished.
func (h *Health) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(h.interval)
	defer tick.Stop()
	h.checkAll(ctx, &wg, false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			h.checkAll(ctx, &wg, false)
		case <-h.kick:
			h.checkAll(ctx, &wg, true)
		}
	}
}

// Healthy reports whether the last check of readyURL passed. A URL no pool
// holds is not healthy.
func (h *Health) Healthy(readyURL string) bool {
	h.mu.Lock()
	t := h.targets[readyURL]
	h.mu.Unlock()
	return t != nil && t.healthy.Load()
}

// acquire returns the shared target for url, creating it (unhealthy) if no
// member held it yet.
func (h *Health) acquire(url string) *target {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.targets[url]
	if t == nil {
		t = &target{url: url}
		h.targets[url] = t
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
	t.refs++
	return t
}

// release drops one member's hold on t; the last one stops its checks.
func (h *Health) release(t *target) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t.refs--
	if t.refs <= 0 && h.targets[t.url] == t {
		delete(h.targets, t.url)
	}
}

func (h *Health) checkAll(ctx context.Context, wg *sync.WaitGroup, onlyNew bool) {
	h.mu.Lock()
	ts := make([]*target, 0, len(h.targets))
	for _, t := range h.targets {
		if onlyNew && t.checked.Load() {
			continue
		}
		ts = append(ts, t)
	}
	h.mu.Unlock()
	for _, t := range ts {
		// A check still running (slow worker, timeout > interval) is not
		// doubled: its answer is the one that counts.
		if t.url == "" || !t.busy.CompareAndSwap(false, true) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer t.busy.Store(false)
			h.check(ctx, t)
		}()
	}
}

func (h *Health) check(ctx context.Context, t *target) {
	start := now()
	err := h.probe(ctx, t.url)
	if ctx.Err() != nil {
		return // shutting down: the failure is ours, not the worker's
	}
	first := !t.checked.Swap(true)
	if err == nil {
		// passAt before healthy: a member ejected after start stays out
		// until a check that began after its ejection passes (see member).
		t.passAt.Store(start)
		if !t.healthy.Swap(true) {
			h.log.Info("backend ready", "ready_url", t.url)
		}
		return
	}
	if t.healthy.Swap(false) {
		h.log.Warn("backend not ready, leaving the pools", "ready_url", t.url, "err", err)
	} else if first {
		h.log.Info("backend not ready yet", "ready_url", t.url, "err", err)
	}
}

func (h *Health) probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	// Drain a little so the connection is reused for the next check.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/ready answered %s", resp.Status)
	}
	return nil
}

// epoch anchors now: time.Since keeps the monotonic clock, so ejection and
// check times compare correctly across wall-clock jumps.
var epoch = time.Now()

// now is monotonic nanoseconds since epoch, never 0 (0 means "never").
func now() int64 { return int64(time.Since(epoch)) + 1 }
