package distributor

import (
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/wal"
)

// splitByTrace validates every span and regroups the request into one OTLP
// TracesData per trace (keeping each span's resource and scope), encoded as
// protobuf: the unit the ingesters store. A bad span refuses the whole
// request with InvalidArgument, so nothing is half-accepted. Spans are moved
// out of td, not copied: td is consumed (the receiver is told the consumer
// mutates its data).
func splitByTrace(td ptrace.Traces) ([]wal.Entry, int, error) {
	type group struct {
		td     ptrace.Traces
		rsIdx  int // index in the source of the last ResourceSpans copied
		ssIdx  int
		dstRS  ptrace.ResourceSpans
		dstSS  ptrace.ScopeSpans
		nSpans int
	}
	if err := validate(td); err != nil {
		return nil, 0, err
	}
	groups := make(map[model.TraceID]*group)
	order := make([]model.TraceID, 0, 16)
	spans := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			sl := ss.Spans()
			for k := 0; k < sl.Len(); k++ {
				sp := sl.At(k)
				id := model.TraceID(sp.TraceID())
				g := groups[id]
				if g == nil {
					g = &group{td: ptrace.NewTraces(), rsIdx: -1, ssIdx: -1}
					groups[id] = g
					order = append(order, id)
				}
				if g.rsIdx != i {
					g.dstRS = g.td.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(g.dstRS.Resource())
					g.dstRS.SetSchemaUrl(rs.SchemaUrl())
					g.rsIdx, g.ssIdx = i, -1
				}
				if g.ssIdx != j {
					g.dstSS = g.dstRS.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(g.dstSS.Scope())
					g.dstSS.SetSchemaUrl(ss.SchemaUrl())
					g.ssIdx = j
				}
				sp.MoveTo(g.dstSS.Spans().AppendEmpty())
				g.nSpans++
				spans++
			}
		}
	}
	entries := make([]wal.Entry, 0, len(order))
	var m ptrace.ProtoMarshaler
	for _, id := range order {
		b, err := m.MarshalTraces(groups[id].td)
		if err != nil {
			return nil, 0, status.Errorf(codes.Internal, "encoding trace %s: %v", id, err)
		}
		entries = append(entries, wal.Entry{ID: id, Data: b})
	}
	return entries, spans, nil
}

// validate refuses a request with any span lacking a trace or span ID.
func validate(td ptrace.Traces) error {
	n := 0
	return model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
		n++
		if sp.TraceID().IsEmpty() {
			return status.Errorf(codes.InvalidArgument,
				"span %d (%q) has an empty trace ID (missing or all zero)", n, sp.Name())
		}
		if sp.SpanID().IsEmpty() {
			return status.Errorf(codes.InvalidArgument,
				"span %d (%q) of trace %s has an empty span ID (missing or all zero)", n, sp.Name(), model.TraceID(sp.TraceID()))
		}
		return nil
	})
}
