package block

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"
)

const serviceNameKey = "service.name"

// converter turns ptrace.Traces into rows; it reuses its scratch state and is
// not safe for concurrent use.
type converter struct {
	spanIdx map[pcommon.SpanID]int32
}

func newConverter() *converter {
	return &converter{spanIdx: make(map[pcommon.SpanID]int32)}
}

// toRow builds the row of trace id from td. Every span of td is taken to
// belong to id (the trace ID is stored once per row).
func (c *converter) toRow(id model.TraceID, td ptrace.Traces) pqTrace {
	row := pqTrace{TraceID: id}
	clear(c.spanIdx)

	// First pass: index span IDs so parents can be stored as positions.
	var n int32
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sid := spans.At(k).SpanID()
				if _, ok := c.spanIdx[sid]; !ok {
					c.spanIdx[sid] = n
				}
				n++
			}
		}
	}
	row.SpanCount = n

	var start, end uint64
	rootFound := false
	var rootStart uint64
	row.ResourceSpans = make([]pqResourceSpans, rss.Len())
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		prs := &row.ResourceSpans[i]
		prs.SchemaURL = rs.SchemaUrl()
		res := rs.Resource()
		prs.Resource.DroppedAttributesCount = int32(res.DroppedAttributesCount())
		if v, ok := res.Attributes().Get(serviceNameKey); ok && v.Type() == pcommon.ValueTypeStr {
			prs.Resource.ServiceName = v.Str()
			prs.Resource.HasServiceName = true
			prs.Resource.Attrs = attrsToRow(res.Attributes(), serviceNameKey)
		} else {
			prs.Resource.Attrs = attrsToRow(res.Attributes(), "")
		}
		sss := rs.ScopeSpans()
		prs.ScopeSpans = make([]pqScopeSpans, sss.Len())
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			pss := &prs.ScopeSpans[j]
			pss.SchemaURL = ss.SchemaUrl()
			sc := ss.Scope()
			pss.Scope = pqScope{
				Name:                   sc.Name(),
				Version:                sc.Version(),
				Attrs:                  attrsToRow(sc.Attributes(), ""),
				DroppedAttributesCount: int32(sc.DroppedAttributesCount()),
			}
			spans := ss.Spans()
			pss.Spans = make([]pqSpan, spans.Len())
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				ps := &pss.Spans[k]
				st, et := uint64(sp.StartTimestamp()), uint64(sp.EndTimestamp())
				ps.SpanID = sp.SpanID()
				ps.ParentIdx = -1
				if p := sp.ParentSpanID(); !p.IsEmpty() {
					if idx, ok := c.spanIdx[p]; ok {
						ps.ParentIdx = idx
					} else {
						ps.ParentSpanID = append([]byte(nil), p[:]...)
					}
				} else if !rootFound || st < rootStart {
					// Several roots (a broken trace): the earliest one, as
					// the TraceQL model takes it.
					rootFound, rootStart = true, st
					row.RootServiceName = prs.Resource.ServiceName
					row.RootSpanName = sp.Name()
				}
				ps.TraceState = sp.TraceState().AsRaw()
				ps.Flags = sp.Flags()
				ps.Name = sp.Name()
				ps.Kind = int32(sp.Kind())
				ps.StartTimeUnixNano = st
				ps.DurationNano = et - st
				ps.StatusCode = int32(sp.Status().Code())
				ps.StatusMessage = sp.Status().Message()
				ps.Attrs = attrsToRow(sp.Attributes(), "")
				ps.DroppedAttributesCount = int32(sp.DroppedAttributesCount())
				ps.DroppedEventsCount = int32(sp.DroppedEventsCount())
				ps.DroppedLinksCount = int32(sp.DroppedLinksCount())
				if evs := sp.Events(); evs.Len() > 0 {
					ps.Events = make([]pqEvent, evs.Len())
					for e := 0; e < evs.Len(); e++ {
						ev := evs.At(e)
						ps.Events[e] = pqEvent{
							TimeSinceStartNano:     uint64(ev.Timestamp()) - st,
							Name:                   ev.Name(),
							Attrs:                  attrsToRow(ev.Attributes(), ""),
							DroppedAttributesCount: int32(ev.DroppedAttributesCount()),
						}
					}
				}
				if ls := sp.Links(); ls.Len() > 0 {
					ps.Links = make([]pqLink, ls.Len())
					for l := 0; l < ls.Len(); l++ {
						lk := ls.At(l)
						ps.Links[l] = pqLink{
							TraceID:                lk.TraceID(),
							SpanID:                 lk.SpanID(),
							TraceState:             lk.TraceState().AsRaw(),
							Flags:                  lk.Flags(),
							Attrs:                  attrsToRow(lk.Attributes(), ""),
							DroppedAttributesCount: int32(lk.DroppedAttributesCount()),
						}
					}
				}
				if start == 0 || st < start {
					start = st
				}
				if et > end {
					end = et
				}
			}
		}
	}
	if end < start {
		end = start
	}
	row.StartTimeUnixNano = start
	row.EndTimeUnixNano = end
	row.DurationNano = end - start
	return row
}

func attrsToRow(m pcommon.Map, skip string) []pqAttr {
	if m.Len() == 0 {
		return nil
	}
	out := make([]pqAttr, 0, m.Len())
	for k, v := range m.All() {
		if skip != "" && k == skip {
			skip = "" // only the first one: a duplicate key stays in Attrs
			continue
		}
		a := pqAttr{Key: k}
		switch v.Type() {
		case pcommon.ValueTypeStr:
			s := v.Str()
			a.Str = &s
		case pcommon.ValueTypeInt:
			x := v.Int()
			a.Int = &x
		case pcommon.ValueTypeDouble:
			x := v.Double()
			a.Double = &x
		case pcommon.ValueTypeBool:
			x := v.Bool()
			a.Bool = &x
		case pcommon.ValueTypeEmpty:
		default:
			a.Any = appendAnyValue(make([]byte, 0, 16), v)
		}
		out = append(out, a)
	}
	return out
}

func attrsFromRow(attrs []pqAttr, m pcommon.Map) error {
	m.EnsureCapacity(m.Len() + len(attrs))
	for i := range attrs {
		a := &attrs[i]
		switch {
		case a.Str != nil:
			m.PutStr(a.Key, *a.Str)
		case a.Int != nil:
			m.PutInt(a.Key, *a.Int)
		case a.Double != nil:
			m.PutDouble(a.Key, *a.Double)
		case a.Bool != nil:
			m.PutBool(a.Key, *a.Bool)
		case a.Any != nil:
			if err := decodeAnyValue(a.Any, m.PutEmpty(a.Key)); err != nil {
				return fmt.Errorf("attribute %q: %w", a.Key, err)
			}
		default:
			m.PutEmpty(a.Key)
		}
	}
	return nil
}

// fromRow rebuilds the OTLP trace of a row.
func fromRow(row *pqTrace) (ptrace.Traces, error) {
	td := ptrace.NewTraces()
	tid := pcommon.TraceID(row.TraceID)

	// Span IDs by position, for ParentIdx.
	ids := make([]pcommon.SpanID, 0, row.SpanCount)
	for i := range row.ResourceSpans {
		for j := range row.ResourceSpans[i].ScopeSpans {
			for k := range row.ResourceSpans[i].ScopeSpans[j].Spans {
				ids = append(ids, row.ResourceSpans[i].ScopeSpans[j].Spans[k].SpanID)
			}
		}
	}

	rss := td.ResourceSpans()
	rss.EnsureCapacity(len(row.ResourceSpans))
	for i := range row.ResourceSpans {
		prs := &row.ResourceSpans[i]
		rs := rss.AppendEmpty()
		rs.SetSchemaUrl(prs.SchemaURL)
		res := rs.Resource()
		res.SetDroppedAttributesCount(uint32(prs.Resource.DroppedAttributesCount))
		if prs.Resource.HasServiceName {
			res.Attributes().EnsureCapacity(len(prs.Resource.Attrs) + 1)
			res.Attributes().PutStr(serviceNameKey, prs.Resource.ServiceName)
		}
		if err := attrsFromRow(prs.Resource.Attrs, res.Attributes()); err != nil {
			return td, err
		}
		sss := rs.ScopeSpans()
		sss.EnsureCapacity(len(prs.ScopeSpans))
		for j := range prs.ScopeSpans {
			pss := &prs.ScopeSpans[j]
			ss := sss.AppendEmpty()
			ss.SetSchemaUrl(pss.SchemaURL)
			sc := ss.Scope()
			sc.SetName(pss.Scope.Name)
			sc.SetVersion(pss.Scope.Version)
			sc.SetDroppedAttributesCount(uint32(pss.Scope.DroppedAttributesCount))
			if err := attrsFromRow(pss.Scope.Attrs, sc.Attributes()); err != nil {
				return td, err
			}
			spans := ss.Spans()
			spans.EnsureCapacity(len(pss.Spans))
			for k := range pss.Spans {
				ps := &pss.Spans[k]
				sp := spans.AppendEmpty()
				sp.SetTraceID(tid)
				sp.SetSpanID(ps.SpanID)
				switch {
				case ps.ParentSpanID != nil:
					var p pcommon.SpanID
					copy(p[:], ps.ParentSpanID)
					sp.SetParentSpanID(p)
				case ps.ParentIdx >= 0 && int(ps.ParentIdx) < len(ids):
					sp.SetParentSpanID(ids[ps.ParentIdx])
				}
				sp.TraceState().FromRaw(ps.TraceState)
				sp.SetFlags(ps.Flags)
				sp.SetName(ps.Name)
				sp.SetKind(ptrace.SpanKind(ps.Kind))
				sp.SetStartTimestamp(pcommon.Timestamp(ps.StartTimeUnixNano))
				sp.SetEndTimestamp(pcommon.Timestamp(ps.StartTimeUnixNano + ps.DurationNano))
				sp.Status().SetCode(ptrace.StatusCode(ps.StatusCode))
				sp.Status().SetMessage(ps.StatusMessage)
				if err := attrsFromRow(ps.Attrs, sp.Attributes()); err != nil {
					return td, err
				}
				sp.SetDroppedAttributesCount(uint32(ps.DroppedAttributesCount))
				sp.SetDroppedEventsCount(uint32(ps.DroppedEventsCount))
				sp.SetDroppedLinksCount(uint32(ps.DroppedLinksCount))
				if len(ps.Events) > 0 {
					evs := sp.Events()
					evs.EnsureCapacity(len(ps.Events))
					for e := range ps.Events {
						pe := &ps.Events[e]
						ev := evs.AppendEmpty()
						ev.SetTimestamp(pcommon.Timestamp(ps.StartTimeUnixNano + pe.TimeSinceStartNano))
						ev.SetName(pe.Name)
						ev.SetDroppedAttributesCount(uint32(pe.DroppedAttributesCount))
						if err := attrsFromRow(pe.Attrs, ev.Attributes()); err != nil {
							return td, err
						}
					}
				}
				if len(ps.Links) > 0 {
					ls := sp.Links()
					ls.EnsureCapacity(len(ps.Links))
					for l := range ps.Links {
						pl := &ps.Links[l]
						lk := ls.AppendEmpty()
						lk.SetTraceID(pl.TraceID)
						lk.SetSpanID(pl.SpanID)
						lk.TraceState().FromRaw(pl.TraceState)
						lk.SetFlags(pl.Flags)
						lk.SetDroppedAttributesCount(uint32(pl.DroppedAttributesCount))
						if err := attrsFromRow(pl.Attrs, lk.Attributes()); err != nil {
							return td, err
						}
					}
				}
			}
		}
	}
	return td, nil
}
