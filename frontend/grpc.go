package frontend

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/querier"
)

// GRPC is the query API over gRPC (pacepb.Query): what the HTTP API
// answers, for clients that would rather speak gRPC, and what the
// coordinator's access point serves on 9096.
type GRPC struct {
	pacepb.UnimplementedQueryServer
	F *Frontend
}

// FindTraceByID answers NotFound for an unknown trace.
func (g GRPC) FindTraceByID(ctx context.Context, r *pacepb.TraceByIDRequest) (*pacepb.TraceByIDResponse, error) {
	tenant, err := model.GRPCTenant(ctx, r.Tenant)
	if err != nil {
		return nil, err
	}
	var id model.TraceID
	if len(r.TraceId) != len(id) {
		return nil, status.Errorf(codes.InvalidArgument, "trace_id has %d bytes, want 16", len(r.TraceId))
	}
	copy(id[:], r.TraceId)
	var start, end time.Time
	if r.StartUnix != 0 {
		start = time.Unix(r.StartUnix, 0)
	}
	if r.EndUnix != 0 {
		end = time.Unix(r.EndUnix, 0)
	}
	td, err := g.F.q.FindTraceByID(ctx, tenant, id, start, end)
	if errors.Is(err, querier.ErrTraceNotFound) {
		return nil, status.Error(codes.NotFound, "trace not found")
	}
	if err != nil {
		return nil, status.Error(codes.Internal, "finding trace: "+err.Error())
	}
	var m ptrace.ProtoMarshaler
	b, err := m.MarshalTraces(td)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &pacepb.TraceByIDResponse{Found: true, Trace: b}, nil
}

// Search runs a search, tags, tag values or metrics request over every
// job and answers the combined result.
func (g GRPC) Search(ctx context.Context, r *pacepb.SearchRequest) (*pacepb.SearchResponse, error) {
	if g.F.s == nil {
		return nil, status.Error(codes.Unimplemented, "search is not available on this query-frontend")
	}
	tenant, err := model.GRPCTenant(ctx, r.Tenant)
	if err != nil {
		return nil, err
	}
	req := proto.Clone(r).(*pacepb.SearchRequest)
	req.Tenant = tenant
	req.Source, req.BlockShard, req.BlockShards = 0, 0, 0 // set per job by the sharder
	comb, err := g.F.s.Search(ctx, req)
	if err != nil {
		code := codes.Internal
		switch searchErrorStatus(err) {
		case 400:
			code = codes.InvalidArgument
		case 429:
			code = codes.ResourceExhausted
		case 499:
			code = codes.Canceled
		}
		msg := err.Error()
		if s, ok := status.FromError(err); ok && s.Code() != codes.OK {
			msg = s.Message()
		}
		return nil, status.Error(code, msg)
	}
	return comb.Response(), nil
}
