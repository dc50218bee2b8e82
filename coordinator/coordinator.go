// Package coordinator is `pace coordinator`: the registry of workers, the
// coherence check and its status, the configuration each worker runs,
// the cluster's one access point, and the receivers clients ask for.
// See README.md in this directory for the HTTP API.
package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/accesspoint"
	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/backend"
)

// Coordinator is one coordinator replica.
type Coordinator struct {
	config   atomic.Pointer[Config]
	log      *slog.Logger
	reg      *prometheus.Registry
	registry *registry
	started  time.Time
	metrics  *metrics

	health *accesspoint.Health
	pools  map[string]*accesspoint.Pool // by protocol, plus "query-http"/"query-grpc"

	runCtx         context.Context // Run's: what listeners live as long as
	mu             sync.Mutex
	plan           *plan
	storageProblem string // "" when the last check passed
	storageChecked bool
	bucket         objstore.Bucket
	requests       map[string][]string // client -> protocols, from the object store
	listening      map[string]bool     // receiver listeners open
	lns            []func()            // closers of every listener
	servers        sync.WaitGroup
}

// Pool names of the query side of the access point.
const (
	poolQueryHTTP = "query-frontend-http"
	poolQueryGRPC = "query-frontend-grpc"
)

// New builds a coordinator; Run starts it.
func New(cfg *Config, log *slog.Logger) *Coordinator {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c := &Coordinator{
		log: log, reg: reg,
		registry:  newRegistry(cfg.WorkerTimeout),
		metrics:   newMetrics(reg),
		pools:     map[string]*accesspoint.Pool{},
		requests:  map[string][]string{},
		listening: map[string]bool{},
	}
	c.config.Store(cfg)
	c.health = accesspoint.NewHealth(cfg.HealthCheckInterval, cfg.HealthCheckInterval, log)
	for _, name := range []string{poolQueryHTTP, poolQueryGRPC} {
		c.pools[name] = accesspoint.NewPool(name, app.QueryFrontend, c.health, reg)
	}
	for _, name := range Protocols() {
		c.pools[name] = accesspoint.NewPool(name, app.Distributor, c.health, reg)
	}
	return c
}

// cfg is the current configuration (Reload swaps it).
func (c *Coordinator) cfg() *Config { return c.config.Load() }

// Reload takes a new configuration: storage, receivers, retention, remote
// write and self-tracing take effect (workers get new versions, one
// restart at a time per role); addresses and ports need a restart.
func (c *Coordinator) Reload(cfg *Config) {
	old := c.cfg()
	cfg.BindAddress, cfg.PublicAddress, cfg.PortOffset = old.BindAddress, old.PublicAddress, old.PortOffset
	c.config.Store(cfg)
	c.mu.Lock()
	if cfg.Storage != old.Storage {
		c.bucket = nil
	}
	c.mu.Unlock()
	c.log.Info("configuration reloaded", "retention_period_hours", cfg.RetentionPeriod, "receivers", cfg.Receivers)
}

// settle is how long a new worker waits for its configuration, and how
// long a fresh coordinator listens before handing any out: long enough
// for workers started together (or already running) to be in the registry.
func (c *Coordinator) settle() time.Duration { return 3 * c.cfg().HeartbeatInterval }

// Run listens and serves until ctx ends; ready is called once the API and
// the access point are listening and the object store has been checked.
func (c *Coordinator) Run(ctx context.Context, ready func()) error {
	c.started = time.Now()
	c.runCtx = ctx
	mux := http.NewServeMux()
	c.routes(mux)
	mux.Handle("/", accesspoint.NewHTTPProxy(c.pools[poolQueryHTTP]))
	if err := c.listenHTTP("HTTP API", c.cfg().port(PortHTTP), mux); err != nil {
		c.closeAll()
		return err
	}
	if err := c.listenHTTP("gRPC query API", c.cfg().port(PortGRPC), accesspoint.NewHTTPProxy(c.pools[poolQueryGRPC])); err != nil {
		c.closeAll()
		return err
	}
	c.checkStorage(ctx)
	if err := c.openReceivers(ctx); err != nil {
		c.closeAll()
		return err
	}
	go c.health.Run(ctx)
	go c.loop(ctx)
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	c.closeAll()
	c.servers.Wait()
	return nil
}

// loop keeps pools, receivers and the storage check current.
func (c *Coordinator) loop(ctx context.Context) {
	tick := time.NewTicker(c.cfg().HeartbeatInterval / 2)
	defer tick.Stop()
	lastStorage := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(lastStorage) >= c.cfg().StorageCheckInterval {
			c.checkStorage(ctx)
			lastStorage = time.Now()
		}
		if err := c.openReceivers(ctx); err != nil {
			c.log.Error("opening a receiver port of the access point", "err", err)
		}
		c.updatePools()
	}
}

// updatePools hands the access point the registered workers of each role;
// its health checks decide which of them take traffic.
func (c *Coordinator) updatePools() {
	workers := c.registry.snapshot()
	enabled := c.enabled()
	byPool := map[string][]accesspoint.Backend{}
	for _, w := range workers {
		r := w.reg
		ready := "http://" + net.JoinHostPort(r.Address, strconv.Itoa(r.Ports[PortHTTP])) + "/ready"
		at := func(port string) string { return net.JoinHostPort(r.Address, strconv.Itoa(r.Ports[port])) }
		if hasRole(r.Roles, app.QueryFrontend) {
			byPool[poolQueryHTTP] = append(byPool[poolQueryHTTP], accesspoint.Backend{ID: r.Name, Addr: at(PortHTTP), ReadyURL: ready})
			byPool[poolQueryGRPC] = append(byPool[poolQueryGRPC], accesspoint.Backend{ID: r.Name, Addr: at(PortGRPC), ReadyURL: ready})
		}
		if hasRole(r.Roles, app.Distributor) {
			for _, p := range enabled {
				byPool[p] = append(byPool[p], accesspoint.Backend{ID: r.Name, Addr: at(p), ReadyURL: ready})
			}
		}
	}
	for name, p := range c.pools {
		p.Set(byPool[name])
	}
	c.metrics.observe(workers)
}

// enabled is the union of what clients asked for, the configured
// receivers, and otlp_http.
func (c *Coordinator) enabled() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range Protocols() {
		on := p == OTLPHTTP || slices.Contains(c.cfg().Receivers, p)
		for _, asked := range c.requests {
			on = on || slices.Contains(asked, p)
		}
		if on {
			out = append(out, p)
		}
	}
	return out
}

// openReceivers opens an access-point listener for every enabled protocol
// that has none yet.
func (c *Coordinator) openReceivers(ctx context.Context) error {
	for _, p := range c.enabled() {
		c.mu.Lock()
		open := c.listening[p]
		c.mu.Unlock()
		if open {
			continue
		}
		var err error
		switch p {
		case JaegerThriftCompact, JaegerThriftBinary:
			err = c.listenUDP(ctx, p, c.cfg().port(p))
		default:
			err = c.listenHTTP(p+" receiver", c.cfg().port(p), accesspoint.NewHTTPProxy(c.pools[p]))
		}
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.listening[p] = true
		c.mu.Unlock()
		c.log.Info("access point receiver open", "protocol", p, "port", c.cfg().port(p))
	}
	return nil
}

func (c *Coordinator) listenHTTP(what string, port int, h http.Handler) error {
	addr := net.JoinHostPort(c.cfg().BindAddress, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s on %s: %w", what, addr, err)
	}
	srv := accesspoint.NewServer(h) // HTTP/1.1 and cleartext HTTP/2 (gRPC)
	c.servers.Add(1)
	go func() {
		defer c.servers.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("server stopped", "what", what, "err", err)
		}
	}()
	c.mu.Lock()
	c.lns = append(c.lns, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	c.mu.Unlock()
	return nil
}

func (c *Coordinator) listenUDP(ctx context.Context, p string, port int) error {
	addr := net.JoinHostPort(c.cfg().BindAddress, strconv.Itoa(port))
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("%s receiver on %s/udp: %w", p, addr, err)
	}
	c.servers.Add(1)
	go func() {
		defer c.servers.Done()
		_ = accesspoint.ForwardUDP(ctx, conn, c.pools[p])
	}()
	c.mu.Lock()
	c.lns = append(c.lns, func() { _ = conn.Close() })
	c.mu.Unlock()
	return nil
}

func (c *Coordinator) closeAll() {
	c.mu.Lock()
	lns := c.lns
	c.lns = nil
	c.mu.Unlock()
	for _, stop := range lns {
		stop()
	}
}

// checkStorage opens the object store (once) and lists the clients'
// receiver requests in it: reachability is checked, not assumed.
func (c *Coordinator) checkStorage(ctx context.Context) {
	problem := ""
	var requests map[string][]string
	if c.cfg().Storage.Backend == "" {
		problem = MsgS3Missing
	} else {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c.mu.Lock()
		bkt := c.bucket
		c.mu.Unlock()
		var err error
		if bkt == nil {
			bkt, err = backend.New(ctx, c.cfg().Storage, c.log)
		}
		if err == nil {
			requests, err = loadRequests(ctx, bkt)
		}
		if err != nil {
			problem = "[s3] Object store unreachable: " + err.Error()
		} else {
			c.mu.Lock()
			c.bucket = bkt
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if problem != c.storageProblem {
		if problem != "" {
			c.log.Warn("object store check failed", "problem", problem)
		} else {
			c.log.Info("object store reachable", "backend", c.cfg().Storage.Backend)
		}
	}
	c.storageProblem, c.storageChecked = problem, true
	if requests != nil {
		c.requests = requests
	}
}

// currentPlan renders every worker's configuration, reusing the last
// plan when nothing rendering reads has changed.
func (c *Coordinator) currentPlan(workers []entry) *plan {
	enabled := c.enabled()
	key := fmt.Sprintf("%p;", c.cfg()) + planKey(workers, enabled)
	c.mu.Lock()
	p := c.plan
	c.mu.Unlock()
	if p != nil && p.key == key {
		return p
	}
	p = &plan{key: key, configs: map[string]rendered{}}
	for _, w := range workers {
		r := c.render(w.reg, workers, enabled)
		if r.err != nil {
			c.log.Error("worker configuration not handed out", "worker", w.reg.Name, "err", r.err)
		}
		p.configs[w.reg.Name] = r
	}
	c.mu.Lock()
	c.plan = p
	c.mu.Unlock()
	return p
}

// assignment answers one heartbeat.
func (c *Coordinator) assignment(name string) Assignment {
	workers := c.registry.snapshot()
	p := c.currentPlan(workers)
	for _, w := range workers {
		if w.reg.Name != name {
			continue
		}
		now := time.Now()
		a := assign(w, workers, p, now, c.settle())
		if a.Config != "" && now.Sub(c.started) < c.settle() {
			a.Config, a.Hold = "", "the coordinator has just started: learning the registry first"
		}
		a.HeartbeatInterval = Duration(c.cfg().HeartbeatInterval)
		return a
	}
	return Assignment{HeartbeatInterval: Duration(c.cfg().HeartbeatInterval), Hold: "not registered"}
}

func (c *Coordinator) receiverURL(p string) string {
	return "http://" + net.JoinHostPort(c.cfg().PublicAddress, strconv.Itoa(c.cfg().port(p)))
}

// AdvertiseHost is the host others reach a process at: the configured one,
// else the bind address when it names one interface, else the host name.
func AdvertiseHost(configured, bind string) string {
	switch {
	case configured != "":
		return configured
	case bind != "" && bind != "0.0.0.0" && bind != "::":
		return bind
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
