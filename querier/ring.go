package querier

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grafana/dskit/ring"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/cluster"
	"github.com/pace-tracing/pace/ingester"
	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/pacepb"
)

// RingLiveFinder asks the ingesters that own a trace (its replicas) and
// merges their answers; it tolerates as many failed replicas as the
// replication factor allows.
type RingLiveFinder struct {
	Ring  *ring.Ring
	Pool  *cluster.Pool
	Self  string
	Local LiveFinder // this process's ingester, or nil
}

// FindTraceByID implements LiveFinder.
func (f *RingLiveFinder) FindTraceByID(ctx context.Context, tenant string, id model.TraceID) (ptrace.Traces, bool, error) {
	rs, err := f.Ring.Get(cluster.Token(tenant, id), ring.Read, nil, nil, nil)
	if err != nil {
		return ptrace.Traces{}, false, err
	}
	// Every replica is asked. A write succeeded on a quorum of them, so a
	// "not found" means something only when at most MaxErrors replicas
	// failed to answer: otherwise the replicas that answered may be just
	// the ones that missed the write, and the read fails (the frontend
	// retries the job on another querier) rather than say "not found".
	var (
		mu     sync.Mutex
		parts  []ptrace.Traces
		errs   []error
		wg     sync.WaitGroup
		answer int
	)
	for _, inst := range rs.Instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			td, ok, err := f.ask(ctx, inst.Addr, tenant, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("ingester %s: %w", inst.Addr, err))
				return
			}
			answer++
			if ok {
				parts = append(parts, td)
			}
		}()
	}
	wg.Wait()
	if len(errs) > rs.MaxErrors {
		return ptrace.Traces{}, false, fmt.Errorf("%d of %d ingesters answered: %w", answer, len(rs.Instances), errors.Join(errs...))
	}
	td, ok := model.Merge(parts)
	return td, ok, nil
}

func (f *RingLiveFinder) ask(ctx context.Context, addr, tenant string, id model.TraceID) (ptrace.Traces, bool, error) {
	if addr == f.Self && f.Local != nil {
		return f.Local.FindTraceByID(ctx, tenant, id)
	}
	c, err := f.Pool.Conn(addr)
	if err != nil {
		return ptrace.Traces{}, false, err
	}
	resp, err := pacepb.NewIngesterClient(c).FindTraceByID(ctx, &pacepb.TraceByIDRequest{Tenant: tenant, TraceId: id[:]})
	if err != nil {
		return ptrace.Traces{}, false, err
	}
	return ingester.TraceFromResponse(resp)
}

// inShard says whether a block belongs to shard of shards (by block ID hash),
// the unit of work the query-frontend hands to one querier.
func inShard(id uuid.UUID, shard, shards int32) bool {
	if shards <= 1 {
		return true
	}
	h := fnv.New32a()
	_, _ = h.Write(id[:])
	return int32(h.Sum32()%uint32(shards)) == shard
}

// GRPC serves querier jobs to query-frontends.
type GRPC struct {
	pacepb.UnimplementedQuerierServer
	Q *Querier
}

// FindTraceByID runs one job: the ingesters, one shard of the blocks, or all.
func (g GRPC) FindTraceByID(ctx context.Context, r *pacepb.TraceByIDRequest) (*pacepb.TraceByIDResponse, error) {
	id, err := ingester.TraceIDFromBytes(r.TraceId)
	if err != nil {
		return nil, err
	}
	var start, end time.Time
	if r.StartUnix > 0 {
		start = time.Unix(r.StartUnix, 0)
	}
	if r.EndUnix > 0 {
		end = time.Unix(r.EndUnix, 0).Add(time.Second - 1)
	}
	td, err := g.Q.FindTraceByIDJob(ctx, r.Tenant, id, start, end, Job{Source: r.Source, Shard: r.BlockShard, Shards: r.BlockShards})
	if errors.Is(err, ErrTraceNotFound) {
		return &pacepb.TraceByIDResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ingester.TraceResponse(td)
}
