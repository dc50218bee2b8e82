package model

import (
	"errors"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Combine merges fragments of one trace (from live memory, the WAL, several
// blocks or several replicas) into one ptrace.Traces with no span twice.
// A span is identified by its span ID and kind, as in Tempo's combiner: a
// client and server span sharing an ID (Zipkin) are both kept.
// The fragments are not modified.
func Combine(parts ...ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	type spanKey struct {
		id   pcommon.SpanID
		kind ptrace.SpanKind
	}
	seen := make(map[spanKey]struct{})
	for _, p := range parts {
		rss := p.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			rs := rss.At(i)
			var dst ptrace.ResourceSpans
			created := false
			sss := rs.ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				ss := sss.At(j)
				var dss ptrace.ScopeSpans
				screated := false
				spans := ss.Spans()
				for k := 0; k < spans.Len(); k++ {
					sp := spans.At(k)
					key := spanKey{sp.SpanID(), sp.Kind()}
					if _, dup := seen[key]; dup {
						continue
					}
					seen[key] = struct{}{}
					if !created {
						dst = out.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(dst.Resource())
						dst.SetSchemaUrl(rs.SchemaUrl())
						created = true
					}
					if !screated {
						dss = dst.ScopeSpans().AppendEmpty()
						ss.Scope().CopyTo(dss.Scope())
						dss.SetSchemaUrl(ss.SchemaUrl())
						screated = true
					}
					sp.CopyTo(dss.Spans().AppendEmpty())
				}
			}
		}
	}
	return out
}

// Merge joins the parts of one trace found in several places (memory,
// replicas, blocks, querier jobs): found is false when there are none, a
// single part is returned as it is, several are combined without duplicate
// spans.
func Merge(parts []ptrace.Traces) (td ptrace.Traces, found bool) {
	switch len(parts) {
	case 0:
		return ptrace.Traces{}, false
	case 1:
		return parts[0], true
	}
	return Combine(parts...), true
}

// SpanCount is the number of spans in td.
func SpanCount(td ptrace.Traces) int { return td.SpanCount() }

// Dedupe removes, in place, spans that occur more than once in td (same span
// ID and kind), keeping the first. It is a no-op without duplicates, which is
// the common case, and removes ResourceSpans/ScopeSpans left empty.
func Dedupe(td ptrace.Traces) {
	type spanKey struct {
		id   pcommon.SpanID
		kind ptrace.SpanKind
	}
	seen := make(map[spanKey]struct{}, td.SpanCount())
	errDup := errors.New("duplicate")
	dup := ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
		key := spanKey{sp.SpanID(), sp.Kind()}
		if _, ok := seen[key]; ok {
			return errDup
		}
		seen[key] = struct{}{}
		return nil
	}) != nil
	rss := td.ResourceSpans()
	if !dup {
		return
	}
	clear(seen)
	rss.RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(sp ptrace.Span) bool {
				key := spanKey{sp.SpanID(), sp.Kind()}
				if _, ok := seen[key]; ok {
					return true
				}
				seen[key] = struct{}{}
				return false
			})
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
}
