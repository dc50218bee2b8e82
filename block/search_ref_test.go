package block

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/pace-tracing/pace/traceql"
)

// The conversion Search used before it built the model from the columns
// (pqTrace from parquet-go's row reconstruction, then to the model): the
// reference the column assembler is checked against.

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
	finishTrace(t, hasRoot)
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
