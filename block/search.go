package block

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

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
// A row group is read row by row, forwards, one reader per column (see
// columns.go): a row's conditions are checked on their columns first (a
// condition that fails skips the others), and only a row that passes them
// all is read whole, built in the TraceQL model straight from the columns'
// levels and values (assemble.go). A column's pages are decoded once, when
// a wanted row is in them, whoever wants it; rows that are not wanted are
// skipped over their levels. So a search that finds what it needs early
// decodes the first pages of a row group only, and one that matches nothing
// decodes only the conditions' columns. Every column chunk is fetched from
// the object store at most once, whole.
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

func (r *Reader) searchRowGroup(ctx context.Context, schema *parquet.Schema, rg *rowGroupInfo, base io.ReaderAt, req SearchRequest, preds []pred, st *SearchStats, fn func(*traceql.Trace) bool) (bool, error) {
	cache := newChunkCache(base, rg.md)
	defer cache.release()
	set := newColSet(schema, rg, cache)
	defer set.close()
	var scans []*colScan
	addScan := func(spec *scanSpec) error {
		if spec == nil {
			return nil
		}
		s, err := newColScan(set, spec)
		if err != nil {
			return err
		}
		scans = append(scans, s)
		return nil
	}
	if req.Start != 0 || req.End != 0 {
		if err := addScan(timeSpec(req.Start, req.End)); err != nil {
			return false, err
		}
	}
	if req.IDShards > 1 {
		shard, shards := req.IDShard, req.IDShards
		err := addScan(&scanSpec{
			cols:  []scanCol{{path: []string{"TraceID"}, mode: modeBytes}},
			match: func(v []cell) bool { return len(v[0].s) > 0 && int(v[0].s[0])*shards/256 == shard },
		})
		if err != nil {
			return false, err
		}
	}
	for i := range preds {
		if err := addScan(preds[i].spec()); err != nil {
			return false, err
		}
	}
	// Opened on the first candidate: a row group none of whose rows pass
	// reads only the conditions' columns.
	var asm *assembler
rows:
	for row := int64(0); row < rg.numRows; row++ {
		if row%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		for _, s := range scans {
			ok, err := s.test(row)
			if err != nil {
				return false, err
			}
			if !ok {
				continue rows
			}
		}
		if asm == nil {
			var err error
			if asm, err = newAssembler(set); err != nil {
				return false, err
			}
		}
		tr, err := asm.read(row)
		if err != nil {
			return false, err
		}
		st.InspectedTraces++
		if !fn(tr) {
			return false, nil
		}
	}
	return true, nil
}

// ctxCheckRows is how often a search looks at its context.
const ctxCheckRows = 256

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
	buf      *[]byte // pooled backing store of data
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
		buf := getBuf(int(c.end - c.off))
		if _, err := c.base.ReadAt(*buf, c.off); err != nil && !errors.Is(err, io.EOF) {
			putBuf(buf)
			return 0, err
		}
		c.buf, c.data = buf, *buf
	}
	return copy(p, c.data[off-c.off:]), nil
}

// release returns the buffer to the pool; c must not be used afterwards
// (pages copy what they read, so nothing refers to it).
func (c *chunkCache) release() {
	if c.buf != nil {
		putBuf(c.buf)
		c.buf, c.data = nil, nil
	}
}

// scanSpec says which sibling columns a condition reads and when a
// position satisfies it; a row satisfies it when any position does.
type scanSpec struct {
	cols  []scanCol
	match func(vals []cell) bool
}

type scanCol struct {
	path []string
	mode colMode
}

// cell is a column's value at one position, for scanSpec.match: s holds
// strings and byte arrays (a view, valid during the call), u numbers.
type cell struct {
	null bool
	u    uint64
	s    string
}

// colScan checks a scanSpec row by row.
type colScan struct {
	spec  *scanSpec
	set   *colSet
	h     []int
	md    []byte
	modes []colMode
	rows  []*colRow
	cells []cell
}

func newColScan(set *colSet, spec *scanSpec) (*colScan, error) {
	s := &colScan{spec: spec, set: set, rows: make([]*colRow, len(spec.cols)), cells: make([]cell, len(spec.cols))}
	for _, sc := range spec.cols {
		h, err := set.column(sc.path, sc.mode)
		if err != nil {
			return nil, err
		}
		s.h, s.md, s.modes = append(s.h, h), append(s.md, set.maxDef(h)), append(s.modes, sc.mode)
	}
	return s, nil
}

// test reports whether row r satisfies the condition.
func (s *colScan) test(r int64) (bool, error) {
	for k, h := range s.h {
		row, err := s.set.get(h, r, false)
		if err != nil {
			return false, err
		}
		s.rows[k] = row
	}
	np := s.rows[0].n()
	for k := 1; k < len(s.rows); k++ {
		if s.rows[k].n() != np {
			return false, errors.New("block: sibling columns of different lengths")
		}
	}
	for p := 0; p < np; p++ {
		for k, row := range s.rows {
			c := &s.cells[k]
			*c = cell{null: row.def[p] != s.md[k]}
			switch s.modes[k] {
			case modeNum:
				c.u = row.num[p]
			case modeStr:
				c.s = row.str[p]
			case modeBytes:
				c.s = unsafeString(row.bytesAt(p))
			}
		}
		if s.spec.match(s.cells) {
			return true, nil
		}
	}
	return false, nil
}

// timeSpec keeps the traces that overlap [start, end].
func timeSpec(start, end uint64) *scanSpec {
	return &scanSpec{
		cols: []scanCol{{path: []string{"StartTimeUnixNano"}, mode: modeNum}, {path: []string{"EndTimeUnixNano"}, mode: modeNum}},
		match: func(v []cell) bool {
			return (end == 0 || v[0].u <= end) && (start == 0 || v[1].u >= start)
		},
	}
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
func (p *pred) spec() *scanSpec {
	c := p.cond
	var col []string
	mode := modeNum
	switch c.Scope {
	case traceql.ScopeTrace:
		switch c.Name {
		case "rootServiceName":
			col, mode = []string{"RootServiceName"}, modeStr
		case "rootName":
			col, mode = []string{"RootSpanName"}, modeStr
		case "traceDuration":
			col = []string{"DurationNano"}
		}
	case traceql.ScopeIntrinsic:
		switch c.Name {
		case "name":
			col, mode = colPath(spanPath, "Name"), modeStr
		case "status":
			col = colPath(spanPath, "StatusCode")
		case "statusMessage":
			col, mode = colPath(spanPath, "StatusMessage"), modeStr
		case "kind":
			col = colPath(spanPath, "Kind")
		case "duration":
			col = colPath(spanPath, "DurationNano")
		}
	case traceql.ScopeResource:
		if c.Name == serviceNameKey && c.Value.Type == traceql.TypeString {
			return &scanSpec{
				cols: []scanCol{{colPath(resourcePath, "ServiceName"), modeStr}, {colPath(resourcePath, "HasServiceName"), modeNum}},
				match: func(v []cell) bool {
					return !v[1].null && v[1].u != 0 && p.match(traceql.Value{Type: traceql.TypeString, S: v[0].s})
				},
			}
		}
		return p.attrSpec(colPath(resourcePath, "Attrs"))
	case traceql.ScopeSpan:
		return p.attrSpec(colPath(spanPath, "Attrs"))
	}
	if col == nil {
		return nil
	}
	return &scanSpec{
		cols:  []scanCol{{col, mode}},
		match: func(v []cell) bool { return !v[0].null && p.matchIntrinsic(v[0]) },
	}
}

func (p *pred) matchIntrinsic(v cell) bool {
	var tv traceql.Value
	switch p.cond.Name {
	case "name", "statusMessage", "rootServiceName", "rootName":
		tv = traceql.Value{Type: traceql.TypeString, S: v.s}
	case "status":
		tv = traceql.Value{Type: traceql.TypeStatus, I: int64(int32(v.u))}
	case "kind":
		tv = traceql.Value{Type: traceql.TypeKind, I: int64(int32(v.u))}
	case "duration", "traceDuration":
		tv = traceql.Value{Type: traceql.TypeDuration, I: int64(v.u)}
	}
	return p.match(tv)
}

// attrSpec checks an attribute condition on the Attrs list at base. An
// attribute stored as an encoded AnyValue (arrays, bytes, maps) keeps its
// row as a candidate: the engine decides.
func (p *pred) attrSpec(base []string) *scanSpec {
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
	cols := []scanCol{{colPath(base, "Key"), modeStr}, {colPath(base, "ValueAny"), modeBytes}}
	for _, vc := range valCols {
		mode := modeNum
		if vc == "Value" {
			mode = modeStr
		}
		cols = append(cols, scanCol{colPath(base, vc), mode})
	}
	return &scanSpec{
		cols: cols,
		match: func(v []cell) bool {
			if v[0].null || v[0].s != c.Name {
				return false
			}
			if !v[1].null {
				return true
			}
			for i, vc := range valCols {
				x := v[2+i]
				if x.null {
					continue
				}
				var tv traceql.Value
				switch vc {
				case "Value":
					tv = traceql.Value{Type: traceql.TypeString, S: x.s}
				case "ValueInt":
					tv = traceql.Value{Type: traceql.TypeInt, I: int64(x.u)}
				case "ValueDouble":
					tv = traceql.Value{Type: traceql.TypeFloat, F: math.Float64frombits(x.u)}
				case "ValueBool":
					tv = traceql.Value{Type: traceql.TypeBool, B: x.u != 0}
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

// unsafeString views b as a string without copying; only for comparisons
// that do not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
