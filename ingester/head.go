package ingester

import (
	"bytes"
	"context"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/wal"
)

// headBlock is a block being filled (the tenant's head) or one that has been
// cut and waits for its flush (completing). Its data lives in memory and in
// its WAL segment; the block ID is the segment's name, so a block rebuilt
// from the WAL after a crash gets the same ID and never appears twice.
type headBlock struct {
	id      uuid.UUID
	tenant  string
	seg     *wal.Segment
	traces  map[model.TraceID]*liveTrace
	bytes   uint64
	created time.Time
	// done is closed once the block is in the object store and the segment is gone.
	done chan struct{}
}

// liveTrace holds a trace's pushes as OTLP TracesData protobuf. Concatenated
// TracesData messages decode as one message with every ResourceSpans, so a
// read is one unmarshal.
type liveTrace struct {
	parts [][]byte
}

func newHeadBlock(tenant string, id uuid.UUID, seg *wal.Segment) *headBlock {
	return &headBlock{
		id: id, tenant: tenant, seg: seg,
		traces:  make(map[model.TraceID]*liveTrace),
		created: time.Now(),
		done:    make(chan struct{}),
	}
}

func (h *headBlock) add(e wal.Entry) {
	lt := h.traces[e.ID]
	if lt == nil {
		lt = &liveTrace{}
		h.traces[e.ID] = lt
	}
	lt.parts = append(lt.parts, e.Data)
	h.bytes += uint64(len(e.Data))
}

func decodeParts(parts [][]byte) (ptrace.Traces, error) {
	var buf []byte
	if len(parts) == 1 {
		buf = parts[0]
	} else {
		buf = bytes.Join(parts, nil)
	}
	var u ptrace.ProtoUnmarshaler
	td, err := u.UnmarshalTraces(buf)
	if err != nil {
		return ptrace.Traces{}, err
	}
	model.Dedupe(td)
	return td, nil
}

// iterator walks a cut (immutable) head block in trace-ID order.
type iterator struct {
	h   *headBlock
	ids []model.TraceID
	i   int
}

func (h *headBlock) iterator() *iterator {
	ids := make([]model.TraceID, 0, len(h.traces))
	for id := range h.traces {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, model.TraceID.Compare)
	return &iterator{h: h, ids: ids}
}

func (it *iterator) Next(ctx context.Context) (model.TraceID, ptrace.Traces, error) {
	if it.i >= len(it.ids) {
		return model.TraceID{}, ptrace.Traces{}, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return model.TraceID{}, ptrace.Traces{}, err
	}
	id := it.ids[it.i]
	it.i++
	td, err := decodeParts(it.h.traces[id].parts)
	return id, td, err
}
