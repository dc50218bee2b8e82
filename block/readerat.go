package block

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/thanos-io/objstore"
)

// bucketReaderAt reads an object with GetRange.
type bucketReaderAt struct {
	ctx  context.Context
	bkt  objstore.BucketReader
	name string
	size int64
}

func (b *bucketReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= b.size {
		return 0, io.EOF
	}
	want := int64(len(p))
	if off+want > b.size {
		want = b.size - off
	}
	rc, err := b.bkt.GetRange(b.ctx, b.name, off, want)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err != nil {
		return n, fmt.Errorf("read %s at %d: %w", b.name, off, err)
	}
	if int(want) < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// prefetched serves reads from byte ranges fetched ahead of time, falling
// back to the bucket for anything else.
type prefetched struct {
	base   *bucketReaderAt
	ranges []fetchedRange // sorted by off, disjoint
	buf    *[]byte        // backing store of ranges, pooled
}

// release returns the buffer to the pool; p must not be used afterwards.
func (p *prefetched) release() {
	if p.buf != nil {
		putBuf(p.buf)
		p.buf, p.ranges = nil, nil
	}
}

var bufPool sync.Pool

func getBuf(n int) *[]byte {
	if b, ok := bufPool.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

func putBuf(b *[]byte) {
	if cap(*b) <= 16<<20 {
		bufPool.Put(b)
	}
}

type fetchedRange struct {
	off  int64
	data []byte
}

func (p *prefetched) ReadAt(b []byte, off int64) (int, error) {
	i := sort.Search(len(p.ranges), func(i int) bool { return p.ranges[i].off+int64(len(p.ranges[i].data)) > off })
	if i < len(p.ranges) {
		r := p.ranges[i]
		if off >= r.off && off+int64(len(b)) <= r.off+int64(len(r.data)) {
			return copy(b, r.data[off-r.off:]), nil
		}
	}
	return p.base.ReadAt(b, off)
}

const (
	prefetchGap         = 16 << 10 // merge ranges closer than this
	prefetchConcurrency = 8
)

// prefetchRows fetches, concurrently, the dictionary pages and the data pages
// holding rows [from, to) of every column chunk.
func prefetchRows(ctx context.Context, chunks []parquet.ColumnChunk, md *format.RowGroup, base *bucketReaderAt, from, to int64) (*prefetched, error) {
	type span struct{ off, end int64 }
	var spans []span
	for ci, c := range chunks {
		oi, err := c.OffsetIndex()
		if err != nil || oi.NumPages() == 0 {
			continue
		}
		n := oi.NumPages()
		p0 := sort.Search(n, func(i int) bool { return oi.FirstRowIndex(i) > from }) - 1
		p1 := sort.Search(n, func(i int) bool { return oi.FirstRowIndex(i) >= to }) - 1
		if p0 < 0 {
			p0 = 0
		}
		if p1 < p0 {
			p1 = p0
		}
		chunkEnd := oi.Offset(n-1) + oi.CompressedPageSize(n-1)
		// Offset-index locations start at the page header and include it.
		start := oi.Offset(p0)
		end := min(oi.Offset(p1)+oi.CompressedPageSize(p1)+readBufferSize, chunkEnd)
		spans = append(spans, span{start, end})
		if cm := &md.Columns[ci].MetaData; cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < cm.DataPageOffset {
			spans = append(spans, span{cm.DictionaryPageOffset, min(cm.DataPageOffset+readBufferSize, chunkEnd)})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	var merged []span
	for _, s := range spans {
		if k := len(merged) - 1; k >= 0 && s.off <= merged[k].end+prefetchGap {
			merged[k].end = max(merged[k].end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	var total int64
	for i := range merged {
		merged[i].end = min(merged[i].end, base.size)
		total += merged[i].end - merged[i].off
	}
	out := &prefetched{base: base, ranges: make([]fetchedRange, len(merged))}
	out.buf = getBuf(int(total))
	errs := make([]error, len(merged))
	sem := make(chan struct{}, prefetchConcurrency)
	var wg sync.WaitGroup
	var pos int64
	for i, s := range merged {
		buf := (*out.buf)[pos : pos+s.end-s.off]
		pos += s.end - s.off
		out.ranges[i] = fetchedRange{off: s.off, data: buf}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := base.ReadAt(buf, s.off)
			if err == io.EOF {
				err = nil
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			out.release()
			return nil, err
		}
	}
	return out, nil
}
