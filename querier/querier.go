// Package querier is the querier role: it finds a trace by ID in the
// ingesters' memory and in the blocks of the object store, and merges what
// it finds into one trace with no span twice.
package querier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"golang.org/x/sync/errgroup"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/pacepb"
)

// LiveFinder finds the spans of a trace that are not in a block yet.
type LiveFinder interface {
	FindTraceByID(ctx context.Context, tenant string, id model.TraceID) (ptrace.Traces, bool, error)
}

// Querier is safe for concurrent use.
type Querier struct {
	live  LiveFinder
	store *Store
	// blockConcurrency bounds the blocks searched at once per request.
	blockConcurrency int
	// queryIngestersUntil: a request whose time range ended longer ago than
	// this does not ask the ingesters (they only hold recent data), as Tempo's
	// query_ingesters_until.
	queryIngestersUntil time.Duration
}

// New makes a querier over live data and the block store (either may be nil).
func New(live LiveFinder, store *Store) *Querier {
	return &Querier{live: live, store: store, blockConcurrency: 8, queryIngestersUntil: 30 * time.Minute}
}

// ErrTraceNotFound is returned when no part of the trace exists.
var ErrTraceNotFound = errors.New("trace not found")

// Job is the part of a trace-by-ID request one querier runs.
type Job struct {
	Source        pacepb.TraceByIDRequest_Source
	Shard, Shards int32 // for Source BLOCKS: which blocks (by block ID hash)
}

// FindTraceByID returns the whole trace: ingesters are always asked (recent
// spans), blocks only where their time range meets [start, end].
func (q *Querier) FindTraceByID(ctx context.Context, tenant string, id model.TraceID, start, end time.Time) (ptrace.Traces, error) {
	return q.FindTraceByIDJob(ctx, tenant, id, start, end, Job{})
}

// FindTraceByIDJob runs one job of a trace-by-ID request.
func (q *Querier) FindTraceByIDJob(ctx context.Context, tenant string, id model.TraceID, start, end time.Time, job Job) (ptrace.Traces, error) {
	askLive := job.Source != pacepb.TraceByIDRequest_BLOCKS &&
		(end.IsZero() || time.Since(end) < q.queryIngestersUntil)
	askBlocks := job.Source != pacepb.TraceByIDRequest_INGESTERS
	var (
		mu    sync.Mutex
		parts []ptrace.Traces
	)
	add := func(td ptrace.Traces) {
		mu.Lock()
		parts = append(parts, td)
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(q.blockConcurrency + 1)
	if q.live != nil && askLive {
		g.Go(func() error {
			td, ok, err := q.live.FindTraceByID(gctx, tenant, id)
			if err != nil {
				return fmt.Errorf("ingester: %w", err)
			}
			if ok {
				add(td)
			}
			return nil
		})
	}
	if q.store != nil && askBlocks {
		for _, r := range q.store.readers(tenant, start, end) {
			if !inShard(r.Meta().BlockID, job.Shard, job.Shards) {
				continue
			}
			g.Go(func() error {
				td, ok, err := r.FindTraceByID(gctx, id)
				if err != nil {
					if q.store.gone(gctx, r) {
						return nil
					}
					return fmt.Errorf("block %s: %w", r.Meta().BlockID, err)
				}
				if ok {
					add(td)
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return ptrace.Traces{}, err
	}
	if td, ok := model.Merge(parts); ok {
		return td, nil
	}
	return ptrace.Traces{}, ErrTraceNotFound
}
