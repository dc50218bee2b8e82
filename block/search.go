package block

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync/atomic"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/pace-tracing/pace/traceql"
)

// NoRoot is what a trace without a root span reports as its root service
// and root span name, as Tempo does.
const NoRoot = "<root span not yet received>"

// SearchRequest selects the traces of a block that a search reads.
type SearchRequest struct {
	// Conditions are necessary conditions (traceql.Query.Conditions): a
	// trace that fails one is not read.
	Conditions []traceql.Condition
	// Start and End (Unix ns, 0 = open) keep only traces overlapping them.
	Start, End uint64
}

// SearchStats says how much a search read.
type SearchStats struct {
	InspectedTraces int64
	InspectedBytes  int64
}

// Search calls fn for every trace of the block that overlaps the request's
// time range and may satisfy its conditions, converted to the TraceQL
// model (fn owns it). fn returns false to stop. Columns are read only as
// far as the conditions need: a row group whose columns rule a condition
// out is skipped without reading the rest of it.
func (r *Reader) Search(ctx context.Context, req SearchRequest, fn func(*traceql.Trace) bool) (SearchStats, error) {
	var st SearchStats
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
		rg := &rgs[i]
		cand, err := r.candidates(ctx, schema, rg, ra, req, preds)
		if err != nil {
			return st, fmt.Errorf("block %s: %w", r.meta.BlockID, err)
		}
		if cand != nil && cand.count == 0 {
			continue
		}
		stop := false
		err = forRuns(cand, rg.numRows, func(first, n int64) error {
			return readRows(ctx, rg, &ra.bucketReaderAt, first, n, false, func(t *pqTrace) error {
				st.InspectedTraces++
				tr, err := traceFromRow(t)
				if err != nil {
					return fmt.Errorf("block %s: %w", r.meta.BlockID, err)
				}
				if !fn(tr) {
					stop = true
					return errStop
				}
				return nil
			})
		})
		if errors.Is(err, errStop) || stop {
			return st, nil
		}
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

var errStop = errors.New("stop")

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

// rowSet is a set of rows of one row group.
type rowSet struct {
	bits  []uint64
	count int64
}

func newRowSet(n int64) *rowSet { return &rowSet{bits: make([]uint64, (n+63)/64)} }

func (s *rowSet) add(i int64) {
	w, b := i/64, uint64(1)<<(i%64)
	if s.bits[w]&b == 0 {
		s.bits[w] |= b
		s.count++
	}
}

func (s *rowSet) has(i int64) bool { return s.bits[i/64]&(1<<(i%64)) != 0 }

// and keeps the rows also in o (nil o = every row).
func (s *rowSet) and(o *rowSet) {
	if o == nil {
		return
	}
	s.count = 0
	for i := range s.bits {
		s.bits[i] &= o.bits[i]
		s.count += int64(popcount(s.bits[i]))
	}
}

func popcount(x uint64) int {
	n := 0
	for x != 0 {
		x &= x - 1
		n++
	}
	return n
}

// forRuns calls fn for each run of consecutive rows in s (all rows when s
// is nil).
func forRuns(s *rowSet, numRows int64, fn func(first, n int64) error) error {
	if s == nil {
		return fn(0, numRows)
	}
	for i := int64(0); i < numRows; {
		if !s.has(i) {
			i++
			continue
		}
		j := i + 1
		for j < numRows && s.has(j) {
			j++
		}
		if err := fn(i, j-i); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// candidates returns the rows of rg that pass the time range and every
// condition the columns can check, or nil when nothing was checked.
func (r *Reader) candidates(ctx context.Context, schema *parquet.Schema, rg *rowGroupInfo, ra io.ReaderAt, req SearchRequest, preds []pred) (*rowSet, error) {
	var cand *rowSet
	narrow := func(s *rowSet) {
		if cand == nil {
			cand = s
		} else {
			cand.and(s)
		}
	}
	if req.Start != 0 || req.End != 0 {
		s, err := timeRows(ctx, schema, rg, ra, req.Start, req.End)
		if err != nil {
			return nil, err
		}
		narrow(s)
	}
	for i := range preds {
		if cand != nil && cand.count == 0 {
			break
		}
		s, err := preds[i].rows(ctx, schema, rg, ra)
		if err != nil {
			return nil, err
		}
		narrow(s)
	}
	return cand, nil
}

// timeRows is the set of rows whose trace overlaps [start, end].
func timeRows(ctx context.Context, schema *parquet.Schema, rg *rowGroupInfo, ra io.ReaderAt, start, end uint64) (*rowSet, error) {
	s := newRowSet(rg.numRows)
	startOK := newRowSet(rg.numRows)
	err := scanColumns(ctx, rg, ra, columns(schema, []string{"EndTimeUnixNano"}), func(row int64, v []parquet.Value) {
		if start == 0 || v[0].Uint64() >= start {
			startOK.add(row)
		}
	})
	if err != nil {
		return nil, err
	}
	err = scanColumns(ctx, rg, ra, columns(schema, []string{"StartTimeUnixNano"}), func(row int64, v []parquet.Value) {
		if startOK.has(row) && (end == 0 || v[0].Uint64() <= end) {
			s.add(row)
		}
	})
	return s, err
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

// scanColumns reads the given columns of rg in lockstep (they must be
// siblings with the same repetition structure) and calls fn with each
// position's values and its row.
func scanColumns(ctx context.Context, rg *rowGroupInfo, ra io.ReaderAt, cols []int, fn func(row int64, vals []parquet.Value)) error {
	chunks := rg.rg.ColumnChunks()
	curs := make([]*colCursor, len(cols))
	for i, c := range cols {
		fcc, ok := chunks[c].(*parquet.FileColumnChunk)
		if !ok {
			return errors.New("block: unexpected column chunk type")
		}
		curs[i] = &colCursor{pages: fcc.PagesFrom(ra), buf: make([]parquet.Value, 1024)}
		defer curs[i].close()
	}
	vals := make([]parquet.Value, len(cols))
	row := int64(-1)
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		for i, c := range curs {
			v, ok, err := c.next()
			if err != nil {
				return err
			}
			if !ok {
				if i > 0 {
					return errors.New("block: sibling columns of different lengths")
				}
				return nil
			}
			vals[i] = v
		}
		if vals[0].RepetitionLevel() == 0 {
			row++
		}
		fn(row, vals)
	}
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
		if c.Scope == traceql.ScopeTrace && c.Value.Type == traceql.TypeString && c.Value.S == NoRoot {
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

// rows returns the rows that satisfy the condition, or nil when the
// columns cannot decide it (every row stays a candidate).
func (p *pred) rows(ctx context.Context, schema *parquet.Schema, rg *rowGroupInfo, ra io.ReaderAt) (*rowSet, error) {
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
			return p.serviceNameRows(ctx, schema, rg, ra)
		}
		return p.attrRows(ctx, schema, rg, ra, colPath(resourcePath, "Attrs"))
	case traceql.ScopeSpan:
		return p.attrRows(ctx, schema, rg, ra, colPath(spanPath, "Attrs"))
	}
	if col == nil {
		return nil, nil
	}
	s := newRowSet(rg.numRows)
	err := scanColumns(ctx, rg, ra, columns(schema, col), func(row int64, v []parquet.Value) {
		if v[0].IsNull() {
			return
		}
		if p.matchIntrinsic(v[0]) {
			s.add(row)
		}
	})
	return s, err
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

// serviceNameRows checks resource.service.name against its own column.
func (p *pred) serviceNameRows(ctx context.Context, schema *parquet.Schema, rg *rowGroupInfo, ra io.ReaderAt) (*rowSet, error) {
	s := newRowSet(rg.numRows)
	cols := columns(schema, colPath(resourcePath, "ServiceName"), colPath(resourcePath, "HasServiceName"))
	err := scanColumns(ctx, rg, ra, cols, func(row int64, v []parquet.Value) {
		if v[1].IsNull() || !v[1].Boolean() {
			return
		}
		if p.match(traceql.Value{Type: traceql.TypeString, S: unsafeString(v[0].ByteArray())}) {
			s.add(row)
		}
	})
	return s, err
}

// attrRows checks an attribute condition on the Attrs list at base. An
// attribute stored as an encoded AnyValue (arrays, bytes, maps) keeps its
// row as a candidate: the engine decides.
func (p *pred) attrRows(ctx context.Context, schema *parquet.Schema, rg *rowGroupInfo, ra io.ReaderAt, base []string) (*rowSet, error) {
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
		return nil, nil
	}
	paths := [][]string{colPath(base, "Key"), colPath(base, "ValueAny")}
	for _, vc := range valCols {
		paths = append(paths, colPath(base, vc))
	}
	s := newRowSet(rg.numRows)
	err := scanColumns(ctx, rg, ra, columns(schema, paths...), func(row int64, v []parquet.Value) {
		if v[0].IsNull() || s.has(row) || unsafeString(v[0].ByteArray()) != c.Name {
			return
		}
		if !v[1].IsNull() {
			s.add(row)
			return
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
				s.add(row)
			}
		}
	})
	return s, err
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
		cmp = compareStrings(v.S, lit.S)
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

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
						sp.Events[e] = traceql.Event{Name: pe.Name, TimeSinceStartNano: pe.TimeSinceStartNano}
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
		t.RootServiceName, t.RootSpanName = NoRoot, NoRoot
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
			v = valueFromPdata(pv)
		}
		dst = append(dst, traceql.Attr{Key: a.Key, Value: v})
	}
	return dst, nil
}

// valueFromPdata converts the attribute kinds stored as AnyValue.
func valueFromPdata(v pcommon.Value) traceql.Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return traceql.Value{Type: traceql.TypeString, S: v.Str()}
	case pcommon.ValueTypeInt:
		return traceql.Value{Type: traceql.TypeInt, I: v.Int()}
	case pcommon.ValueTypeDouble:
		return traceql.Value{Type: traceql.TypeFloat, F: v.Double()}
	case pcommon.ValueTypeBool:
		return traceql.Value{Type: traceql.TypeBool, B: v.Bool()}
	case pcommon.ValueTypeBytes:
		return traceql.Value{Type: traceql.TypeString, S: base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())}
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		arr := make([]traceql.Value, s.Len())
		for i := range arr {
			arr[i] = valueFromPdata(s.At(i))
		}
		return traceql.Value{Type: traceql.TypeArray, Arr: arr}
	case pcommon.ValueTypeMap:
		b, _ := json.Marshal(v.Map().AsRaw())
		return traceql.Value{Type: traceql.TypeString, S: string(b)}
	}
	return traceql.Value{}
}

// unsafeString views b as a string without copying; only for comparisons
// that do not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
