package generator

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/pacepb"
)

func TestGeneratorCountsTheSpansItReceives(t *testing.T) {
	td := gen.New(3).Traces(20, 7)
	b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	g := New(prometheus.NewRegistry())
	if _, err := g.PushSpans(context.Background(), &pacepb.PushRequest{Tenant: "t", Entries: []*pacepb.TraceEntry{{Data: b}, {Data: b}}}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(g.spans.WithLabelValues("t")); got != 280 {
		t.Fatalf("counted %v spans, want 280", got)
	}
	if _, err := g.PushSpans(context.Background(), &pacepb.PushRequest{Tenant: "t", Entries: []*pacepb.TraceEntry{{Data: []byte{0x0a, 0xff}}}}); err == nil {
		t.Fatal("a truncated entry was accepted")
	}
}

func FuzzCountSpans(f *testing.F) {
	b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(gen.New(1).Traces(2, 3))
	f.Add(b)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := countSpans(data)
		td, perr := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		if err == nil && perr == nil && n != td.SpanCount() {
			t.Fatalf("counted %d spans, pdata sees %d", n, td.SpanCount())
		}
	})
}
