package querier

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/grafana/dskit/ring"
	"golang.org/x/sync/errgroup"

	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/ingester"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/search"
)

// LiveSearcher searches the data the ingesters hold.
type LiveSearcher interface {
	Search(ctx context.Context, req *pacepb.SearchRequest) (*pacepb.SearchResponse, error)
}

// SearchJob runs one job of a search, tag or metrics request: the
// ingesters, one shard of the blocks, or (Source ALL) both.
func (q *Querier) SearchJob(ctx context.Context, req *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	e, err := search.NewExec(req)
	if err != nil {
		return nil, err
	}
	askLive := req.Source != pacepb.TraceByIDRequest_BLOCKS &&
		(req.End == 0 || time.Since(time.Unix(0, int64(req.End))) < q.queryIngestersUntil)
	askBlocks := req.Source != pacepb.TraceByIDRequest_INGESTERS
	if ls, ok := q.live.(LiveSearcher); ok && askLive {
		resp, err := ls.Search(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("ingesters: %w", err)
		}
		if err := e.AddResponse(resp); err != nil {
			return nil, err
		}
	}
	if q.store != nil && askBlocks && !e.Done() {
		if err := q.searchBlocks(ctx, req, e); err != nil {
			return nil, err
		}
	}
	return e.Response()
}

// searchBlocks runs e over the job's blocks, newest first, several at a
// time, until e is done.
func (q *Querier) searchBlocks(ctx context.Context, req *pacepb.SearchRequest, e *search.Exec) error {
	var start, end time.Time
	if req.Start != 0 {
		start = time.Unix(0, int64(req.Start))
	}
	if req.End != 0 {
		end = time.Unix(0, int64(req.End))
	}
	metrics := req.Kind == pacepb.SearchRequest_METRICS
	if metrics {
		// Shards slice the trace-ID space (see Exec.BlockRequest): every
		// block is read, and a span in several blocks counts once.
		e.CountSpansOnce()
	}
	var readers []*block.Reader
	for _, r := range q.store.readers(req.Tenant, start, end) {
		if metrics || inShard(r.Meta().BlockID, req.BlockShard, req.BlockShards) {
			readers = append(readers, r)
		}
	}
	sort.Slice(readers, func(i, j int) bool { return readers[i].Meta().EndTime.After(readers[j].Meta().EndTime) })
	g, gctx := errgroup.WithContext(ctx)
	// A search stops at its limit, usually within the first blocks: one
	// block at a time per job (the frontend runs several jobs at once)
	// reads the least. Tags and metrics read every block anyway.
	if req.Kind == pacepb.SearchRequest_SEARCH {
		g.SetLimit(1)
	} else {
		g.SetLimit(q.blockConcurrency)
	}
	for _, r := range readers {
		if e.Done() || gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if e.Done() {
				return nil
			}
			if err := e.SearchBlock(gctx, r); err != nil && !q.store.gone(gctx, r) {
				return err
			}
			return nil
		})
	}
	return g.Wait()
}

// Search asks every healthy ingester (a search has no trace ID to pick
// replicas by) and combines their answers; it tolerates as many failures
// as the ring allows for a read.
func (f *RingLiveFinder) Search(ctx context.Context, req *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	rs, err := f.Ring.GetReplicationSetForOperation(ring.Read)
	if err != nil {
		return nil, err
	}
	comb, err := search.NewCombiner(req)
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, inst := range rs.Instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.search(ctx, inst.Addr, req)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				err = comb.Add(resp)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("ingester %s: %w", inst.Addr, err))
			}
		}()
	}
	wg.Wait()
	if len(errs) > rs.MaxErrors {
		return nil, errors.Join(errs...)
	}
	return comb.Response(), nil
}

func (f *RingLiveFinder) search(ctx context.Context, addr string, req *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	if ls, ok := f.Local.(LiveSearcher); ok && addr == f.Self {
		return ls.Search(ctx, req)
	}
	c, err := f.Pool.Conn(addr)
	if err != nil {
		return nil, err
	}
	return pacepb.NewIngesterClient(c).Search(ctx, req)
}

// Search runs one querier job for a query-frontend.
func (g GRPC) Search(ctx context.Context, r *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	resp, err := g.Q.SearchJob(ctx, r)
	if err != nil {
		return nil, ingester.SearchError(err)
	}
	return resp, nil
}
