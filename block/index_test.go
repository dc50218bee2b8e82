package block

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIndexRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadIndex(ctx, bkt, "t1"); !errors.Is(err, ErrIndexNotFound) {
				t.Fatalf("want ErrIndexNotFound, got %v", err)
			}
			ids, tds := genTraces(7, 10, 3)
			m1 := writeTraces(t, bkt, "t1", ids, tds, WriteOptions{})
			ids, tds = genTraces(8, 10, 3)
			m2 := writeTraces(t, bkt, "t1", ids, tds, WriteOptions{CompactionLevel: 2})
			at := time.Now().UTC().Truncate(time.Millisecond)
			want := &Index{
				CreatedAt: at,
				Metas:     []*Meta{m2},
				Compacted: []*CompactedMeta{{Meta: *m1, CompactedTime: at}},
			}
			if err := WriteIndex(ctx, bkt, "t1", want); err != nil {
				t.Fatal(err)
			}
			got, err := ReadIndex(ctx, bkt, "t1")
			if err != nil {
				t.Fatal(err)
			}
			if !got.CreatedAt.Equal(at) || len(got.Metas) != 1 || len(got.Compacted) != 1 {
				t.Fatalf("index %+v", got)
			}
			g, w := got.Metas[0], m2
			if g.BlockID != w.BlockID || g.TotalSpans != w.TotalSpans || g.CompactionLevel != 2 || !g.StartTime.Equal(w.StartTime) || g.MinID != w.MinID {
				t.Fatalf("meta %+v, want %+v", g, w)
			}
			if c := got.Compacted[0]; c.BlockID != m1.BlockID || !c.CompactedTime.Equal(at) || c.TotalObjects != m1.TotalObjects {
				t.Fatalf("compacted %+v", c)
			}
			// The index is not a block: block listings ignore it.
			if live, comp, err := ListBlocksAndCompacted(ctx, bkt, "t1"); err != nil || len(live) != 2 || len(comp) != 0 {
				t.Fatalf("listing with index: %d %d %v", len(live), len(comp), err)
			}
			if bl, err := ListBlocks(ctx, bkt, "t1"); err != nil || len(bl) != 2 {
				t.Fatalf("ListBlocks with index: %d %v", len(bl), err)
			}
			// Overwrite: readers see the new one.
			if err := WriteIndex(ctx, bkt, "t1", &Index{CreatedAt: at.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
			if got, err = ReadIndex(ctx, bkt, "t1"); err != nil || len(got.Metas) != 0 || !got.CreatedAt.Equal(at.Add(time.Second)) {
				t.Fatalf("rewritten index %+v %v", got, err)
			}
		})
	}
}

func TestIndexCorrupt(t *testing.T) {
	ctx := context.Background()
	bkt := buckets(t)["memory"]
	if err := bkt.Upload(ctx, IndexPath("t1"), strings.NewReader("not gzip")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIndex(ctx, bkt, "t1"); err == nil || errors.Is(err, ErrIndexNotFound) {
		t.Fatalf("corrupt index: %v", err)
	}
}
