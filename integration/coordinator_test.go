package integration

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/coordinator"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/tracing"
)

// loader sends traces through an access point until stopped, retrying a
// failed request as an OTLP exporter does, and keeps what was
// acknowledged and when each attempt failed.
type loader struct {
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	acked    []ExpectedTrace
	failures []time.Time
	errs     []string
	lost     int
}

func startLoad(t *testing.T, otlpGRPC, label string) *loader {
	t.Helper()
	conn, err := grpc.NewClient(otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	l := &loader{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer conn.Close()
		for batch := 0; ; batch++ {
			select {
			case <-l.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			traces := makeTraces(5, fmt.Sprintf("%s-%d", label, batch), time.Now())
			ok := false
			for attempt := 0; attempt < 40 && !ok; attempt++ {
				err := ExportTraces(context.Background(), conn, traces)
				if err == nil {
					ok = true
					break
				}
				l.mu.Lock()
				l.failures = append(l.failures, time.Now())
				l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
				l.mu.Unlock()
				time.Sleep(250 * time.Millisecond)
			}
			l.mu.Lock()
			if ok {
				l.acked = append(l.acked, traces...)
			} else {
				l.lost++
			}
			l.mu.Unlock()
		}
	}()
	return l
}

// finish stops the load and returns what was acknowledged.
func (l *loader) finish(t *testing.T) []ExpectedTrace {
	t.Helper()
	close(l.stop)
	<-l.done
	if l.lost > 0 {
		t.Errorf("%d batches were never accepted after 40 attempts; errors: %q", l.lost, l.errs[max(0, len(l.errs)-5):])
	}
	t.Logf("load: %d traces acknowledged, %d failed attempts (retried)", len(l.acked), len(l.failures))
	return l.acked
}

func (l *loader) failedSince(at time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, f := range l.failures {
		if f.After(at) {
			out = append(out, l.errs[i])
		}
	}
	return out
}

// readThrough reads every trace through one query URL and fails the test
// for each that does not come back exactly as sent.
func readThrough(t *testing.T, baseURL string, traces []ExpectedTrace, when string) {
	t.Helper()
	var bad []string
	for _, tr := range traces {
		p := ""
		for attempt := 0; attempt < 3; attempt++ { // a block may be changing hands
			if p = checkTrace(baseURL, tr); p == "" {
				break
			}
			time.Sleep(time.Second)
		}
		if p != "" {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d of %d traces did not read back through %s; first: %s", when, len(bad), len(traces), baseURL, strings.Join(bad[:min(3, len(bad))], "; "))
	}
}

func sendThrough(t *testing.T, otlpGRPC string, traces []ExpectedTrace) {
	t.Helper()
	conn, err := grpc.NewClient(otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < len(traces); i += 10 {
		if err := ExportTraces(context.Background(), conn, traces[i:min(i+10, len(traces))]); err != nil {
			t.Fatalf("export through the access point %s: %v", otlpGRPC, err)
		}
	}
}

func searchThrough(t *testing.T, baseURL, label string) string {
	t.Helper()
	resp, err := http.Get(baseURL + "/api/search?q=" + strings.ReplaceAll(fmt.Sprintf(`{ span.test.label = "%s" }`, label), " ", "%20") + "&limit=100")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("search through the access point: %s %s", resp.Status, b)
	}
	return string(b)
}

// The minimal deployment becomes coherent (degraded: one ingester), serves
// ingest and queries through the access point, is blocked naming the role
// when its only querier leaves and active again when one comes back, and
// drops a silent worker from the registry.
func TestCoordinatedMinimalModeAndTheMissingQuerier(t *testing.T) {
	cl := StartCoordinated(t, CoordinatedSpec{Workers: Modes["minimal-microservices"], MinIO: StartMinIO(t)})
	cl.WaitCoherent(coordinator.MsgDegraded, 2*time.Minute)
	s, _ := cl.Status(0)
	if !slices.Contains(s.Messages, coordinator.MsgGeneratorDisabled) {
		t.Errorf("status messages %q lack %q", s.Messages, coordinator.MsgGeneratorDisabled)
	}
	if s.Roles["ingester"] != 1 || s.Roles["metrics-generator"] != 1 {
		t.Errorf("role counts %v", s.Roles)
	}
	cp := cl.Coords[0]
	traces := makeTraces(30, "minimal", time.Now())
	sendThrough(t, cp.Addr(4317), traces)
	readThrough(t, cp.URL(), traces, "minimal mode, through the access point")
	if body := searchThrough(t, cp.URL(), "minimal"); !strings.Contains(body, traces[0].ID) && !strings.Contains(body, strings.TrimLeft(traces[0].ID, "0")) {
		t.Errorf("search through the access point does not find the traces: %.300s", body)
	}

	out, code := PaceCLI(t, "status", "--coordinator", cp.URL())
	if code != 0 || !strings.Contains(out, "status: active: Degraded.") || !strings.Contains(out, "w0-querier") || !strings.Contains(out, "WORKER") {
		t.Errorf("pace status (exit %d):\n%s", code, out)
	}

	cl.StopWorker("w0-querier")
	s = cl.WaitStatus(0, "blocked without a querier", 30*time.Second, func(s coordinator.Status) bool {
		return s.Status == coordinator.Blocked && s.Message == coordinator.MsgInconsistent+" Missing roles: querier."
	})
	if !slices.Equal(s.MissingRoles, []string{"querier"}) {
		t.Errorf("missing roles %v", s.MissingRoles)
	}
	out, code = PaceCLI(t, "status", "--coordinator", cp.URL())
	if code == 0 || !strings.Contains(out, "blocked: [consistency] Cluster inconsistent. Missing roles: querier.") {
		t.Errorf("pace status while blocked (exit %d):\n%s", code, out)
	}
	cl.AddWorker("w9-querier", []string{"querier"})
	cl.WaitCoherent(coordinator.MsgDegraded, time.Minute)
	readThrough(t, cp.URL(), traces[:5], "with the new querier")

	// A worker that goes silent (kill -9: it cannot say goodbye) leaves
	// the registry after worker_timeout, and its role is missing.
	cl.Kill9("w4-compactor")
	cl.Forget("w4-compactor")
	cl.WaitStatus(0, "blocked without a compactor", 30*time.Second, func(s coordinator.Status) bool {
		return s.Status == coordinator.Blocked && s.Message == coordinator.MsgInconsistent+" Missing roles: compactor." && len(s.Workers) == 5
	})
}

// Three `all` workers behind two coordinator replicas: both give the same
// status and worker configuration and both serve ingest and queries; a
// retention change reaches every worker, one restart at a time, without
// a lost span; a worker killed under load leaves the pool and clients
// see no failed request after that; stopping one coordinator leaves
// ingestion through the other working.
func TestCoordinatedMonolithicWithTwoCoordinators(t *testing.T) {
	cl := StartCoordinated(t, CoordinatedSpec{Workers: Modes["monolithic"], Coordinators: 2, MinIO: StartMinIO(t), WorkerTimeout: time.Minute})
	cl.WaitCoherent(coordinator.MsgGeneratorDisabled, 2*time.Minute)
	s0, _ := cl.Status(0)
	s1, _ := cl.Status(1)
	if s0.Status != s1.Status || s0.Message != s1.Message || len(s0.Workers) != 3 || len(s1.Workers) != 3 {
		t.Fatalf("replicas disagree: %q %q vs %q %q", s0.Status, s0.Message, s1.Status, s1.Message)
	}
	for i := range s0.Workers {
		if s0.Workers[i].TargetConfigVersion != s1.Workers[i].TargetConfigVersion {
			t.Errorf("worker %s: configuration %s from one coordinator, %s from the other", s0.Workers[i].Name, s0.Workers[i].TargetConfigVersion, s1.Workers[i].TargetConfigVersion)
		}
	}
	for i, cp := range cl.Coords {
		traces := makeTraces(20, fmt.Sprintf("mono-%d", i), time.Now())
		sendThrough(t, cp.Addr(4317), traces)
		readThrough(t, cl.Coords[1-i].URL(), traces, fmt.Sprintf("sent through coordinator %d, read through the other", i))
	}

	t.Run("retention change rolls out without loss", func(t *testing.T) {
		load := startLoad(t, cl.Coords[0].Addr(4317), "retention")
		time.Sleep(time.Second)
		cl.WriteConfig("retention_period: 48\n")
		cl.Reload()
		maxDown := 0
		deadline := time.Now().Add(3 * time.Minute)
		for {
			s, err := cl.Status(0)
			if err == nil {
				down := 0
				for _, w := range s.Workers {
					if w.State != coordinator.StateReady {
						down++
					}
				}
				maxDown = max(maxDown, down)
				if cl.AllReady(s) && cl.allRun(t, "block_retention: 48h") {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("retention did not reach every worker within 3 minutes: %+v", s)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if maxDown > 1 {
			t.Errorf("%d workers were restarting at once; ingesters must restart one at a time", maxDown)
		}
		time.Sleep(time.Second)
		acked := load.finish(t)
		readThrough(t, cl.Coords[1].URL(), acked, "traces acknowledged during the retention rollout")
	})

	t.Run("kill -9 of a worker under load", func(t *testing.T) {
		load := startLoad(t, cl.Coords[0].Addr(4317), "kill")
		time.Sleep(2 * time.Second)
		var victim string
		for name := range cl.Workers {
			victim = max(victim, name)
		}
		cl.Kill9(victim)
		// The pool drops it within two health checks (500 ms each).
		dropped := time.Now().Add(1500 * time.Millisecond)
		time.Sleep(6 * time.Second)
		after := load.failedSince(dropped)
		acked := load.finish(t)
		if len(after) > 0 {
			t.Errorf("%d requests failed after the pool dropped %s: %q", len(after), victim, after[:min(5, len(after))])
		}
		readThrough(t, cl.Coords[0].URL(), acked, "traces acknowledged while a worker was killed")
		// It comes back (as a supervisor would restart it) and rejoins.
		cl.Restart(victim)
		cl.WaitCoherent(coordinator.MsgGeneratorDisabled, time.Minute)
	})

	t.Run("a receiver asked of one replica is enabled by both", func(t *testing.T) {
		client := &tracing.Client{Coordinator: cl.Coords[0].URL(), Name: "replica-test"}
		if _, err := client.Request(context.Background(), tracing.Zipkin); err != nil {
			t.Fatal(err)
		}
		other := &tracing.Client{Coordinator: cl.Coords[1].URL()}
		deadline := time.Now().Add(30 * time.Second)
		for {
			eps, err := other.Get(context.Background())
			if err == nil && eps.URL(tracing.Zipkin) == fmt.Sprintf("http://127.0.0.1:%d", 9411+cl.Coords[1].Offset) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other replica does not list zipkin: %+v %v", eps, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		cl.WaitStatus(0, "zipkin on every distributor", 2*time.Minute, func(s coordinator.Status) bool {
			return cl.AllReady(s) && cl.allDistributorsRun()
		})
	})

	t.Run("one coordinator stops, the other carries on", func(t *testing.T) {
		if _, err, ok := cl.Coords[1].signal(15, 10*time.Second); !ok || err != nil {
			t.Fatalf("coordinator 1 did not stop cleanly: %v", err)
		}
		traces := makeTraces(20, "after-coordinator-stop", time.Now())
		sendThrough(t, cl.Coords[0].Addr(4317), traces)
		readThrough(t, cl.Coords[0].URL(), traces, "after one coordinator stopped")
	})
}

// allRun reports whether every worker runs a configuration containing text.
func (c *Coordinated) allRun(t *testing.T, text string) bool {
	for _, w := range c.Workers {
		if !strings.Contains(w.Config(), text) {
			return false
		}
	}
	return true
}

// The recommended deployment: a client asks for Zipkin through the
// tracing package, the coordinator enables it (distributors restart one
// at a time), and spans sent by the OpenTelemetry SDK over Zipkin and
// OTLP HTTP to the URLs it answered read back by ID through the access
// point.
func TestCoordinatedRecommendedModeServesTracingClients(t *testing.T) {
	cl := StartCoordinated(t, CoordinatedSpec{Workers: Modes["recommended-microservices"]})
	cl.WaitCoherent(coordinator.MsgGeneratorDisabled, 2*time.Minute)
	cp := cl.Coords[0]
	out, code := PaceCLI(t, "receivers", "--coordinator", cp.URL())
	if code != 0 || !strings.Contains(out, "otlp_http") || !strings.Contains(out, fmt.Sprintf("http://127.0.0.1:%d", 4318+cp.Offset)) || strings.Contains(out, "zipkin") {
		t.Errorf("pace receivers (exit %d):\n%s", code, out)
	}
	out, code = PaceCLI(t, "worker", "--coordinator", cp.URL(), "--role", "ingestor", "--data", t.TempDir())
	if code != 2 || !strings.Contains(out, `unknown target "ingestor"; valid targets: all, distributor, ingester, querier, query-frontend, compactor, metrics-generator`) {
		t.Errorf("a worker with an unknown role (exit %d): %s", code, out)
	}
	out, code = PaceCLI(t, "worker", "--coordinator", cp.URL(), "--data", t.TempDir())
	if code != 2 || !strings.Contains(out, "empty target; valid targets: all") {
		t.Errorf("a worker with no role (exit %d): %s", code, out)
	}
	ctx := context.Background()
	client := &tracing.Client{Coordinator: cp.URL(), Name: "checkout"}
	if _, err := client.Request(ctx, "carrier-pigeon"); err == nil {
		t.Error("an unknown protocol was accepted")
	}
	eps, err := client.Request(ctx, tracing.Zipkin)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("http://127.0.0.1:%d", 9411+cp.Offset); eps.URL(tracing.Zipkin) != want {
		t.Errorf("zipkin URL %q, want %q", eps.URL(tracing.Zipkin), want)
	}
	// Enabling Zipkin is a new configuration for the distributor.
	cl.WaitStatus(0, "zipkin enabled on the distributor", time.Minute, func(s coordinator.Status) bool {
		return cl.AllReady(s) && cl.allDistributorsRun()
	})
	// The distributor has just restarted: clients are told to wait until
	// the access point has it back.
	deadline := time.Now().Add(30 * time.Second)
	for eps, err := client.Get(ctx); err != nil || !eps.Ready; eps, err = client.Get(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("receivers not ready: %+v %v", eps, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ids []string
	for _, p := range []tracing.Protocol{tracing.Zipkin, tracing.OTLPHTTP} {
		settings := tracing.Configure(ctx, client, p, "", log)
		if !settings.Enabled {
			t.Fatalf("%s: tracing off: %s", p, settings.Reason)
		}
		tp, err := tracing.NewTracerProvider(ctx, settings, "checkout")
		if err != nil {
			t.Fatal(err)
		}
		_, span := tp.Tracer("coordinated-test").Start(ctx, "place-order-"+string(p))
		span.SetAttributes(attribute.String("protocol", string(p)))
		id := span.SpanContext().TraceID().String()
		ids = append(ids, id)
		span.End()
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatalf("%s: flushing: %v", p, err)
		}
		readIDs(t, cp.URL(), []string{id}, string(p)+" through the access point", 20*time.Second)
	}

	// The same traces through the gRPC query API on the access point's 9096,
	// balanced over the query-frontends.
	conn, err := grpc.NewClient(cp.Addr(9096), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := pacepb.NewQueryClient(conn)
	for _, id := range ids {
		raw, _ := hex.DecodeString(id)
		resp, err := q.FindTraceByID(ctx, &pacepb.TraceByIDRequest{TraceId: raw})
		if err != nil || !resp.Found {
			t.Fatalf("gRPC FindTraceByID %s through 9096: %v", id, err)
		}
		var u ptrace.ProtoUnmarshaler
		td, err := u.UnmarshalTraces(resp.Trace)
		if err != nil || td.SpanCount() != 1 {
			t.Errorf("gRPC FindTraceByID %s: %d spans, %v", id, td.SpanCount(), err)
		}
	}
	if _, err := q.FindTraceByID(ctx, &pacepb.TraceByIDRequest{TraceId: make([]byte, 16)}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown trace over gRPC: %v, want NotFound", err)
	}
	res, err := q.Search(ctx, &pacepb.SearchRequest{Kind: pacepb.SearchRequest_SEARCH, Query: `{ resource.service.name = "pace-up-test" || resource.service.name = "checkout" }`})
	if err != nil {
		t.Fatalf("gRPC Search through 9096: %v", err)
	}
	if len(res.Traces) != len(ids) {
		t.Errorf("gRPC Search found %d traces, want %d", len(res.Traces), len(ids))
	}
	if _, err := q.Search(ctx, &pacepb.SearchRequest{Kind: pacepb.SearchRequest_SEARCH, Query: `{ .a = }`}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("bad TraceQL over gRPC: %v, want InvalidArgument naming the parse error", err)
	}
}

// allDistributorsRun reports whether every distributor has its Zipkin
// receiver on.
func (c *Coordinated) allDistributorsRun() bool {
	for _, w := range c.Workers {
		if slices.Contains(w.Roles, "distributor") && !strings.Contains(w.Config(), fmt.Sprintf("127.0.0.1:%d", 9411+w.Offset)) {
			return false
		}
	}
	return true
}
