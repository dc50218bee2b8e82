package frontend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/cluster"
	"github.com/pace-tracing/pace/ingester"
	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/querier"
)

// JobRunner runs one querier job in this process.
type JobRunner interface {
	FindTraceByIDJob(ctx context.Context, tenant string, id model.TraceID, start, end time.Time, job querier.Job) (ptrace.Traces, error)
}

// Sharder is the query-frontend's TraceFinder in a cluster: it splits a
// trace-by-ID request into jobs (the ingesters, and Shards slices of the
// blocks), spreads them over the healthy queriers, retries a failed job on
// another querier, and merges the answers without duplicate spans.
type Sharder struct {
	// Queriers lists the healthy queriers' addresses.
	Queriers func() ([]string, error)
	Pool     *cluster.Pool
	Self     string    // this process's address
	Local    JobRunner // this process's querier, or nil
	Shards   int       // block shards per request
	Retries  int       // extra attempts per job, each on another querier
	// SearchConcurrency bounds the jobs of one search in flight (0: all).
	SearchConcurrency int
}

// FindTraceByID implements TraceFinder.
func (s *Sharder) FindTraceByID(ctx context.Context, tenant string, id model.TraceID, start, end time.Time) (ptrace.Traces, error) {
	addrs, err := s.Queriers()
	if err != nil {
		return ptrace.Traces{}, err
	}
	if len(addrs) == 0 {
		return ptrace.Traces{}, errors.New("no healthy querier")
	}
	jobs := []querier.Job{{Source: pacepb.TraceByIDRequest_INGESTERS}}
	for i := 0; i < max(1, s.Shards); i++ {
		jobs = append(jobs, querier.Job{Source: pacepb.TraceByIDRequest_BLOCKS, Shard: int32(i), Shards: int32(max(1, s.Shards))})
	}
	var (
		mu    sync.Mutex
		parts []ptrace.Traces
	)
	err = s.runJobs(ctx, addrs, len(jobs), 0, func(ctx context.Context, addr string, i int) error {
		td, found, err := s.run(ctx, addr, tenant, id, start, end, jobs[i])
		if err == nil && found {
			mu.Lock()
			parts = append(parts, td)
			mu.Unlock()
		}
		return err
	}, nil)
	if err != nil {
		return ptrace.Traces{}, err
	}
	if td, ok := model.Merge(parts); ok {
		return td, nil
	}
	return ptrace.Traces{}, querier.ErrTraceNotFound
}

// runJobs runs jobs 0..n-1 concurrently, spread over the queriers from a
// random one on; a failed job is retried on the next querier, up to
// Retries times. Once done() reports true the remaining jobs are cancelled
// and their errors ignored.
func (s *Sharder) runJobs(ctx context.Context, addrs []string, n, concurrency int, fn func(ctx context.Context, addr string, job int) error, done func() bool) error {
	if done == nil {
		done = func() bool { return false }
	}
	first := rand.IntN(len(addrs))
	g, gctx := errgroup.WithContext(ctx)
	if concurrency > 0 {
		g.SetLimit(concurrency)
	}
	cctx, cancel := context.WithCancel(gctx)
	defer cancel()
	for i := 0; i < n; i++ {
		g.Go(func() error {
			var lastErr error
			for attempt := 0; attempt <= s.Retries && attempt < len(addrs); attempt++ {
				if done() {
					return nil
				}
				addr := addrs[(first+i+attempt)%len(addrs)]
				err := fn(cctx, addr, i)
				if done() {
					cancel()
					return nil
				}
				if err == nil {
					return nil
				}
				if status.Code(err) == codes.InvalidArgument {
					return err // the request is wrong; another querier will say the same
				}
				lastErr = fmt.Errorf("querier %s: %w", addr, err)
			}
			return lastErr
		})
	}
	return g.Wait()
}

func (s *Sharder) run(ctx context.Context, addr, tenant string, id model.TraceID, start, end time.Time, job querier.Job) (ptrace.Traces, bool, error) {
	if addr == s.Self && s.Local != nil {
		td, err := s.Local.FindTraceByIDJob(ctx, tenant, id, start, end, job)
		if errors.Is(err, querier.ErrTraceNotFound) {
			return ptrace.Traces{}, false, nil
		}
		return td, err == nil, err
	}
	conn, err := s.Pool.Conn(addr)
	if err != nil {
		return ptrace.Traces{}, false, err
	}
	req := &pacepb.TraceByIDRequest{Tenant: tenant, TraceId: id[:], Source: job.Source, BlockShard: job.Shard, BlockShards: job.Shards}
	if !start.IsZero() {
		req.StartUnix = start.Unix()
	}
	if !end.IsZero() {
		req.EndUnix = end.Unix()
	}
	resp, err := pacepb.NewQuerierClient(conn).FindTraceByID(ctx, req)
	if err != nil {
		return ptrace.Traces{}, false, err
	}
	return ingester.TraceFromResponse(resp)
}
