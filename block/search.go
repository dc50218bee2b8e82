package block

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"regexp"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/pace-tracing/pace/traceql"
)

// SearchRequest selects the traces of a block that a search reads.
type SearchRequest struct {
	// Conditions are necessary conditions (traceql.Query.Conditions): a
	// trace that fails one is not read.
	Conditions []traceql.Condition
	// Start and End (Unix ns, 0 = open) keep only traces overlapping them.
	Start, End uint64
	// IDShard of IDShards (when IDShards > 1) keeps only the traces whose ID
	// falls in that slice of the ID space (by its first byte), so that the
	// copies of a trace in several blocks meet in one job.
	IDShard, IDShards int
}

// InIDShard reports whether a trace ID is in shard of shards.
func InIDShard(id [16]byte, shard, shards int) bool {
	return shards <= 1 || int(id[0])*shards/256 == shard
}

// SearchStats says how much a search read.
type SearchStats struct {
	InspectedTraces int64
	InspectedBytes  int64
}

// Search calls fn for every trace of the block that overlaps the request's
// time range and may satisfy its conditions, converted to the TraceQL
// model (fn owns it). fn returns false to stop.
//
// A row group is read in windows of rows that grow from 128 to 4096: for
// each window the conditions' columns are scanned first (only they are
// decoded for every row), then only the rows that pass are read whole. A
// search that finds what it needs early stops after a window or two; one
// that matches nothing decodes only the conditions' columns. Every column
// chunk is fetched from the object store at most once, whole.
func (r *Reader) Search(ctx context.Context, req SearchRequest, fn func(*traceql.Trace) bool) (st SearchStats, err error) {
	if req.End != 0 && uint64(r.meta.StartTime.UnixNano()) > req.End {
		return st, nil
	}
	if req.Start != 0 && uint64(r.meta.EndTime.UnixNano()) < req.Start {
		return st, nil
	}
	rgs, _, err := r.open(ctx)
	if err != nil {
		return st, err
	}
	ra := &countingReaderAt{bucketReaderAt: bucketReaderAt{ctx: ctx, bkt: r.bkt, name: r.meta.Dir() + DataFile, size: r.meta.Size}}
	defer func() { st.InspectedBytes = ra.n.Load() }()
	preds, err := compileConditions(req.Conditions)
	if err != nil {
		return st, err
	}
	schema := r.file.Schema()
	for i := range rgs {
		if req.IDShards > 1 && (int(rgs[i].max[0])*req.IDShards/256 < req.IDShard || int(rgs[i].min[0])*req.IDShards/256 > req.IDShard) {
			continue
		}
		more, err := r.searchRowGroup(ctx, schema, &rgs[i], ra, req, preds, &st, fn)
		if err != nil {
			return st, fmt.Errorf("block %s: %w", r.meta.BlockID, err)
		}
		if !more {
			return st, nil
		}
	}
	return st, nil
}

const (
	firstWindow = 128
	maxWindow   = 4096
)

func (r *Reader) searchRowGroup(ctx context.Context, schema *parquet.Schema, rg *rowGroupInfo, base io.ReaderAt, req SearchRequest, preds []pred, st *SearchStats, fn func(*traceql.Trace) bool) (bool, error) {
	cache := newChunkCache(base, rg.md)
	var scans []*colScan
	defer func() {
		for _, s := range scans {
			s.close()
		}
	}()
	addScan := func(spec *scanSpec) error {
		if spec == nil {
			return nil
		}
		s, err := newColScan(rg, cache, spec)
		if err != nil {
			return err
		}
		scans = append(scans, s)
		return nil
	}
	if req.Start != 0 || req.End != 0 {
		if err := addScan(timeSpec(schema, req.Start, req.End)); err != nil {
			return false, err
		}
	}
	if req.IDShards > 1 {
		shard, shards := req.IDShard, req.IDShards
		err := addScan(&scanSpec{
			cols:  columns(schema, []string{"TraceID"}),
			match: func(v []parquet.Value) bool { return int(v[0].ByteArray()[0])*shards/256 == shard },
		})
		if err != nil {
			return false, err
		}
	}
	for i := range preds {
		if err := addScan(preds[i].spec(schema)); err != nil {
			return false, err
		}
	}
	rows, err := newRowCursor(rg, cache)
	if err != nil {
		return false, err
	}
	defer rows.close()
	win := int64(firstWindow)
	cand := newRowSet(maxWindow)
	var t pqTrace
	for from, next := int64(0), int64(0); from < rg.numRows; from = next {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		win = min(win, rg.numRows-from)
		next = from + win
		cand.fill(win)
		for _, s := range scans {
			if cand.count == 0 {
				break
			}
			if err := s.narrow(from, win, cand); err != nil {
				return false, err
			}
		}
		for i := int64(0); i < win && cand.count > 0; i++ {
			if !cand.has(i) {
				continue
			}
			row, err := rows.get(from + i)
			if err != nil {
				return false, err
			}
			t = pqTrace{}
			if err := rowSchema.Reconstruct(&t, row); err != nil {
				return false, err
			}
			st.InspectedTraces++
			tr, err := traceFromRow(&t)
			if err != nil {
				return false, err
			}
			if !fn(tr) {
				return false, nil
			}
		}
		win = min(win*2, maxWindow)
	}
	return true, nil
}

// countingReaderAt counts the bytes a search reads.
type countingReaderAt struct {
	bucketReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.bucketReaderAt.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// chunkCache serves the reads of one row group from memory: on first use
// the row group's column chunks, which parquet lays out one after another,
// are fetched in one read (one request to an object store instead of one
// per column and page).
type chunkCache struct {
	base     io.ReaderAt
	off, end int64
	data     []byte
}

func newChunkCache(base io.ReaderAt, md *format.RowGroup) *chunkCache {
	c := &chunkCache{base: base, off: -1}
	for i := range md.Columns {
		cm := &md.Columns[i].MetaData
		off := cm.DataPageOffset
		if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < off {
			off = cm.DictionaryPageOffset
		}
		if c.off < 0 || off < c.off {
			c.off = off
		}
		c.end = max(c.end, off+cm.TotalCompressedSize)
	}
	return c
}

func (c *chunkCache) ReadAt(p []byte, off int64) (int, error) {
	if off < c.off || off+int64(len(p)) > c.end {
		return c.base.ReadAt(p, off) // read-ahead past the row group
	}
	if c.data == nil {
		buf := make([]byte, c.end-c.off)
		if _, err := c.base.ReadAt(buf, c.off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		c.data = buf
	}
	return copy(p, c.data[off-c.off:]), nil
}

// rowSet is a set of rows of one window.
type rowSet struct {
	bits  []uint64
	count int64
}

func newRowSet(n int64) *rowSet { return &rowSet{bits: make([]uint64, (n+63)/64)} }

// fill makes the set hold rows [0, n).
func (s *rowSet) fill(n int64) {
	clear(s.bits)
	for i := int64(0); i < n/64; i++ {
		s.bits[i] = ^uint64(0)
	}
	if n%64 != 0 {
		s.bits[n/64] = 1<<(n%64) - 1
	}
	s.count = n
}

func (s *rowSet) has(i int64) bool { return s.bits[i/64]&(1<<(i%64)) != 0 }

// keep keeps only the rows in o.
func (s *rowSet) keep(o *rowSet) {
	s.count = 0
	for i := range s.bits {
		s.bits[i] &= o.bits[i]
		s.count += int64(bits.OnesCount64(s.bits[i]))
	}
}

func (s *rowSet) add(i int64) { s.bits[i/64] |= 1 << (i % 64) }

// scanSpec says which sibling columns a condition reads and when a
// position satisfies it; a row satisfies it when any position does.
type scanSpec struct {
	cols  []int
	match func(vals []parquet.Value) bool
}

// colScan streams a scanSpec's columns window by window.
type colScan struct {
	spec    *scanSpec
	curs    []*colCursor
	vals    []parquet.Value
	row     int64 // the row of vals
	pending bool  // vals holds a position not yet judged
	eof     bool
	hits    *rowSet
}

func newColScan(rg *rowGroupInfo, ra io.ReaderAt, spec *scanSpec) (*colScan, error) {
	chunks := rg.rg.ColumnChunks()
	s := &colScan{spec: spec, vals: make([]parquet.Value, len(spec.cols)), row: -1, hits: newRowSet(maxWindow)}
	for _, c := range spec.cols {
		fcc, ok := chunks[c].(*parquet.FileColumnChunk)
		if !ok {
			s.close()
			return nil, errors.New("block: unexpected column chunk type")
		}
		s.curs = append(s.curs, &colCursor{pages: fcc.PagesFrom(ra), buf: make([]parquet.Value, 1024)})
	}
	return s, nil
}

func (s *colScan) close() {
	for _, c := range s.curs {
		c.close()
	}
}

// narrow removes from cand (rows from..from+n) the rows that fail the
// condition.
func (s *colScan) narrow(from, n int64, cand *rowSet) error {
	clear(s.hits.bits)
	end := from + n
	for !s.eof {
		if !s.pending {
			for i, c := range s.curs {
				v, ok, err := c.next()
				if err != nil {
					return err
				}
				if !ok {
					if i > 0 {
						return errors.New("block: sibling columns of different lengths")
					}
					s.eof = true
					break
				}
				s.vals[i] = v
			}
			if s.eof {
				break
			}
			if s.vals[0].RepetitionLevel() == 0 {
				s.row++
			}
			s.pending = true
		}
		if s.row >= end {
			break
		}
		s.pending = false
		if s.row >= from && s.spec.match(s.vals) {
			s.hits.add(s.row - from)
		}
	}
	cand.keep(s.hits)
	return nil
}

// rowCursor reads whole rows of a row group, forwards, seeking over long
// gaps.
type rowCursor struct {
	rows     parquet.RowReadSeekCloser
	buf      []parquet.Row
	bufStart int64
	bufLen   int64
	next     int64 // the row ReadRows returns next
}

func newRowCursor(rg *rowGroupInfo, ra io.ReaderAt) (*rowCursor, error) {
	chunks := rg.rg.ColumnChunks()
	wrapped := make([]parquet.ColumnChunk, len(chunks))
	for i, c := range chunks {
		fcc, ok := c.(*parquet.FileColumnChunk)
		if !ok {
			return nil, errors.New("block: unexpected column chunk type")
		}
		wrapped[i] = ctxChunk{fcc, ra}
	}
	return &rowCursor{rows: parquet.NewColumnChunkRowReader(wrapped), buf: make([]parquet.Row, 16)}, nil
}

func (c *rowCursor) close() { _ = c.rows.Close() }

const seekGap = 64

func (c *rowCursor) get(r int64) (parquet.Row, error) {
	for r < c.bufStart || r >= c.bufStart+c.bufLen {
		if r < c.next-c.bufLen || r >= c.next+seekGap {
			if err := c.rows.SeekToRow(r); err != nil {
				return nil, err
			}
			c.next = r
		}
		n, err := c.rows.ReadRows(c.buf)
		c.bufStart, c.bufLen = c.next, int64(n)
		c.next += int64(n)
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("row %d: %w", r, err)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	return c.buf[r-c.bufStart], nil
}

// timeSpec keeps the traces that overlap [start, end].
func timeSpec(schema *parquet.Schema, start, end uint64) *scanSpec {
	return &scanSpec{
		cols: columns(schema, []string{"StartTimeUnixNano"}, []string{"EndTimeUnixNano"}),
		match: func(v []parquet.Value) bool {
			return (end == 0 || v[0].Uint64() <= end) && (start == 0 || v[1].Uint64() >= start)
		},
	}
}

func columns(schema *parquet.Schema, paths ...[]string) []int {
	out := make([]int, len(paths))
	for i, p := range paths {
		leaf, ok := schema.Lookup(p...)
		if !ok {
			panic(fmt.Sprintf("block: no column %v", p))
		}
		out[i] = leaf.ColumnIndex
	}
	return out
}

// colCursor walks the values of one column chunk page by page.
type colCursor struct {
	pages parquet.Pages
	page  parquet.Page
	vr    parquet.ValueReader
	buf   []parquet.Value
	i, n  int
}

func (c *colCursor) next() (parquet.Value, bool, error) {
	for c.i >= c.n {
		if c.vr != nil {
			n, err := c.vr.ReadValues(c.buf)
			c.i, c.n = 0, n
			if errors.Is(err, io.EOF) {
				c.vr = nil
			} else if err != nil {
				return parquet.Value{}, false, err
			}
			continue
		}
		if c.page != nil {
			parquet.Release(c.page)
			c.page = nil
		}
		p, err := c.pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return parquet.Value{}, false, nil
		}
		if err != nil {
			return parquet.Value{}, false, err
		}
		c.page, c.vr = p, p.Values()
	}
	v := c.buf[c.i]
	c.i++
	return v, true, nil
}

func (c *colCursor) close() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	c.pages.Close()
}

// pred is a condition compiled against the block's columns.
type pred struct {
	cond traceql.Condition
	re   *regexp.Regexp
}

func compileConditions(conds []traceql.Condition) ([]pred, error) {
	var out []pred
	for _, c := range conds {
		p := pred{cond: c}
		if c.Op == traceql.OpRegex || c.Op == traceql.OpNotRegex {
			if c.Value.Type != traceql.TypeString {
				continue
			}
			re, err := regexp.Compile("^(?:" + c.Value.S + ")$")
			if err != nil {
				return nil, fmt.Errorf("bad regex %q: %w", c.Value.S, err)
			}
			p.re = re
		}
		if c.Scope == traceql.ScopeTrace && c.Value.Type == traceql.TypeString && c.Value.S == traceql.NoRootName {
			continue // stored as ""
		}
		out = append(out, p)
	}
	return out, nil
}

// spanPath and friends are the column paths of the schema.
var (
	spanPath     = []string{"rs", "ss", "Spans"}
	resourcePath = []string{"rs", "Resource"}
)

func colPath(base []string, leaf ...string) []string {
	return append(append([]string(nil), base...), leaf...)
}

// spec returns how to check the condition on the columns, or nil when
// they cannot decide it (every row stays a candidate).
func (p *pred) spec(schema *parquet.Schema) *scanSpec {
	c := p.cond
	var col []string
	switch c.Scope {
	case traceql.ScopeTrace:
		switch c.Name {
		case "rootServiceName":
			col = []string{"RootServiceName"}
		case "rootName":
			col = []string{"RootSpanName"}
		case "traceDuration":
			col = []string{"DurationNano"}
		}
	case traceql.ScopeIntrinsic:
		switch c.Name {
		case "name":
			col = colPath(spanPath, "Name")
		case "status":
			col = colPath(spanPath, "StatusCode")
		case "statusMessage":
			col = colPath(spanPath, "StatusMessage")
		case "kind":
			col = colPath(spanPath, "Kind")
		case "duration":
			col = colPath(spanPath, "DurationNano")
		}
	case traceql.ScopeResource:
		if c.Name == serviceNameKey && c.Value.Type == traceql.TypeString {
			return &scanSpec{
				cols: columns(schema, colPath(resourcePath, "ServiceName"), colPath(resourcePath, "HasServiceName")),
				match: func(v []parquet.Value) bool {
					return !v[1].IsNull() && v[1].Boolean() && p.match(traceql.Value{Type: traceql.TypeString, S: unsafeString(v[0].ByteArray())})
				},
			}
		}
		return p.attrSpec(schema, colPath(resourcePath, "Attrs"))
	case traceql.ScopeSpan:
		return p.attrSpec(schema, colPath(spanPath, "Attrs"))
	}
	if col == nil {
		return nil
	}
	return &scanSpec{
		cols:  columns(schema, col),
		match: func(v []parquet.Value) bool { return !v[0].IsNull() && p.matchIntrinsic(v[0]) },
	}
}

func (p *pred) matchIntrinsic(v parquet.Value) bool {
	var tv traceql.Value
	switch p.cond.Name {
	case "name", "statusMessage", "rootServiceName", "rootName":
		tv = traceql.Value{Type: traceql.TypeString, S: unsafeString(v.ByteArray())}
	case "status":
		tv = traceql.Value{Type: traceql.TypeStatus, I: int64(v.Int32())}
	case "kind":
		tv = traceql.Value{Type: traceql.TypeKind, I: int64(v.Int32())}
	case "duration", "traceDuration":
		tv = traceql.Value{Type: traceql.TypeDuration, I: int64(v.Uint64())}
	}
	return p.match(tv)
}

// attrSpec checks an attribute condition on the Attrs list at base. An
// attribute stored as an encoded AnyValue (arrays, bytes, maps) keeps its
// row as a candidate: the engine decides.
func (p *pred) attrSpec(schema *parquet.Schema, base []string) *scanSpec {
	c := p.cond
	var valCols []string
	switch c.Value.Type {
	case traceql.TypeString:
		valCols = []string{"Value"}
	case traceql.TypeInt, traceql.TypeFloat:
		valCols = []string{"ValueInt", "ValueDouble"}
	case traceql.TypeBool:
		valCols = []string{"ValueBool"}
	default:
		return nil
	}
	paths := [][]string{colPath(base, "Key"), colPath(base, "ValueAny")}
	for _, vc := range valCols {
		paths = append(paths, colPath(base, vc))
	}
	return &scanSpec{
		cols: columns(schema, paths...),
		match: func(v []parquet.Value) bool {
			if v[0].IsNull() || unsafeString(v[0].ByteArray()) != c.Name {
				return false
			}
			if !v[1].IsNull() {
				return true
			}
			for i, vc := range valCols {
				x := v[2+i]
				if x.IsNull() {
					continue
				}
				var tv traceql.Value
				switch vc {
				case "Value":
					tv = traceql.Value{Type: traceql.TypeString, S: unsafeString(x.ByteArray())}
				case "ValueInt":
					tv = traceql.Value{Type: traceql.TypeInt, I: x.Int64()}
				case "ValueDouble":
					tv = traceql.Value{Type: traceql.TypeFloat, F: x.Double()}
				case "ValueBool":
					tv = traceql.Value{Type: traceql.TypeBool, B: x.Boolean()}
				}
				if p.match(tv) {
					return true
				}
			}
			return false
		},
	}
}

// match compares a stored value with the condition's literal. It must never
// be stricter than the engine: when unsure it says yes.
func (p *pred) match(v traceql.Value) bool {
	c := p.cond
	if p.re != nil {
		if v.Type != traceql.TypeString {
			return false
		}
		return p.re.MatchString(v.S) == (c.Op == traceql.OpRegex)
	}
	lit := c.Value
	var cmp int
	switch {
	case v.Type == traceql.TypeString && lit.Type == traceql.TypeString:
		cmp = strings.Compare(v.S, lit.S)
	case isNumeric(v.Type) && isNumeric(lit.Type):
		a, b := numeric(v), numeric(lit)
		switch {
		case a < b:
			cmp = -1
		case a > b:
			cmp = 1
		}
	case v.Type == traceql.TypeBool && lit.Type == traceql.TypeBool:
		if v.B != lit.B {
			cmp = 1
		}
		if c.Op != traceql.OpEq && c.Op != traceql.OpNeq {
			return true
		}
	default:
		return true // types the engine may coerce: let it decide
	}
	switch c.Op {
	case traceql.OpEq:
		return cmp == 0
	case traceql.OpNeq:
		return cmp != 0
	case traceql.OpGt:
		return cmp > 0
	case traceql.OpGte:
		return cmp >= 0
	case traceql.OpLt:
		return cmp < 0
	case traceql.OpLte:
		return cmp <= 0
	}
	return true
}

func isNumeric(t traceql.Type) bool {
	switch t {
	case traceql.TypeInt, traceql.TypeFloat, traceql.TypeDuration, traceql.TypeStatus, traceql.TypeKind:
		return true
	}
	return false
}

func numeric(v traceql.Value) float64 {
	if v.Type == traceql.TypeFloat {
		return v.F
	}
	return float64(v.I)
}

// traceFromRow converts a row into the TraceQL model.
func traceFromRow(row *pqTrace) (*traceql.Trace, error) {
	t := &traceql.Trace{
		ID:                row.TraceID,
		RootServiceName:   row.RootServiceName,
		RootSpanName:      row.RootSpanName,
		StartTimeUnixNano: row.StartTimeUnixNano,
		DurationNano:      row.DurationNano,
		Spans:             make([]traceql.Span, 0, row.SpanCount),
	}
	hasRoot := false
	for i := range row.ResourceSpans {
		prs := &row.ResourceSpans[i]
		res := &traceql.Resource{Attrs: make([]traceql.Attr, 0, len(prs.Resource.Attrs)+1)}
		if prs.Resource.HasServiceName {
			res.Attrs = append(res.Attrs, traceql.Attr{Key: serviceNameKey, Value: traceql.Value{Type: traceql.TypeString, S: prs.Resource.ServiceName}})
		}
		var err error
		if res.Attrs, err = appendAttrs(res.Attrs, prs.Resource.Attrs); err != nil {
			return nil, err
		}
		for j := range prs.ScopeSpans {
			pss := &prs.ScopeSpans[j]
			sc := &traceql.InstrumentationScope{Name: pss.Scope.Name, Version: pss.Scope.Version}
			if sc.Attrs, err = appendAttrs(nil, pss.Scope.Attrs); err != nil {
				return nil, err
			}
			for k := range pss.Spans {
				ps := &pss.Spans[k]
				sp := traceql.Span{
					ID:                ps.SpanID,
					Parent:            ps.ParentIdx,
					Name:              ps.Name,
					Kind:              ps.Kind,
					StatusCode:        ps.StatusCode,
					StatusMessage:     ps.StatusMessage,
					StartTimeUnixNano: ps.StartTimeUnixNano,
					DurationNano:      ps.DurationNano,
					Resource:          res,
					Scope:             sc,
				}
				if ps.ParentIdx < 0 {
					copy(sp.ParentID[:], ps.ParentSpanID)
					if len(ps.ParentSpanID) == 0 {
						hasRoot = true
					}
				}
				if sp.Attrs, err = appendAttrs(nil, ps.Attrs); err != nil {
					return nil, err
				}
				if len(ps.Events) > 0 {
					sp.Events = make([]traceql.Event, len(ps.Events))
					for e := range ps.Events {
						pe := &ps.Events[e]
						since := pe.TimeSinceStartNano
						if int64(since) < 0 {
							since = 0 // an event before its span's start (stored wrapped), as the live model has it
						}
						sp.Events[e] = traceql.Event{Name: pe.Name, TimeSinceStartNano: since}
						if sp.Events[e].Attrs, err = appendAttrs(nil, pe.Attrs); err != nil {
							return nil, err
						}
					}
				}
				if len(ps.Links) > 0 {
					sp.Links = make([]traceql.Link, len(ps.Links))
					for l := range ps.Links {
						pl := &ps.Links[l]
						sp.Links[l] = traceql.Link{TraceID: pl.TraceID, SpanID: pl.SpanID}
						if sp.Links[l].Attrs, err = appendAttrs(nil, pl.Attrs); err != nil {
							return nil, err
						}
					}
				}
				t.Spans = append(t.Spans, sp)
			}
		}
	}
	// Parent IDs of spans whose parent is in the row.
	for i := range t.Spans {
		if p := t.Spans[i].Parent; p >= 0 && int(p) < len(t.Spans) {
			t.Spans[i].ParentID = t.Spans[p].ID
		} else if p >= 0 {
			t.Spans[i].Parent = -1
		}
	}
	if !hasRoot {
		t.RootServiceName, t.RootSpanName = traceql.NoRootName, traceql.NoRootName
	}
	return t, nil
}

func appendAttrs(dst []traceql.Attr, attrs []pqAttr) ([]traceql.Attr, error) {
	if dst == nil && len(attrs) > 0 {
		dst = make([]traceql.Attr, 0, len(attrs))
	}
	for i := range attrs {
		a := &attrs[i]
		var v traceql.Value
		switch {
		case a.Str != nil:
			v = traceql.Value{Type: traceql.TypeString, S: *a.Str}
		case a.Int != nil:
			v = traceql.Value{Type: traceql.TypeInt, I: *a.Int}
		case a.Double != nil:
			v = traceql.Value{Type: traceql.TypeFloat, F: *a.Double}
		case a.Bool != nil:
			v = traceql.Value{Type: traceql.TypeBool, B: *a.Bool}
		case a.Any != nil:
			pv := pcommon.NewValueEmpty()
			if err := decodeAnyValue(a.Any, pv); err != nil {
				return nil, fmt.Errorf("attribute %q: %w", a.Key, err)
			}
			v = traceql.ValueFromOTLP(pv)
		}
		dst = append(dst, traceql.Attr{Key: a.Key, Value: v})
	}
	return dst, nil
}

// unsafeString views b as a string without copying; only for comparisons
// that do not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
