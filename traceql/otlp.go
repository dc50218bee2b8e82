package traceql

import (
	"encoding/base64"
	"encoding/json"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// NoRootName is what Tempo reports as the root span name and the root
// service name of a trace whose root span has not been received.
const NoRootName = "<root span not yet received>"

// linearParentLookup is the span count up to which parents are found by a
// linear scan rather than through a map.
const linearParentLookup = 32

// TracesFromOTLP groups the spans of td by trace ID into engine Traces, in
// the order first seen.
//
// Every span of one ResourceSpans that belongs to one trace shares one
// *Resource, and every span of one ScopeSpans that belongs to one trace
// shares one *InstrumentationScope. The attribute slices of a resource or a
// scope are converted once and may be shared between the traces of a batch:
// treat all attributes as read-only.
//
// Attribute values map as follows: Str → TypeString, Int → TypeInt,
// Double → TypeFloat, Bool → TypeBool, Empty → TypeNil, Bytes →
// TypeString holding the standard base64 encoding (with padding) of the
// bytes, Map → TypeString holding the JSON of the map (pcommon's AsRaw
// through encoding/json, keys sorted), Slice → TypeArray whose scalar
// elements map as above and whose map or slice elements become their JSON
// as a TypeString.
//
// Span.Parent is the index of the span whose ID is the span's parent ID
// (the first such span when an ID repeats), or -1 when the parent ID is
// zero, is the span's own ID, or names no span of the trace. A span's
// duration is end − start, or 0 when the end is before the start; an
// event's TimeSinceStartNano is its time − the span's start, or 0 when
// the event is before the span.
//
// The trace's StartTimeUnixNano is the earliest span start and DurationNano
// runs from there to the latest span end. The root span is the span with a
// zero parent ID (the earliest one when there are several, the first seen
// among equally early ones); RootSpanName is its name and RootServiceName
// its resource's service.name. A trace without a root span reports
// NoRootName for both, as Tempo does.
func TracesFromOTLP(td ptrace.Traces) []*Trace {
	rss := td.ResourceSpans()

	// Pass 1: the traces in the order first seen and their span counts, so
	// that every span slice is allocated once, at its final size.
	var (
		index  = make(map[pcommon.TraceID]int32)
		order  []pcommon.TraceID
		counts []int
		total  int
		last   pcommon.TraceID
		lastIx int32 = -1
	)
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				id := spans.At(k).TraceID()
				ix := lastIx
				if ix < 0 || id != last {
					var ok bool
					ix, ok = index[id]
					if !ok {
						ix = int32(len(order))
						index[id] = ix
						order = append(order, id)
						counts = append(counts, 0)
					}
					last, lastIx = id, ix
				}
				counts[ix]++
				total++
			}
		}
	}
	if len(order) == 0 {
		return nil
	}

	traces := make([]Trace, len(order))
	out := make([]*Trace, len(order))
	backing := make([]Span, total)
	off := 0
	for i := range traces {
		traces[i].ID = [16]byte(order[i])
		traces[i].Spans = backing[off : off : off+counts[i]]
		off += counts[i]
		out[i] = &traces[i]
	}

	// Pass 2: the spans. res and scope hold, for the ResourceSpans and the
	// ScopeSpans being read, the *Resource and *InstrumentationScope of each
	// trace touched so far; touched lists those traces so that resetting
	// costs no more than filling.
	res := make([]*Resource, len(order))
	scopes := make([]*InstrumentationScope, len(order))
	var resTouched, scopeTouched []int32
	var arena attrArena
	lastIx = -1
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var resAttrs []Attr
		resConverted := false
		for _, ix := range resTouched {
			res[ix] = nil
		}
		resTouched = resTouched[:0]

		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			var scopeAttrs []Attr
			scopeConverted := false
			for _, ix := range scopeTouched {
				scopes[ix] = nil
			}
			scopeTouched = scopeTouched[:0]

			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				id := sp.TraceID()
				ix := lastIx
				if ix < 0 || id != last {
					ix = index[id]
					last, lastIx = id, ix
				}
				t := &traces[ix]

				r := res[ix]
				if r == nil {
					if !resConverted {
						resAttrs = arena.convert(rs.Resource().Attributes())
						resConverted = true
					}
					r = &Resource{Attrs: resAttrs}
					res[ix] = r
					resTouched = append(resTouched, ix)
				}
				sc := scopes[ix]
				if sc == nil {
					if !scopeConverted {
						scopeAttrs = arena.convert(ss.Scope().Attributes())
						scopeConverted = true
					}
					sc = &InstrumentationScope{
						Name:    ss.Scope().Name(),
						Version: ss.Scope().Version(),
						Attrs:   scopeAttrs,
					}
					scopes[ix] = sc
					scopeTouched = append(scopeTouched, ix)
				}

				t.Spans = append(t.Spans, convertSpan(sp, r, sc, &arena))
			}
		}
	}

	var parents map[[8]byte]int32
	for i := range traces {
		t := &traces[i]
		parents = linkParents(t.Spans, parents)
		summarize(t)
	}
	return out
}

// convertSpan converts one span.
func convertSpan(sp ptrace.Span, r *Resource, sc *InstrumentationScope, arena *attrArena) Span {
	start, end := uint64(sp.StartTimestamp()), uint64(sp.EndTimestamp())
	var dur uint64
	if end > start {
		dur = end - start
	}
	st := sp.Status()
	s := Span{
		ID:                [8]byte(sp.SpanID()),
		ParentID:          [8]byte(sp.ParentSpanID()),
		Parent:            -1,
		Name:              sp.Name(),
		Kind:              int32(sp.Kind()),
		StatusCode:        int32(st.Code()),
		StatusMessage:     st.Message(),
		StartTimeUnixNano: start,
		DurationNano:      dur,
		Attrs:             arena.convert(sp.Attributes()),
		Resource:          r,
		Scope:             sc,
	}
	if evs := sp.Events(); evs.Len() > 0 {
		s.Events = make([]Event, evs.Len())
		for i := range s.Events {
			ev := evs.At(i)
			var since uint64
			if ts := uint64(ev.Timestamp()); ts > start {
				since = ts - start
			}
			s.Events[i] = Event{
				Name:               ev.Name(),
				TimeSinceStartNano: since,
				Attrs:              arena.convert(ev.Attributes()),
			}
		}
	}
	if lks := sp.Links(); lks.Len() > 0 {
		s.Links = make([]Link, lks.Len())
		for i := range s.Links {
			lk := lks.At(i)
			s.Links[i] = Link{
				TraceID: [16]byte(lk.TraceID()),
				SpanID:  [8]byte(lk.SpanID()),
				Attrs:   arena.convert(lk.Attributes()),
			}
		}
	}
	return s
}

// linkParents sets Span.Parent. Small traces are scanned; larger ones use
// m, which is cleared and returned for reuse.
func linkParents(spans []Span, m map[[8]byte]int32) map[[8]byte]int32 {
	var zero [8]byte
	if len(spans) <= linearParentLookup {
		for i := range spans {
			s := &spans[i]
			if s.ParentID == zero || s.ParentID == s.ID {
				continue
			}
			for j := range spans {
				if spans[j].ID == s.ParentID {
					s.Parent = int32(j)
					break
				}
			}
		}
		return m
	}
	if m == nil {
		m = make(map[[8]byte]int32, len(spans))
	} else {
		clear(m)
	}
	for i := range spans {
		if _, dup := m[spans[i].ID]; !dup {
			m[spans[i].ID] = int32(i)
		}
	}
	for i := range spans {
		s := &spans[i]
		if s.ParentID == zero || s.ParentID == s.ID {
			continue
		}
		if p, ok := m[s.ParentID]; ok {
			s.Parent = p
		}
	}
	return m
}

// summarize sets the trace-level fields from the spans.
func summarize(t *Trace) {
	var zero [8]byte
	root := -1
	var start, end uint64
	for i := range t.Spans {
		s := &t.Spans[i]
		if i == 0 || s.StartTimeUnixNano < start {
			start = s.StartTimeUnixNano
		}
		if e := s.StartTimeUnixNano + s.DurationNano; e > end {
			end = e
		}
		if s.ParentID == zero && (root < 0 || s.StartTimeUnixNano < t.Spans[root].StartTimeUnixNano) {
			root = i
		}
	}
	t.StartTimeUnixNano = start
	t.DurationNano = end - start
	if root < 0 {
		t.RootSpanName = NoRootName
		t.RootServiceName = NoRootName
		return
	}
	rs := &t.Spans[root]
	t.RootSpanName = rs.Name
	t.RootServiceName = ""
	if rs.Resource != nil {
		for _, a := range rs.Resource.Attrs {
			if a.Key == "service.name" {
				if a.Value.Type == TypeString {
					t.RootServiceName = a.Value.S
				}
				break
			}
		}
	}
}

// attrChunk is the most attributes an attrArena allocates at once; its
// chunks start small and double up to this size.
const attrChunk = 256

// attrArena hands out attribute slices carved from shared chunks, so that a
// batch costs a few allocations rather than one per span, event and link.
// The slices are capped at their length: appending to one copies it.
type attrArena struct {
	buf []Attr
}

// convert converts an attribute map; nil when it is empty.
func (a *attrArena) convert(m pcommon.Map) []Attr {
	n := m.Len()
	if n == 0 {
		return nil
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]Attr, 0, max(n, min(2*cap(a.buf), attrChunk), 16))
	}
	start := len(a.buf)
	for k, v := range m.All() {
		a.buf = append(a.buf, Attr{Key: k, Value: convertValue(v, true)})
	}
	return a.buf[start:len(a.buf):len(a.buf)]
}

// ValueFromOTLP converts an OTLP attribute value as TracesFromOTLP does
// (bytes as base64, maps as JSON, arrays of scalars as TypeArray): storage
// that keeps OTLP values uses it so that both give the same answers.
func ValueFromOTLP(v pcommon.Value) Value { return convertValue(v, true) }

// convertValue converts one attribute value; top is false for the elements
// of a slice, whose nested slices become JSON strings.
func convertValue(v pcommon.Value, top bool) Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return Value{Type: TypeString, S: v.Str()}
	case pcommon.ValueTypeInt:
		return Value{Type: TypeInt, I: v.Int()}
	case pcommon.ValueTypeDouble:
		return Value{Type: TypeFloat, F: v.Double()}
	case pcommon.ValueTypeBool:
		return Value{Type: TypeBool, B: v.Bool()}
	case pcommon.ValueTypeBytes:
		return Value{Type: TypeString, S: base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())}
	case pcommon.ValueTypeMap:
		return jsonValue(v.Map().AsRaw())
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		if !top {
			return jsonValue(sl.AsRaw())
		}
		arr := make([]Value, sl.Len())
		for i := range arr {
			arr[i] = convertValue(sl.At(i), false)
		}
		return Value{Type: TypeArray, Arr: arr}
	default: // pcommon.ValueTypeEmpty
		return Value{Type: TypeNil}
	}
}

// jsonValue is the JSON of raw as a string value.
func jsonValue(raw any) Value {
	b, err := json.Marshal(raw)
	if err != nil {
		// AsRaw yields only JSON-encodable values except non-finite
		// doubles; keep whatever can be said about the value.
		return Value{Type: TypeString}
	}
	return Value{Type: TypeString, S: string(b)}
}
