package accesspoint

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// testLogger writes to the test's output while the test runs and drops
// lines after, so a late log from a server goroutine cannot fail the run.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done.Load() {
		return len(p), nil
	}
	return w.w.Write(p)
}

// startHealth runs a checker until the test ends.
func startHealth(t testing.TB, interval, timeout time.Duration) *Health {
	h := NewHealth(interval, timeout, testLogger(t))
	runHealth(t, h)
	return h
}

func runHealth(t testing.TB, h *Health) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// httpBackend is a worker's HTTP port: /ready, and every other path
// answers with its name and echoes the request body.
type httpBackend struct {
	name   string
	srv    *httptest.Server
	ready  atomic.Bool
	status atomic.Int32 // non-zero: answer requests with it
	hits   atomic.Int64

	mu   sync.Mutex
	last *http.Request // headers and URL of the latest request
}

func newHTTPBackend(t testing.TB, name string) *httpBackend {
	b := &httpBackend{name: name}
	b.ready.Store(true)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			if !b.ready.Load() {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ready")
			return
		}
		b.hits.Add(1)
		b.mu.Lock()
		b.last = r.Clone(context.Background())
		b.mu.Unlock()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Backend", name)
		if s := b.status.Load(); s != 0 {
			w.WriteHeader(int(s))
		}
		w.Write(body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *httpBackend) backend() Backend {
	return Backend{ID: b.name, Addr: b.srv.Listener.Addr().String(), ReadyURL: b.srv.URL + "/ready"}
}

// kill stops the backend as a crash would: no new connections, and every
// open one dropped, whatever it was doing.
func (b *httpBackend) kill() {
	b.srv.Listener.Close()
	b.srv.CloseClientConnections()
}

func (b *httpBackend) lastRequest() *http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// grpcBackend is a worker's gRPC port (OTLP trace service and a health
// service whose Watch streams then fails) with its /ready on a separate
// HTTP port, as on a real worker.
type grpcBackend struct {
	collectortrace.UnimplementedTraceServiceServer
	healthpb.UnimplementedHealthServer

	name  string
	ready *httpBackend
	lis   net.Listener
	srv   *grpc.Server
	hits  atomic.Int64
	fail  atomic.Pointer[error] // non-nil: Export returns it

	mu     sync.Mutex
	lastMD metadata.MD
}

func newGRPCBackend(t testing.TB, name string) *grpcBackend {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &grpcBackend{name: name, ready: newHTTPBackend(t, name+"-ready"), lis: lis, srv: grpc.NewServer()}
	collectortrace.RegisterTraceServiceServer(b.srv, b)
	healthpb.RegisterHealthServer(b.srv, b)
	go b.srv.Serve(lis)
	t.Cleanup(b.srv.Stop)
	return b
}

func (b *grpcBackend) Export(ctx context.Context, _ *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	b.hits.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	b.mu.Lock()
	b.lastMD = md
	b.mu.Unlock()
	if err := b.fail.Load(); err != nil {
		return nil, *err
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// Watch sends two messages, a trailer, and then an error status: what a
// client sees proves streaming and trailers-after-data both survive.
func (b *grpcBackend) Watch(_ *healthpb.HealthCheckRequest, s grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	for range 2 {
		if err := s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
			return err
		}
	}
	s.SetTrailer(metadata.Pairs("x-served-by", b.name))
	return errWatchDone
}

func (b *grpcBackend) backend() Backend {
	return Backend{ID: b.name, Addr: b.lis.Addr().String(), ReadyURL: b.ready.srv.URL + "/ready"}
}

// front serves h on 127.0.0.1, as the coordinator would (NewServer), and counts the TCP connections it accepts.
func front(t testing.TB, h http.Handler) (srv *httptest.Server, conns *atomic.Int64) {
	conns = new(atomic.Int64)
	srv = httptest.NewUnstartedServer(h)
	srv.Config = NewServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

func grpcClient(t testing.TB, addr string) *grpc.ClientConn {
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// waitHealthy waits until the pool has n healthy backends.
func waitHealthy(t testing.TB, p *Pool, n int) {
	t.Helper()
	waitFor(t, 5*time.Second, func() bool { return len(p.Healthy()) == n })
}

func waitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metricValue sums the samples of name whose labels include want.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func hasBackend(bs []Backend, id string) bool {
	for _, b := range bs {
		if b.ID == id {
			return true
		}
	}
	return false
}
