package app

import (
	"context"
	"fmt"
	"net"

	"github.com/grafana/dskit/services"
)

// sequence runs services as one: started in order, each running before the
// next starts, stopped in reverse order. A nil service is skipped.
func sequence(svcs ...services.Service) (services.Service, error) {
	var list []services.Service
	for _, s := range svcs {
		if s != nil {
			list = append(list, s)
		}
	}
	var started []services.Service
	watcher := services.NewFailureWatcher()
	return services.NewBasicService(
		func(ctx context.Context) error {
			for _, s := range list {
				// Not StartAndAwaitRunning(ctx, s): a service's lifetime
				// derives from the context it is started with, and ctx
				// ends when this sequence is asked to stop — every child
				// would then stop at once instead of in reverse order
				// (the ingester before its lifecycler could flush it).
				if err := s.StartAsync(context.Background()); err != nil {
					stopAll(started)
					return err
				}
				if err := s.AwaitRunning(ctx); err != nil {
					stopAll(append(started, s))
					return err
				}
				watcher.WatchService(s)
				started = append(started, s)
			}
			return nil
		},
		func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return nil
			case err := <-watcher.Chan():
				return err
			}
		},
		func(error) error { return stopAll(started) },
	), nil
}

func stopAll(started []services.Service) error {
	var first error
	for i := len(started) - 1; i >= 0; i-- {
		if err := services.StopAndAwaitTerminated(context.Background(), started[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// listenerService binds addr when starting (so a taken port fails the start
// with a clear error), serves while running and calls stop when stopping.
func listenerService(what, addr string, ln *net.Listener, serve func(net.Listener) error, stop func()) services.Service {
	return services.NewBasicService(
		func(context.Context) error {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", what, addr, err)
			}
			*ln = l
			return nil
		},
		func(ctx context.Context) error {
			errc := make(chan error, 1)
			go func() { errc <- serve(*ln) }()
			select {
			case <-ctx.Done():
				return nil
			case err := <-errc:
				return err
			}
		},
		func(error) error { stop(); return nil },
	)
}
