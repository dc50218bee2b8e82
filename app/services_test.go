package app

import (
	"context"
	"sync"
	"testing"

	"github.com/grafana/dskit/services"
)

// A sequence stops its services in reverse order, each while the ones
// before it still run: the ingester's lifecycler flushes the ingester as
// it stops, so the ingester must not have stopped already.
func TestSequenceStopsInReverseOrderWhileEarlierOnesRun(t *testing.T) {
	var mu sync.Mutex
	var log []string
	svc := func(name string, whileStopping func()) services.Service {
		return services.NewBasicService(nil,
			func(ctx context.Context) error { <-ctx.Done(); return nil },
			func(error) error {
				if whileStopping != nil {
					whileStopping()
				}
				mu.Lock()
				log = append(log, name)
				mu.Unlock()
				return nil
			})
	}
	first := svc("ingester", nil)
	second := svc("lifecycler", func() {
		if st := first.State(); st != services.Running {
			t.Errorf("the first service is %v while the second stops, want Running", st)
		}
	})
	seq, err := sequence(first, second)
	if err != nil {
		t.Fatal(err)
	}
	if err := services.StartAndAwaitRunning(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
	if err := services.StopAndAwaitTerminated(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0] != "lifecycler" || log[1] != "ingester" {
		t.Errorf("stop order %v, want lifecycler then ingester", log)
	}
}
