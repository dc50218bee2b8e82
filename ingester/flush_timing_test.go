package ingester

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/block"
)

// BenchmarkFlushBlock measures cutting a head of 2,000 traces × 5 spans into
// a block in an in-memory bucket: decode, dedupe, Parquet encode, upload.
func BenchmarkFlushBlock(b *testing.B) {
	hb := newHeadBlock("t", uuid.New(), nil)
	spans := 0
	for seed := uint64(0); seed < 20; seed++ {
		es, counts := entries(&testing.T{}, seed, 100)
		for _, e := range es {
			hb.add(e)
		}
		for _, n := range counts {
			spans += n
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := block.WriteBlock(context.Background(), objstore.NewInMemBucket(), "t", hb.iterator(), block.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*spans)/b.Elapsed().Seconds(), "spans/s")
}
