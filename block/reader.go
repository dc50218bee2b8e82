package block

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/thanos-io/objstore"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"
)

// Reader reads one block. It opens lazily: the bloom filter on the first
// lookup, the parquet footer and page index on the first lookup that passes
// the bloom filter; both stay cached. Safe for concurrent use.
type Reader struct {
	bkt  objstore.Bucket
	meta *Meta
	tagsState

	bloomMu  sync.Mutex
	bloom    *bloom.BloomFilter
	fileMu   sync.Mutex
	file     *parquet.File
	rgs      []rowGroupInfo
	traceCol int
}

type rowGroupInfo struct {
	rg       parquet.RowGroup
	md       *format.RowGroup
	min, max model.TraceID
	numRows  int64
}

// rowSchema is the schema of data.parquet.
var rowSchema = parquet.SchemaOf(new(pqTrace))

// NewReader returns a reader of the block described by meta; it does no I/O.
func NewReader(bkt objstore.Bucket, meta *Meta) *Reader {
	return &Reader{bkt: bkt, meta: meta}
}

// Meta is the block's meta.
func (r *Reader) Meta() *Meta { return r.meta }

// Close releases the cached state; the reader may be used again afterwards
// (it reopens lazily).
func (r *Reader) Close() error {
	r.bloomMu.Lock()
	r.bloom = nil
	r.bloomMu.Unlock()
	r.fileMu.Lock()
	r.file, r.rgs = nil, nil
	r.fileMu.Unlock()
	r.tagsMu.Lock()
	r.tags = nil
	r.tagsMu.Unlock()
	return nil
}

func (r *Reader) loadBloom(ctx context.Context) (*bloom.BloomFilter, error) {
	r.bloomMu.Lock()
	defer r.bloomMu.Unlock()
	if r.bloom != nil {
		return r.bloom, nil
	}
	rc, err := r.bkt.Get(ctx, r.meta.Dir()+BloomFile)
	if err != nil {
		return nil, fmt.Errorf("block %s: read bloom: %w", r.meta.BlockID, err)
	}
	defer rc.Close()
	bf := new(bloom.BloomFilter)
	if _, err := bf.ReadFrom(rc); err != nil {
		return nil, fmt.Errorf("block %s: decode bloom: %w", r.meta.BlockID, err)
	}
	r.bloom = bf
	return bf, nil
}

// MayContain reports whether the block may hold id (range and bloom check).
func (r *Reader) MayContain(ctx context.Context, id model.TraceID) (bool, error) {
	if !r.meta.InRange(id) {
		return false, nil
	}
	bf, err := r.loadBloom(ctx)
	if err != nil {
		return false, err
	}
	return bf.Test(id[:]), nil
}

func (r *Reader) open(ctx context.Context) ([]rowGroupInfo, int, error) {
	r.fileMu.Lock()
	defer r.fileMu.Unlock()
	if r.file != nil {
		return r.rgs, r.traceCol, nil
	}
	if r.meta.Version != FormatVersion {
		return nil, 0, fmt.Errorf("block %s: unsupported format %q", r.meta.BlockID, r.meta.Version)
	}
	ra := &bucketReaderAt{ctx: context.WithoutCancel(ctx), bkt: r.bkt, name: r.meta.Dir() + DataFile, size: r.meta.Size}
	f, err := parquet.OpenFile(ra, r.meta.Size,
		parquet.SkipBloomFilters(true),
		parquet.FileSchema(rowSchema),
		parquet.ReadBufferSize(readBufferSize),
		parquet.OptimisticRead(true),
	)
	if err != nil {
		return nil, 0, fmt.Errorf("block %s: open %s: %w", r.meta.BlockID, DataFile, err)
	}
	leaf, ok := f.Schema().Lookup("TraceID")
	if !ok {
		return nil, 0, fmt.Errorf("block %s: no TraceID column", r.meta.BlockID)
	}
	col := leaf.ColumnIndex
	var rgs []rowGroupInfo
	for i, rg := range f.RowGroups() {
		info := rowGroupInfo{rg: rg, md: &f.Metadata().RowGroups[i], numRows: rg.NumRows()}
		if info.numRows == 0 {
			continue
		}
		fcc, ok := rg.ColumnChunks()[col].(*parquet.FileColumnChunk)
		if !ok {
			return nil, 0, errors.New("block: unexpected column chunk type")
		}
		min, max, ok := fcc.Bounds()
		if !ok {
			return nil, 0, fmt.Errorf("block %s: row group without trace ID statistics", r.meta.BlockID)
		}
		copy(info.min[:], min.ByteArray())
		copy(info.max[:], max.ByteArray())
		rgs = append(rgs, info)
	}
	r.file, r.rgs, r.traceCol = f, rgs, col
	return rgs, col, nil
}

const readBufferSize = 4 << 10

// FindTraceByID returns the trace with the given ID if the block holds it.
func (r *Reader) FindTraceByID(ctx context.Context, id model.TraceID) (ptrace.Traces, bool, error) {
	ok, err := r.MayContain(ctx, id)
	if err != nil || !ok {
		return ptrace.Traces{}, false, err
	}
	rgs, col, err := r.open(ctx)
	if err != nil {
		return ptrace.Traces{}, false, err
	}
	// Row groups are sorted by trace ID: the first whose max is >= id.
	i := sort.Search(len(rgs), func(i int) bool { return rgs[i].max.Compare(id) >= 0 })
	if i == len(rgs) || rgs[i].min.Compare(id) > 0 {
		return ptrace.Traces{}, false, nil
	}
	rg := &rgs[i]
	ra := &bucketReaderAt{ctx: ctx, bkt: r.bkt, name: r.meta.Dir() + DataFile, size: r.meta.Size}
	row, found, err := findRow(rg.rg.ColumnChunks()[col], id, ra)
	if err != nil || !found {
		return ptrace.Traces{}, false, err
	}
	var pr pqTrace
	if err := readRows(ctx, rg, ra, row, 1, true, func(t *pqTrace) error { pr = *t; return nil }); err != nil {
		return ptrace.Traces{}, false, err
	}
	if pr.TraceID != id {
		return ptrace.Traces{}, false, fmt.Errorf("block %s: row %d holds %x, want %s", r.meta.BlockID, row, pr.TraceID, id)
	}
	td, err := fromRow(&pr)
	if err != nil {
		return ptrace.Traces{}, false, fmt.Errorf("block %s: %w", r.meta.BlockID, err)
	}
	return td, true, nil
}

// findRow finds the row of id in a row group using the trace-ID column's
// page index: only the one page whose bounds hold id is read.
func findRow(cc parquet.ColumnChunk, id model.TraceID, ra io.ReaderAt) (int64, bool, error) {
	ci, err := cc.ColumnIndex()
	if err != nil {
		return 0, false, err
	}
	oi, err := cc.OffsetIndex()
	if err != nil {
		return 0, false, err
	}
	n := ci.NumPages()
	p := sort.Search(n, func(i int) bool { return bytes.Compare(ci.MaxValue(i).ByteArray(), id[:]) >= 0 })
	if p == n || bytes.Compare(ci.MinValue(p).ByteArray(), id[:]) > 0 {
		return 0, false, nil
	}
	fcc, ok := cc.(*parquet.FileColumnChunk)
	if !ok {
		return 0, false, errors.New("block: unexpected column chunk type")
	}
	pages := fcc.PagesFrom(ra)
	defer pages.Close()
	first := oi.FirstRowIndex(p)
	if err := pages.SeekToRow(first); err != nil {
		return 0, false, err
	}
	page, err := pages.ReadPage()
	if err != nil {
		return 0, false, err
	}
	defer parquet.Release(page)
	vals := make([]parquet.Value, page.NumValues())
	nv, err := page.Values().ReadValues(vals)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, false, err
	}
	vals = vals[:nv]
	j := sort.Search(len(vals), func(i int) bool { return bytes.Compare(vals[i].ByteArray(), id[:]) >= 0 })
	if j == len(vals) || !bytes.Equal(vals[j].ByteArray(), id[:]) {
		return 0, false, nil
	}
	return first + int64(j), true, nil
}

// ctxChunk makes a column chunk read its pages through a given ReaderAt
// (bound to the caller's context, or prefetched ranges).
type ctxChunk struct {
	*parquet.FileColumnChunk
	ra io.ReaderAt
}

func (c ctxChunk) Pages() parquet.Pages { return c.FileColumnChunk.PagesFrom(c.ra) }

// readRows reads n rows of rg from row first and hands each to fn (the
// value is reused between calls). With prefetch, the byte ranges of the
// pages holding the rows are fetched concurrently before decoding.
func readRows(ctx context.Context, rg *rowGroupInfo, ra *bucketReaderAt, first, n int64, prefetch bool, fn func(*pqTrace) error) error {
	chunks := rg.rg.ColumnChunks()
	var src io.ReaderAt = ra
	if prefetch {
		pf, err := prefetchRows(ctx, chunks, rg.md, ra, first, first+n)
		if err != nil {
			return err
		}
		defer pf.release()
		src = pf
	}
	wrapped := make([]parquet.ColumnChunk, len(chunks))
	for i, c := range chunks {
		fcc, ok := c.(*parquet.FileColumnChunk)
		if !ok {
			return errors.New("block: unexpected column chunk type")
		}
		wrapped[i] = ctxChunk{fcc, src}
	}
	rows := parquet.NewColumnChunkRowReader(wrapped)
	defer rows.Close()
	if first > 0 {
		if err := rows.SeekToRow(first); err != nil {
			return err
		}
	}
	buf := make([]parquet.Row, min(n, 64))
	var t pqTrace
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := rows.ReadRows(buf[:min(n, int64(len(buf)))])
		for i := 0; i < k; i++ {
			t = pqTrace{}
			if err := rowSchema.Reconstruct(&t, buf[i]); err != nil {
				return err
			}
			if err := fn(&t); err != nil {
				return err
			}
		}
		n -= int64(k)
		if err != nil {
			if errors.Is(err, io.EOF) {
				if n > 0 {
					return io.ErrUnexpectedEOF
				}
				return nil
			}
			return err
		}
	}
	return nil
}

// Iterate calls fn for every trace of the block in ascending ID order.
// fn's error stops the iteration and is returned.
func (r *Reader) Iterate(ctx context.Context, fn func(model.TraceID, ptrace.Traces) error) error {
	rgs, _, err := r.open(ctx)
	if err != nil {
		return err
	}
	ra := &bucketReaderAt{ctx: ctx, bkt: r.bkt, name: r.meta.Dir() + DataFile, size: r.meta.Size}
	for i := range rgs {
		err := readRows(ctx, &rgs[i], ra, 0, rgs[i].numRows, false, func(t *pqTrace) error {
			td, err := fromRow(t)
			if err != nil {
				return fmt.Errorf("block %s: %w", r.meta.BlockID, err)
			}
			return fn(t.TraceID, td)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
