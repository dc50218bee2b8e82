package block

// Run with PACE_BLOCK_COLSIZES=1 go test -run TestDebugColumnSizes -v ./block
// to see what each column costs on disk.

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/thanos-io/objstore"
)

func TestDebugColumnSizes(t *testing.T) {
	if os.Getenv("PACE_BLOCK_COLSIZES") == "" {
		t.Skip()
	}
	bkt := objstore.NewInMemBucket()
	ids, tds := genTraces(42, 20000, 10)
	m := writeTraces(t, bkt, "t", ids, tds, WriteOptions{})
	r := NewReader(bkt, m)
	r.open(context.Background())
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
		fmt.Printf("%-50s %8.2f B/span\n", e.k, float64(e.v)/float64(m.TotalSpans))
	}
	fmt.Printf("total %.2f B/span, rowgroups %d\n", float64(m.Size)/float64(m.TotalSpans), m.RowGroups)
}
