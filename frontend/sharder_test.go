package frontend

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/cluster"
	"github.com/pace-tracing/pace/ingester"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/querier"
)

// fakeQuerier answers every job with one span per job (span ID = shard+1,
// the ingester job 100), or fails every job.
type fakeQuerier struct {
	pacepb.UnimplementedQuerierServer
	broken bool
	jobs   atomic.Int64
}

func (f *fakeQuerier) FindTraceByID(_ context.Context, r *pacepb.TraceByIDRequest) (*pacepb.TraceByIDResponse, error) {
	f.jobs.Add(1)
	if f.broken {
		return nil, status.Error(codes.Unavailable, "querier is restarting")
	}
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID(knownID))
	id := byte(r.BlockShard + 1)
	if r.Source == pacepb.TraceByIDRequest_INGESTERS {
		id = 100
	}
	sp.SetSpanID(pcommon.SpanID{id})
	return ingester.TraceResponse(td)
}

func startQuerier(t *testing.T, f *fakeQuerier) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pacepb.RegisterQuerierServer(s, f)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func TestSharderSpreadsJobsAndRetriesAFailedOneElsewhere(t *testing.T) {
	good, bad := &fakeQuerier{}, &fakeQuerier{broken: true}
	addrs := []string{startQuerier(t, good), startQuerier(t, bad)}
	pool := cluster.NewPool()
	defer pool.Close()
	s := &Sharder{Queriers: func() ([]string, error) { return addrs, nil }, Pool: pool, Shards: 4, Retries: 2}
	td, err := s.FindTraceByID(context.Background(), "t", knownID, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// 1 ingester job + 4 block shards, each answered once, merged.
	if td.SpanCount() != 5 {
		t.Fatalf("merged trace has %d spans, want 5 (one per job)", td.SpanCount())
	}
	if good.jobs.Load() != 5 || bad.jobs.Load() == 0 {
		t.Fatalf("good querier ran %d jobs, broken one was tried %d times; want 5 and > 0", good.jobs.Load(), bad.jobs.Load())
	}
}

func TestSharderFailsWhenNoQuerierCanAnswer(t *testing.T) {
	addrs := []string{startQuerier(t, &fakeQuerier{broken: true})}
	pool := cluster.NewPool()
	defer pool.Close()
	s := &Sharder{Queriers: func() ([]string, error) { return addrs, nil }, Pool: pool, Shards: 2, Retries: 2}
	_, err := s.FindTraceByID(context.Background(), "t", knownID, time.Time{}, time.Time{})
	if err == nil || errors.Is(err, querier.ErrTraceNotFound) {
		t.Fatalf("got %v, want an error naming the failed querier", err)
	}
}
