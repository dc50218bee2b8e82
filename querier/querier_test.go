package querier

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/thanos-io/objstore"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/block"
	"github.com/pace-tracing/pace/model"
)

var tid = model.TraceID{7, 15: 7}

func spans(start time.Time, ids ...byte) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for _, b := range ids {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID(tid))
		sp.SetSpanID(pcommon.SpanID{b})
		sp.SetName("op")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Second)))
	}
	return td
}

type one struct {
	td   ptrace.Traces
	done bool
}

func (o *one) Next(context.Context) (model.TraceID, ptrace.Traces, error) {
	if o.done {
		return model.TraceID{}, ptrace.Traces{}, io.EOF
	}
	o.done = true
	return tid, o.td, nil
}

func writeBlock(t *testing.T, bkt objstore.Bucket, td ptrace.Traces) *block.Meta {
	t.Helper()
	m, err := block.WriteBlock(context.Background(), bkt, "t", &one{td: td}, block.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// live holds one trace of tenant "t".
type live struct{ td *ptrace.Traces }

func (l live) FindTraceByID(_ context.Context, tenant string, _ model.TraceID) (ptrace.Traces, bool, error) {
	if l.td == nil || tenant != "t" {
		return ptrace.Traces{}, false, nil
	}
	return *l.td, true, nil
}

func newStore(bkt objstore.Bucket) *Store {
	return NewStore(bkt, StoreConfig{BlocklistPoll: time.Hour}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
}

func TestTraceMergesLiveAndBlocksWithoutDuplicates(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	now := time.Now()
	writeBlock(t, bkt, spans(now, 1, 2))
	writeBlock(t, bkt, spans(now, 2, 3))
	s := newStore(bkt)
	if err := s.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := spans(now, 3, 4)
	q := New(live{&l}, s)
	td, err := q.FindTraceByID(context.Background(), "t", tid, time.Time{}, time.Time{})
	if err != nil || td.SpanCount() != 4 {
		t.Fatalf("got %d spans (err %v), want 4 distinct", td.SpanCount(), err)
	}
	if _, err := q.FindTraceByID(context.Background(), "other", tid, time.Time{}, time.Time{}); !errors.Is(err, ErrTraceNotFound) {
		t.Fatalf("other tenant: got %v, want ErrTraceNotFound", err)
	}
}

func TestTimeRangeSkipsBlocksOutsideIt(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	writeBlock(t, bkt, spans(old, 1))
	s := newStore(bkt)
	_ = s.poll(context.Background())
	q := New(live{}, s)
	if _, err := q.FindTraceByID(context.Background(), "t", tid, old.Add(-time.Hour), old.Add(time.Hour)); err != nil {
		t.Fatalf("inside the range: %v", err)
	}
	if _, err := q.FindTraceByID(context.Background(), "t", tid, old.Add(48*time.Hour), old.Add(72*time.Hour)); !errors.Is(err, ErrTraceNotFound) {
		t.Fatalf("outside the range: got %v, want not found", err)
	}
}

func TestPollFindsBlocksOfOtherProcessesAndForgetsDeletedOnes(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	s := newStore(bkt)
	q := New(nil, s)
	_ = s.poll(context.Background())
	m := writeBlock(t, bkt, spans(time.Now(), 1)) // written "elsewhere"
	if _, err := q.FindTraceByID(context.Background(), "t", tid, time.Time{}, time.Time{}); !errors.Is(err, ErrTraceNotFound) {
		t.Fatal("block visible before any poll")
	}
	_ = s.poll(context.Background())
	if _, err := q.FindTraceByID(context.Background(), "t", tid, time.Time{}, time.Time{}); err != nil {
		t.Fatalf("after poll: %v", err)
	}
	if err := block.DeleteBlock(context.Background(), bkt, "t", m.BlockID); err != nil {
		t.Fatal(err)
	}
	_ = s.poll(context.Background())
	if _, err := q.FindTraceByID(context.Background(), "t", tid, time.Time{}, time.Time{}); !errors.Is(err, ErrTraceNotFound) {
		t.Fatalf("deleted block still searched: %v", err)
	}
}

func TestCompactionSwapsInputsForOutputWithoutAGap(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	now := time.Now()
	in1 := writeBlock(t, bkt, spans(now, 1))
	in2 := writeBlock(t, bkt, spans(now, 2))
	out := writeBlock(t, bkt, spans(now, 1, 2))
	s := newStore(bkt)
	s.AddBlock("t", in1)
	s.AddBlock("t", in2)
	s.ReplaceBlocks("t", out, []*block.Meta{in1, in2})
	// The inputs stay searchable until deleted: another querier may not know
	// the output yet, and a request's shards are spread over queriers.
	if n := len(s.readers("t", time.Time{}, time.Time{})); n != 3 {
		t.Fatalf("%d blocks searched after the compaction, want 3 (output and inputs)", n)
	}
	td, err := New(nil, s).FindTraceByID(context.Background(), "t", tid, time.Time{}, time.Time{})
	if err != nil || td.SpanCount() != 2 {
		t.Fatalf("got %d spans (err %v), want both, once each", td.SpanCount(), err)
	}
	// Once the inputs are deleted, reading them is not an error: their data
	// is in the output.
	for _, in := range []*block.Meta{in1, in2} {
		if err := block.DeleteBlock(context.Background(), bkt, "t", in.BlockID); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range s.readers("t", time.Time{}, time.Time{}) {
		_ = r.Close() // drop cached footers, as a querier restarted later would have none
	}
	td, err = New(nil, s).FindTraceByID(context.Background(), "t", tid, time.Time{}, time.Time{})
	if err != nil || td.SpanCount() != 2 {
		t.Fatalf("after the inputs were deleted: %d spans (err %v), want both from the output", td.SpanCount(), err)
	}
}
