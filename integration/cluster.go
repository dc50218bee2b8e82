package integration

// Multi-process clusters: StartCluster starts one pace process per entry of
// a spec (each with its own roles, ports and WAL, all sharing one MinIO
// bucket and one memberlist join list), and waits until every process is
// ready and every ring, seen from every live process, lists every member
// ACTIVE.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collectortracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ClusterSpec describes a cluster.
type ClusterSpec struct {
	// Targets holds one -target value per process ("all", "ingester",
	// "distributor,querier", ...).
	Targets []string
	// ReplicationFactor of the ingester ring (1 when 0).
	ReplicationFactor int
	// MinIO is the object store (required); a fresh bucket is made in it.
	MinIO *MinIO
	// ExtraArgs are appended to every process's flags.
	ExtraArgs []string
}

// Cluster is a running set of pace processes.
type Cluster struct {
	t      testing.TB
	Procs  []*Server
	MinIO  *MinIO
	Bucket string
}

// ringRoles maps each ring to the role whose processes are its members.
var ringRoles = map[string]string{
	"/ingester/ring":          "ingester",
	"/distributor/ring":       "distributor",
	"/querier/ring":           "querier",
	"/compactor/ring":         "compactor",
	"/metrics-generator/ring": "metrics-generator",
}

// StartCluster starts the processes of spec, waits until all are ready and
// the rings have converged, and returns the cluster. Every process is
// killed when the test ends.
func StartCluster(t testing.TB, spec ClusterSpec) *Cluster {
	t.Helper()
	if spec.MinIO == nil {
		t.Fatal("StartCluster: a MinIO is required")
	}
	if len(spec.Targets) == 0 {
		t.Fatal("StartCluster: no processes")
	}
	rf := spec.ReplicationFactor
	if rf == 0 {
		rf = 1
	}
	c := &Cluster{t: t, MinIO: spec.MinIO, Bucket: spec.MinIO.CreateBucket(t, "")}
	count := map[string]int{}
	for _, target := range spec.Targets {
		base := strings.ReplaceAll(target, ",", "+")
		count[base]++
		s := newServer(t, ServerOptions{
			Backend:   "s3",
			MinIO:     spec.MinIO,
			Bucket:    c.Bucket,
			Target:    target,
			ExtraArgs: spec.ExtraArgs,
			NoWait:    true,
			Cluster: &ClusterMembership{
				InstanceID:        fmt.Sprintf("%s-%d", base, count[base]),
				ReplicationFactor: rf,
			},
		})
		c.Procs = append(c.Procs, s)
	}
	var join []string
	for _, s := range c.Procs {
		join = append(join, s.MemberlistAddr())
	}
	for _, s := range c.Procs {
		s.opts.Cluster.Join = join
		printLogOnFailure(t, s.Name(), s.LogPath)
	}
	start := time.Now()
	for _, s := range c.Procs {
		s.start()
		s.opts.NoWait = false // a Restart waits for /ready
	}
	for _, s := range c.Procs {
		s.WaitReady()
	}
	c.WaitRings()
	t.Logf("cluster of %d processes (%s), RF %d, ready in %v", len(c.Procs), strings.Join(spec.Targets, " "), rf, time.Since(start).Round(time.Millisecond))
	return c
}

// With returns the processes that run role.
func (c *Cluster) With(role string) []*Server {
	var out []*Server
	for _, s := range c.Procs {
		if s.Runs(role) {
			out = append(out, s)
		}
	}
	return out
}

// Distributors, Ingesters, Frontends, Compactors and Generators are the
// processes running each role.
func (c *Cluster) Distributors() []*Server { return c.With("distributor") }
func (c *Cluster) Ingesters() []*Server    { return c.With("ingester") }
func (c *Cluster) Frontends() []*Server    { return c.With("query-frontend") }
func (c *Cluster) Compactors() []*Server   { return c.With("compactor") }
func (c *Cluster) Generators() []*Server   { return c.With("metrics-generator") }

// RingMember is one entry of a ring status page (its JSON form).
type RingMember struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	Address   string    `json:"address"`
	Heartbeat time.Time `json:"timestamp"`
}

// Ring reads a ring status page (e.g. "/ingester/ring") of a process.
func (s *Server) Ring(path string) ([]RingMember, error) {
	req, err := http.NewRequest(http.MethodGet, s.HTTPURL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %q", path, resp.StatusCode, truncate(body))
	}
	var page struct {
		Shards []RingMember `json:"shards"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("GET %s: not the ring JSON: %v (%q)", path, err, truncate(body))
	}
	return page.Shards, nil
}

// WaitRings waits until every live process sees, in every ring, every
// process running that ring's role as ACTIVE.
func (c *Cluster) WaitRings() {
	c.t.Helper()
	deadline := time.Now().Add(ReadyTimeout)
	var last string
	for {
		last = c.ringProblem()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("rings did not converge within %v: %s", ReadyTimeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *Cluster) ringProblem() string {
	paths := make([]string, 0, len(ringRoles))
	for p := range ringRoles {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, s := range c.Procs {
		if s.proc.Exited() {
			continue
		}
		for _, path := range paths {
			members, err := s.Ring(path)
			if err != nil {
				return fmt.Sprintf("%s: %v", s.Name(), err)
			}
			state := map[string]string{}
			for _, m := range members {
				state[m.ID] = m.State
			}
			for _, want := range c.With(ringRoles[path]) {
				if st := state[want.Name()]; st != "ACTIVE" {
					return fmt.Sprintf("%s sees %s in %s as %q (members %v)", s.Name(), want.Name(), path, st, state)
				}
			}
		}
	}
	return ""
}

// Restart restarts one process (killed or stopped before) and waits until
// it is ready and the rings have converged again.
func (c *Cluster) Restart(s *Server) {
	c.t.Helper()
	s.Restart()
	c.WaitRings()
}

// FlushIngesters posts /flush to every live ingester.
func (c *Cluster) FlushIngesters(t testing.TB) {
	t.Helper()
	start := time.Now()
	for _, s := range c.Ingesters() {
		if !s.proc.Exited() {
			s.Flush(t)
		}
	}
	t.Logf("POST /flush on %d ingesters took %v", len(c.Ingesters()), time.Since(start).Round(time.Millisecond))
}

// MetricSum sums the samples of a metric on the processes given (all of
// the cluster's live processes when none are), optionally only the series
// whose label set contains every one of labels (e.g. `reason="retention"`).
func (c *Cluster) MetricSum(t testing.TB, name string, labels []string, procs ...*Server) float64 {
	t.Helper()
	if len(procs) == 0 {
		procs = c.Procs
	}
	var sum float64
	for _, s := range procs {
		if s.proc.Exited() {
			continue
		}
		v, err := s.MetricSum(name, labels...)
		if err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
		sum += v
	}
	return sum
}

// MetricSum sums the samples of a metric on /metrics (see Cluster.MetricSum).
func (s *Server) MetricSum(name string, labels ...string) (float64, error) {
	resp, err := HTTPClient.Get(s.HTTPURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || len(line) == len(name) {
			continue
		}
		rest := line[len(name):]
		lbls := ""
		switch rest[0] {
		case '{':
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			lbls, rest = rest[1:end], rest[end+1:]
		case ' ':
		default:
			continue // another metric with this prefix
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(lbls, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum, nil
}

// WaitMetric polls until the cluster-wide sum of a metric satisfies ok, and
// fails the test after timeout. It returns the last value.
func (c *Cluster) WaitMetric(t testing.TB, what, name string, labels []string, procs []*Server, timeout time.Duration, ok func(float64) bool) float64 {
	t.Helper()
	start := time.Now()
	for {
		v := c.MetricSum(t, name, labels, procs...)
		if ok(v) {
			t.Logf("%s: %s%v = %g after %v", what, name, labels, v, time.Since(start).Round(time.Millisecond))
			return v
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: %s%v still %g after %v", what, name, labels, v, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Sending and reading many traces (safe to use from several goroutines)

// OTLPGRPCConn is a gRPC connection to a distributor's OTLP receiver.
func (s *Server) OTLPGRPCConn(t testing.TB) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(s.OTLPGRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc client for %s: %v", s.Name(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// ExportTraces sends the traces as one OTLP gRPC Export request. It
// returns an error for a failed request or rejected spans.
func ExportTraces(ctx context.Context, conn *grpc.ClientConn, traces []ExpectedTrace) error {
	req := &collectortracepb.ExportTraceServiceRequest{}
	for _, tr := range traces {
		req.ResourceSpans = append(req.ResourceSpans, tr.Spans...)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := collectortracepb.NewTraceServiceClient(conn).Export(ctx, req)
	if err != nil {
		return err
	}
	if ps := resp.GetPartialSuccess(); ps.GetRejectedSpans() != 0 {
		return fmt.Errorf("%d spans rejected: %s", ps.GetRejectedSpans(), ps.GetErrorMessage())
	}
	return nil
}

// SendTraces sends traces in batches of batch traces over OTLP gRPC, spread
// round-robin over the distributors with two requests in flight per
// distributor, and fails the test when any request fails.
func (c *Cluster) SendTraces(t testing.TB, traces []ExpectedTrace, batch int) {
	t.Helper()
	dists := c.Distributors()
	if len(dists) == 0 {
		t.Fatal("SendTraces: the cluster has no distributor")
	}
	conns := make([]*grpc.ClientConn, len(dists))
	for i, d := range dists {
		conns[i] = d.OTLPGRPCConn(t)
	}
	var batches [][]ExpectedTrace
	for i := 0; i < len(traces); i += batch {
		batches = append(batches, traces[i:min(i+batch, len(traces))])
	}
	start := time.Now()
	var (
		next   atomic.Int64
		mu     sync.Mutex
		errs   []string
		wg     sync.WaitGroup
		spans  atomic.Int64
		worker = 2 * len(dists)
	)
	for w := 0; w < worker; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batches) {
					return
				}
				d := i % len(dists)
				if err := ExportTraces(context.Background(), conns[d], batches[i]); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("batch %d to %s: %v", i, dists[d].Name(), err))
					mu.Unlock()
					continue
				}
				for _, tr := range batches[i] {
					spans.Add(int64(len(flatten(tr.Spans))))
				}
			}
		}(w)
	}
	wg.Wait()
	d := time.Since(start)
	t.Logf("sent %d traces (%d spans) in %d requests to %d distributors in %v (%.0f spans/s)", len(traces), spans.Load(), len(batches), len(dists), d.Round(time.Millisecond), float64(spans.Load())/d.Seconds())
	if len(errs) > 0 {
		sort.Strings(errs)
		t.Fatalf("%d of %d export requests failed; first: %s", len(errs), len(batches), strings.Join(errs[:min(5, len(errs))], "\n  "))
	}
}

// FetchTrace asks baseURL for a trace by ID as protobuf. It does not touch
// the test, so it may run in any goroutine.
func FetchTrace(baseURL, id string) (int, *tracepb.TracesData, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, baseURL+"/api/traces/"+id, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/protobuf")
	resp, err := HTTPClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, body, nil
	}
	td, err := DecodeTraceResponse(TraceForm{Proto: true}, body)
	return resp.StatusCode, td, body, err
}

// checkTrace reads one trace and describes what is wrong with it ("" when
// it came back exactly as sent, every span once).
func checkTrace(baseURL string, want ExpectedTrace) string {
	status, td, body, err := FetchTrace(baseURL, want.ID)
	switch {
	case err != nil:
		return fmt.Sprintf("trace %s: %v", want.ID, err)
	case status != http.StatusOK:
		return fmt.Sprintf("trace %s: want 200, got %d %q", want.ID, status, truncate(body))
	}
	if diffs := CompareTrace(want.Spans, td); len(diffs) > 0 {
		return fmt.Sprintf("trace %s: sent %d spans, got %d: %s", want.ID, len(flatten(want.Spans)), CountSpans(td), strings.Join(diffs[:min(3, len(diffs))], "; "))
	}
	return ""
}

// ReadAll reads every trace back through the query-frontends (spread over
// them) with workers goroutines and reports (t.Errorf) every trace that is
// missing, incomplete, changed or has a span twice. It returns how many
// failed.
func (c *Cluster) ReadAll(t testing.TB, traces []ExpectedTrace, workers int, when string) int {
	t.Helper()
	fes := c.Frontends()
	if len(fes) == 0 {
		t.Fatal("ReadAll: the cluster has no query-frontend")
	}
	start := time.Now()
	var (
		next  atomic.Int64
		mu    sync.Mutex
		bad   []string
		badIx []int
		wg    sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(traces) {
					return
				}
				fe := fes[i%len(fes)]
				if p := checkTrace(fe.HTTPURL, traces[i]); p != "" {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%s %s: [%d] %s", time.Now().Format("15:04:05.000"), fe.Name(), i, p))
					badIx = append(badIx, i)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	t.Logf("%s: read %d traces through %d query-frontends in %v (%.0f traces/s), %d bad", when, len(traces), len(fes), d.Round(time.Millisecond), float64(len(traces))/d.Seconds(), len(bad))
	if len(bad) > 0 {
		sort.Strings(bad)
		// Tell a transient failure from a lasting one: read the bad ones
		// again, a few seconds later, through every frontend.
		time.Sleep(5 * time.Second)
		var again []string
		for _, i := range badIx[:min(10, len(badIx))] {
			for _, fe := range fes {
				p := checkTrace(fe.HTTPURL, traces[i])
				if p == "" {
					p = "ok"
				}
				again = append(again, fmt.Sprintf("[%d] via %s 5 s later: %s", i, fe.Name(), p))
			}
		}
		t.Errorf("%s: %d of %d traces did not read back complete and exactly once; first ones:\n  %s\nread again:\n  %s", when, len(bad), len(traces), strings.Join(bad[:min(10, len(bad))], "\n  "), strings.Join(again, "\n  "))
	}
	return len(bad)
}
