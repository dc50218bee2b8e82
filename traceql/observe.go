package traceql

import (
	"fmt"
	"math"
)

// NewMetrics starts the evaluation of a metrics query over range r: feed
// it traces with Observe.
func (q *Query) NewMetrics(r MetricsRange) (*Metrics, error) {
	spec, ok := q.MetricsSpec()
	if !ok {
		return nil, fmt.Errorf("traceql: %s is not a metrics query", q.text)
	}
	m, err := newMetrics(spec, r)
	if err != nil {
		return nil, err
	}
	m.q = q
	return m, nil
}

// Observe runs the query's search part on t and adds every matched span
// that starts in the range to the metrics: by its start, its by() values
// and, for functions of an attribute, the attribute's value as a float
// (durations in seconds; NaN when the span has no numeric value, which the
// accumulator skips).
func (m *Metrics) Observe(t *Trace) {
	m.q.observe(t, m.r.Start, m.r.End, m.Keep, m)
}

// metricsSink receives observed spans; *Metrics is one.
type metricsSink interface {
	add(tsNano uint64, by []Value, v float64)
}

// metricsProg is the compiled metrics stage.
type metricsProg struct {
	attr evaluator   // nil for rate() and count_over_time()
	by   []evaluator // by (…)
}

func compileMetrics(m *metricsStage) *metricsProg {
	if m == nil {
		return nil
	}
	mp := &metricsProg{}
	if m.attr != nil {
		mp.attr = compileEval(m.attr)
	}
	for _, f := range m.by {
		mp.by = append(mp.by, compileEval(f))
	}
	return mp
}

// observe feeds sink with the matched spans of t that start in
// [start, end). The by slice passed to add is reused between calls: add
// must not keep it.
func (q *Query) observe(t *Trace, start, end uint64, keep func(*Trace, *Span) bool, sink metricsSink) {
	if t == nil || len(t.Spans) == 0 || q.mprog == nil {
		return
	}
	c := getCtx(t)
	defer putCtx(c)
	mp := q.mprog
	var by []Value
	if len(mp.by) > 0 {
		by = make([]Value, len(mp.by))
	}
	for _, i := range q.matchedSpans(c) {
		s := &t.Spans[i]
		ts := s.StartTimeUnixNano
		if ts < start || ts >= end || keep != nil && !keep(t, s) {
			continue
		}
		c.idx = i
		v := 0.0
		if mp.attr != nil {
			val := mp.attr.eval(c, s)
			switch val.Type {
			case TypeInt:
				v = float64(val.I)
			case TypeFloat:
				v = val.F
			case TypeDuration:
				v = float64(val.I) / 1e9
			default:
				v = math.NaN()
			}
		}
		for k, ev := range mp.by {
			by[k] = ev.eval(c, s)
		}
		sink.add(ts, by, v)
	}
}
