package ingester

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/search"
	"github.com/pace-tracing/pace/traceql"
)

// Search runs e over the tenant's traces in memory (head and blocks waiting
// for their flush) and its recently flushed blocks, stopping early once e
// is done.
func (i *Ingester) Search(ctx context.Context, tenant string, e *search.Exec) error {
	inst, recent := i.tenantData(tenant)
	stats := &pacepb.SearchMetrics{}
	defer e.AddStats(stats)
	if e.Request().Kind == pacepb.SearchRequest_METRICS {
		// Flushed blocks are counted by the queriers' block jobs; every
		// replica holds the live traces, and only the first counts them.
		recent = nil
		if i.Owns != nil {
			e.CountOwnedOnly(func(id [16]byte) bool { return i.Owns(tenant, id) })
		}
	}
	for _, r := range recent {
		if e.Done() {
			return nil
		}
		if err := e.SearchBlock(ctx, r); err != nil {
			return fmt.Errorf("recently flushed %w", err)
		}
	}
	if inst == nil {
		return nil
	}
	// Snapshot the live traces; decode them outside the lock.
	type live struct {
		id    model.TraceID
		parts [][]byte
	}
	var traces []live
	idx := map[model.TraceID]int{}
	inst.mu.RLock()
	for _, hb := range append([]*headBlock{inst.head}, inst.completing...) {
		if hb == nil {
			continue
		}
		for id, lt := range hb.traces {
			if j, ok := idx[id]; ok {
				traces[j].parts = append(traces[j].parts, lt.parts...)
				continue
			}
			idx[id] = len(traces)
			traces = append(traces, live{id: id, parts: append([][]byte(nil), lt.parts...)})
		}
	}
	inst.mu.RUnlock()
	for n, lt := range traces {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		td, err := decodeParts(lt.parts)
		if err != nil {
			return fmt.Errorf("decoding live trace %s: %w", lt.id, err)
		}
		for _, p := range lt.parts {
			stats.InspectedBytes += uint64(len(p))
		}
		stats.InspectedTraces++
		for _, t := range traceql.TracesFromOTLP(td) {
			if !e.Add(t) {
				return nil
			}
		}
	}
	return nil
}

// Search runs a search, tag or metrics request over the ingester's data.
func (g GRPC) Search(ctx context.Context, r *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	if err := model.ValidateTenant(r.Tenant); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	e, err := search.NewExec(r)
	if err != nil {
		return nil, SearchError(err)
	}
	if err := g.I.Search(ctx, r.Tenant, e); err != nil {
		return nil, SearchError(err)
	}
	return e.Response()
}

// SearchError maps a search error to its gRPC status.
func SearchError(err error) error {
	if errors.Is(err, search.ErrBadRequest) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}
