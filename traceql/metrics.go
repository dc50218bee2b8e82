package traceql

// The metrics accumulator: the time-bucketed, by()-grouped state of a
// TraceQL metrics query (`{…} | rate() by (…)`), fed one matched span at a
// time by the evaluator, mergeable across shards and processes, and turned
// into the series that /api/metrics/query_range returns.
//
// Results follow Tempo's, with these decisions (checked against Tempo's
// engine):
//
//   - Intervals. Interval i covers [Start+i*Step, Start+(i+1)*Step); there
//     are ceil((End-Start)/Step) of them, at most maxMetricsIntervals
//     (11000, Prometheus' and Tempo's limit). A sample's TimestampMs is its
//     interval's start. (Recent Tempo aligns the range to the step and uses
//     right-closed intervals stamped at their end; pace's contract, in
//     api.go, is left-closed intervals stamped at their start.)
//   - Empty intervals. rate(), count_over_time() and histogram_over_time()
//     emit 0 for every interval of a series. min/max/sum/avg_over_time()
//     omit intervals without values: Tempo starts them at NaN and leaves
//     NaN samples out of the response. quantile_over_time() emits 0 for
//     intervals without values, as Tempo's quantile combiner does. A series
//     with no sample at all is left out.
//   - Labels. by() values keyed as written in MetricsSpec.By, nil values
//     left out; when every by() value is nil the series is labelled with
//     the first by() key and a TypeNil value (Tempo forces one label, shown
//     as `{key="nil"}`). Without by(), the single series of rate(), count,
//     min, max, sum and avg is labelled {__name__="rate"} (the function's
//     name), as Tempo does. quantile_over_time() adds "p" (float, the
//     quantile) and histogram_over_time() adds "__bucket" (float, the
//     bucket's upper bound) after the by() labels; these two have no
//     __name__ label and no forced nil label, again like Tempo.
//   - Values. For value functions a NaN or infinite v is not counted (the
//     evaluator passes NaN when the attribute is absent or not numeric).
//     Durations are in seconds.
//   - Histograms. quantile_over_time() and histogram_over_time() keep a
//     sparse exponential histogram per series and interval, so partial
//     results merge exactly. Bucket k covers (2^((k-1)/R), 2^(k/R)], zero
//     has its own bucket and negative values mirror the positive buckets.
//     Durations are bucketed in whole nanoseconds, so the power-of-two
//     bounds are 2^k ns, as in Tempo. histogram_over_time() uses R = 1 and
//     reports Tempo's bucket bounds (2^k ns in seconds for durations, 2^k
//     otherwise). quantile_over_time() uses R = 32 (buckets 2.2% wide),
//     interpolates linearly inside the bucket holding the rank and clamps
//     to the interval's exact min and max, so estimates are within about 1%
//     of the exact quantile. (Tempo uses power-of-two buckets and drops
//     values below 2 and non-integer attributes; pace keeps them.)
//   - Series cap. At most MaxMetricsSeries by() groups are kept (one group
//     gives one series per quantile or bucket); spans of further groups are
//     dropped and Truncated reports it.
//
// A Metrics is not safe for concurrent use; give each goroutine its own and
// Merge them.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// MaxMetricsSeries is the cap on the number of by() groups a metrics
// accumulator keeps; 0 or less means no cap. It is read when the
// accumulator is created.
var MaxMetricsSeries = 1000

// maxMetricsIntervals is the most intervals a metrics query may have.
const maxMetricsIntervals = 11000

// Histogram resolutions: sub-buckets per power of two.
const (
	quantileResolution  = 32
	histogramResolution = 1
)

// Histogram bucket keys. Zero is key 0; a positive value x has key
// histBias+ceil(log2(x)*R), a negative value minus that of -x, so keys sort
// like values. The exponent is clamped to what float64 can hold.
const (
	histBias   = 1 << 20
	histMinExp = -1074
	histMaxExp = 1024
)

// Metrics accumulates a metrics query's series over the traces observed.
type Metrics struct {
	q *Query // set by the evaluator (Query.NewMetrics); only carried here

	// Keep, when set, is asked about every matched span before it counts;
	// false skips it. Storage uses it to count each span once where
	// replicas hold copies. Not part of the marshaled state.
	Keep func(t *Trace, s *Span) bool

	spec      MetricsSpec
	r         MetricsRange
	n         int     // number of intervals
	rateMult  float64 // 1 / step in seconds
	scale     float64 // histograms bucket v*scale: 1e9 for durations (nanoseconds), else 1
	res       int     // histogram sub-buckets per power of two
	maxSeries int

	groups    map[string]*metricsGroup // keyed by the encoded by() values
	truncated bool
	keyBuf    []byte
}

// metricsGroup is the state of one by() group. Which slices are used
// depends on the function; they are allocated when the group is created.
type metricsGroup struct {
	by    []Value        // the by() values, canonical (decoded from the key)
	count []uint64       // rate, count_over_time, avg_over_time
	val   []float64      // min, max, sum (NaN when empty), avg (sum)
	comp  []float64      // sum, avg: Neumaier compensation
	hist  []*metricsHist // quantile, histogram; nil when empty
}

// metricsHist is a sparse histogram: keys ascending, counts > 0.
type metricsHist struct {
	keys     []int32
	counts   []uint64
	min, max float64 // exact extremes of the values, unscaled
}

// newMetrics validates the spec and range and returns an empty accumulator.
func newMetrics(spec MetricsSpec, r MetricsRange) (*Metrics, error) {
	if spec.Func < MetricsRate || spec.Func > MetricsHistogramOverTime {
		return nil, fmt.Errorf("unknown metrics function %d", spec.Func)
	}
	if spec.Func == MetricsQuantileOverTime {
		if len(spec.Quantiles) == 0 {
			return nil, errors.New("quantile_over_time needs at least one quantile")
		}
		for _, q := range spec.Quantiles {
			if !(q >= 0 && q <= 1) {
				return nil, fmt.Errorf("quantile %v out of range [0, 1]", q)
			}
		}
	} else if len(spec.Quantiles) > 0 {
		return nil, fmt.Errorf("quantiles given to %s", spec.Func.name())
	}
	n, err := metricsIntervals(r)
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		spec:      cloneMetricsSpec(spec),
		r:         r,
		n:         n,
		rateMult:  1 / metricsStepSeconds(r.Step),
		scale:     1,
		maxSeries: MaxMetricsSeries,
		groups:    make(map[string]*metricsGroup),
	}
	if metricsAttrIsDuration(spec.Attr) {
		m.scale = 1e9
	}
	switch spec.Func {
	case MetricsQuantileOverTime:
		m.res = quantileResolution
	case MetricsHistogramOverTime:
		m.res = histogramResolution
	}
	return m, nil
}

// metricsIntervals validates r and returns its number of intervals.
func metricsIntervals(r MetricsRange) (int, error) {
	if r.Step == 0 {
		return 0, errors.New("step must be greater than 0")
	}
	if r.End <= r.Start {
		return 0, errors.New("end must be greater than start")
	}
	d := r.End - r.Start
	n := d / r.Step
	if d%r.Step != 0 {
		n++
	}
	if n > maxMetricsIntervals {
		return 0, fmt.Errorf("step too small: a range of %gs in steps of %gs gives %d intervals, more than the maximum of %d",
			float64(d)/1e9, float64(r.Step)/1e9, n, maxMetricsIntervals)
	}
	return int(n), nil
}

// metricsStepSeconds is step in seconds, computed like time.Duration.Seconds (as
// Tempo does) when it fits in a Duration.
func metricsStepSeconds(step uint64) float64 {
	if step <= math.MaxInt64 {
		return time.Duration(step).Seconds()
	}
	return float64(step) / 1e9
}

// metricsAttrIsDuration says whether the measured attribute, as written, is
// a duration intrinsic (its values are seconds, bucketed as nanoseconds).
func metricsAttrIsDuration(attr string) bool {
	switch attr {
	case "duration", "span:duration", "traceDuration", "trace:duration", "event:timeSinceStart":
		return true
	}
	return false
}

func cloneMetricsSpec(s MetricsSpec) MetricsSpec {
	s.Quantiles = slices.Clone(s.Quantiles)
	s.By = slices.Clone(s.By)
	return s
}

// name is the function's name as written in a query.
func (f MetricsFunc) name() string {
	switch f {
	case MetricsRate:
		return "rate"
	case MetricsCountOverTime:
		return "count_over_time"
	case MetricsMinOverTime:
		return "min_over_time"
	case MetricsMaxOverTime:
		return "max_over_time"
	case MetricsAvgOverTime:
		return "avg_over_time"
	case MetricsSumOverTime:
		return "sum_over_time"
	case MetricsQuantileOverTime:
		return "quantile_over_time"
	case MetricsHistogramOverTime:
		return "histogram_over_time"
	}
	return fmt.Sprintf("metrics function %d", uint8(f))
}

// add records one matched span that started at tsNano, with its by() values
// (len(by) == len(spec.By), TypeNil when absent) and measured value v
// (seconds for durations; ignored by rate and count_over_time). Spans
// outside [Start, End) are ignored, and for value functions so is a NaN or
// infinite v.
func (m *Metrics) add(tsNano uint64, by []Value, v float64) {
	if tsNano < m.r.Start || tsNano >= m.r.End || len(by) != len(m.spec.By) {
		return
	}
	f := m.spec.Func
	if f != MetricsRate && f != MetricsCountOverTime && (math.IsNaN(v) || math.IsInf(v, 0)) {
		return
	}
	i := int((tsNano - m.r.Start) / m.r.Step)

	m.keyBuf = m.keyBuf[:0]
	for _, b := range by {
		m.keyBuf = appendMetricsValue(m.keyBuf, b, 0)
	}
	g := m.groups[string(m.keyBuf)]
	if g == nil {
		if m.full() {
			m.truncated = true
			return
		}
		key := string(m.keyBuf)
		vals, err := decodeMetricsKey([]byte(key), len(by))
		if err != nil { // cannot happen: the key was just encoded
			return
		}
		g = m.newGroup(vals)
		m.groups[key] = g
	}

	switch f {
	case MetricsRate, MetricsCountOverTime:
		g.count[i]++
	case MetricsMinOverTime:
		if math.IsNaN(g.val[i]) || v < g.val[i] {
			g.val[i] = v
		}
	case MetricsMaxOverTime:
		if math.IsNaN(g.val[i]) || v > g.val[i] {
			g.val[i] = v
		}
	case MetricsSumOverTime:
		if math.IsNaN(g.val[i]) {
			g.val[i], g.comp[i] = v, 0
		} else {
			g.val[i], g.comp[i] = neumaierAdd(g.val[i], g.comp[i], v)
		}
	case MetricsAvgOverTime:
		g.count[i]++
		g.val[i], g.comp[i] = neumaierAdd(g.val[i], g.comp[i], v)
	case MetricsQuantileOverTime, MetricsHistogramOverTime:
		h := g.hist[i]
		if h == nil {
			h = &metricsHist{min: v, max: v}
			g.hist[i] = h
		}
		h.add(m.bucketKey(v), 1, v, v)
	}
}

// newGroup allocates the state of a group for m's function.
func (m *Metrics) newGroup(by []Value) *metricsGroup {
	g := &metricsGroup{by: by}
	switch m.spec.Func {
	case MetricsRate, MetricsCountOverTime:
		g.count = make([]uint64, m.n)
	case MetricsMinOverTime, MetricsMaxOverTime:
		g.val = metricsNaNs(m.n)
	case MetricsSumOverTime:
		g.val = metricsNaNs(m.n)
		g.comp = make([]float64, m.n)
	case MetricsAvgOverTime:
		g.count = make([]uint64, m.n)
		g.val = make([]float64, m.n)
		g.comp = make([]float64, m.n)
	case MetricsQuantileOverTime, MetricsHistogramOverTime:
		g.hist = make([]*metricsHist, m.n)
	}
	return g
}

func metricsNaNs(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

// neumaierAdd adds x to the compensated sum (sum, c).
func neumaierAdd(sum, c, x float64) (float64, float64) {
	t := sum + x
	if math.IsInf(t, 0) || math.IsNaN(t) {
		return t, c
	}
	if math.Abs(sum) >= math.Abs(x) {
		c += (sum - t) + x
	} else {
		c += (x - t) + sum
	}
	return t, c
}

// compensatedSum is the value of the compensated sum (sum, c).
func compensatedSum(sum, c float64) float64 {
	if math.IsInf(sum, 0) || math.IsNaN(sum) {
		return sum
	}
	return sum + c
}

// bucketKey is the histogram bucket key of v.
func (m *Metrics) bucketKey(v float64) int32 {
	x := v * m.scale
	if m.scale != 1 {
		x = math.Round(x) // durations are whole nanoseconds
	}
	if x == 0 {
		return 0
	}
	neg := x < 0
	if neg {
		x = -x
	}
	e := math.Ceil(math.Log2(x) * float64(m.res))
	e = math.Max(e, float64(histMinExp*m.res))
	e = math.Min(e, float64(histMaxExp*m.res))
	k := histBias + int32(e)
	if neg {
		k = -k
	}
	return k
}

// validBucketKey says whether k can be a key of m's histograms.
func (m *Metrics) validBucketKey(k int32) bool {
	if k == 0 {
		return true
	}
	if k < 0 {
		k = -k
	}
	e := int(k) - histBias
	return e >= histMinExp*m.res && e <= histMaxExp*m.res
}

// bucketBounds are the bounds of bucket k, unscaled: (lo, hi] for positive
// values, [lo, hi) for negative ones.
func (m *Metrics) bucketBounds(k int32) (lo, hi float64) {
	if k == 0 {
		return 0, 0
	}
	neg := k < 0
	if neg {
		k = -k
	}
	e := float64(int(k) - histBias)
	r := float64(m.res)
	hi = math.Exp2(e/r) / m.scale
	lo = math.Exp2((e-1)/r) / m.scale
	if neg {
		return -hi, -lo
	}
	return lo, hi
}

// add adds c observations to bucket k, the extremes of which are lo and hi.
func (h *metricsHist) add(k int32, c uint64, lo, hi float64) {
	j, found := slices.BinarySearch(h.keys, k)
	if found {
		h.counts[j] += c
	} else {
		h.keys = slices.Insert(h.keys, j, k)
		h.counts = slices.Insert(h.counts, j, c)
	}
	h.min = math.Min(h.min, lo)
	h.max = math.Max(h.max, hi)
}

// merge adds o's observations to h.
func (h *metricsHist) merge(o *metricsHist) {
	keys := make([]int32, 0, len(h.keys)+len(o.keys))
	counts := make([]uint64, 0, len(h.keys)+len(o.keys))
	a, b := 0, 0
	for a < len(h.keys) || b < len(o.keys) {
		switch {
		case b == len(o.keys) || (a < len(h.keys) && h.keys[a] < o.keys[b]):
			keys, counts = append(keys, h.keys[a]), append(counts, h.counts[a])
			a++
		case a == len(h.keys) || o.keys[b] < h.keys[a]:
			keys, counts = append(keys, o.keys[b]), append(counts, o.counts[b])
			b++
		default:
			keys, counts = append(keys, h.keys[a]), append(counts, h.counts[a]+o.counts[b])
			a++
			b++
		}
	}
	h.keys, h.counts = keys, counts
	h.min = math.Min(h.min, o.min)
	h.max = math.Max(h.max, o.max)
}

func (h *metricsHist) clone() *metricsHist {
	return &metricsHist{keys: slices.Clone(h.keys), counts: slices.Clone(h.counts), min: h.min, max: h.max}
}

// count is the number of observations in bucket k.
func (h *metricsHist) count(k int32) uint64 {
	if j, found := slices.BinarySearch(h.keys, k); found {
		return h.counts[j]
	}
	return 0
}

// quantile estimates the q-quantile: it finds the bucket holding rank
// q*total, interpolates linearly inside it and clamps to [min, max].
func (m *Metrics) quantile(h *metricsHist, q float64) float64 {
	var total float64
	for _, c := range h.counts {
		total += float64(c)
	}
	if total == 0 {
		return 0
	}
	rank := q * total
	var cum float64
	for j, c := range h.counts {
		fc := float64(c)
		if cum+fc >= rank || j == len(h.counts)-1 {
			lo, hi := m.bucketBounds(h.keys[j])
			f := 0.0
			if fc > 0 {
				f = math.Min(math.Max((rank-cum)/fc, 0), 1)
			}
			v := lo + (hi-lo)*f
			if math.IsNaN(v) { // infinite bounds
				v = hi
			}
			return math.Min(math.Max(v, h.min), h.max)
		}
		cum += fc
	}
	return h.max
}

// full reports whether m holds as many groups as its cap allows.
func (m *Metrics) full() bool {
	return m.maxSeries > 0 && len(m.groups) >= m.maxSeries
}

// Truncated reports whether by() groups were dropped because the
// accumulator (or one merged into it) reached its series cap.
func (m *Metrics) Truncated() bool { return m.truncated }

// sameQuery reports whether o accumulates the same query over the same range.
func (m *Metrics) sameQuery(spec MetricsSpec, r MetricsRange) error {
	if spec.Func != m.spec.Func || spec.Attr != m.spec.Attr ||
		!slices.Equal(spec.By, m.spec.By) ||
		!slices.EqualFunc(spec.Quantiles, m.spec.Quantiles, func(a, b float64) bool {
			return math.Float64bits(a) == math.Float64bits(b)
		}) {
		return errors.New("metrics results are for a different query")
	}
	if r != m.r {
		return fmt.Errorf("metrics results are for a different range: %d-%d step %d, want %d-%d step %d",
			r.Start, r.End, r.Step, m.r.Start, m.r.End, m.r.Step)
	}
	return nil
}

// Merge adds o's partial results to m. Both must be for the same query and
// range. o is not modified and shares no memory with m afterwards. Groups
// new to m are added in key order until m's series cap is reached.
func (m *Metrics) Merge(o *Metrics) error {
	if o == nil {
		return errors.New("merging nil metrics")
	}
	if o == m {
		return errors.New("merging metrics into themselves")
	}
	if err := m.sameQuery(o.spec, o.r); err != nil {
		return err
	}
	m.truncated = m.truncated || o.truncated
	keys := make([]string, 0, len(o.groups))
	for k := range o.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		og := o.groups[k]
		g := m.groups[k]
		if g == nil {
			if m.full() {
				m.truncated = true
				continue
			}
			by := make([]Value, len(og.by))
			for i, v := range og.by {
				by[i] = cloneMetricsValue(v)
			}
			g = m.newGroup(by)
			m.groups[k] = g
		}
		m.mergeGroup(g, og)
	}
	return nil
}

// mergeGroup adds o's values to g.
func (m *Metrics) mergeGroup(g, o *metricsGroup) {
	for i := 0; i < m.n; i++ {
		switch m.spec.Func {
		case MetricsRate, MetricsCountOverTime:
			g.count[i] += o.count[i]
		case MetricsMinOverTime:
			if math.IsNaN(g.val[i]) || o.val[i] < g.val[i] {
				g.val[i] = o.val[i]
			}
		case MetricsMaxOverTime:
			if math.IsNaN(g.val[i]) || o.val[i] > g.val[i] {
				g.val[i] = o.val[i]
			}
		case MetricsSumOverTime:
			switch {
			case math.IsNaN(o.val[i]):
			case math.IsNaN(g.val[i]):
				g.val[i], g.comp[i] = o.val[i], o.comp[i]
			default:
				g.val[i], g.comp[i] = neumaierAdd(g.val[i], g.comp[i], o.val[i])
				g.comp[i] += o.comp[i]
			}
		case MetricsAvgOverTime:
			if o.count[i] == 0 {
				continue
			}
			g.count[i] += o.count[i]
			g.val[i], g.comp[i] = neumaierAdd(g.val[i], g.comp[i], o.val[i])
			g.comp[i] += o.comp[i]
		case MetricsQuantileOverTime, MetricsHistogramOverTime:
			switch {
			case o.hist[i] == nil:
			case g.hist[i] == nil:
				g.hist[i] = o.hist[i].clone()
			default:
				g.hist[i].merge(o.hist[i])
			}
		}
	}
}

// Series returns the final series, sorted by labels (see compareMetricsLabels).
func (m *Metrics) Series() []Series {
	out := make([]Series, 0, len(m.groups))
	for _, g := range m.groups {
		out = m.appendGroupSeries(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return compareMetricsLabels(out[i].Labels, out[j].Labels) < 0 })
	return out
}

// timestampMs is the start of interval i in Unix milliseconds.
func (m *Metrics) timestampMs(i int) int64 {
	return int64((m.r.Start + uint64(i)*m.r.Step) / uint64(time.Millisecond))
}

// groupLabels are g's by() labels as Tempo reports them (see the file comment).
func (m *Metrics) groupLabels(g *metricsGroup, extra int) []Attr {
	ls := make([]Attr, 0, len(g.by)+extra)
	for i, v := range g.by {
		if v.Type != TypeNil {
			ls = append(ls, Attr{Key: m.spec.By[i], Value: cloneMetricsValue(v)})
		}
	}
	if m.spec.Func == MetricsQuantileOverTime || m.spec.Func == MetricsHistogramOverTime {
		return ls
	}
	if len(m.spec.By) == 0 {
		return append(ls, Attr{Key: "__name__", Value: Value{Type: TypeString, S: m.spec.Func.name()}})
	}
	if len(ls) == 0 {
		ls = append(ls, Attr{Key: m.spec.By[0], Value: Value{Type: TypeNil}})
	}
	return ls
}

func (m *Metrics) appendGroupSeries(out []Series, g *metricsGroup) []Series {
	switch m.spec.Func {
	case MetricsQuantileOverTime:
		seen := make(map[uint64]bool, len(m.spec.Quantiles))
		for _, q := range m.spec.Quantiles {
			if seen[math.Float64bits(q)] {
				continue
			}
			seen[math.Float64bits(q)] = true
			s := Series{Labels: append(m.groupLabels(g, 1), Attr{Key: "p", Value: Value{Type: TypeFloat, F: q}})}
			s.Samples = make([]Sample, m.n)
			for i, h := range g.hist {
				s.Samples[i] = Sample{TimestampMs: m.timestampMs(i)}
				if h != nil {
					s.Samples[i].Value = m.quantile(h, q)
				}
			}
			out = append(out, s)
		}
		return out
	case MetricsHistogramOverTime:
		var keys []int32
		for _, h := range g.hist {
			if h != nil {
				keys = append(keys, h.keys...)
			}
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		for _, k := range keys {
			_, hi := m.bucketBounds(k)
			s := Series{Labels: append(m.groupLabels(g, 1), Attr{Key: "__bucket", Value: Value{Type: TypeFloat, F: hi}})}
			s.Samples = make([]Sample, m.n)
			for i, h := range g.hist {
				s.Samples[i] = Sample{TimestampMs: m.timestampMs(i)}
				if h != nil {
					s.Samples[i].Value = float64(h.count(k))
				}
			}
			out = append(out, s)
		}
		return out
	}

	s := Series{Labels: m.groupLabels(g, 0)}
	for i := 0; i < m.n; i++ {
		var v float64
		switch m.spec.Func {
		case MetricsRate:
			v = float64(g.count[i]) * m.rateMult
		case MetricsCountOverTime:
			v = float64(g.count[i])
		case MetricsMinOverTime, MetricsMaxOverTime:
			v = g.val[i]
		case MetricsSumOverTime:
			v = compensatedSum(g.val[i], g.comp[i])
		case MetricsAvgOverTime:
			if g.count[i] == 0 {
				continue
			}
			v = compensatedSum(g.val[i], g.comp[i]) / float64(g.count[i])
		}
		if math.IsNaN(v) {
			continue
		}
		s.Samples = append(s.Samples, Sample{TimestampMs: m.timestampMs(i), Value: v})
	}
	if len(s.Samples) == 0 {
		return out
	}
	return append(out, s)
}

func cloneMetricsValue(v Value) Value {
	v.Arr = slices.Clone(v.Arr)
	return v
}

// compareMetricsLabels orders label lists: label by label, key first then value,
// a shorter list before its extensions.
func compareMetricsLabels(a, b []Attr) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmp.Compare(a[i].Key, b[i].Key); c != 0 {
			return c
		}
		if c := compareMetricsValues(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// compareMetricsValues orders values by type, then by value.
func compareMetricsValues(a, b Value) int {
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	switch a.Type {
	case TypeString:
		return cmp.Compare(a.S, b.S)
	case TypeInt, TypeDuration, TypeStatus, TypeKind:
		return cmp.Compare(a.I, b.I)
	case TypeFloat:
		return cmp.Compare(a.F, b.F)
	case TypeBool:
		return cmp.Compare(metricsBoolInt(a.B), metricsBoolInt(b.B))
	case TypeArray:
		for i := 0; i < len(a.Arr) && i < len(b.Arr); i++ {
			if c := compareMetricsValues(a.Arr[i], b.Arr[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(a.Arr), len(b.Arr))
	}
	return 0
}

func metricsBoolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Value encoding, used for group keys and in Marshal: a type byte, then
// nothing (nil), uvarint length + bytes (string), zigzag varint (int,
// duration, status, kind), 8 bytes little-endian IEEE 754 (float), one byte
// (bool), or uvarint count + elements (array, whose elements are scalars:
// nested arrays and unknown types are encoded as nil).

func appendMetricsValue(b []byte, v Value, depth int) []byte {
	t := v.Type
	if t > TypeArray || (t == TypeArray && depth > 0) {
		t = TypeNil
	}
	b = append(b, byte(t))
	switch t {
	case TypeString:
		b = binary.AppendUvarint(b, uint64(len(v.S)))
		b = append(b, v.S...)
	case TypeInt, TypeDuration, TypeStatus, TypeKind:
		b = binary.AppendVarint(b, v.I)
	case TypeFloat:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.F))
	case TypeBool:
		b = append(b, byte(metricsBoolInt(v.B)))
	case TypeArray:
		b = binary.AppendUvarint(b, uint64(len(v.Arr)))
		for _, e := range v.Arr {
			b = appendMetricsValue(b, e, depth+1)
		}
	}
	return b
}

// decodeMetricsKey decodes exactly n values from key.
func decodeMetricsKey(key []byte, n int) ([]Value, error) {
	d := &metricsDecoder{b: key}
	vals := make([]Value, 0, n)
	for range n {
		vals = append(vals, d.value(0))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes in series key")
	}
	return vals, d.err
}

// metricsDecoder reads the binary state format; the first error sticks and
// later reads return zero values.
type metricsDecoder struct {
	b   []byte
	err error
}

func (d *metricsDecoder) fail(msg string) {
	if d.err == nil {
		d.err = errors.New(msg)
	}
	d.b = nil
}

func (d *metricsDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *metricsDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *metricsDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("unexpected end of data")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *metricsDecoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("unexpected end of data")
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *metricsDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length beyond end of data")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *metricsDecoder) value(depth int) Value {
	t := Type(d.byte())
	switch t {
	case TypeNil:
		return Value{}
	case TypeString:
		return Value{Type: t, S: string(d.bytes())}
	case TypeInt, TypeDuration, TypeStatus, TypeKind:
		return Value{Type: t, I: d.varint()}
	case TypeFloat:
		return Value{Type: t, F: d.float()}
	case TypeBool:
		switch d.byte() {
		case 0:
			return Value{Type: t}
		case 1:
			return Value{Type: t, B: true}
		}
		d.fail("bad bool")
	case TypeArray:
		if depth > 0 {
			d.fail("nested array")
			return Value{}
		}
		n := d.uvarint()
		if n > uint64(len(d.b)) { // every element takes a byte at least
			d.fail("array length beyond end of data")
			return Value{}
		}
		v := Value{Type: t, Arr: make([]Value, 0, n)}
		for range n {
			v.Arr = append(v.Arr, d.value(depth+1))
		}
		return v
	default:
		d.fail("bad value type")
	}
	return Value{}
}

// metricsMagic starts the binary state, followed by a version byte.
const (
	metricsMagic   = "TQLM"
	metricsVersion = 1
)

// Marshal encodes m's partial state (not its query) compactly, to be
// shipped to another process and merged there with MergeMarshaled. The
// encoding is deterministic.
//
// Layout (varints as in encoding/binary): magic "TQLM", version 1; the
// function byte, the attribute, the quantiles (count, float64 each) and the
// by() keys (count, strings); start, end and step; a truncated byte; the
// number of groups, then per group in key order its key (length + the
// encoded by() values) and its non-empty intervals: their count, then per
// interval the gap since the previous one and its state — a count (rate,
// count), a float64 (min, max), float64 sum and compensation (sum), count,
// sum and compensation (avg), or min, max, the number of buckets and per
// bucket its key (first zigzag, then the gap since the previous key) and
// count (quantile, histogram).
func (m *Metrics) Marshal() ([]byte, error) {
	b := make([]byte, 0, 64+len(m.groups)*32)
	b = append(b, metricsMagic...)
	b = append(b, metricsVersion, byte(m.spec.Func))
	b = appendMetricsString(b, m.spec.Attr)
	b = binary.AppendUvarint(b, uint64(len(m.spec.Quantiles)))
	for _, q := range m.spec.Quantiles {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(q))
	}
	b = binary.AppendUvarint(b, uint64(len(m.spec.By)))
	for _, s := range m.spec.By {
		b = appendMetricsString(b, s)
	}
	b = binary.AppendUvarint(b, m.r.Start)
	b = binary.AppendUvarint(b, m.r.End)
	b = binary.AppendUvarint(b, m.r.Step)
	b = append(b, byte(metricsBoolInt(m.truncated)))

	keys := make([]string, 0, len(m.groups))
	for k := range m.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendMetricsString(b, k)
		b = m.appendGroup(b, m.groups[k])
	}
	return b, nil
}

func appendMetricsString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMetricsFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// filled reports whether interval i of g holds anything.
func (m *Metrics) filled(g *metricsGroup, i int) bool {
	switch m.spec.Func {
	case MetricsRate, MetricsCountOverTime, MetricsAvgOverTime:
		return g.count[i] != 0
	case MetricsMinOverTime, MetricsMaxOverTime, MetricsSumOverTime:
		return !math.IsNaN(g.val[i])
	default:
		return g.hist[i] != nil
	}
}

func (m *Metrics) appendGroup(b []byte, g *metricsGroup) []byte {
	filled := 0
	for i := 0; i < m.n; i++ {
		if m.filled(g, i) {
			filled++
		}
	}
	b = binary.AppendUvarint(b, uint64(filled))
	prev := -1
	for i := 0; i < m.n; i++ {
		if !m.filled(g, i) {
			continue
		}
		b = binary.AppendUvarint(b, uint64(i-prev-1))
		prev = i
		switch m.spec.Func {
		case MetricsRate, MetricsCountOverTime:
			b = binary.AppendUvarint(b, g.count[i])
		case MetricsMinOverTime, MetricsMaxOverTime:
			b = appendMetricsFloat(b, g.val[i])
		case MetricsSumOverTime:
			b = appendMetricsFloat(appendMetricsFloat(b, g.val[i]), g.comp[i])
		case MetricsAvgOverTime:
			b = binary.AppendUvarint(b, g.count[i])
			b = appendMetricsFloat(appendMetricsFloat(b, g.val[i]), g.comp[i])
		case MetricsQuantileOverTime, MetricsHistogramOverTime:
			h := g.hist[i]
			b = appendMetricsFloat(appendMetricsFloat(b, h.min), h.max)
			b = binary.AppendUvarint(b, uint64(len(h.keys)))
			for j, k := range h.keys {
				if j == 0 {
					b = binary.AppendVarint(b, int64(k))
				} else {
					b = binary.AppendUvarint(b, uint64(k-h.keys[j-1]-1))
				}
				b = binary.AppendUvarint(b, h.counts[j])
			}
		}
	}
	return b
}

// MergeMarshaled decodes a state written by Marshal and merges it into m.
// It fails, leaving m unchanged, if the data is not a valid state or is for
// another query or range.
func (m *Metrics) MergeMarshaled(b []byte) error {
	o, err := m.unmarshal(b)
	if err != nil {
		return fmt.Errorf("decoding metrics state: %w", err)
	}
	return m.Merge(o)
}

// unmarshal decodes b into a new accumulator for m's query and range.
func (m *Metrics) unmarshal(b []byte) (*Metrics, error) {
	if len(b) < len(metricsMagic)+1 || !bytes.Equal(b[:len(metricsMagic)], []byte(metricsMagic)) {
		return nil, errors.New("not a metrics state")
	}
	if v := b[len(metricsMagic)]; v != metricsVersion {
		return nil, fmt.Errorf("unsupported metrics state version %d", v)
	}
	d := &metricsDecoder{b: b[len(metricsMagic)+1:]}

	var spec MetricsSpec
	spec.Func = MetricsFunc(d.byte())
	spec.Attr = string(d.bytes())
	if nq := d.uvarint(); nq != uint64(len(m.spec.Quantiles)) {
		d.fail("metrics state is for a different query")
	}
	for range len(m.spec.Quantiles) {
		spec.Quantiles = append(spec.Quantiles, d.float())
	}
	if nb := d.uvarint(); nb != uint64(len(m.spec.By)) {
		d.fail("metrics state is for a different query")
	}
	for range len(m.spec.By) {
		spec.By = append(spec.By, string(d.bytes()))
	}
	r := MetricsRange{Start: d.uvarint(), End: d.uvarint(), Step: d.uvarint()}
	truncated := d.byte()
	if d.err != nil {
		return nil, d.err
	}
	if err := m.sameQuery(spec, r); err != nil {
		return nil, err
	}
	if truncated > 1 {
		return nil, errors.New("bad truncated flag")
	}

	o := &Metrics{
		spec: m.spec, r: m.r, n: m.n, rateMult: m.rateMult, scale: m.scale, res: m.res,
		maxSeries: m.maxSeries, groups: make(map[string]*metricsGroup), truncated: truncated == 1,
	}
	ngroups := d.uvarint()
	prevKey := ""
	var scratch *metricsGroup
	for gi := uint64(0); gi < ngroups && d.err == nil; gi++ {
		raw := d.bytes()
		vals, err := decodeMetricsKey(raw, len(m.spec.By))
		if err != nil {
			return nil, fmt.Errorf("bad series key: %w", err)
		}
		var kb []byte
		for _, v := range vals {
			kb = appendMetricsValue(kb, v, 0)
		}
		key := string(kb)
		if !bytes.Equal(kb, raw) || (gi > 0 && key <= prevKey) {
			return nil, errors.New("series keys not canonical or not in order")
		}
		prevKey = key
		if o.full() {
			// Over the cap: validate the group into a reused scratch group
			// and drop it.
			if scratch == nil {
				scratch = o.newGroup(nil)
			}
			if err := o.decodeGroup(d, scratch); err != nil {
				return nil, err
			}
			o.truncated = true
			continue
		}
		g := o.newGroup(vals)
		if err := o.decodeGroup(d, g); err != nil {
			return nil, err
		}
		o.groups[key] = g
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("trailing bytes after metrics state")
	}
	return o, nil
}

// decodeGroup reads a group's intervals into g.
func (m *Metrics) decodeGroup(d *metricsDecoder, g *metricsGroup) error {
	filled := d.uvarint()
	if filled > uint64(m.n) {
		d.fail("more intervals than the range has")
	}
	prev := -1
	for range filled {
		if d.err != nil {
			break
		}
		gap := d.uvarint()
		if gap >= uint64(m.n-prev-1) {
			d.fail("interval out of range")
			break
		}
		i := prev + 1 + int(gap)
		prev = i
		switch m.spec.Func {
		case MetricsRate, MetricsCountOverTime:
			g.count[i] = d.uvarint()
			if g.count[i] == 0 && d.err == nil {
				d.fail("empty interval")
			}
		case MetricsMinOverTime, MetricsMaxOverTime:
			g.val[i] = d.float()
			if math.IsNaN(g.val[i]) && d.err == nil {
				d.fail("NaN value")
			}
		case MetricsSumOverTime:
			g.val[i], g.comp[i] = d.float(), d.float()
			if math.IsNaN(g.val[i]) && d.err == nil {
				d.fail("NaN value")
			}
		case MetricsAvgOverTime:
			g.count[i] = d.uvarint()
			g.val[i], g.comp[i] = d.float(), d.float()
			if g.count[i] == 0 && d.err == nil {
				d.fail("empty interval")
			}
		case MetricsQuantileOverTime, MetricsHistogramOverTime:
			g.hist[i] = m.decodeHist(d)
		}
	}
	return d.err
}

func (m *Metrics) decodeHist(d *metricsDecoder) *metricsHist {
	h := &metricsHist{min: d.float(), max: d.float()}
	nb := d.uvarint()
	if d.err != nil {
		return nil
	}
	if math.IsNaN(h.min) || math.IsNaN(h.max) || h.min > h.max {
		d.fail("bad histogram extremes")
		return nil
	}
	if nb == 0 || nb > uint64(len(d.b))/2 { // a bucket takes two bytes at least
		d.fail("bad histogram bucket count")
		return nil
	}
	h.keys = make([]int32, 0, nb)
	h.counts = make([]uint64, 0, nb)
	var k int64
	for j := range nb {
		if j == 0 {
			k = d.varint()
		} else {
			gap := d.uvarint()
			if gap > math.MaxInt32 {
				d.fail("bad histogram bucket")
				return nil
			}
			k += int64(gap) + 1
		}
		c := d.uvarint()
		if d.err != nil {
			return nil
		}
		if k < math.MinInt32 || k > math.MaxInt32 || !m.validBucketKey(int32(k)) || c == 0 {
			d.fail("bad histogram bucket")
			return nil
		}
		h.keys = append(h.keys, int32(k))
		h.counts = append(h.counts, c)
	}
	return h
}
