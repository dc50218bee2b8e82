package block

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"
)

// The benchmark block: 50k realistic traces of 10 spans (500k spans).
const (
	benchTraces = 50_000
	benchSpans  = 10
)

// The lookup benchmark's block is built once per process (the testing
// package calls a benchmark function several times while it sizes b.N).
var (
	benchDirOnce sync.Once
	benchDir     string // removed by TestMain
	benchBlock   *Meta
	benchBkt     objstore.Bucket
	benchBlockID []model.TraceID
)

func cleanupBench() {
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
}

// bytesOnDisk is data + bloom + meta.json of a block.
func bytesOnDisk(b *testing.B, bkt objstore.Bucket, m *Meta) int64 {
	b.Helper()
	var total int64
	for _, f := range []string{DataFile, BloomFile, MetaFile} {
		a, err := bkt.Attributes(context.Background(), m.Dir()+f)
		if err != nil {
			b.Fatal(err)
		}
		total += a.Size
	}
	return total
}

func BenchmarkWriteBlock(b *testing.B) {
	// Generated per call (about 2 s): at 6 s per write the testing package
	// calls this function once, with b.N = 1.
	ids, tds := genTraces(42, benchTraces, benchSpans)
	bkt, err := filesystem.NewBucket(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	var m *Meta
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		m = writeTraces(b, bkt, "bench", ids, tds, WriteOptions{})
	}
	elapsed := time.Since(start)
	b.StopTimer()
	spans := float64(m.TotalSpans)
	b.ReportMetric(float64(bytesOnDisk(b, bkt, m))/spans, "bytes/span")
	b.ReportMetric(float64(m.Size)/spans, "data-bytes/span")
	b.ReportMetric(spans*float64(b.N)/elapsed.Seconds(), "spans/s")
}

func BenchmarkFindTraceByID(b *testing.B) {
	benchDirOnce.Do(func() {
		// Own data, dropped once written: lookups should not run against the
		// GC load of 500k spans of fixtures kept alive.
		ids, tds := genTraces(43, benchTraces, benchSpans)
		benchBlockID = ids
		dir, err := os.MkdirTemp("", "pace-block-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
		if benchBkt, err = filesystem.NewBucket(dir); err != nil {
			b.Fatal(err)
		}
		benchBlock = writeTraces(b, benchBkt, "bench", ids, tds, WriteOptions{})
	})
	if benchBlock == nil {
		b.Fatal("no benchmark block")
	}
	ids := benchBlockID
	runtime.GC()
	ctx := context.Background()
	r := NewReader(benchBkt, benchBlock)
	defer r.Close()
	// The first lookup opens the block (bloom, footer, page index).
	t0 := time.Now()
	if _, ok, err := r.FindTraceByID(ctx, ids[0]); err != nil || !ok {
		b.Fatal(ok, err)
	}
	first := time.Since(t0)
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := ids[rng.IntN(len(ids))]
		t := time.Now()
		td, ok, err := r.FindTraceByID(ctx, id)
		lat = append(lat, time.Since(t))
		if err != nil || !ok || td.SpanCount() != benchSpans {
			b.Fatal(ok, err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(first.Nanoseconds()), "first-lookup-ns")
}

func BenchmarkIterate(b *testing.B) {
	ids, tds := genTraces(44, 10_000, benchSpans)
	bkt := objstore.NewInMemBucket()
	m := writeTraces(b, bkt, "bench", ids, tds, WriteOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := NewReader(bkt, m).Iterate(context.Background(), func(model.TraceID, ptrace.Traces) error { n++; return nil }); err != nil || n != len(ids) {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(m.TotalSpans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}
