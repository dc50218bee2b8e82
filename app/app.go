// Package app wires pace's roles into one process: each role is a
// grafana/dskit module with an init function, and running a target is
// asking the module manager for it and its dependencies.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/grafana/dskit/modules"
	"github.com/grafana/dskit/ring"
	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/thanos-io/objstore"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"

	"github.com/pace-tracing/pace/backend"
	"github.com/pace-tracing/pace/cluster"
	"github.com/pace-tracing/pace/compactor"
	"github.com/pace-tracing/pace/distributor"
	"github.com/pace-tracing/pace/frontend"
	"github.com/pace-tracing/pace/generator"
	"github.com/pace-tracing/pace/ingester"
	"github.com/pace-tracing/pace/internal/slogkit"
	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/querier"
	"github.com/pace-tracing/pace/wal"
)

// App is one pace process.
type App struct {
	cfg     *Config
	log     *slog.Logger
	reg     *prometheus.Registry
	mux     *http.ServeMux
	targets []string

	httpServer *http.Server
	httpLn     net.Listener
	grpcServer *grpc.Server
	grpcLn     net.Listener

	cluster *cluster.Cluster
	pool    *cluster.Pool
	rings   map[string]*ring.Ring

	bucket      objstore.Bucket
	store       *querier.Store
	ingester    *ingester.Ingester
	distributor *distributor.Distributor
	querier     *querier.Querier
	generator   *generator.Generator

	manager *services.Manager
	opts    Options
}

// Options change how a process is embedded (by a worker, see package worker).
type Options struct {
	// ExternalHTTP: do not listen on the HTTP port; the embedder serves
	// Handler() on a listener it owns across restarts.
	ExternalHTTP bool
	// Cluster: gossip and open the gRPC port even as a lone `all` process
	// with nobody to join yet (the first worker of a cluster).
	Cluster bool
}

// New builds the process for cfg; Run starts it.
func New(cfg *Config, log *slog.Logger) *App { return NewWithOptions(cfg, log, Options{}) }

// NewWithOptions builds the process for cfg, embedded as opts says.
func NewWithOptions(cfg *Config, log *slog.Logger, opts Options) *App {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The generator exists up front: distributors in this process may
	// forward to it before its module has started.
	return &App{cfg: cfg, log: log, reg: reg, mux: http.NewServeMux(), pool: cluster.NewPool(), rings: map[string]*ring.Ring{}, generator: generator.New(reg), opts: opts}
}

// Gossip reports whether this process joins a cluster: it does unless it
// is a lone `all` process with nobody to join.
func (c *Config) Gossip(targets []string) bool {
	return len(c.Cluster.Memberlist.JoinMembers) > 0 || !(len(targets) == 1 && targets[0] == All)
}

func (a *App) moduleManager() (*modules.Manager, error) {
	mm := modules.NewManager(slogkit.New(a.log))
	mm.RegisterModule(server, a.initServer, modules.UserInvisibleModule)
	mm.RegisterModule(grpcServer, a.initGRPC, modules.UserInvisibleModule)
	mm.RegisterModule(clusterKV, a.initCluster, modules.UserInvisibleModule)
	mm.RegisterModule(rings, a.initRings, modules.UserInvisibleModule)
	mm.RegisterModule(store, a.initStore, modules.UserInvisibleModule)
	mm.RegisterModule(Ingester, a.initIngester)
	mm.RegisterModule(Distributor, a.initDistributor)
	mm.RegisterModule(Querier, a.initQuerier)
	mm.RegisterModule(QueryFrontend, a.initQueryFrontend)
	mm.RegisterModule(Compactor, a.initCompactor)
	mm.RegisterModule(MetricsGenerator, a.initGenerator)
	mm.RegisterModule(All, nil)
	for m, d := range deps {
		if err := mm.AddDependency(m, d...); err != nil {
			return nil, err
		}
	}
	return mm, nil
}

// Run starts the target's modules, calls ready once every one is running,
// and returns when ctx is cancelled (clean shutdown) or a module fails.
func (a *App) Run(ctx context.Context, ready func()) error {
	targets, err := ParseTargets(a.cfg.Target)
	if err != nil {
		return err
	}
	a.targets = targets
	mm, err := a.moduleManager()
	if err != nil {
		return err
	}
	svcMap, err := mm.InitModuleServices(targets...)
	if err != nil {
		return err
	}
	svcs := make([]services.Service, 0, len(svcMap))
	for _, s := range svcMap {
		svcs = append(svcs, s)
	}
	a.manager, err = services.NewManager(svcs...)
	if err != nil {
		return err
	}
	failed := make(chan error, 1)
	a.manager.AddListener(services.NewManagerListener(nil, nil, func(s services.Service) {
		select {
		case failed <- s.FailureCase():
		default:
		}
	}))
	if err := a.manager.StartAsync(context.Background()); err != nil {
		return err
	}
	healthy := make(chan error, 1)
	go func() { healthy <- a.manager.AwaitHealthy(ctx) }()
	select {
	case err := <-healthy:
		if err != nil {
			return a.shutdown(fmt.Errorf("starting: %w", firstFailure(a.manager, err)))
		}
		if ready != nil {
			ready()
		}
	case err := <-failed:
		return a.shutdown(fmt.Errorf("starting: %w", err))
	}
	select {
	case <-ctx.Done():
		return a.shutdown(nil)
	case err := <-failed:
		return a.shutdown(err)
	}
}

func firstFailure(m *services.Manager, fallback error) error {
	for _, s := range m.ServicesByState()[services.Failed] {
		if err := s.FailureCase(); err != nil {
			return err
		}
	}
	return fallback
}

// shutdown stops every module in reverse dependency order (receivers first,
// so nothing is accepted that cannot be stored) within the configured time.
func (a *App) shutdown(cause error) error {
	a.manager.StopAsync()
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Server.GracefulShutdownTimeout)
	defer cancel()
	defer a.pool.Close()
	if err := a.manager.AwaitStopped(ctx); err != nil {
		return errors.Join(cause, fmt.Errorf("shutdown did not finish within %s", a.cfg.Server.GracefulShutdownTimeout))
	}
	return cause
}

// Ready reports whether every module is running.
func (a *App) Ready() bool { return a.manager != nil && a.manager.IsHealthy() }

// HTTPAddr is the bound address of the HTTP API (after start).
func (a *App) HTTPAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// selfAddr is the address the rings publish for this process.
func (a *App) selfAddr() string { return a.cluster.Addr() }

func (a *App) gossip() bool { return a.opts.Cluster || a.cfg.Gossip(a.targets) }

// Handler serves the HTTP API; with Options.ExternalHTTP the embedder
// serves it.
func (a *App) Handler() http.Handler { return a.mux }

func (a *App) initServer() (services.Service, error) {
	a.registerCommonRoutes()
	if a.opts.ExternalHTTP {
		return nil, nil
	}
	a.httpServer = &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second}
	addr := net.JoinHostPort(a.cfg.Server.HTTPListenAddress, strconv.Itoa(a.cfg.Server.HTTPListenPort))
	return listenerService("HTTP API", addr, &a.httpLn,
		func(ln net.Listener) error { return a.httpServer.Serve(ln) },
		func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = a.httpServer.Shutdown(ctx)
		}), nil
}

// initGRPC opens the gRPC port between roles; a lone process does not need it.
func (a *App) initGRPC() (services.Service, error) {
	a.grpcServer = grpc.NewServer(grpc.MaxRecvMsgSize(64<<20), grpc.MaxSendMsgSize(64<<20))
	if !a.gossip() {
		return nil, nil
	}
	addr := net.JoinHostPort(a.cfg.Server.GRPCListenAddress, strconv.Itoa(a.cfg.Server.GRPCListenPort))
	return listenerService("gRPC", addr, &a.grpcLn,
		func(ln net.Listener) error { return a.grpcServer.Serve(ln) },
		a.grpcServer.GracefulStop), nil
}

func (a *App) initCluster() (services.Service, error) {
	listen := net.JoinHostPort(a.cfg.Server.GRPCListenAddress, strconv.Itoa(a.cfg.Server.GRPCListenPort))
	self, err := cluster.AdvertiseAddr(a.cfg.Cluster.InstanceAddr, listen)
	if err != nil {
		return nil, err
	}
	a.cluster, err = cluster.New(a.cfg.Cluster, a.gossip(), self, a.log, a.reg)
	if err != nil {
		return nil, err
	}
	a.cluster.RegisterRoutes(a.mux)
	return a.cluster.Service(), nil
}

// ringPages are the rings this binary knows, with their status page and RF.
var ringPages = map[string]string{
	cluster.IngesterRing:    "/ingester/ring",
	cluster.GeneratorRing:   "/metrics-generator/ring",
	cluster.CompactorRing:   "/compactor/ring",
	cluster.QuerierRing:     "/querier/ring",
	cluster.DistributorRing: "/distributor/ring",
}

// initRings starts a reader of every ring, each with a status page.
func (a *App) initRings() (services.Service, error) {
	var svcs []services.Service
	for name, path := range ringPages {
		rf := 1
		if name == cluster.IngesterRing {
			rf = a.cfg.Ingester.ReplicationFactor
		}
		r, err := a.cluster.Ring(name, rf)
		if err != nil {
			return nil, err
		}
		a.rings[name] = r
		a.mux.Handle(path, r)
		svcs = append(svcs, r)
	}
	return sequence(svcs...)
}

func (a *App) initStore() (services.Service, error) {
	bkt, err := backend.New(context.Background(), a.cfg.Storage.Trace.Config, a.log)
	if err != nil {
		return nil, err
	}
	a.bucket = bkt
	a.store = querier.NewStore(bkt, a.cfg.Storage.Trace.StoreConfig, a.log, a.reg)
	return a.store, nil
}

func (a *App) initIngester() (services.Service, error) {
	ing, err := ingester.New(a.cfg.Ingester, a.bucket, a.store, a.log.With("role", Ingester), a.reg)
	if err != nil {
		return nil, err
	}
	a.ingester = ing
	ingRing, self := a.rings[cluster.IngesterRing], a.selfAddr()
	ing.Owns = func(tenant string, id model.TraceID) bool {
		rs, err := ingRing.Get(cluster.Token(tenant, id), ring.Read, nil, nil, nil)
		if err != nil || len(rs.Instances) == 0 {
			return true // better counted twice than not at all
		}
		return rs.Instances[0].Addr == self
	}
	a.mux.HandleFunc("/flush", a.flushHandler)
	pacepb.RegisterIngesterServer(a.grpcServer, ingester.GRPC{I: ing})
	// In a cluster the ingester hands its data to the object store before it
	// leaves the ring; alone, its WAL is replayed at the next start.
	var onStopping func()
	if a.gossip() {
		onStopping = func() {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Server.GracefulShutdownTimeout*3/4)
			defer cancel()
			if err := ing.Flush(ctx); err != nil {
				a.log.Warn("flush before leaving the ring did not finish; the WAL keeps the rest", "err", err)
			}
		}
	}
	lc, err := a.cluster.Lifecycler(cluster.IngesterRing, 128, onStopping)
	if err != nil {
		return nil, err
	}
	member := a.awaitInRing(cluster.IngesterRing)
	// The lifecycler stops first (flushing while LEAVING), then the ingester.
	return sequence(ing, lc, member)
}

// awaitInRing is ready once this process shows in the named ring, so that
// /ready means the role can take traffic.
func (a *App) awaitInRing(name string) services.Service {
	return services.NewIdleService(func(ctx context.Context) error {
		for {
			rs, err := a.rings[name].GetAllHealthy(ring.Reporting)
			if err == nil && rs.Includes(a.selfAddr()) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting to appear in the %s ring: %w", name, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}, nil)
}

// localPusher reaches this process's ingester when the target runs one.
func (a *App) localPusher() distributor.Pusher {
	if !runs(a.targets, Ingester) {
		return nil
	}
	return pusherFunc(func(ctx context.Context, tenant string, e []wal.Entry) error { return a.ingester.Push(ctx, tenant, e) })
}

type pusherFunc func(ctx context.Context, tenant string, e []wal.Entry) error

func (f pusherFunc) Push(ctx context.Context, tenant string, e []wal.Entry) error {
	return f(ctx, tenant, e)
}

func (a *App) initDistributor() (services.Service, error) {
	pusher := &distributor.RingPusher{Ring: a.rings[cluster.IngesterRing], Pool: a.pool, Self: a.selfAddr(), Local: a.localPusher()}
	d, err := distributor.New(a.cfg.Distributor, pusher, a.log.With("role", Distributor), a.reg)
	if err != nil {
		return nil, err
	}
	fwd := distributor.NewGeneratorForwarder(a.rings[cluster.GeneratorRing], a.pool, a.log, a.reg)
	fwd.Self = a.selfAddr()
	if runs(a.targets, MetricsGenerator) {
		fwd.Local = a.generator
	}
	d.Generators = fwd
	a.distributor = d
	lc, err := a.cluster.Lifecycler(cluster.DistributorRing, 1, nil)
	if err != nil {
		return nil, err
	}
	// Stopped in reverse: receivers first, then the forwarder, then the ring entry.
	return sequence(lc, services.NewIdleService(nil, func(error) error { fwd.Stop(); return nil }), d)
}

// localIngester is this process's ingester as the querier sees it (the
// ingester module may start after the querier is built).
type localIngester struct{ a *App }

func (l localIngester) FindTraceByID(ctx context.Context, tenant string, id model.TraceID) (ptrace.Traces, bool, error) {
	return l.a.ingester.FindTraceByID(ctx, tenant, id)
}

func (l localIngester) Search(ctx context.Context, req *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	return ingester.GRPC{I: l.a.ingester}.Search(ctx, req)
}

// localQuerier is this process's querier as the query-frontend sees it.
type localQuerier struct{ a *App }

func (l localQuerier) FindTraceByIDJob(ctx context.Context, tenant string, id model.TraceID, start, end time.Time, job querier.Job) (ptrace.Traces, error) {
	return l.a.querier.FindTraceByIDJob(ctx, tenant, id, start, end, job)
}

func (l localQuerier) SearchJob(ctx context.Context, req *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	return querier.GRPC{Q: l.a.querier}.Search(ctx, req)
}

func (a *App) initQuerier() (services.Service, error) {
	live := &querier.RingLiveFinder{Ring: a.rings[cluster.IngesterRing], Pool: a.pool, Self: a.selfAddr()}
	if runs(a.targets, Ingester) {
		live.Local = localIngester{a}
	}
	a.querier = querier.New(live, a.store)
	pacepb.RegisterQuerierServer(a.grpcServer, querier.GRPC{Q: a.querier})
	lc, err := a.cluster.Lifecycler(cluster.QuerierRing, 1, nil)
	if err != nil {
		return nil, err
	}
	return sequence(lc, a.awaitInRing(cluster.QuerierRing))
}

func (a *App) initQueryFrontend() (services.Service, error) {
	s := &frontend.Sharder{
		Queriers: func() ([]string, error) {
			rs, err := a.rings[cluster.QuerierRing].GetAllHealthy(ring.Read)
			if err != nil {
				return nil, fmt.Errorf("no healthy querier: %w", err)
			}
			return rs.GetAddresses(), nil
		},
		Pool: a.pool, Self: a.selfAddr(), Shards: a.cfg.QueryFrontend.QueryShards, Retries: 2,
		SearchConcurrency: a.cfg.QueryFrontend.SearchConcurrency,
	}
	if runs(a.targets, Querier) {
		s.Local = localQuerier{a}
	}
	fe := frontend.New(s, a.log.With("role", QueryFrontend))
	fe.RegisterRoutes(a.mux)
	pacepb.RegisterQueryServer(a.grpcServer, frontend.GRPC{F: fe})
	return nil, nil
}

func (a *App) initCompactor() (services.Service, error) {
	lc, err := a.cluster.Lifecycler(cluster.CompactorRing, 128, nil)
	if err != nil {
		return nil, err
	}
	c := compactor.New(a.cfg.Compactor, a.bucket, ringOwner{a.rings[cluster.CompactorRing], a.selfAddr()}, a.log.With("role", Compactor), a.reg)
	c.OnCompacted = a.store.ReplaceBlocks
	return sequence(lc, a.awaitInRing(cluster.CompactorRing), c)
}

// ringOwner gives a compactor job to the compactor that owns its key's token.
type ringOwner struct {
	r    *ring.Ring
	self string
}

func (o ringOwner) Owns(key string) (bool, error) {
	rs, err := o.r.Get(cluster.TenantToken(key), ring.Write, nil, nil, nil)
	if err != nil {
		return false, err
	}
	return len(rs.Instances) > 0 && rs.Instances[0].Addr == o.self, nil
}

func (a *App) initGenerator() (services.Service, error) {
	pacepb.RegisterMetricsGeneratorServer(a.grpcServer, a.generator)
	lc, err := a.cluster.Lifecycler(cluster.GeneratorRing, 128, nil)
	if err != nil {
		return nil, err
	}
	return sequence(lc, a.awaitInRing(cluster.GeneratorRing))
}
