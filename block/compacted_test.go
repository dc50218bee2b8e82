package block

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestMarkCompactedAndList(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			var metas []*Meta
			for i := range 3 {
				ids, tds := genTraces(uint64(100+i), 20, 4)
				metas = append(metas, writeTraces(t, bkt, "t1", ids, tds, WriteOptions{}))
			}
			// Another tenant and a half-written block are not listed.
			ids, tds := genTraces(200, 5, 2)
			writeTraces(t, bkt, "t2", ids, tds, WriteOptions{})
			half := uuid.New()
			if err := WriteSources(ctx, bkt, "t1", half, &Sources{Blocks: []uuid.UUID{metas[0].BlockID}}); err != nil {
				t.Fatal(err)
			}

			lister := NewLister(bkt)
			live, comp, err := lister.List(ctx, "t1")
			if err != nil {
				t.Fatal(err)
			}
			if len(live) != 3 || len(comp) != 0 {
				t.Fatalf("live %d compacted %d, want 3 and 0", len(live), len(comp))
			}
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := MarkCompacted(ctx, bkt, metas[1], at); err != nil {
				t.Fatal(err)
			}
			for _, l := range []func() ([]*Meta, []*CompactedMeta, error){
				func() ([]*Meta, []*CompactedMeta, error) { return lister.List(ctx, "t1") },
				func() ([]*Meta, []*CompactedMeta, error) { return ListBlocksAndCompacted(ctx, bkt, "t1") },
			} {
				live, comp, err = l()
				if err != nil {
					t.Fatal(err)
				}
				if len(live) != 2 || len(comp) != 1 {
					t.Fatalf("live %d compacted %d, want 2 and 1", len(live), len(comp))
				}
				for _, m := range live {
					if m.BlockID == metas[1].BlockID {
						t.Fatal("compacted block listed as live")
					}
				}
				if comp[0].BlockID != metas[1].BlockID || !comp[0].CompactedTime.Equal(at) || comp[0].TotalSpans != metas[1].TotalSpans {
					t.Fatalf("compacted meta %+v", comp[0])
				}
			}
			// The compacted block stays readable until deleted.
			if _, err := ReadMeta(ctx, bkt, "t1", metas[1].BlockID); err != nil {
				t.Fatal(err)
			}
			// A compacted block whose deletion stopped after meta.json is
			// still listed as compacted so that the deletion can finish.
			if err := bkt.Delete(ctx, metas[1].Dir()+MetaFile); err != nil {
				t.Fatal(err)
			}
			_, comp, err = lister.List(ctx, "t1")
			if err != nil || len(comp) != 1 {
				t.Fatalf("compacted %d, err %v", len(comp), err)
			}
			if err := DeleteBlock(ctx, bkt, "t1", metas[1].BlockID); err != nil {
				t.Fatal(err)
			}
			if err := DeleteBlock(ctx, bkt, "t1", metas[0].BlockID); err != nil {
				t.Fatal(err)
			}
			live, comp, err = lister.List(ctx, "t1")
			if err != nil || len(live) != 1 || len(comp) != 0 || live[0].BlockID != metas[2].BlockID {
				t.Fatalf("after delete: live %d compacted %d err %v", len(live), len(comp), err)
			}
			if _, err := ReadCompactedMeta(ctx, bkt, "t1", metas[1].BlockID); !errors.Is(err, ErrBlockNotFound) {
				t.Fatalf("compacted.json survived DeleteBlock: %v", err)
			}
		})
	}
}

func TestSourcesRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, bkt := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			id := uuid.New()
			s, err := ReadSources(ctx, bkt, "t", id)
			if err != nil || s != nil {
				t.Fatalf("absent sources: %v %v", s, err)
			}
			want := &Sources{Blocks: []uuid.UUID{uuid.New(), uuid.New()}, CreatedAt: time.Unix(1700000000, 0).UTC()}
			if err := WriteSources(ctx, bkt, "t", id, want); err != nil {
				t.Fatal(err)
			}
			got, err := ReadSources(ctx, bkt, "t", id)
			if err != nil || len(got.Blocks) != 2 || got.Blocks[1] != want.Blocks[1] || !got.CreatedAt.Equal(want.CreatedAt) {
				t.Fatalf("got %+v %v", got, err)
			}
			// DeleteBlock removes it with the rest of the block.
			if err := DeleteBlock(ctx, bkt, "t", id); err != nil {
				t.Fatal(err)
			}
			if s, err := ReadSources(ctx, bkt, "t", id); err != nil || s != nil {
				t.Fatalf("sources survived DeleteBlock: %v %v", s, err)
			}
		})
	}
}

func TestListRejectsBadTenant(t *testing.T) {
	if _, _, err := ListBlocksAndCompacted(context.Background(), buckets(t)["memory"], "../x"); err == nil {
		t.Fatal("bad tenant accepted")
	}
}
