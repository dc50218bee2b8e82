package distributor

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/grafana/dskit/kv/consul"
	"github.com/grafana/dskit/ring"
	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/cluster"
	"github.com/pace-tracing/pace/pacepb"
)

// fakeIngester counts the entries pushed to it, or refuses every push.
type fakeIngester struct {
	pacepb.UnimplementedIngesterServer
	entries atomic.Int64
	down    bool
}

func (f *fakeIngester) Push(_ context.Context, r *pacepb.PushRequest) (*pacepb.PushResponse, error) {
	if f.down {
		return nil, status.Error(codes.Unavailable, "ingester is stopping")
	}
	f.entries.Add(int64(len(r.Entries)))
	return &pacepb.PushResponse{}, nil
}

// ingesterRing starts n fake ingesters on loopback, registers them in an
// in-memory ring with replication factor rf, and returns the ring.
func ingesterRing(t *testing.T, rf int, down ...bool) (*ring.Ring, []*fakeIngester) {
	t.Helper()
	kvc, closer := consul.NewInMemoryClient(ring.GetCodec(), log.NewNopLogger(), nil)
	t.Cleanup(func() { _ = closer.Close() })
	var fakes []*fakeIngester
	for i, d := range down {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f := &fakeIngester{down: d}
		s := grpc.NewServer()
		pacepb.RegisterIngesterServer(s, f)
		go func() { _ = s.Serve(ln) }()
		t.Cleanup(s.Stop)
		fakes = append(fakes, f)
		lc, err := ring.NewBasicLifecycler(ring.BasicLifecyclerConfig{
			ID: fmt.Sprintf("ing-%d", i), Addr: ln.Addr().String(), HeartbeatPeriod: time.Second, HeartbeatTimeout: time.Minute, NumTokens: 64,
		}, "ingester", "ingester", kvc, ring.NewInstanceRegisterDelegate(ring.ACTIVE, 64), log.NewNopLogger(), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if err := services.StartAndAwaitRunning(context.Background(), lc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = services.StopAndAwaitTerminated(context.Background(), lc) })
	}
	r, err := ring.NewWithStoreClientAndStrategy(ring.Config{HeartbeatTimeout: time.Minute, ReplicationFactor: rf}, "ingester", "ingester", kvc, ring.NewDefaultReplicationStrategy(), prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := services.StartAndAwaitRunning(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = services.StopAndAwaitTerminated(context.Background(), r) })
	deadline := time.Now().Add(5 * time.Second)
	for r.InstancesCount() < len(down) {
		if time.Now().After(deadline) {
			t.Fatalf("ring shows %d of %d ingesters", r.InstancesCount(), len(down))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r, fakes
}

func pushThrough(t *testing.T, r *ring.Ring) error {
	t.Helper()
	// The pool outlives the call, as in the server: the third replica's push
	// may still be running when the quorum of two has answered.
	pool := cluster.NewPool()
	t.Cleanup(pool.Close)
	entries, _, err := splitByTrace(gen.New(7).Traces(50, 3))
	if err != nil {
		t.Fatal(err)
	}
	return (&RingPusher{Ring: r, Pool: pool, Self: "elsewhere"}).Push(context.Background(), "t", entries)
}

func TestEveryTraceReachesAllThreeReplicas(t *testing.T) {
	r, fakes := ingesterRing(t, 3, false, false, false)
	if err := pushThrough(t, r); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, f := range fakes {
		for f.entries.Load() != 50 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // the third copy may land after the quorum answered
		}
		if f.entries.Load() != 50 {
			t.Fatalf("an ingester got %d traces, want all 50 at RF 3 with 3 ingesters", f.entries.Load())
		}
	}
}

func TestQuorumOfTwoSucceedsAndOneCopyIsRefused(t *testing.T) {
	r, _ := ingesterRing(t, 3, false, false, true)
	if err := pushThrough(t, r); err != nil {
		t.Fatalf("one of three ingesters down: %v, want success on the quorum of 2", err)
	}
	r, _ = ingesterRing(t, 3, false, true, true)
	err := pushThrough(t, r)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "replication factor 3 needs 2") {
		t.Fatalf("two of three down: got %v, want UNAVAILABLE naming the quorum", err)
	}
}
