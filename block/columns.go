package block

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// This file reads leaf columns of a row group straight from their decoded
// pages: repetition and definition levels as byte slices, values as typed
// slices (dictionary indexes for dictionary pages). A search reads the rows
// it wants forwards, column by column, and builds what it needs from the
// levels (see assemble.go) without a parquet.Value per value or a
// parquet.Row and its reconstruction into pqTrace.

// colMode is how a column's values are handed out.
type colMode uint8

const (
	modeNum   colMode = iota // integers, booleans (0/1), doubles (bits) as uint64
	modeStr                  // strings (dictionary or plain byte arrays)
	modeBytes                // byte arrays and fixed-length byte arrays, copied
)

// colRow holds the positions of one row of one column: levels and values
// (a zero value at a null position). Buffers are reused from row to row.
type colRow struct {
	rep, def []byte
	num      []uint64 // modeNum
	buf      []byte   // modeBytes, and modeStr's plain strings
	off      []int32  // modeBytes, modeStr: position p is buf[off[p]:off[p+1]]
	sidx     []int32  // modeStr: dictionary index, or -1 (plain, or null)
	str      []string // modeStr, once materialized
}

func (r *colRow) reset() {
	r.rep, r.def = r.rep[:0], r.def[:0]
	r.num, r.buf, r.sidx, r.str = r.num[:0], r.buf[:0], r.sidx[:0], r.str[:0]
	r.off = append(r.off[:0], 0)
}

// n is the number of positions.
func (r *colRow) n() int { return len(r.def) }

func (r *colRow) bytesAt(p int) []byte { return r.buf[r.off[p]:r.off[p+1]] }

// leafReader reads one leaf column chunk row by row, forwards. It seeks
// over pages with the offset index when it skips far ahead.
type leafReader struct {
	pages          parquet.Pages
	oi             parquet.OffsetIndex // nil: pages are read in sequence
	numPages       int
	maxRep, maxDef byte
	mode           colMode

	page     parquet.Page
	pageIdx  int // index of page in the chunk, -1 before the first
	rep, def []byte
	n, pos   int   // positions in page, next position
	vi       int   // index in the page's values of the value at pos
	next     int64 // the next row to start at or after pos
	eof      bool

	kind encoding.Kind
	idx  []int32 // dictionary indexes
	i32  []int32
	i64  []int64
	f64  []float64
	bits []byte
	ba   []byte
	offs []uint32
	size int // fixed-length byte arrays: ba holds values of size bytes

	dict     parquet.Dictionary
	dictBA   []byte
	dictOffs []uint32
	dictStr  []string // owned copies, filled on first use ("" unset)
}

func newLeafReader(cc parquet.ColumnChunk, ra io.ReaderAt, leaf parquet.LeafColumn, mode colMode) (*leafReader, error) {
	fcc, ok := cc.(*parquet.FileColumnChunk)
	if !ok {
		return nil, errors.New("block: unexpected column chunk type")
	}
	c := &leafReader{
		pages:   fcc.PagesFrom(ra),
		maxRep:  byte(leaf.MaxRepetitionLevel),
		maxDef:  byte(leaf.MaxDefinitionLevel),
		mode:    mode,
		pageIdx: -1,
	}
	if oi, err := fcc.OffsetIndex(); err == nil && oi != nil && oi.NumPages() > 0 {
		c.oi, c.numPages = oi, oi.NumPages()
	}
	return c, nil
}

func (c *leafReader) close() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	_ = c.pages.Close()
}

// load makes the next page of the chunk current, or sets eof.
func (c *leafReader) load() error {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	c.n, c.pos, c.vi = 0, 0, 0
	p, err := c.pages.ReadPage()
	if errors.Is(err, io.EOF) {
		c.eof = true
		return nil
	}
	if err != nil {
		return err
	}
	c.page = p
	c.pageIdx++
	c.n = int(p.NumValues())
	c.rep, c.def = p.RepetitionLevels(), p.DefinitionLevels()
	if c.maxRep > 0 && len(c.rep) != c.n || c.maxDef > 0 && len(c.def) != c.n {
		return fmt.Errorf("block: page of %d values with %d/%d levels", c.n, len(c.rep), len(c.def))
	}
	if c.maxRep == 0 {
		c.rep = nil
	}
	if c.maxDef == 0 {
		c.def = nil
	}
	d := p.Data()
	c.kind = d.Kind()
	c.idx = nil
	if dict := p.Dictionary(); dict != nil {
		if c.mode == modeNum {
			return fmt.Errorf("block: dictionary-encoded %s column", c.kind)
		}
		c.idx = d.Int32()
		if dict != c.dict {
			dd := dict.Page().Data()
			if dd.Kind() != encoding.ByteArray {
				return fmt.Errorf("block: dictionary of %s values", dd.Kind())
			}
			c.dict = dict
			c.dictBA, c.dictOffs = dd.ByteArray()
			c.dictStr = nil
		}
		return nil
	}
	switch c.kind {
	case encoding.Boolean:
		c.bits = d.Boolean()
	case encoding.Int32:
		c.i32 = d.Int32()
	case encoding.Int64:
		c.i64 = d.Int64()
	case encoding.Double:
		c.f64 = d.Double()
	case encoding.ByteArray:
		c.ba, c.offs = d.ByteArray()
	case encoding.FixedLenByteArray:
		c.ba, c.size = d.FixedLenByteArray()
	default:
		return fmt.Errorf("block: unsupported %s column", c.kind)
	}
	return nil
}

// seekPage makes page i (of the offset index) current.
func (c *leafReader) seekPage(i int) error {
	first := c.oi.FirstRowIndex(i)
	if err := c.pages.SeekToRow(first); err != nil {
		return err
	}
	c.pageIdx = i - 1
	if err := c.load(); err != nil {
		return err
	}
	c.next = first
	c.skipContinuation()
	return nil
}

// skipContinuation skips the positions at the start of a page that
// continue a row of the previous page.
func (c *leafReader) skipContinuation() {
	if c.rep != nil && c.pos < c.n && c.rep[c.pos] != 0 {
		e := c.rowEnd(c.pos)
		c.vi += c.countValues(c.pos, e)
		c.pos = e
	}
}

// rowEnd is the first position after p, in the page, that starts a row
// (or n).
func (c *leafReader) rowEnd(p int) int {
	if c.rep == nil {
		return min(p+1, c.n)
	}
	if p+1 >= c.n {
		return c.n
	}
	if i := bytes.IndexByte(c.rep[p+1:c.n], 0); i >= 0 {
		return p + 1 + i
	}
	return c.n
}

// countValues is the number of non-null values at positions [a, b).
func (c *leafReader) countValues(a, b int) int {
	if c.def == nil {
		return b - a
	}
	return bytes.Count(c.def[a:b], []byte{c.maxDef})
}

// skipTo moves forwards to the first position of row r (r >= next).
func (c *leafReader) skipTo(r int64) error {
	for c.next < r && !c.eof {
		if c.pos >= c.n {
			if c.oi != nil {
				// The last page starting at or before r.
				lo, hi := c.pageIdx+1, c.numPages
				for lo < hi {
					m := int(uint(lo+hi) >> 1)
					if c.oi.FirstRowIndex(m) <= r {
						lo = m + 1
					} else {
						hi = m
					}
				}
				if t := lo - 1; t > c.pageIdx+1 {
					if err := c.seekPage(t); err != nil {
						return err
					}
					continue
				}
			}
			if err := c.load(); err != nil {
				return err
			}
			c.skipContinuation()
			continue
		}
		if c.oi != nil && c.pageIdx+1 < c.numPages {
			if nf := c.oi.FirstRowIndex(c.pageIdx + 1); r >= nf {
				// Nothing of this page is wanted.
				c.pos, c.next = c.n, nf
				continue
			}
		}
		if c.rep == nil {
			k := int(min(r-c.next, int64(c.n-c.pos)))
			c.vi += c.countValues(c.pos, c.pos+k)
			c.pos += k
			c.next += int64(k)
			continue
		}
		// Whole rows (one that goes on in the next page is finished by
		// skipContinuation there).
		for c.next < r && c.pos < c.n {
			e := c.rowEnd(c.pos)
			c.vi += c.countValues(c.pos, e)
			c.pos = e
			c.next++
		}
	}
	return nil
}

// readRow reads row next (the reader must be at it, see skipTo) into out.
// Strings are not materialized (see strings).
func (c *leafReader) readRow(out *colRow) error {
	out.reset()
	if c.pos >= c.n {
		if c.eof {
			return io.ErrUnexpectedEOF
		}
		if err := c.load(); err != nil {
			return err
		}
		c.skipContinuation()
		if c.eof || c.pos >= c.n {
			return io.ErrUnexpectedEOF
		}
	}
	for {
		e := c.rowEnd(c.pos)
		if c.rep != nil && c.rep[c.pos] != 0 {
			// Continuing in a new page.
			if i := bytes.IndexByte(c.rep[c.pos:c.n], 0); i >= 0 {
				e = c.pos + i
			} else {
				e = c.n
			}
		}
		c.appendRange(out, c.pos, e)
		c.pos = e
		if e < c.n || c.rep == nil {
			break
		}
		// The row may go on in the next page.
		if err := c.load(); err != nil {
			return err
		}
		if c.eof || c.n == 0 || c.rep[0] == 0 {
			break
		}
	}
	c.next++
	return nil
}

// appendRange appends positions [a, b) of the page to out and moves vi
// past their values.
func (c *leafReader) appendRange(out *colRow, a, b int) {
	k := b - a
	if c.rep != nil {
		out.rep = append(out.rep, c.rep[a:b]...)
	} else {
		out.rep = append(out.rep, make([]byte, k)...)
	}
	def, md := c.def, c.maxDef
	if def != nil {
		out.def = append(out.def, def[a:b]...)
	} else {
		out.def = append(out.def, make([]byte, k)...)
	}
	set := func(p int) bool { return def == nil || def[p] == md }
	vi := c.vi
	switch c.mode {
	case modeNum:
		switch c.kind {
		case encoding.Int64:
			for p := a; p < b; p++ {
				var u uint64
				if set(p) {
					u = uint64(c.i64[vi])
					vi++
				}
				out.num = append(out.num, u)
			}
		case encoding.Int32:
			for p := a; p < b; p++ {
				var u uint64
				if set(p) {
					u = uint64(int64(c.i32[vi]))
					vi++
				}
				out.num = append(out.num, u)
			}
		default:
			for p := a; p < b; p++ {
				var u uint64
				if set(p) {
					u = c.num(vi)
					vi++
				}
				out.num = append(out.num, u)
			}
		}
	case modeStr:
		for p := a; p < b; p++ {
			j := int32(-1)
			if set(p) {
				if c.idx != nil {
					j = c.idx[vi]
				} else {
					out.buf = append(out.buf, c.bytes(vi)...)
				}
				vi++
			}
			out.sidx = append(out.sidx, j)
			out.off = append(out.off, int32(len(out.buf)))
		}
	case modeBytes:
		for p := a; p < b; p++ {
			if set(p) {
				out.buf = append(out.buf, c.bytes(vi)...)
				vi++
			}
			out.off = append(out.off, int32(len(out.buf)))
		}
	}
	c.vi = vi
}

func (c *leafReader) num(i int) uint64 {
	switch c.kind {
	case encoding.Int32:
		return uint64(int64(c.i32[i]))
	case encoding.Int64:
		return uint64(c.i64[i])
	case encoding.Double:
		return math.Float64bits(c.f64[i])
	case encoding.Boolean:
		return uint64(c.bits[i>>3]>>(i&7)) & 1
	}
	return 0
}

func (c *leafReader) bytes(i int) []byte {
	if c.idx != nil {
		j := c.idx[i]
		return c.dictBA[c.dictOffs[j]:c.dictOffs[j+1]]
	}
	switch c.kind {
	case encoding.ByteArray:
		return c.ba[c.offs[i]:c.offs[i+1]]
	case encoding.FixedLenByteArray:
		return c.ba[i*c.size : (i+1)*c.size]
	}
	return nil
}

// strings fills out.str (modeStr) from the row read last. Owned strings
// may be kept by anyone; views are valid until the next readRow
// (dictionary strings: while the reader is open).
func (c *leafReader) strings(out *colRow, owned bool) {
	out.str = out.str[:0]
	src := out.buf
	if owned && len(src) > 0 {
		// One allocation for the row's plain strings, not one each.
		src = append([]byte(nil), src...)
	}
	for p, j := range out.sidx {
		var s string
		switch {
		case j >= 0:
			s = c.dictString(j, owned)
		case out.off[p+1] > out.off[p]:
			s = unsafeString(src[out.off[p]:out.off[p+1]])
		}
		out.str = append(out.str, s)
	}
}

func (c *leafReader) dictString(j int32, owned bool) string {
	b := c.dictBA[c.dictOffs[j]:c.dictOffs[j+1]]
	if !owned || len(b) == 0 {
		return unsafeString(b)
	}
	if c.dictStr == nil {
		c.dictStr = make([]string, len(c.dictOffs)-1)
	}
	s := c.dictStr[j]
	if s == "" {
		s = string(b)
		c.dictStr[j] = s
	}
	return s
}

// colSet opens the leaf columns of a row group on first use and keeps
// each one's last row, so that the conditions and the assembler read a
// column (and decode its pages) once.
type colSet struct {
	schema *parquet.Schema
	rg     *rowGroupInfo
	ra     io.ReaderAt
	cols   []*setCol // by column index
}

type setCol struct {
	r   *leafReader
	row colRow
	at  int64 // the row in row, -1 for none
	mat uint8 // modeStr: strings materialized as views (1) or owned (2)
}

func newColSet(schema *parquet.Schema, rg *rowGroupInfo, ra io.ReaderAt) *colSet {
	return &colSet{schema: schema, rg: rg, ra: ra, cols: make([]*setCol, len(rg.rg.ColumnChunks()))}
}

// column returns the handle of the column at path, opening it.
func (s *colSet) column(path []string, mode colMode) (int, error) {
	leaf, ok := s.schema.Lookup(path...)
	if !ok {
		return 0, fmt.Errorf("block: no column %v", path)
	}
	i := leaf.ColumnIndex
	if i < 0 || i >= len(s.cols) {
		return 0, fmt.Errorf("block: column %v out of range", path)
	}
	if sc := s.cols[i]; sc != nil {
		if sc.r.mode != mode {
			return 0, fmt.Errorf("block: column %v read two ways", path)
		}
		return i, nil
	}
	r, err := newLeafReader(s.rg.rg.ColumnChunks()[i], s.ra, leaf, mode)
	if err != nil {
		return 0, err
	}
	s.cols[i] = &setCol{r: r, at: -1}
	return i, nil
}

func (s *colSet) maxDef(h int) byte { return s.cols[h].r.maxDef }

// get returns row r of column h (rows are asked for in ascending order),
// strings owned or views.
func (s *colSet) get(h int, r int64, owned bool) (*colRow, error) {
	sc := s.cols[h]
	if sc.at != r {
		if err := sc.r.skipTo(r); err != nil {
			return nil, err
		}
		if err := sc.r.readRow(&sc.row); err != nil {
			return nil, fmt.Errorf("row %d: %w", r, err)
		}
		sc.at, sc.mat = r, 0
	}
	if sc.r.mode == modeStr {
		want := uint8(1)
		if owned {
			want = 2
		}
		if sc.mat < want {
			sc.r.strings(&sc.row, owned)
			sc.mat = want
		}
	}
	return &sc.row, nil
}

func (s *colSet) close() {
	for _, sc := range s.cols {
		if sc != nil {
			sc.r.close()
		}
	}
}
