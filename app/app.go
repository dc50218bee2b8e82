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
	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/backend"
	"github.com/pace-tracing/pace/distributor"
	"github.com/pace-tracing/pace/frontend"
	"github.com/pace-tracing/pace/ingester"
	"github.com/pace-tracing/pace/internal/slogkit"
	"github.com/pace-tracing/pace/querier"
)

// App is one pace process.
type App struct {
	cfg *Config
	log *slog.Logger
	reg *prometheus.Registry
	mux *http.ServeMux

	httpServer  *http.Server
	httpLn      net.Listener
	bucket      objstore.Bucket
	store       *querier.Store
	ingester    *ingester.Ingester
	distributor *distributor.Distributor
	querier     *querier.Querier

	manager *services.Manager
}

// New builds the process for cfg; Run starts it.
func New(cfg *Config, log *slog.Logger) *App {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &App{cfg: cfg, log: log, reg: reg, mux: http.NewServeMux()}
}

func (a *App) moduleManager() (*modules.Manager, error) {
	mm := modules.NewManager(slogkit.New(a.log))
	mm.RegisterModule(server, a.initServer, modules.UserInvisibleModule)
	mm.RegisterModule(store, a.initStore, modules.UserInvisibleModule)
	mm.RegisterModule(Ingester, a.initIngester)
	mm.RegisterModule(Distributor, a.initDistributor)
	mm.RegisterModule(Querier, a.initQuerier)
	mm.RegisterModule(QueryFrontend, a.initQueryFrontend)
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
	mm, err := a.moduleManager()
	if err != nil {
		return err
	}
	targets, err := ParseTargets(a.cfg.Target)
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

func (a *App) initServer() (services.Service, error) {
	a.registerCommonRoutes()
	a.httpServer = &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second}
	addr := net.JoinHostPort(a.cfg.Server.HTTPListenAddress, strconv.Itoa(a.cfg.Server.HTTPListenPort))
	return services.NewBasicService(
		func(context.Context) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("HTTP API on %s: %w", addr, err)
			}
			a.httpLn = ln
			return nil
		},
		func(ctx context.Context) error {
			errc := make(chan error, 1)
			go func() { errc <- a.httpServer.Serve(a.httpLn) }()
			select {
			case <-ctx.Done():
				return nil
			case err := <-errc:
				return err
			}
		},
		func(error) error {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			return a.httpServer.Shutdown(ctx)
		},
	), nil
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
	a.mux.HandleFunc("/flush", a.flushHandler)
	return ing, nil
}

func (a *App) initDistributor() (services.Service, error) {
	d, err := distributor.New(a.cfg.Distributor, a.ingester, a.log.With("role", Distributor), a.reg)
	if err != nil {
		return nil, err
	}
	a.distributor = d
	return d, nil
}

func (a *App) initQuerier() (services.Service, error) {
	a.querier = querier.New(a.ingester, a.store)
	return nil, nil
}

func (a *App) initQueryFrontend() (services.Service, error) {
	frontend.New(a.querier, a.log.With("role", QueryFrontend)).RegisterRoutes(a.mux)
	return nil, nil
}
