// Package worker is `pace worker`: a process that registers with its
// coordinators, heartbeats, waits for the configuration they render for
// it, runs its roles in-process, and restarts them when a new version is
// handed out — draining first, so the access point stops sending it
// traffic, and flushing its ingester before it leaves the ring.
package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/coordinator"
)

// Config is how a worker is started (pace worker flags).
type Config struct {
	// Coordinators are the URLs of every coordinator replica; the worker
	// heartbeats to each, so each has the whole registry.
	Coordinators []string
	Name         string
	Roles        []string
	// Address is the host others reach this worker at.
	Address string
	// BindAddress is where its servers listen.
	BindAddress string
	// PortOffset is added to every default port (3200, 9095, 7946, 4317...).
	PortOffset int
	DataDir    string
	// DrainDelay is how long the worker fails /ready before it stops its
	// roles, so that the access point has stopped sending it requests.
	DrainDelay time.Duration
	// RetryDelay is the wait before starting again after a failure.
	RetryDelay time.Duration
}

// Validate checks the flags; the role error lists the valid roles.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Coordinators) == 0 {
		errs = append(errs, errors.New("--coordinator: give the URL of at least one coordinator"))
	}
	for _, u := range c.Coordinators {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			errs = append(errs, fmt.Errorf("--coordinator %q: not an http(s) URL", u))
		}
	}
	roles, err := app.ParseTargets(strings.Join(c.Roles, ","))
	if err != nil {
		errs = append(errs, fmt.Errorf("--role: %w", err))
	}
	c.Roles = roles
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data: give a directory for the WAL"))
	}
	if c.PortOffset < 0 || c.PortOffset+14268 > 65535 {
		errs = append(errs, fmt.Errorf("--port-offset %d puts ports out of range", c.PortOffset))
	}
	if c.Name == "" {
		h, _ := os.Hostname()
		c.Name = fmt.Sprintf("%s-%d", h, 3200+c.PortOffset)
	}
	c.Address = coordinator.AdvertiseHost(c.Address, c.BindAddress)
	if c.DrainDelay <= 0 {
		c.DrainDelay = 2 * time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 5 * time.Second
	}
	return errors.Join(errs...)
}

// Worker is one worker process. Safe for concurrent use.
type Worker struct {
	cfg   Config
	log   *slog.Logger
	ports map[string]int

	mu      sync.Mutex
	state   string
	reason  string
	version string // configuration version it runs (or is starting)
	text    string // and its text
	rf      int    // and its replication factor
	app     atomic.Pointer[app.App]

	want     chan desired
	interval atomic.Int64 // heartbeat interval, ns
	client   *http.Client
}

type desired struct{ version, text string }

// New builds a worker from validated cfg.
func New(cfg Config, log *slog.Logger) *Worker {
	w := &Worker{cfg: cfg, log: log, ports: coordinator.WorkerPorts(cfg.PortOffset), state: coordinator.StateWaiting,
		want: make(chan desired, 1), client: &http.Client{Timeout: 3 * time.Second}}
	w.interval.Store(int64(time.Second))
	return w
}

func (w *Worker) setState(state, reason string) {
	w.mu.Lock()
	changed := w.state != state || w.reason != reason
	w.state, w.reason = state, reason
	w.mu.Unlock()
	if changed {
		w.log.Info("worker state", "state", state, "reason", reason)
	}
}

// Ready reports whether the roles run and are ready.
func (w *Worker) Ready() bool {
	w.mu.Lock()
	st := w.state
	w.mu.Unlock()
	a := w.app.Load()
	return st == coordinator.StateReady && a != nil && a.Ready()
}

// Registration is what the worker tells its coordinators.
func (w *Worker) Registration() coordinator.Registration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return coordinator.Registration{
		Name: w.cfg.Name, Address: w.cfg.Address, BindAddress: w.cfg.BindAddress,
		Roles: w.cfg.Roles, Version: app.Version, Ports: w.ports, DataDir: w.cfg.DataDir,
		State: w.state, Reason: w.reason, ConfigVersion: w.version, ReplicationFactor: w.rf,
	}
}

// Run serves the worker's HTTP port, registers and runs its roles until
// ctx ends; then it stops them cleanly and leaves the registry.
func (w *Worker) Run(ctx context.Context) error {
	if err := os.MkdirAll(w.cfg.DataDir, 0o755); err != nil {
		return err
	}
	addr := net.JoinHostPort(w.cfg.BindAddress, strconv.Itoa(w.ports[coordinator.PortHTTP]))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("HTTP on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: w.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	w.log.Info("worker registering", "name", w.cfg.Name, "roles", strings.Join(w.cfg.Roles, ","), "coordinators", strings.Join(w.cfg.Coordinators, ","), "http", addr)

	hbCtx, stopHB := context.WithCancel(context.Background())
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); w.heartbeatLoop(hbCtx) }()

	w.supervise(ctx)

	// ctx is done: the roles have stopped (supervise returns after that).
	stopHB()
	<-hbDone
	w.leave()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

func (w *Worker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(rw http.ResponseWriter, _ *http.Request) {
		if !w.Ready() {
			r := w.Registration()
			msg := "not ready: worker is " + r.State
			if r.Reason != "" {
				msg += ": " + r.Reason
			}
			http.Error(rw, msg, http.StatusServiceUnavailable)
			return
		}
		_, _ = rw.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /api/v1/worker", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(w.Registration())
	})
	mux.HandleFunc("GET /api/v1/worker/config", func(rw http.ResponseWriter, _ *http.Request) {
		w.mu.Lock()
		text := w.text
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/yaml")
		_, _ = io.WriteString(rw, text)
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		if a := w.app.Load(); a != nil {
			a.Handler().ServeHTTP(rw, r)
			return
		}
		http.Error(rw, "worker is "+w.Registration().State, http.StatusServiceUnavailable)
	})
	return mux
}

// heartbeatLoop registers with every coordinator, again and again, and
// queues a configuration when every coordinator that answered hands out
// the same one: replicas that disagree for a moment (one reloaded before
// the other) must not make the worker flip between two versions.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	disagreed := false
	for {
		var granted []*coordinator.Assignment
		answered := 0
		for _, c := range w.cfg.Coordinators {
			a, err := w.heartbeat(ctx, c)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Warn("heartbeat failed", "coordinator", c, "err", err)
				}
				continue
			}
			answered++
			if a.HeartbeatInterval > 0 {
				w.interval.Store(int64(a.HeartbeatInterval))
			}
			if a.Config != "" {
				granted = append(granted, a)
			}
		}
		agree := answered > 0 && len(granted) == answered
		for _, a := range granted {
			agree = agree && a.ConfigVersion == granted[0].ConfigVersion
		}
		if len(granted) > 0 && !agree && !disagreed {
			w.log.Warn("coordinators do not hand out the same configuration yet; waiting for them to agree")
		}
		disagreed = len(granted) > 0 && !agree
		if agree && granted[0].ConfigVersion != w.Registration().ConfigVersion {
			select { // the newest wins
			case <-w.want:
			default:
			}
			w.want <- desired{version: granted[0].ConfigVersion, text: granted[0].Config}
		}
		wait := time.Duration(w.interval.Load())
		if answered == 0 && w.Registration().ConfigVersion == "" {
			wait = min(wait, 200*time.Millisecond) // a coordinator starting with us
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (w *Worker) heartbeat(ctx context.Context, base string) (*coordinator.Assignment, error) {
	body, _ := json.Marshal(w.Registration())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v1/workers/"+w.cfg.Name, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var a coordinator.Assignment
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decoding the assignment: %w", err)
	}
	return &a, nil
}

// leave tells every coordinator this worker is gone for good.
func (w *Worker) leave() {
	for _, c := range w.cfg.Coordinators {
		req, _ := http.NewRequest(http.MethodDelete, strings.TrimRight(c, "/")+"/api/v1/workers/"+w.cfg.Name, nil)
		if resp, err := w.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

// supervise runs the roles with the newest configuration handed out,
// restarting them on a new version, until ctx ends.
func (w *Worker) supervise(ctx context.Context) {
	var (
		cur     desired
		stop    context.CancelFunc
		done    chan error
		retryAt <-chan time.Time
	)
	stopRoles := func() {
		if stop == nil {
			return
		}
		// Fail /ready first, so the access point has moved on before the
		// ports close.
		w.setState(coordinator.StateRestarting, "draining before the roles stop")
		time.Sleep(w.cfg.DrainDelay)
		stop()
		if err := <-done; err != nil {
			w.log.Warn("roles stopped with an error", "err", err)
		}
		stop, done = nil, nil
		w.app.Store(nil)
	}
	start := func(d desired) {
		cur = d
		cfg, err := app.ParseConfig([]byte(d.text))
		if err != nil {
			w.mu.Lock()
			w.version = d.version
			w.mu.Unlock()
			w.setState(coordinator.StateFailed, "configuration "+d.version+" does not validate: "+err.Error())
			return
		}
		a := app.NewWithOptions(cfg, w.log, app.Options{ExternalHTTP: true, Cluster: true})
		w.mu.Lock()
		w.version, w.text, w.rf = d.version, d.text, cfg.Ingester.ReplicationFactor
		w.mu.Unlock()
		w.setState(coordinator.StateStarting, "configuration "+d.version)
		w.app.Store(a)
		var rctx context.Context
		rctx, stop = context.WithCancel(context.Background())
		done = make(chan error, 1)
		go func() {
			done <- a.Run(rctx, func() { w.setState(coordinator.StateReady, "") })
		}()
	}
	for {
		select {
		case <-ctx.Done():
			stopRoles()
			return
		case d := <-w.want:
			if d.version == cur.version && stop != nil {
				continue
			}
			stopRoles()
			retryAt = nil
			start(d)
		case err := <-done:
			// The roles stopped without being asked to: report it and
			// start again later with the same configuration.
			stop, done = nil, nil
			w.app.Store(nil)
			if err == nil {
				err = errors.New("roles stopped")
			}
			w.setState(coordinator.StateFailed, err.Error())
			retryAt = time.After(w.cfg.RetryDelay)
		case <-retryAt:
			retryAt = nil
			start(cur)
		}
	}
}
