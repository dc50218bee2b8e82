package block

import (
	"context"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"
)

const (
	benchTraces = 50_000
	benchSpans  = 10
)

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
	b.ReportMetric(spans*float64(b.N)/elapsed.Seconds(), "spans/s")
	b.ReportMetric(float64(m.Size)/spans, "data-bytes/span")
}

func BenchmarkFindTraceByID(b *testing.B) {
	ids, tds := genTraces(43, benchTraces, benchSpans)
	bkt, err := filesystem.NewBucket(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	m := writeTraces(b, bkt, "bench", ids, tds, WriteOptions{})
	tds = nil
	ctx := context.Background()
	r := NewReader(bkt, m)
	defer r.Close()
	// First lookup opens the block (bloom + footer + page index).
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
	b.ReportMetric(float64(first.Nanoseconds()), "first-ns")
}

// sanity: the iterator type is usable from the benchmark file's imports.
var _ = io.EOF
