package frontend

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/search"
)

// Searcher runs search, tag and metrics requests.
type Searcher interface {
	Search(ctx context.Context, req *pacepb.SearchRequest) (*search.Combiner, error)
}

// SearchJobRunner runs one search job in this process.
type SearchJobRunner interface {
	SearchJob(ctx context.Context, req *pacepb.SearchRequest) (*pacepb.SearchResponse, error)
}

// Search splits req into jobs (the ingesters, and Shards slices of the
// blocks), runs them over the queriers and combines the answers; once the
// combined answer is complete (a search's limit is reached) the jobs still
// running are cancelled.
func (s *Sharder) Search(ctx context.Context, req *pacepb.SearchRequest) (*search.Combiner, error) {
	if err := search.Normalize(req); err != nil {
		return nil, err
	}
	if _, err := search.Parse(req); err != nil {
		return nil, err
	}
	comb, err := search.NewCombiner(req)
	if err != nil {
		return nil, err
	}
	addrs, err := s.Queriers()
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("no healthy querier")
	}
	shards := max(1, s.Shards)
	jobs := []*pacepb.SearchRequest{withSource(req, pacepb.TraceByIDRequest_INGESTERS, 0, 0)}
	for i := 0; i < shards; i++ {
		jobs = append(jobs, withSource(req, pacepb.TraceByIDRequest_BLOCKS, int32(i), int32(shards)))
	}
	var (
		mu        sync.Mutex
		completed uint32
		addErr    error
	)
	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return comb.Done()
	}
	// A search usually has its limit after the first jobs: running them a
	// few at a time, in order (ingesters, then block shards), leaves the
	// rest unstarted. Tags and metrics need every job.
	concurrency := 0
	if req.Kind == pacepb.SearchRequest_SEARCH {
		concurrency = s.SearchConcurrency
	}
	err = s.runJobs(ctx, addrs, len(jobs), concurrency, func(ctx context.Context, addr string, i int) error {
		resp, err := s.runSearch(ctx, addr, jobs[i])
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		completed++
		if err := comb.Add(resp); err != nil && addErr == nil {
			addErr = err
		}
		return nil
	}, done)
	if err == nil {
		err = addErr
	}
	if err != nil {
		return nil, err
	}
	comb.AddJobs(uint32(len(jobs)), completed)
	return comb, nil
}

func withSource(req *pacepb.SearchRequest, src pacepb.TraceByIDRequest_Source, shard, shards int32) *pacepb.SearchRequest {
	r := proto.Clone(req).(*pacepb.SearchRequest)
	r.Source, r.BlockShard, r.BlockShards = src, shard, shards
	return r
}

func (s *Sharder) runSearch(ctx context.Context, addr string, req *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	if addr == s.Self {
		if l, ok := s.Local.(SearchJobRunner); ok {
			return l.SearchJob(ctx, req)
		}
	}
	conn, err := s.Pool.Conn(addr)
	if err != nil {
		return nil, err
	}
	return pacepb.NewQuerierClient(conn).Search(ctx, req)
}

// defaultStep is Tempo's: about 100 points over the range, at least 1s.
func defaultStep(start, end uint64) uint64 {
	step := (end - start) / 100
	return max(uint64(time.Second), step/uint64(time.Second)*uint64(time.Second))
}
