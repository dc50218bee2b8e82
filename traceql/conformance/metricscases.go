package conformance

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pace-tracing/pace/traceql"
)

// MetricsCase is a metrics case: Query, run over the dataset on
// c.Range(), must produce the series Want computes, values within
// Tolerance (relative) of Want's.
//
// The series conventions are pace's (see traceql/metrics.go), which follow
// Tempo's:
//   - interval i covers [Start+i*Step, Start+(i+1)*Step) and a span counts
//     in the interval of its start; samples are stamped with their
//     interval's start in milliseconds;
//   - rate(), count_over_time() and histogram_over_time() report every
//     interval (0 when empty), quantile_over_time() reports 0 for empty
//     intervals, min/max/sum/avg_over_time() leave empty intervals out;
//   - labels are the by() values keyed as written, absent values left out;
//     a by() series whose values are all absent is labelled with the first
//     by() key and a nil value; without by(), the series of rate, count,
//     min, max, sum and avg is labelled __name__=<function>;
//     quantile_over_time() adds p (float) and histogram_over_time() adds
//     __bucket (float, the bucket's upper bound: 2^k nanoseconds in seconds
//     for durations, 2^k otherwise), and neither has __name__ nor the nil
//     label;
//   - durations are measured in seconds; spans without a numeric value for
//     the measured attribute are not counted.
//
// Quantiles are exact here (the nearest-rank value: the smallest value
// with at least q of the values at or below it); engines estimate them,
// hence Tolerance.
type MetricsCase struct {
	Name, Query string
	Step        time.Duration
	Tolerance   float64
	Want        func(td []*traceql.Trace) []traceql.Series
}

// MetricsRange is the range the metrics cases run on: the hour from Base,
// which holds the whole dataset, in steps of 5 minutes.
func MetricsRange() traceql.MetricsRange {
	return traceql.MetricsRange{
		Start: uint64(Base.UnixNano()),
		End:   uint64(Base.Add(time.Hour).UnixNano()),
		Step:  uint64(5 * time.Minute),
	}
}

// Range is MetricsRange() with c's step.
func (c MetricsCase) Range() traceql.MetricsRange {
	r := MetricsRange()
	if c.Step > 0 {
		r.Step = uint64(c.Step)
	}
	return r
}

// mspec describes a metrics query for computing its expected series.
type mspec struct {
	spans func(t *trace) set // the spans the query's search part selects
	fn    traceql.MetricsFunc
	// val is the measured value (seconds for durations); ok is false when
	// the span has none.
	val      func(t *trace, s *span) (float64, bool)
	duration bool // the measured value is a duration (histogram buckets in ns)
	by       []byKey
	qs       []float64
}

type byKey struct {
	key string
	get getter
}

var funcNames = map[traceql.MetricsFunc]string{
	traceql.MetricsRate:              "rate",
	traceql.MetricsCountOverTime:     "count_over_time",
	traceql.MetricsMinOverTime:       "min_over_time",
	traceql.MetricsMaxOverTime:       "max_over_time",
	traceql.MetricsAvgOverTime:       "avg_over_time",
	traceql.MetricsSumOverTime:       "sum_over_time",
	traceql.MetricsQuantileOverTime:  "quantile_over_time",
	traceql.MetricsHistogramOverTime: "histogram_over_time",
}

// mgroup is one by() group: its values and the measured values per
// interval.
type mgroup struct {
	by   []value
	ok   []bool
	vals [][]float64 // per interval; for rate and count one 0 per span
}

// want computes the expected series of m over td on range r.
func (m mspec) want(r traceql.MetricsRange, td []*trace) []traceql.Series {
	n := int((r.End - r.Start + r.Step - 1) / r.Step)
	groups := map[string]*mgroup{}
	var order []string
	for _, t := range td {
		for _, i := range m.spans(t) {
			s := &t.Spans[i]
			if s.StartTimeUnixNano < r.Start || s.StartTimeUnixNano >= r.End {
				continue
			}
			var v float64
			if m.fn != traceql.MetricsRate && m.fn != traceql.MetricsCountOverTime {
				var ok bool
				if v, ok = m.val(t, s); !ok {
					continue
				}
			}
			g := &mgroup{}
			key := ""
			for _, b := range m.by {
				bv, ok := b.get(t, s)
				g.by = append(g.by, bv)
				g.ok = append(g.ok, ok)
				if ok {
					key += valueKey(bv) + "|"
				} else {
					key += "nil|"
				}
			}
			if old, seen := groups[key]; seen {
				g = old
			} else {
				g.vals = make([][]float64, n)
				groups[key] = g
				order = append(order, key)
			}
			iv := int((s.StartTimeUnixNano - r.Start) / r.Step)
			g.vals[iv] = append(g.vals[iv], v)
		}
	}

	stepSec := time.Duration(r.Step).Seconds()
	ts := func(i int) int64 { return int64((r.Start + uint64(i)*r.Step) / uint64(time.Millisecond)) }
	var out []traceql.Series
	for _, key := range order {
		g := groups[key]
		var labels []traceql.Attr
		for k, b := range m.by {
			if g.ok[k] {
				labels = append(labels, traceql.Attr{Key: b.key, Value: g.by[k]})
			}
		}
		hist := m.fn == traceql.MetricsQuantileOverTime || m.fn == traceql.MetricsHistogramOverTime
		if !hist {
			switch {
			case len(m.by) == 0:
				labels = append(labels, traceql.Attr{Key: "__name__", Value: value{Type: traceql.TypeString, S: funcNames[m.fn]}})
			case len(labels) == 0:
				labels = append(labels, traceql.Attr{Key: m.by[0].key})
			}
		}
		switch m.fn {
		case traceql.MetricsQuantileOverTime:
			for _, q := range m.qs {
				s := traceql.Series{Labels: append(slices.Clone(labels), traceql.Attr{Key: "p", Value: value{Type: traceql.TypeFloat, F: q}})}
				for i, vs := range g.vals {
					s.Samples = append(s.Samples, traceql.Sample{TimestampMs: ts(i), Value: nearestRank(vs, q)})
				}
				out = append(out, s)
			}
		case traceql.MetricsHistogramOverTime:
			var buckets []float64
			counts := make([]map[float64]int, n)
			for i, vs := range g.vals {
				counts[i] = map[float64]int{}
				for _, v := range vs {
					b := m.bucket(v)
					counts[i][b]++
					buckets = append(buckets, b)
				}
			}
			slices.Sort(buckets)
			for _, b := range slices.Compact(buckets) {
				s := traceql.Series{Labels: append(slices.Clone(labels), traceql.Attr{Key: "__bucket", Value: value{Type: traceql.TypeFloat, F: b}})}
				for i := range g.vals {
					s.Samples = append(s.Samples, traceql.Sample{TimestampMs: ts(i), Value: float64(counts[i][b])})
				}
				out = append(out, s)
			}
		default:
			s := traceql.Series{Labels: labels}
			for i, vs := range g.vals {
				var v float64
				switch m.fn {
				case traceql.MetricsRate:
					v = float64(len(vs)) / stepSec
				case traceql.MetricsCountOverTime:
					v = float64(len(vs))
				case traceql.MetricsMinOverTime:
					v = minOf(vs)
				case traceql.MetricsMaxOverTime:
					v = maxOf(vs)
				case traceql.MetricsSumOverTime:
					v = sum(vs)
					if len(vs) == 0 {
						v = math.NaN()
					}
				case traceql.MetricsAvgOverTime:
					v = avg(vs)
				}
				if !math.IsNaN(v) {
					s.Samples = append(s.Samples, traceql.Sample{TimestampMs: ts(i), Value: v})
				}
			}
			if len(s.Samples) > 0 {
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b traceql.Series) int { return cmp.Compare(LabelsString(a.Labels), LabelsString(b.Labels)) })
	return out
}

// bucket is the histogram bucket (its upper bound) of v: the smallest
// power of two at or above it, for durations in nanoseconds and reported
// in seconds.
func (m mspec) bucket(v float64) float64 {
	if m.duration {
		ns := uint64(math.Round(v * 1e9))
		if ns == 0 {
			return 0
		}
		return float64(uint64(1)<<bits.Len64(ns-1)) / 1e9
	}
	if v == 0 {
		return 0
	}
	if v == math.Trunc(v) && v > 0 && v < 1<<62 {
		return float64(uint64(1) << bits.Len64(uint64(v)-1))
	}
	if v < 0 {
		return -math.Exp2(math.Ceil(math.Log2(-v)) - 1)
	}
	return math.Exp2(math.Ceil(math.Log2(v)))
}

// nearestRank is the smallest value with at least q of the values at or
// below it; 0 when there are none.
func nearestRank(vs []float64, q float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	k := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

// LabelsString renders labels for comparing and printing: key=value,
// values with their type.
func LabelsString(ls []traceql.Attr) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Key)
		b.WriteByte('=')
		b.WriteString(valueString(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

func valueString(v value) string {
	switch v.Type {
	case traceql.TypeNil:
		return "nil"
	case traceql.TypeString:
		return strconv.Quote(v.S)
	case traceql.TypeInt:
		return strconv.FormatInt(v.I, 10)
	case traceql.TypeFloat:
		return "float:" + strconv.FormatFloat(v.F, 'g', -1, 64)
	case traceql.TypeBool:
		return strconv.FormatBool(v.B)
	case traceql.TypeDuration:
		return time.Duration(v.I).String()
	case traceql.TypeStatus:
		return "status:" + strconv.FormatInt(v.I, 10)
	case traceql.TypeKind:
		return "kind:" + strconv.FormatInt(v.I, 10)
	case traceql.TypeArray:
		parts := make([]string, len(v.Arr))
		for i, e := range v.Arr {
			parts[i] = valueString(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprintf("type%d:%+v", v.Type, v)
}

// CompareSeries compares got with want: the same label sets, and at every
// timestamp values within tol (relative) of each other. A sample missing
// on one side equals a 0 on the other (whether empty intervals are
// reported as 0 or left out is not compared), and a series whose samples
// are all 0 equals a missing one. It returns a description of every
// difference, nil when none.
func CompareSeries(got, want []traceql.Series, tol float64) []string {
	index := func(ss []traceql.Series) (map[string]map[int64]float64, []string) {
		m := map[string]map[int64]float64{}
		var keys []string
		for _, s := range ss {
			k := LabelsString(s.Labels)
			if _, dup := m[k]; dup {
				keys = append(keys, "duplicate series "+k)
				continue
			}
			m[k] = map[int64]float64{}
			for _, smp := range s.Samples {
				m[k][smp.TimestampMs] = smp.Value
			}
		}
		return m, keys
	}
	g, gdup := index(got)
	w, wdup := index(want)
	var diffs []string
	for _, d := range gdup {
		diffs = append(diffs, "got "+d)
	}
	for _, d := range wdup {
		diffs = append(diffs, "want "+d)
	}
	var keys []string
	for k := range g {
		keys = append(keys, k)
	}
	for k := range w {
		if _, ok := g[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	allZero := func(m map[int64]float64) bool {
		for _, v := range m {
			if v != 0 {
				return false
			}
		}
		return true
	}
	for _, k := range keys {
		gs, gok := g[k]
		ws, wok := w[k]
		switch {
		case !gok && !allZero(ws):
			diffs = append(diffs, fmt.Sprintf("missing series %s", k))
			continue
		case !wok && !allZero(gs):
			diffs = append(diffs, fmt.Sprintf("unexpected series %s: %s", k, samplesString(gs)))
			continue
		case !gok || !wok:
			continue
		}
		var tss []int64
		for t := range gs {
			tss = append(tss, t)
		}
		for t := range ws {
			if _, ok := gs[t]; !ok {
				tss = append(tss, t)
			}
		}
		slices.Sort(tss)
		var bad []string
		for _, t := range tss {
			gv, wv := gs[t], ws[t] // a missing sample reads as 0
			if !near(gv, wv, tol) {
				bad = append(bad, fmt.Sprintf("%s: got %v want %v", time.UnixMilli(t).UTC().Format("15:04:05"), gv, wv))
			}
		}
		if len(bad) > 0 {
			diffs = append(diffs, fmt.Sprintf("series %s: %s", k, strings.Join(bad, "; ")))
		}
	}
	return diffs
}

func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	d := math.Abs(a - b)
	return d <= tol*math.Abs(b)+1e-9*math.Max(1, math.Abs(b))
}

func samplesString(m map[int64]float64) string {
	var tss []int64
	for t := range m {
		tss = append(tss, t)
	}
	slices.Sort(tss)
	parts := make([]string, len(tss))
	for i, t := range tss {
		parts[i] = fmt.Sprintf("%s=%v", time.UnixMilli(t).UTC().Format("15:04:05"), m[t])
	}
	return strings.Join(parts, " ")
}

// MetricsCases are the metrics cases.
var MetricsCases = metricsCases()

func metricsCases() []MetricsCase {
	var cs []MetricsCase
	add := func(name, query string, step time.Duration, tol float64, m mspec) {
		c := MetricsCase{Name: name, Query: query, Step: step, Tolerance: tol}
		c.Want = func(td []*traceql.Trace) []traceql.Series { return m.want(c.Range(), td) }
		cs = append(cs, c)
	}
	where := func(p pred) func(t *trace) set { return func(t *trace) set { return filter(t, p) } }
	all := where(func(*trace, *span) bool { return true })
	dur := func(_ *trace, s *span) (float64, bool) { return float64(s.DurationNano) / 1e9, true }
	attr := func(g getter) func(t *trace, s *span) (float64, bool) {
		return func(t *trace, s *span) (float64, bool) { return numAttr(g, t, s) }
	}
	by := func(key string, g getter) []byKey { return []byKey{{key, g}} }
	svc := by("resource.service.name", resAttr("service.name"))
	kindBy := by("kind", func(_ *trace, s *span) (value, bool) { return value{Type: traceql.TypeKind, I: int64(s.Kind)}, true })
	statusBy := by("status", func(_ *trace, s *span) (value, bool) {
		return value{Type: traceql.TypeStatus, I: int64(s.StatusCode)}, true
	})
	nameBy := by("name", func(_ *trace, s *span) (value, bool) { return value{Type: traceql.TypeString, S: s.Name}, true })
	const (
		exact = 0
		qtol  = 0.03 // quantile estimates
	)
	m5, m10, m15 := 5*time.Minute, 10*time.Minute, 15*time.Minute

	add("rate", `{ } | rate()`, m5, exact,
		mspec{spans: all, fn: traceql.MetricsRate})
	add("rate by service", `{ status = error } | rate() by (resource.service.name)`, m5, exact,
		mspec{spans: where(status(statusError)), fn: traceql.MetricsRate, by: svc})
	add("rate by an attribute some spans lack", `{ kind = client } | rate() by (span.http.method)`, m10, exact,
		mspec{spans: where(kind(kindClient)), fn: traceql.MetricsRate, by: by("span.http.method", spanAttr("http.method"))})
	add("count_over_time", `{ kind = server } | count_over_time()`, m5, exact,
		mspec{spans: where(kind(kindServer)), fn: traceql.MetricsCountOverTime})
	add("count_over_time by kind", `{ } | count_over_time() by (kind)`, m10, exact,
		mspec{spans: all, fn: traceql.MetricsCountOverTime, by: kindBy})
	add("count_over_time by name", `{ status = error } | count_over_time() by (name)`, m15, exact,
		mspec{spans: where(status(statusError)), fn: traceql.MetricsCountOverTime, by: nameBy})
	add("count_over_time by two", `{ kind = server } | count_over_time() by (resource.service.name, span.http.method)`, m15, exact,
		mspec{spans: where(kind(kindServer)), fn: traceql.MetricsCountOverTime,
			by: []byKey{svc[0], {"span.http.method", spanAttr("http.method")}}})
	add("count_over_time instant", `{ } | count_over_time() by (resource.service.name)`, time.Hour, exact,
		mspec{spans: all, fn: traceql.MetricsCountOverTime, by: svc})
	add("count_over_time of a structural query", `{ resource.service.name = "frontend" } >> { status = error } | count_over_time() by (resource.service.name)`, m10, exact,
		mspec{spans: func(t *trace) set {
			return rel(t, filter(t, service("frontend")), filter(t, status(statusError)), relDescendant, false)
		}, fn: traceql.MetricsCountOverTime, by: svc})
	add("min_over_time duration", `{ } | min_over_time(duration)`, m5, exact,
		mspec{spans: all, fn: traceql.MetricsMinOverTime, val: dur})
	add("max_over_time duration", `{ kind = producer } | max_over_time(duration)`, m5, exact,
		mspec{spans: where(kind(kindProducer)), fn: traceql.MetricsMaxOverTime, val: dur})
	add("max_over_time duration by service", `{ kind = client } | max_over_time(duration) by (resource.service.name)`, m10, exact,
		mspec{spans: where(kind(kindClient)), fn: traceql.MetricsMaxOverTime, val: dur, by: svc})
	add("avg_over_time duration by status", `{ } | avg_over_time(duration) by (status)`, m10, 1e-9,
		mspec{spans: all, fn: traceql.MetricsAvgOverTime, val: dur, by: statusBy})
	add("sum_over_time duration", `{ kind = server } | sum_over_time(duration)`, m5, 1e-9,
		mspec{spans: where(kind(kindServer)), fn: traceql.MetricsSumOverTime, val: dur})
	add("sum_over_time duration by kind", `{ } | sum_over_time(duration) by (kind)`, m15, 1e-9,
		mspec{spans: all, fn: traceql.MetricsSumOverTime, val: dur, by: kindBy})
	add("sum_over_time attribute", `{ } | sum_over_time(span.payload.size)`, m5, 1e-9,
		mspec{spans: all, fn: traceql.MetricsSumOverTime, val: attr(spanAttr("payload.size"))})
	add("min_over_time attribute by service", `{ } | min_over_time(span.ratio) by (resource.service.name)`, m10, exact,
		mspec{spans: all, fn: traceql.MetricsMinOverTime, val: attr(spanAttr("ratio")), by: svc})
	add("avg_over_time attribute", `{ span.http.status_code >= 100 } | avg_over_time(span.http.status_code)`, m5, 1e-9,
		mspec{spans: where(is(spanAttr("http.status_code"), numCmp(">=", 100))), fn: traceql.MetricsAvgOverTime,
			val: attr(spanAttr("http.status_code"))})
	add("max_over_time attribute by environment", `{ } | max_over_time(span.retry.count) by (resource.deployment.environment)`, m10, exact,
		mspec{spans: all, fn: traceql.MetricsMaxOverTime, val: attr(spanAttr("retry.count")),
			by: by("resource.deployment.environment", resAttr("deployment.environment"))})
	add("quantile_over_time duration", `{ kind = server } | quantile_over_time(duration, .5, .9, .99)`, m5, qtol,
		mspec{spans: where(kind(kindServer)), fn: traceql.MetricsQuantileOverTime, val: dur, qs: []float64{.5, .9, .99}})
	add("quantile_over_time duration by service", `{ } | quantile_over_time(duration, .95) by (resource.service.name)`, m10, qtol,
		mspec{spans: all, fn: traceql.MetricsQuantileOverTime, val: dur, qs: []float64{.95}, by: svc})
	add("quantile_over_time extremes", `{ kind = consumer } | quantile_over_time(duration, 0, 1)`, m15, 1e-9,
		mspec{spans: where(kind(kindConsumer)), fn: traceql.MetricsQuantileOverTime, val: dur, qs: []float64{0, 1}})
	add("quantile_over_time attribute", `{ } | quantile_over_time(span.payload.size, .5)`, m10, qtol,
		mspec{spans: all, fn: traceql.MetricsQuantileOverTime, val: attr(spanAttr("payload.size")), qs: []float64{.5}})
	add("histogram_over_time duration", `{ kind = client } | histogram_over_time(duration)`, m10, exact,
		mspec{spans: where(kind(kindClient)), fn: traceql.MetricsHistogramOverTime, val: dur, duration: true})
	add("histogram_over_time duration by service", `{ status = error } | histogram_over_time(duration) by (resource.service.name)`, m15, exact,
		mspec{spans: where(status(statusError)), fn: traceql.MetricsHistogramOverTime, val: dur, duration: true, by: svc})
	add("count_over_time with a step that does not divide the range", `{ status = error } | count_over_time()`, 7*time.Minute, exact,
		mspec{spans: where(status(statusError)), fn: traceql.MetricsCountOverTime})
	add("avg_over_time of an attribute some spans lack or have as a string", `{ } | avg_over_time(span.http.status_code) by (resource.service.name)`, m15, 1e-9,
		mspec{spans: all, fn: traceql.MetricsAvgOverTime, val: attr(spanAttr("http.status_code")), by: svc})
	add("histogram_over_time float attribute", `{ span.ratio != nil } | histogram_over_time(span.ratio)`, m15, exact,
		mspec{spans: where(exists(spanAttr("ratio"))), fn: traceql.MetricsHistogramOverTime, val: attr(spanAttr("ratio"))})
	add("histogram_over_time attribute", `{ } | histogram_over_time(span.payload.size)`, m15, exact,
		mspec{spans: all, fn: traceql.MetricsHistogramOverTime, val: attr(spanAttr("payload.size"))})
	return cs
}
