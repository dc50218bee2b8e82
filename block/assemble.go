package block

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/pace-tracing/pace/traceql"
)

// attrLeaves are the leaves of an Attrs list, in this order.
var attrLeaves = []struct {
	name string
	mode colMode
}{{"Key", modeStr}, {"Value", modeStr}, {"ValueInt", modeNum}, {"ValueDouble", modeNum}, {"ValueBool", modeNum}, {"ValueAny", modeBytes}}

const numAttrLeaves = 6

// modelCol is one column of the model: its path and how it is read.
type modelCol struct {
	path []string
	mode colMode
}

// modelLayout numbers the columns the TraceQL model is built from: every
// column of pqTrace that the model has a field for (not EndTimeUnixNano,
// SpanCount, SchemaUrl, TraceState, Flags or the dropped counts). An
// attribute list takes numAttrLeaves consecutive ones.
type modelLayout struct {
	cols []modelCol
	// indexes in cols; an Attrs list's is its first (Key)
	traceID, start, duration, rootService, rootName int
	serviceName, hasServiceName, resAttrs           int
	scopeName, scopeVersion, scopeAttrs             int
	spanID, parentIdx, parentSpanID, spanName, kind int
	spanStart, spanDuration, status, statusMessage  int
	spanAttrs, eventTime, eventName, eventAttrs     int
	linkTraceID, linkSpanID, linkAttrs              int
}

var layout = sync.OnceValue(func() *modelLayout {
	l := &modelLayout{}
	add := func(mode colMode, path ...string) int {
		l.cols = append(l.cols, modelCol{path: path, mode: mode})
		return len(l.cols) - 1
	}
	attrs := func(base ...string) int {
		first := len(l.cols)
		for _, a := range attrLeaves {
			add(a.mode, append(append([]string(nil), base...), "Attrs", a.name)...)
		}
		return first
	}
	l.traceID = add(modeBytes, "TraceID")
	l.start = add(modeNum, "StartTimeUnixNano")
	l.duration = add(modeNum, "DurationNano")
	l.rootService = add(modeStr, "RootServiceName")
	l.rootName = add(modeStr, "RootSpanName")
	l.serviceName = add(modeStr, "rs", "Resource", "ServiceName")
	l.hasServiceName = add(modeNum, "rs", "Resource", "HasServiceName")
	l.resAttrs = attrs("rs", "Resource")
	l.scopeName = add(modeStr, "rs", "ss", "Scope", "Name")
	l.scopeVersion = add(modeStr, "rs", "ss", "Scope", "Version")
	l.scopeAttrs = attrs("rs", "ss", "Scope")
	sp := []string{"rs", "ss", "Spans"}
	l.spanID = add(modeBytes, colPath(sp, "SpanID")...)
	l.parentIdx = add(modeNum, colPath(sp, "ParentIdx")...)
	l.parentSpanID = add(modeBytes, colPath(sp, "ParentSpanID")...)
	l.spanName = add(modeStr, colPath(sp, "Name")...)
	l.kind = add(modeNum, colPath(sp, "Kind")...)
	l.spanStart = add(modeNum, colPath(sp, "StartTimeUnixNano")...)
	l.spanDuration = add(modeNum, colPath(sp, "DurationNano")...)
	l.status = add(modeNum, colPath(sp, "StatusCode")...)
	l.statusMessage = add(modeStr, colPath(sp, "StatusMessage")...)
	l.spanAttrs = attrs(sp...)
	l.eventTime = add(modeNum, colPath(sp, "Events", "TimeSinceStartNano")...)
	l.eventName = add(modeStr, colPath(sp, "Events", "Name")...)
	l.eventAttrs = attrs(colPath(sp, "Events")...)
	l.linkTraceID = add(modeBytes, colPath(sp, "Links", "TraceID")...)
	l.linkSpanID = add(modeBytes, colPath(sp, "Links", "SpanID")...)
	l.linkAttrs = attrs(colPath(sp, "Links")...)
	return l
})

// posRange is the positions [start, end) of one parent's list elements.
type posRange struct{ start, end int32 }

// assembler builds traces of one row group in the TraceQL model straight
// from the model's columns.
type assembler struct {
	l    *modelLayout
	set  *colSet
	h    []int     // the columns' handles in set
	md   []byte    // their maximum definition levels
	rows []*colRow // the row being built, by column
	// element ranges per parent, reused
	rs, resAttrs, ss, scopeAttrs, spans, spanAttrs, events, eventAttrs, links, linkAttrs []posRange
}

func newAssembler(set *colSet) (*assembler, error) {
	l := layout()
	a := &assembler{l: l, set: set, h: make([]int, len(l.cols)), md: make([]byte, len(l.cols)), rows: make([]*colRow, len(l.cols))}
	for i, mc := range l.cols {
		h, err := set.column(mc.path, mc.mode)
		if err != nil {
			return nil, err
		}
		a.h[i], a.md[i] = h, set.maxDef(h)
		// build counts on every list adding one repetition and one
		// definition level, and on nothing else being optional but the
		// value leaves.
		lists := byte(0)
		for _, e := range mc.path {
			switch e {
			case "rs", "ss", "Spans", "Attrs", "Events", "Links":
				lists++
			}
		}
		if r := set.cols[h].r; r.maxRep != lists || r.maxDef != lists && r.maxDef != lists+1 {
			return nil, fmt.Errorf("block: column %v has levels %d/%d", mc.path, r.maxRep, r.maxDef)
		}
	}
	return a, nil
}

// read returns row r (rows are read in ascending order) in the model.
func (a *assembler) read(r int64) (*traceql.Trace, error) {
	for i, h := range a.h {
		row, err := a.set.get(h, r, true)
		if err != nil {
			return nil, err
		}
		a.rows[i] = row
	}
	return a.build()
}

var errNesting = errors.New("block: columns of one list disagree")

// ranges splits the positions of a column of a list at repetition level
// rl (and definition level rl for an element) into its parents' elements:
// one range per parent that exists, in order (a parent that does not
// exist, under an empty list higher up, has a position of a lower
// definition level and no range).
func ranges(c *colRow, rl byte, out []posRange) []posRange {
	out = out[:0]
	n := c.n()
	for p := 0; p < n; {
		q := p + 1
		for q < n && c.rep[q] >= rl {
			q++
		}
		switch d := c.def[p]; {
		case d >= rl:
			out = append(out, posRange{int32(p), int32(q)})
		case d == rl-1:
			out = append(out, posRange{int32(p), int32(p)})
		}
		p = q
	}
	return out
}

func count(rs []posRange) int {
	n := 0
	for _, r := range rs {
		n += int(r.end - r.start)
	}
	return n
}

// sameShape checks that the columns [first, first+n) have as many
// positions as the first.
func (a *assembler) sameShape(first, n int) error {
	for i := first + 1; i < first+n; i++ {
		if a.rows[i].n() != a.rows[first].n() {
			return errNesting
		}
	}
	return nil
}

func (a *assembler) build() (*traceql.Trace, error) {
	l, rows := a.l, a.rows
	t := &traceql.Trace{
		RootServiceName:   rows[l.rootService].str[0],
		RootSpanName:      rows[l.rootName].str[0],
		StartTimeUnixNano: rows[l.start].num[0],
		DurationNano:      rows[l.duration].num[0],
	}
	copy(t.ID[:], rows[l.traceID].bytesAt(0))

	// Every list's element ranges, per parent; parents are the elements of
	// the list above, in order.
	checks := [][2]int{
		{l.serviceName, 2}, {l.resAttrs, numAttrLeaves}, {l.scopeName, 2}, {l.scopeAttrs, numAttrLeaves},
		{l.spanID, l.statusMessage - l.spanID + 1}, {l.spanAttrs, numAttrLeaves}, {l.eventTime, 2},
		{l.eventAttrs, numAttrLeaves}, {l.linkTraceID, 2}, {l.linkAttrs, numAttrLeaves},
	}
	for _, c := range checks {
		if err := a.sameShape(c[0], c[1]); err != nil {
			return nil, err
		}
	}
	a.rs = ranges(rows[l.serviceName], 1, a.rs)
	a.resAttrs = ranges(rows[l.resAttrs], 2, a.resAttrs)
	a.ss = ranges(rows[l.scopeName], 2, a.ss)
	a.scopeAttrs = ranges(rows[l.scopeAttrs], 3, a.scopeAttrs)
	a.spans = ranges(rows[l.spanID], 3, a.spans)
	a.spanAttrs = ranges(rows[l.spanAttrs], 4, a.spanAttrs)
	a.events = ranges(rows[l.eventTime], 4, a.events)
	a.eventAttrs = ranges(rows[l.eventAttrs], 5, a.eventAttrs)
	a.links = ranges(rows[l.linkTraceID], 4, a.links)
	a.linkAttrs = ranges(rows[l.linkAttrs], 5, a.linkAttrs)
	nRS, nSS, nSpans, nEvents, nLinks := count(a.rs), count(a.ss), count(a.spans), count(a.events), count(a.links)
	if len(a.rs) != 1 || len(a.resAttrs) != nRS || len(a.ss) != nRS || len(a.scopeAttrs) != nSS || len(a.spans) != nSS ||
		len(a.spanAttrs) != nSpans || len(a.events) != nSpans || len(a.links) != nSpans ||
		len(a.eventAttrs) != nEvents || len(a.linkAttrs) != nLinks {
		return nil, errNesting
	}

	// One allocation per kind of object for the whole trace.
	nAttrs := nRS + count(a.resAttrs) + count(a.scopeAttrs) + count(a.spanAttrs) + count(a.eventAttrs) + count(a.linkAttrs)
	attrs := make([]traceql.Attr, 0, nAttrs)
	resources := make([]traceql.Resource, nRS)
	scopes := make([]traceql.InstrumentationScope, nSS)
	t.Spans = make([]traceql.Span, nSpans)
	var events []traceql.Event
	if nEvents > 0 {
		events = make([]traceql.Event, nEvents)
	}
	var links []traceql.Link
	if nLinks > 0 {
		links = make([]traceql.Link, nLinks)
	}
	var err error
	// takeAttrs appends the attributes at r of the list at col and returns
	// them as their own slice (nil if none).
	takeAttrs := func(col int, r posRange) []traceql.Attr {
		if r.start == r.end || err != nil {
			return nil
		}
		k := len(attrs)
		for p := r.start; p < r.end; p++ {
			var at traceql.Attr
			if at, err = a.attr(col, int(p)); err != nil {
				return nil
			}
			attrs = append(attrs, at)
		}
		return attrs[k:len(attrs):len(attrs)]
	}

	hasRoot := false
	si, ssi, ei, li := 0, 0, 0, 0
	svc, hasSvc := rows[l.serviceName], rows[l.hasServiceName]
	for ri := 0; ri < nRS; ri++ {
		p := int(a.rs[0].start) + ri
		res := &resources[ri]
		k := len(attrs)
		if hasSvc.num[p] != 0 && hasSvc.def[p] == a.md[l.hasServiceName] {
			attrs = append(attrs, traceql.Attr{Key: serviceNameKey, Value: traceql.Value{Type: traceql.TypeString, S: svc.str[p]}})
		}
		takeAttrs(l.resAttrs, a.resAttrs[ri])
		res.Attrs = attrs[k:len(attrs):len(attrs)]
		ssr := a.ss[ri]
		for q := ssr.start; q < ssr.end; q, ssi = q+1, ssi+1 {
			sc := &scopes[ssi]
			sc.Name, sc.Version = rows[l.scopeName].str[q], rows[l.scopeVersion].str[q]
			sc.Attrs = takeAttrs(l.scopeAttrs, a.scopeAttrs[ssi])
			spr := a.spans[ssi]
			for s := spr.start; s < spr.end; s, si = s+1, si+1 {
				sp := &t.Spans[si]
				copy(sp.ID[:], rows[l.spanID].bytesAt(int(s)))
				sp.Parent = int32(rows[l.parentIdx].num[s])
				sp.Name = rows[l.spanName].str[s]
				sp.Kind = int32(rows[l.kind].num[s])
				sp.StatusCode = int32(rows[l.status].num[s])
				sp.StatusMessage = rows[l.statusMessage].str[s]
				sp.StartTimeUnixNano = rows[l.spanStart].num[s]
				sp.DurationNano = rows[l.spanDuration].num[s]
				sp.Resource, sp.Scope = res, sc
				if sp.Parent < 0 {
					pid := rows[l.parentSpanID].bytesAt(int(s))
					copy(sp.ParentID[:], pid)
					if len(pid) == 0 {
						hasRoot = true
					}
				}
				sp.Attrs = takeAttrs(l.spanAttrs, a.spanAttrs[si])
				if er := a.events[si]; er.end > er.start {
					sp.Events = events[ei : ei+int(er.end-er.start) : ei+int(er.end-er.start)]
					for e := er.start; e < er.end; e, ei = e+1, ei+1 {
						since := rows[l.eventTime].num[e]
						if int64(since) < 0 {
							since = 0 // an event before its span's start (stored wrapped), as the live model has it
						}
						events[ei] = traceql.Event{Name: rows[l.eventName].str[e], TimeSinceStartNano: since, Attrs: takeAttrs(l.eventAttrs, a.eventAttrs[ei])}
					}
				}
				if lr := a.links[si]; lr.end > lr.start {
					sp.Links = links[li : li+int(lr.end-lr.start) : li+int(lr.end-lr.start)]
					for k := lr.start; k < lr.end; k, li = k+1, li+1 {
						lk := &links[li]
						copy(lk.TraceID[:], rows[l.linkTraceID].bytesAt(int(k)))
						copy(lk.SpanID[:], rows[l.linkSpanID].bytesAt(int(k)))
						lk.Attrs = takeAttrs(l.linkAttrs, a.linkAttrs[li])
					}
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	finishTrace(t, hasRoot)
	return t, nil
}

// attr is the attribute at position p of the Attrs list whose first column
// is col.
func (a *assembler) attr(col, p int) (traceql.Attr, error) {
	rows := a.rows[col : col+numAttrLeaves]
	set := func(i int) bool { return rows[i].def[p] == a.md[col+i] }
	at := traceql.Attr{Key: rows[0].str[p]}
	switch {
	case set(1):
		at.Value = traceql.Value{Type: traceql.TypeString, S: rows[1].str[p]}
	case set(2):
		at.Value = traceql.Value{Type: traceql.TypeInt, I: int64(rows[2].num[p])}
	case set(3):
		at.Value = traceql.Value{Type: traceql.TypeFloat, F: math.Float64frombits(rows[3].num[p])}
	case set(4):
		at.Value = traceql.Value{Type: traceql.TypeBool, B: rows[4].num[p] != 0}
	case set(5):
		pv := pcommon.NewValueEmpty()
		if err := decodeAnyValue(rows[5].bytesAt(p), pv); err != nil {
			return at, fmt.Errorf("attribute %q: %w", at.Key, err)
		}
		at.Value = traceql.ValueFromOTLP(pv)
	}
	return at, nil
}

// finishTrace links each span to its parent's ID (a parent outside the row
// is none) and names a trace without a root span as Tempo does.
func finishTrace(t *traceql.Trace, hasRoot bool) {
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
}
