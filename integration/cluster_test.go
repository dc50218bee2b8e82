package integration

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// Cluster tests: three process layouts on one shared MinIO bucket, 10,000
// traces each, read back complete through the query-frontends before and
// after flush and compaction; an ingester killed during ingest; retention.

const (
	clusterTraces = 10000
	clusterBatch  = 100 // traces per export request
	readWorkers   = 8
	blocklistPoll = 2 * time.Second
)

// clusterArgs make flushes, block-list polls and compaction fast.
var clusterArgs = []string{
	"-storage.trace.blocklist-poll", blocklistPoll.String(),
	"-storage.trace.blocklist-index-max-age", "3s",
	"-compactor.compaction-cycle", "2s",
	// Inputs of a compaction are deleted soon after, so that the reads
	// after compaction come from the compacted blocks alone. The server
	// insists that this, and the ingesters' complete-block timeout, exceed
	// poll + index max age (5 s): a querier sees every block in time.
	"-compactor.compacted-block-retention", "8s",
	"-ingester.complete-block-timeout", "8s",
	"-ingester.flush-check-period", "1s",
}

var (
	oneAllRF3 = []string{"all", "all", "all"}
	perRole   = []string{"distributor", "ingester", "querier", "query-frontend", "compactor", "metrics-generator"}
	perRole3  = []string{"distributor", "ingester", "ingester", "ingester", "querier", "query-frontend", "compactor", "metrics-generator"}
)

// makeTraces makes n traces of 2-5 spans each (two services when there
// are three spans or more) whose spans start around start.
func makeTraces(n int, label string, start time.Time) []ExpectedTrace {
	out := make([]ExpectedTrace, 0, n)
	base := uint64(start.UnixNano())
	for i := 0; i < n; i++ {
		id := randomBytes(16)
		nSpans := 2 + i%4
		var spans []*tracepb.Span
		for k := 0; k < nSpans; k++ {
			sp := &tracepb.Span{
				TraceId:           id,
				SpanId:            randomBytes(8),
				Name:              fmt.Sprintf("%s op-%d", label, k),
				Kind:              tracepb.Span_SpanKind(1 + k%5),
				StartTimeUnixNano: base + uint64(i)*1000 + uint64(k)*100_000,
				EndTimeUnixNano:   base + uint64(i)*1000 + uint64(k)*100_000 + 2_000_000,
				Attributes: []*commonpb.KeyValue{
					kv("test.trace", intV(int64(i))),
					kv("test.label", strV(label)),
					kv("http.status_code", intV(int64(200+k))),
				},
			}
			if k > 0 {
				sp.ParentSpanId = spans[(k-1)/2].SpanId
			}
			if k == nSpans-1 && i%10 == 0 {
				sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"}
			}
			spans = append(spans, sp)
		}
		svc := func(name string, sps []*tracepb.Span) *tracepb.ResourceSpans {
			return &tracepb.ResourceSpans{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
					kv("service.name", strV(name)),
					kv("test.label", strV(label)),
				}},
				ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "cluster-test", Version: "1"}, Spans: sps}},
			}
		}
		rs := []*tracepb.ResourceSpans{svc(fmt.Sprintf("svc-%d", i%7), spans[:min(2, nSpans)])}
		if nSpans > 2 {
			rs = append(rs, svc("db", spans[2:]))
		}
		out = append(out, ExpectedTrace{ID: fmt.Sprintf("%x", id), Spans: rs})
	}
	return out
}

// every returns every nth trace.
func every(traces []ExpectedTrace, n int) []ExpectedTrace {
	var out []ExpectedTrace
	for i := 0; i < len(traces); i += n {
		out = append(out, traces[i])
	}
	return out
}

func countSpans(traces []ExpectedTrace) int {
	n := 0
	for _, tr := range traces {
		n += len(flatten(tr.Spans))
	}
	return n
}

// clusterRoundTrip is the common part of every layout: 10,000 traces in two
// halves with a flush of every ingester between them (so that there are
// blocks to compact even with one ingester), all read back; flush, wait
// for compaction and the deletion of its inputs, all read back again.
func clusterRoundTrip(t *testing.T, c *Cluster, rf int) []ExpectedTrace {
	traces := makeTraces(clusterTraces, "rt", time.Now().Add(-time.Minute))
	spans := countSpans(traces)
	received0 := c.MetricSum(t, "pace_distributor_spans_received_total", nil)

	c.SendTraces(t, traces[:clusterTraces/2], clusterBatch)
	c.FlushIngesters(t)
	c.SendTraces(t, traces[clusterTraces/2:], clusterBatch)

	if got := c.MetricSum(t, "pace_distributor_spans_received_total", nil) - received0; got != float64(spans) {
		t.Errorf("pace_distributor_spans_received_total grew by %g over the distributors, want %d (spans sent)", got, spans)
	}
	for _, ing := range c.Ingesters() {
		if v := c.MetricSum(t, "pace_ingester_bytes_received_total", nil, ing); v <= 0 {
			t.Errorf("%s: pace_ingester_bytes_received_total = %g, want > 0 (RF %d, %d ingesters)", ing.Name(), v, rf, len(c.Ingesters()))
		}
	}

	c.ReadAll(t, traces, readWorkers, "after ingest (half in blocks, half live)")
	checkClusterSearch(t, c, traces, "rt", "after ingest (half in blocks, half live)")

	compacted0 := c.MetricSum(t, "pace_compactor_blocks_compacted_total", nil, c.Compactors()...)
	c.FlushIngesters(t)
	// The final flush wrote one block per ingester; all of them, with the
	// block compacted before, end up in one block (one time window).
	c.WaitMetric(t, "compaction of the final flush", "pace_compactor_blocks_compacted_total", nil, c.Compactors(), 90*time.Second, func(v float64) bool { return v >= compacted0+float64(len(c.Ingesters())) })
	c.WaitMetric(t, "compacted inputs deleted", "pace_compactor_blocks_deleted_total", []string{`reason="compacted"`}, c.Compactors(), 90*time.Second, func(v float64) bool { return v >= compacted0+float64(len(c.Ingesters())) })
	waitBlocks(t, c, 1, 60*time.Second)
	// Each span was written to rf ingesters, so to rf blocks; the
	// compactor keeps one copy.
	if v := c.MetricSum(t, "pace_compactor_spans_deduplicated_total", nil, c.Compactors()...); v != float64((rf-1)*spans) {
		t.Errorf("pace_compactor_spans_deduplicated_total = %g, want %d (RF %d x %d spans, compacted into one block)", v, (rf-1)*spans, rf, spans)
	}
	// Let every querier poll the block list twice.
	time.Sleep(2 * blocklistPoll)
	// A sample: a trace read from a block in MinIO takes ~4-5 ms of
	// querier and MinIO CPU (about 200-260 reads/s on two cores), so the
	// full 10,000 would add ~45 s per layout.
	c.ReadAll(t, every(traces, 5), readWorkers, "every 5th trace after flush and compaction (from compacted blocks)")
	checkClusterSearch(t, c, traces, "rt", "after flush and compaction")
	logBlocks(t, c)

	// The metrics-generator got the spans the distributors forwarded.
	c.WaitMetric(t, "generator", "pace_metrics_generator_spans_received_total", nil, c.Generators(), 30*time.Second, func(v float64) bool { return v > 0 })
	if v := c.MetricSum(t, "pace_distributor_generator_forwarded_traces_total", nil, c.Distributors()...); v <= 0 {
		t.Errorf("pace_distributor_generator_forwarded_traces_total = %g on the distributors, want > 0", v)
	}
	return traces
}

// checkClusterSearch searches through every query-frontend: each trace
// with the label is found exactly once (replicas and blocks merged), and a
// count_over_time counts every span once although RF copies exist. The
// block list reaches the queriers by polling, so the check is retried for
// a while.
func checkClusterSearch(t *testing.T, c *Cluster, traces []ExpectedTrace, label, when string) {
	t.Helper()
	want := map[string]bool{}
	errSpans := 0
	for i, tr := range traces {
		want[tr.ID] = true
		if i%10 == 0 {
			errSpans++ // makeTraces: the last span of every 10th trace
		}
	}
	spans := countSpans(traces)
	now := time.Now()
	for _, fe := range c.Frontends() {
		deadline := time.Now().Add(20 * time.Second)
		for {
			problem := clusterSearchProblem(t, fe, want, spans, errSpans, label, now)
			if problem == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s, search through %s: %s", when, fe.Name(), problem)
				break
			}
			time.Sleep(time.Second)
		}
	}
}

func clusterSearchProblem(t *testing.T, fe *Server, want map[string]bool, spans, errSpans int, label string, now time.Time) string {
	q := url.Values{}
	q.Set("q", fmt.Sprintf(`{ resource.test.label = %q }`, label))
	q.Set("limit", strconv.Itoa(len(want)+100))
	q.Set("spss", "1")
	q.Set("start", strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10))
	q.Set("end", strconv.FormatInt(now.Add(time.Minute).Unix(), 10))
	got, code, body := fe.search(t, "", q)
	if code != http.StatusOK {
		return fmt.Sprintf("search answered %d: %s", code, body)
	}
	seen := map[string]bool{}
	for _, tr := range got.Traces {
		if seen[tr.TraceID] {
			return fmt.Sprintf("trace %s returned twice", tr.TraceID)
		}
		if !want[tr.TraceID] {
			return fmt.Sprintf("trace %s was not sent", tr.TraceID)
		}
		seen[tr.TraceID] = true
	}
	if len(seen) != len(want) {
		return fmt.Sprintf("search found %d of the %d traces", len(seen), len(want))
	}
	for _, m := range []struct {
		q    string
		want int
	}{
		{fmt.Sprintf(`{ resource.test.label = %q } | count_over_time()`, label), spans},
		{fmt.Sprintf(`{ resource.test.label = %q && status = error } | count_over_time()`, label), errSpans},
	} {
		mq := url.Values{}
		mq.Set("q", m.q)
		mq.Set("start", strconv.FormatInt(now.Add(-10*time.Minute).UnixNano(), 10))
		mq.Set("end", strconv.FormatInt(now.Add(time.Minute).UnixNano(), 10))
		mq.Set("step", "11m")
		resp, b := fe.Do(t, http.MethodGet, "/api/metrics/query_range?"+mq.Encode(), "", nil, nil)
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("%s answered %d: %s", m.q, resp.StatusCode, truncate(b))
		}
		series, err := seriesFromJSON(b, math.MaxInt64)
		if err != nil {
			return err.Error()
		}
		total := 0.0
		for _, s := range series {
			for _, p := range s.Samples {
				total += p.Value
			}
		}
		if total != float64(m.want) {
			return fmt.Sprintf("%s counted %g spans, want %d (each span once)", m.q, total, m.want)
		}
	}
	return ""
}

// waitBlocks waits until the bucket holds n blocks (meta.json files).
func waitBlocks(t *testing.T, c *Cluster, n int, timeout time.Duration) {
	start := time.Now()
	for {
		got := len(blockIDs(t, c))
		if got == n {
			t.Logf("bucket holds %d block(s) after %v", n, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > timeout {
			t.Errorf("bucket still holds %d blocks after %v, want %d", got, timeout, n)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// logBlocks logs how many blocks the bucket holds.
func logBlocks(t *testing.T, c *Cluster) {
	metas := 0
	for _, k := range c.MinIO.ListObjects(t, c.Bucket) {
		if strings.HasSuffix(k, "/meta.json") {
			metas++
		}
	}
	t.Logf("bucket %s holds %d blocks (meta.json)", c.Bucket, metas)
}

// TestClusterThreeAllRF3: three `-target all` processes, RF 3.
func TestClusterThreeAllRF3(t *testing.T) {
	m := StartMinIO(t)
	c := StartCluster(t, ClusterSpec{Targets: oneAllRF3, ReplicationFactor: 3, MinIO: m, ExtraArgs: clusterArgs})
	clusterRoundTrip(t, c, 3)
}

// TestClusterOneProcessPerRole: one process per role, RF 1.
func TestClusterOneProcessPerRole(t *testing.T) {
	m := StartMinIO(t)
	c := StartCluster(t, ClusterSpec{Targets: perRole, ReplicationFactor: 1, MinIO: m, ExtraArgs: clusterArgs})
	clusterRoundTrip(t, c, 1)
}

// TestClusterThreeIngestersRF3Kill9DuringIngest: one process per role but
// three ingesters, RF 3. After the round trip, one ingester is killed with
// SIGKILL while a sender keeps writing: every trace acknowledged must read
// back complete, before and after the ingester is restarted.
func TestClusterThreeIngestersRF3Kill9DuringIngest(t *testing.T) {
	m := StartMinIO(t)
	c := StartCluster(t, ClusterSpec{Targets: perRole3, ReplicationFactor: 3, MinIO: m, ExtraArgs: clusterArgs})
	earlier := clusterRoundTrip(t, c, 3)
	if t.Failed() {
		return
	}

	victim := c.Ingesters()[1]
	acked, failed := sendDuring(t, c, 10*time.Second, 3*time.Second, victim.Kill9)
	t.Logf("sustained ingest: %d traces acknowledged, %d requests failed", len(acked), len(failed))
	for _, f := range failed {
		t.Logf("  failed: %s", f)
	}
	if len(acked) == 0 {
		t.Fatal("no trace acknowledged while one of three ingesters was down")
	}
	// Writes with one of three ingesters down must succeed (quorum 2):
	// allow failures only within 2 s of the kill.
	for _, f := range failed {
		if f.after > 2*time.Second {
			t.Errorf("write failed %v after one of three ingesters was killed (RF 3 quorum is 2): %s", f.after.Round(time.Millisecond), f.err)
		}
	}
	c.ReadAll(t, acked, readWorkers, "acknowledged during the kill, one ingester down")
	c.ReadAll(t, earlier[:1000], readWorkers, "1,000 of the earlier traces, one ingester down")

	c.Restart(victim)
	c.ReadAll(t, acked, readWorkers, "acknowledged during the kill, after the restart")

	c.FlushIngesters(t)
	time.Sleep(2*blocklistPoll + 8*time.Second) // past complete-block-timeout
	c.ReadAll(t, every(acked, 6), readWorkers, "every 6th trace acknowledged during the kill, after the restart and a flush (from blocks)")
}

type sendFailure struct {
	after time.Duration // since the kill (negative: before it)
	err   string
}

func (f sendFailure) String() string {
	return fmt.Sprintf("%v after the kill: %s", f.after.Round(time.Millisecond), f.err)
}

// sendDuring sends small batches from two goroutines for d, calls kill
// after killAt, and returns the traces acknowledged and the failures.
func sendDuring(t *testing.T, c *Cluster, d, killAt time.Duration, kill func()) ([]ExpectedTrace, []sendFailure) {
	dists := c.Distributors()
	conns := make([]*grpc.ClientConn, len(dists))
	for i, dist := range dists {
		conns[i] = dist.OTLPGRPCConn(t)
	}
	var (
		mu       sync.Mutex
		acked    []ExpectedTrace
		failed   []sendFailure
		killedAt time.Time
		wg       sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(d)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; time.Now().Before(stop); n++ {
				batch := makeTraces(10, fmt.Sprintf("kill-w%d-%d", w, n), time.Now())
				err := ExportTraces(context.Background(), conns[(w+n)%len(conns)], batch)
				mu.Lock()
				if err != nil {
					after := time.Duration(-1)
					if !killedAt.IsZero() {
						after = time.Since(killedAt)
					}
					failed = append(failed, sendFailure{after: after, err: err.Error()})
				} else {
					acked = append(acked, batch...)
				}
				mu.Unlock()
				time.Sleep(30 * time.Millisecond)
			}
		}(w)
	}
	time.Sleep(killAt)
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	kill()
	wg.Wait()
	return acked, failed
}

// TestClusterRetention: with -compactor.block-retention 1h, a block of
// spans three hours old is deleted from the bucket by the next compactor
// cycle, while a block of recent spans stays and reads back.
func TestClusterRetention(t *testing.T) {
	m := StartMinIO(t)
	args := append(append([]string{}, clusterArgs...), "-compactor.block-retention", "1h")
	c := StartCluster(t, ClusterSpec{Targets: perRole, ReplicationFactor: 1, MinIO: m, ExtraArgs: args})

	old := makeTraces(200, "old", time.Now().Add(-3*time.Hour))
	c.SendTraces(t, old, clusterBatch)
	c.ReadAll(t, old, readWorkers, "3 h old traces, live")
	c.FlushIngesters(t)
	oldBlocks := blockIDs(t, c)
	if len(oldBlocks) == 0 {
		t.Fatal("no block in the bucket after flushing the old traces")
	}

	recent := makeTraces(200, "recent", time.Now().Add(-time.Minute))
	c.SendTraces(t, recent, clusterBatch)
	c.FlushIngesters(t)
	all := blockIDs(t, c)
	var recentBlocks []string
	for id := range all {
		if !oldBlocks[id] {
			recentBlocks = append(recentBlocks, id)
		}
	}
	if len(recentBlocks) == 0 {
		t.Fatal("no new block in the bucket after flushing the recent traces")
	}
	t.Logf("blocks: %d of old spans, %d of recent spans", len(oldBlocks), len(recentBlocks))

	c.WaitMetric(t, "retention", "pace_compactor_blocks_deleted_total", []string{`reason="retention"`}, c.Compactors(), 60*time.Second, func(v float64) bool { return v >= float64(len(oldBlocks)) })
	// Deletion is done when the cycle that counted it has finished.
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := objectsOf(t, c, oldBlocks)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects of blocks past retention still in the bucket: %v", left)
		}
		time.Sleep(250 * time.Millisecond)
	}
	now := blockIDs(t, c)
	for _, id := range recentBlocks {
		if !now[id] {
			t.Errorf("block %s of recent spans is gone from the bucket (retention 1h)", id)
		}
	}
	time.Sleep(2*blocklistPoll + 5*time.Second) // queriers re-poll; ingesters forget flushed blocks
	c.ReadAll(t, recent, readWorkers, "recent traces after retention")
	fe := c.Frontends()[0]
	for _, tr := range old[:20] {
		status, td, _, err := FetchTrace(fe.HTTPURL, tr.ID)
		if err != nil || status != 404 {
			n := 0
			if td != nil {
				n = CountSpans(td)
			}
			t.Errorf("old trace %s after its block was deleted: want 404, got %d (%d spans, err %v)", tr.ID, status, n, err)
		}
	}
}

// blockIDs lists the blocks (directories with a meta.json) in the bucket.
func blockIDs(t *testing.T, c *Cluster) map[string]bool {
	out := map[string]bool{}
	for _, k := range c.MinIO.ListObjects(t, c.Bucket) {
		if strings.HasSuffix(k, "/meta.json") {
			out[strings.TrimSuffix(k, "/meta.json")] = true
		}
	}
	return out
}

// objectsOf lists the bucket's objects that belong to the given blocks.
func objectsOf(t *testing.T, c *Cluster, blocks map[string]bool) []string {
	var out []string
	for _, k := range c.MinIO.ListObjects(t, c.Bucket) {
		for id := range blocks {
			if strings.HasPrefix(k, id+"/") {
				out = append(out, k)
			}
		}
	}
	return out
}
