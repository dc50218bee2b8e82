package ingester

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/wal"
)

// GRPC serves the ingester over pace's gRPC API.
type GRPC struct {
	pacepb.UnimplementedIngesterServer
	I *Ingester
}

// Push stores the entries; the acknowledgement means they are in the WAL.
func (g GRPC) Push(ctx context.Context, r *pacepb.PushRequest) (*pacepb.PushResponse, error) {
	if err := model.ValidateTenant(r.Tenant); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	entries, err := EntriesFromProto(r.Entries)
	if err != nil {
		return nil, err
	}
	if err := g.I.Push(ctx, r.Tenant, entries); err != nil {
		return nil, err
	}
	return &pacepb.PushResponse{}, nil
}

// FindTraceByID returns the trace's spans held in memory.
func (g GRPC) FindTraceByID(ctx context.Context, r *pacepb.TraceByIDRequest) (*pacepb.TraceByIDResponse, error) {
	id, err := TraceIDFromBytes(r.TraceId)
	if err != nil {
		return nil, err
	}
	td, ok, err := g.I.FindTraceByID(ctx, r.Tenant, id)
	if err != nil || !ok {
		return &pacepb.TraceByIDResponse{}, err
	}
	return TraceResponse(td)
}

// EntriesFromProto converts wire entries (the byte slices are kept).
func EntriesFromProto(in []*pacepb.TraceEntry) ([]wal.Entry, error) {
	out := make([]wal.Entry, len(in))
	for i, e := range in {
		id, err := TraceIDFromBytes(e.TraceId)
		if err != nil {
			return nil, err
		}
		out[i] = wal.Entry{ID: id, Data: e.Data}
	}
	return out, nil
}

// EntriesToProto converts entries for the wire.
func EntriesToProto(in []wal.Entry) []*pacepb.TraceEntry {
	out := make([]*pacepb.TraceEntry, len(in))
	for i := range in {
		out[i] = &pacepb.TraceEntry{TraceId: in[i].ID[:], Data: in[i].Data}
	}
	return out
}

// TraceIDFromBytes checks a 16-byte trace ID from the wire.
func TraceIDFromBytes(b []byte) (model.TraceID, error) {
	var id model.TraceID
	if len(b) != len(id) {
		return id, status.Errorf(codes.InvalidArgument, "trace ID has %d bytes, want 16", len(b))
	}
	copy(id[:], b)
	return id, nil
}

// TraceResponse encodes a found trace.
func TraceResponse(td ptrace.Traces) (*pacepb.TraceByIDResponse, error) {
	var m ptrace.ProtoMarshaler
	b, err := m.MarshalTraces(td)
	if err != nil {
		return nil, fmt.Errorf("encoding trace: %w", err)
	}
	return &pacepb.TraceByIDResponse{Found: true, Trace: b}, nil
}

// TraceFromResponse decodes a response; found is false when there was nothing.
func TraceFromResponse(r *pacepb.TraceByIDResponse) (ptrace.Traces, bool, error) {
	if r == nil || !r.Found {
		return ptrace.Traces{}, false, nil
	}
	var u ptrace.ProtoUnmarshaler
	td, err := u.UnmarshalTraces(r.Trace)
	return td, err == nil, err
}
