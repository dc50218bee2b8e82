package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-tracing/pace/coordinator"
)

// fakeCoordinator answers heartbeats with whatever assignment it is given
// and keeps the last registration.
type fakeCoordinator struct {
	mu   sync.Mutex
	last coordinator.Registration
	next coordinator.Assignment
	srv  *httptest.Server
}

func newFake(t *testing.T) *fakeCoordinator {
	f := &fakeCoordinator{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var reg coordinator.Registration
		if err := json.NewDecoder(r.Body).Decode(&reg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.last = reg
		a := f.next
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCoordinator) set(a coordinator.Assignment) {
	f.mu.Lock()
	f.next = a
	f.mu.Unlock()
}

func (f *fakeCoordinator) reg() coordinator.Registration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// freeOffset finds a port offset whose worker HTTP, gRPC and gossip
// ports are free on 127.0.0.1.
func freeOffset(t *testing.T) int {
	for i := 0; i < 100; i++ {
		off := 100 * (20 + rand.IntN(50))
		ok := true
		for _, p := range []string{coordinator.PortHTTP, coordinator.PortGRPC, coordinator.PortGossip} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", coordinator.WorkerPorts(off)[p]))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return off
		}
	}
	t.Fatal("no free port offset")
	return 0
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not reached within 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ready(t *testing.T, url string) (int, string) {
	resp, err := http.Get(url + "/ready")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A worker waits for its configuration (not ready meanwhile), takes one
// only when every coordinator hands out the same, runs its roles and is
// ready, and reports each step to its coordinators.
func TestWorkerWaitsAppliesWhenCoordinatorsAgreeAndReportsReady(t *testing.T) {
	a, b := newFake(t), newFake(t)
	off := freeOffset(t)
	cfg := Config{Coordinators: []string{a.srv.URL, b.srv.URL}, Name: "w1", Roles: []string{"query-frontend"},
		Address: "127.0.0.1", BindAddress: "127.0.0.1", PortOffset: off, DataDir: t.TempDir(), DrainDelay: 10 * time.Millisecond}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a.set(coordinator.Assignment{Hold: "waiting for the workers started with it to register", HeartbeatInterval: coordinator.Duration(50 * time.Millisecond)})
	b.set(coordinator.Assignment{Hold: "same", HeartbeatInterval: coordinator.Duration(50 * time.Millisecond)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(cfg, slog.New(slog.DiscardHandler)).Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker stopped with %v", err)
		}
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d", 3200+off)

	eventually(t, "registered as waiting", func() bool {
		r := a.reg()
		return r.State == coordinator.StateWaiting && r.Name == "w1" && r.Ports[coordinator.PortHTTP] == 3200+off && r.DataDir != ""
	})
	if code, body := ready(t, url); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for config") {
		t.Errorf("/ready while waiting: %d %q", code, body)
	}

	text := fmt.Sprintf(`target: query-frontend
server: {http_listen_address: 127.0.0.1, http_listen_port: %d, grpc_listen_address: 127.0.0.1, grpc_listen_port: %d}
cluster:
  instance_id: w1
  instance_addr: 127.0.0.1
  memberlist: {bind_addr: [127.0.0.1], bind_port: %d}
storage: {trace: {backend: memory}}
`, 3200+off, 9095+off, 7946+off)
	// The replicas disagree (one has been reloaded, the other not yet):
	// the worker must not take either.
	a.set(coordinator.Assignment{ConfigVersion: "v1", Config: text, HeartbeatInterval: coordinator.Duration(50 * time.Millisecond)})
	b.set(coordinator.Assignment{ConfigVersion: "v0", Config: text + "# older\n", HeartbeatInterval: coordinator.Duration(50 * time.Millisecond)})
	time.Sleep(300 * time.Millisecond)
	if r := a.reg(); r.ConfigVersion != "" || r.State != coordinator.StateWaiting {
		t.Fatalf("took a configuration the coordinators disagree on: %+v", r)
	}
	b.set(coordinator.Assignment{ConfigVersion: "v1", Config: text, HeartbeatInterval: coordinator.Duration(50 * time.Millisecond)})
	eventually(t, "ready on v1", func() bool {
		r := b.reg()
		return r.State == coordinator.StateReady && r.ConfigVersion == "v1"
	})
	if code, _ := ready(t, url); code != http.StatusOK {
		t.Errorf("/ready once ready: %d", code)
	}
	resp, err := http.Get(url + "/api/v1/worker/config")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != text {
		t.Errorf("running configuration %q, want what was handed out", got)
	}
	// The roles' API answers on the worker's port.
	if resp, err := http.Get(url + "/api/echo"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("roles' API: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestWorkerRefusesUnknownAndEmptyRoles(t *testing.T) {
	for _, roles := range [][]string{{"ingestor"}, nil} {
		cfg := Config{Coordinators: []string{"http://127.0.0.1:1"}, Roles: roles, DataDir: t.TempDir()}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "valid targets: all, distributor, ingester, querier, query-frontend, compactor, metrics-generator") {
			t.Errorf("roles %v: %v", roles, err)
		}
	}
}
