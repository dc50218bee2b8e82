package model

import "go.opentelemetry.io/collector/pdata/ptrace"

// ForEachSpan calls fn for every span of td, in order, with the span's
// resource and scope. It stops at the first error fn returns and returns it.
func ForEachSpan(td ptrace.Traces, fn func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, sp ptrace.Span) error) error {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			sl := ss.Spans()
			for k := 0; k < sl.Len(); k++ {
				if err := fn(rs, ss, sl.At(k)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
