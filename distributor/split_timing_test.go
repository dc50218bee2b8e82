package distributor

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/pace-tracing/pace/bench/gen"
)

var sinkEntries int

// BenchmarkSplitByTrace is the distributor's per-request work for the load
// generator's request shape (100 traces × 10 spans).
func BenchmarkSplitByTrace(b *testing.B) {
	td := gen.New(1).Traces(100, 10)
	raw, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		c := ptrace.NewTraces()
		td.CopyTo(c) // splitByTrace consumes its input
		b.StartTimer()
		n++
		e, _, err := splitByTrace(c)
		if err != nil {
			b.Fatal(err)
		}
		sinkEntries += len(e)
	}
	_ = n
}

// BenchmarkDecodeRequest is the receiver's protobuf decode of the same request.
func BenchmarkDecodeRequest(b *testing.B) {
	raw, _ := ptraceotlp.NewExportRequestFromTraces(gen.New(1).Traces(100, 10)).MarshalProto()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r := ptraceotlp.NewExportRequest()
		if err := r.UnmarshalProto(raw); err != nil {
			b.Fatal(err)
		}
		sinkEntries += r.Traces().SpanCount()
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "spans/s")
}
