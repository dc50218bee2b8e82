package block

// go test -run TestBlockStaysWithinItsSizeBudget -v ./block shows what each
// column costs on disk.

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/thanos-io/objstore"
)

// TestBlockStaysWithinItsSizeBudget pins the format's density on realistic
// data (seeded, so the figure is deterministic): at most 80 bytes per span
// on disk, Tempo's being 82.
func TestBlockStaysWithinItsSizeBudget(t *testing.T) {
	bkt := objstore.NewInMemBucket()
	ids, tds := genTraces(42, 20000, 10)
	m := writeTraces(t, bkt, "t", ids, tds, WriteOptions{})
	r := NewReader(bkt, m)
	if _, _, err := r.open(context.Background()); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	for _, rg := range r.file.Metadata().RowGroups {
		for _, c := range rg.Columns {
			sizes[strings.Join(c.MetaData.PathInSchema, ".")] += c.MetaData.TotalCompressedSize
		}
	}
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range sizes {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	for _, e := range all {
		t.Logf("%-50s %8.2f B/span", e.k, float64(e.v)/float64(m.TotalSpans))
	}
	perSpan := float64(m.TotalBytes()) / float64(m.TotalSpans)
	t.Logf("total %.2f B/span, row groups %d", perSpan, m.RowGroups)
	if perSpan > 80 {
		t.Errorf("block takes %.1f bytes per span on disk, over the 80-byte budget", perSpan)
	}
}
