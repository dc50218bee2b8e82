package traceql

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

const metricsSec = uint64(1e9)

func mustMetrics(t testing.TB, spec MetricsSpec, r MetricsRange) *Metrics {
	t.Helper()
	m, err := newMetrics(spec, r)
	if err != nil {
		t.Fatalf("newMetrics(%+v, %+v): %v", spec, r, err)
	}
	return m
}

func metricsStr(s string) Value { return Value{Type: TypeString, S: s} }

func metricsFloat(f float64) Value { return Value{Type: TypeFloat, F: f} }

func TestNewMetricsErrors(t *testing.T) {
	rate := MetricsSpec{Func: MetricsRate}
	quant := func(qs ...float64) MetricsSpec {
		return MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: qs}
	}
	ok := MetricsRange{Start: 100 * metricsSec, End: 200 * metricsSec, Step: 10 * metricsSec}
	for _, tc := range []struct {
		name string
		spec MetricsSpec
		r    MetricsRange
		want string // substring of the error; empty for success
	}{
		{"ok", rate, ok, ""},
		{"zero step", rate, MetricsRange{Start: 1, End: 2, Step: 0}, "step"},
		{"end before start", rate, MetricsRange{Start: 2, End: 1, Step: 1}, "end must be greater than start"},
		{"empty range", rate, MetricsRange{Start: 2, End: 2, Step: 1}, "end must be greater than start"},
		{"11000 intervals", rate, MetricsRange{Start: 0, End: 11000 * metricsSec, Step: metricsSec}, ""},
		{"11001 intervals", rate, MetricsRange{Start: 0, End: 11000*metricsSec + 1, Step: metricsSec}, "step too small"},
		{"huge", rate, MetricsRange{Start: 0, End: math.MaxUint64, Step: 1}, "11000"},
		{"huge step", rate, MetricsRange{Start: 0, End: math.MaxUint64, Step: math.MaxUint64}, ""},
		{"instant", rate, MetricsRange{Start: 5, End: 7 * metricsSec, Step: 7*metricsSec - 5}, ""},
		{"quantiles ok", quant(0, 0.5, 1), ok, ""},
		{"no quantile", quant(), ok, "at least one quantile"},
		{"quantile > 1", quant(0.5, 1.01), ok, "out of range"},
		{"quantile < 0", quant(-0.1), ok, "out of range"},
		{"quantile NaN", quant(math.NaN()), ok, "out of range"},
		{"quantiles to rate", MetricsSpec{Func: MetricsRate, Quantiles: []float64{0.5}}, ok, "quantiles given to rate"},
		{"unknown func", MetricsSpec{Func: 0}, ok, "unknown metrics function"},
		{"unknown func 2", MetricsSpec{Func: MetricsHistogramOverTime + 1}, ok, "unknown metrics function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newMetrics(tc.spec, tc.r)
			if tc.want == "" {
				if err != nil || m == nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMetricsIntervalEdges(t *testing.T) {
	// 10s range, 3s step: intervals [0,3) [3,6) [6,9) [9,10).
	start := 1_700_000_000 * metricsSec
	r := MetricsRange{Start: start, End: start + 10*metricsSec, Step: 3 * metricsSec}
	m := mustMetrics(t, MetricsSpec{Func: MetricsCountOverTime}, r)
	if m.n != 4 {
		t.Fatalf("intervals = %d, want 4", m.n)
	}
	m.add(start-1, nil, 0)                    // before Start: ignored
	m.add(start, nil, 0)                      // == Start: interval 0
	m.add(start+3*metricsSec-1, nil, 0)       // last ns of interval 0
	m.add(start+3*metricsSec, nil, 0)         // first ns of interval 1
	m.add(start+10*metricsSec-1, nil, 0)      // last ns of the range: interval 3
	m.add(start+10*metricsSec, nil, 0)        // == End: ignored
	m.add(start+20*metricsSec, nil, 0)        // after End: ignored
	m.add(start, []Value{metricsStr("x")}, 0) // wrong by() arity: ignored

	got := m.Series()
	want := []Series{{
		Labels: []Attr{{Key: "__name__", Value: metricsStr("count_over_time")}},
		Samples: []Sample{
			{TimestampMs: 1_700_000_000_000, Value: 2},
			{TimestampMs: 1_700_000_003_000, Value: 1},
			{TimestampMs: 1_700_000_006_000, Value: 0},
			{TimestampMs: 1_700_000_009_000, Value: 1},
		},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestMetricsRate(t *testing.T) {
	r := MetricsRange{Start: 0, End: 60 * metricsSec, Step: 30 * metricsSec}
	m := mustMetrics(t, MetricsSpec{Func: MetricsRate, By: []string{"resource.service.name"}}, r)
	for range 3 {
		m.add(1, []Value{metricsStr("a")}, math.NaN()) // v is ignored by rate
	}
	m.add(31*metricsSec, []Value{metricsStr("b")}, 0)
	got := m.Series()
	want := []Series{
		{Labels: []Attr{{Key: "resource.service.name", Value: metricsStr("a")}}, Samples: []Sample{{0, 3.0 / 30}, {30_000, 0}}},
		{Labels: []Attr{{Key: "resource.service.name", Value: metricsStr("b")}}, Samples: []Sample{{0, 0}, {30_000, 1.0 / 30}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if m.Truncated() {
		t.Fatal("Truncated")
	}
}

func TestMetricsValueFunctions(t *testing.T) {
	r := MetricsRange{Start: 0, End: 40 * metricsSec, Step: 10 * metricsSec}
	// Interval 0: 1, 4, 2.5; interval 1: nothing; interval 2: -3; interval 3: only NaN/Inf.
	obs := []struct {
		ts uint64
		v  float64
	}{
		{0, 1}, {5 * metricsSec, 4}, {9 * metricsSec, 2.5}, {25 * metricsSec, -3},
		{35 * metricsSec, math.NaN()}, {35 * metricsSec, math.Inf(1)}, {36 * metricsSec, math.Inf(-1)},
	}
	want := map[MetricsFunc][]Sample{
		MetricsMinOverTime: {{0, 1}, {20_000, -3}},
		MetricsMaxOverTime: {{0, 4}, {20_000, -3}},
		MetricsSumOverTime: {{0, 7.5}, {20_000, -3}},
		MetricsAvgOverTime: {{0, 2.5}, {20_000, -3}},
	}
	for f, samples := range want {
		t.Run(f.name(), func(t *testing.T) {
			m := mustMetrics(t, MetricsSpec{Func: f, Attr: "span.x"}, r)
			for _, o := range obs {
				m.add(o.ts, nil, o.v)
			}
			got := m.Series()
			w := []Series{{Labels: []Attr{{Key: "__name__", Value: metricsStr(f.name())}}, Samples: samples}}
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("got %+v\nwant %+v", got, w)
			}

			// A series whose values are all NaN does not exist.
			m = mustMetrics(t, MetricsSpec{Func: f, Attr: "span.x"}, r)
			m.add(0, nil, math.NaN())
			if s := m.Series(); len(s) != 0 || len(m.groups) != 0 {
				t.Fatalf("NaN-only series: %+v", s)
			}
		})
	}
}

func TestMetricsSumCompensated(t *testing.T) {
	r := MetricsRange{Start: 0, End: metricsSec, Step: metricsSec}
	m := mustMetrics(t, MetricsSpec{Func: MetricsAvgOverTime, Attr: "span.x"}, r)
	s := mustMetrics(t, MetricsSpec{Func: MetricsSumOverTime, Attr: "span.x"}, r)
	for _, v := range []float64{1e16, 1, 1, 1, 1, -1e16} {
		m.add(0, nil, v)
		s.add(0, nil, v)
	}
	if got := s.Series()[0].Samples[0].Value; got != 4 {
		t.Fatalf("sum = %v, want 4", got)
	}
	if got := m.Series()[0].Samples[0].Value; got != 4.0/6 {
		t.Fatalf("avg = %v, want %v", got, 4.0/6)
	}
}

func TestMetricsLabels(t *testing.T) {
	r := MetricsRange{Start: 0, End: metricsSec, Step: metricsSec}
	by := []string{"span.a", "resource.b"}
	nilV := Value{}

	m := mustMetrics(t, MetricsSpec{Func: MetricsCountOverTime, By: by}, r)
	m.add(0, []Value{metricsStr("x"), {Type: TypeInt, I: 7}}, 0)
	m.add(0, []Value{nilV, {Type: TypeInt, I: 7}}, 0)
	m.add(0, []Value{metricsStr("x"), nilV}, 0)
	m.add(0, []Value{nilV, nilV}, 0)
	m.add(0, []Value{nilV, nilV}, 0)
	m.add(0, []Value{{Type: TypeBool, B: true}, nilV}, 0)
	var got [][]Attr
	for _, s := range m.Series() {
		got = append(got, s.Labels)
	}
	want := [][]Attr{
		{{Key: "resource.b", Value: Value{Type: TypeInt, I: 7}}},
		{{Key: "span.a", Value: nilV}}, // all nil: the first by() key, nil
		{{Key: "span.a", Value: metricsStr("x")}},
		{{Key: "span.a", Value: metricsStr("x")}, {Key: "resource.b", Value: Value{Type: TypeInt, I: 7}}},
		{{Key: "span.a", Value: Value{Type: TypeBool, B: true}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("labels:\n got %+v\nwant %+v", got, want)
	}

	// quantile_over_time: by() labels then p, no __name__, no forced nil;
	// a repeated quantile gives one series.
	q := mustMetrics(t, MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.9, 0.5, 0.9}, By: by[:1]}, r)
	q.add(0, []Value{nilV}, 1)
	q.add(0, []Value{metricsStr("x")}, 1)
	got = nil
	for _, s := range q.Series() {
		got = append(got, s.Labels)
	}
	want = [][]Attr{
		{{Key: "p", Value: metricsFloat(0.5)}},
		{{Key: "p", Value: metricsFloat(0.9)}},
		{{Key: "span.a", Value: metricsStr("x")}, {Key: "p", Value: metricsFloat(0.5)}},
		{{Key: "span.a", Value: metricsStr("x")}, {Key: "p", Value: metricsFloat(0.9)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("quantile labels:\n got %+v\nwant %+v", got, want)
	}

	// No by(): Tempo's {__name__="…"} for the plain functions, nothing for
	// quantiles and histograms.
	for f := MetricsRate; f <= MetricsHistogramOverTime; f++ {
		spec := MetricsSpec{Func: f, Attr: "duration"}
		if f == MetricsQuantileOverTime {
			spec.Quantiles = []float64{0.5}
		}
		m := mustMetrics(t, spec, r)
		m.add(0, nil, 1)
		s := m.Series()
		if len(s) != 1 {
			t.Fatalf("%s: %d series", f.name(), len(s))
		}
		var want []Attr
		switch f {
		case MetricsQuantileOverTime:
			want = []Attr{{Key: "p", Value: metricsFloat(0.5)}}
		case MetricsHistogramOverTime:
			want = []Attr{{Key: "__bucket", Value: metricsFloat(math.Exp2(30) / 1e9)}}
		default:
			want = []Attr{{Key: "__name__", Value: metricsStr(f.name())}}
		}
		if !reflect.DeepEqual(s[0].Labels, want) {
			t.Errorf("%s: labels %+v, want %+v", f.name(), s[0].Labels, want)
		}
	}
}

func TestMetricsValueKeys(t *testing.T) {
	// Every value type survives the key encoding, in labels and through Marshal.
	vals := []Value{
		{},
		metricsStr(""), metricsStr("a\x00b"),
		{Type: TypeInt, I: -5}, {Type: TypeInt, I: math.MaxInt64},
		metricsFloat(-0.25), metricsFloat(math.Inf(1)),
		{Type: TypeBool}, {Type: TypeBool, B: true},
		{Type: TypeDuration, I: 1500}, {Type: TypeStatus, I: 2}, {Type: TypeKind, I: 3},
		{Type: TypeArray, Arr: []Value{metricsStr("x"), {Type: TypeInt, I: 1}, {}}},
		{Type: TypeArray, Arr: []Value{}},
	}
	r := MetricsRange{Start: 0, End: metricsSec, Step: metricsSec}
	m := mustMetrics(t, MetricsSpec{Func: MetricsCountOverTime, By: []string{"k"}}, r)
	for _, v := range vals {
		m.add(0, []Value{v}, 0)
	}
	// Irrelevant fields are not part of a value; a nested array is nil.
	m.add(0, []Value{{Type: TypeString, S: "a\x00b", I: 9, F: 1}}, 0)
	m.add(0, []Value{{Type: TypeArray, Arr: []Value{{Type: TypeArray}}}}, 0)
	if len(m.groups) != len(vals)+1 {
		t.Fatalf("%d groups, want %d", len(m.groups), len(vals)+1)
	}
	b, _ := m.Marshal()
	c := mustMetrics(t, MetricsSpec{Func: MetricsCountOverTime, By: []string{"k"}}, r)
	if err := c.MergeMarshaled(b); err != nil {
		t.Fatal(err)
	}
	ss := m.Series()
	if !reflect.DeepEqual(ss, c.Series()) {
		t.Fatalf("round trip differs:\n%+v\n%+v", ss, c.Series())
	}
	for i := 1; i < len(ss); i++ {
		if compareMetricsLabels(ss[i-1].Labels, ss[i].Labels) >= 0 {
			t.Fatalf("series not sorted at %d: %+v", i, ss)
		}
	}
}

func TestMetricsHistogramBuckets(t *testing.T) {
	r := MetricsRange{Start: 0, End: 20 * metricsSec, Step: 10 * metricsSec}
	type bucket struct {
		label  float64
		counts []float64
	}
	check := func(t *testing.T, m *Metrics, want []bucket) {
		t.Helper()
		ss := m.Series()
		if len(ss) != len(want) {
			t.Fatalf("%d series, want %d: %+v", len(ss), len(want), ss)
		}
		for i, w := range want {
			s := ss[i]
			wl := []Attr{{Key: "__bucket", Value: metricsFloat(w.label)}}
			if !reflect.DeepEqual(s.Labels, wl) {
				t.Errorf("series %d labels %+v, want %+v", i, s.Labels, wl)
			}
			var counts []float64
			for _, smp := range s.Samples {
				counts = append(counts, smp.Value)
			}
			if !slices.Equal(counts, w.counts) {
				t.Errorf("bucket %v: counts %v, want %v", w.label, counts, w.counts)
			}
		}
	}

	t.Run("duration", func(t *testing.T) {
		m := mustMetrics(t, MetricsSpec{Func: MetricsHistogramOverTime, Attr: "duration"}, r)
		for _, ns := range []uint64{0, 1, 2, 3, 4, 1000, 1024, 1025, 1e9} {
			m.add(0, nil, float64(ns)/1e9)
		}
		m.add(15*metricsSec, nil, 1000e-9)
		check(t, m, []bucket{
			{0, []float64{1, 0}},
			{1e-9, []float64{1, 0}},
			{2e-9, []float64{1, 0}},
			{4e-9, []float64{2, 0}},          // 3ns, 4ns
			{1024e-9, []float64{2, 1}},       // 1000ns, 1024ns
			{2048e-9, []float64{1, 0}},       // 1025ns
			{1073741824e-9, []float64{1, 0}}, // 1s -> 2^30ns
		})
	})
	t.Run("attribute", func(t *testing.T) {
		m := mustMetrics(t, MetricsSpec{Func: MetricsHistogramOverTime, Attr: "span.size"}, r)
		for _, v := range []float64{-3, 0.3, 3, 5, 8, 1e6} {
			m.add(0, nil, v)
		}
		check(t, m, []bucket{
			{-2, []float64{1, 0}}, // -3 in [-4, -2)
			{0.5, []float64{1, 0}},
			{4, []float64{1, 0}},
			{8, []float64{2, 0}},
			{1 << 20, []float64{1, 0}},
		})
	})
}

func exactMetricsQuantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + (sorted[i+1]-sorted[i])*f
}

func TestMetricsQuantileAccuracy(t *testing.T) {
	qs := []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}
	gens := map[string]struct {
		attr string
		gen  func(*rand.Rand) float64
	}{
		// Durations: log-normal around 5ms, whole nanoseconds, in seconds.
		"duration lognormal": {"duration", func(r *rand.Rand) float64 {
			return math.Round(math.Exp(r.NormFloat64()*1.5)*5e6) / 1e9
		}},
		"attr uniform":     {"span.size", func(r *rand.Rand) float64 { return 1 + r.Float64()*999 }},
		"attr exponential": {"span.x", func(r *rand.Rand) float64 { return r.ExpFloat64() * 0.01 }},
		"attr negative":    {"span.x", func(r *rand.Rand) float64 { return -1 - r.Float64()*100 }},
		"attr bimodal": {"span.x", func(r *rand.Rand) float64 {
			if r.IntN(2) == 0 {
				return 10 + r.NormFloat64()
			}
			return 1000 + r.NormFloat64()*50
		}},
	}
	for name, g := range gens {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			r := MetricsRange{Start: 0, End: 30 * metricsSec, Step: 10 * metricsSec}
			m := mustMetrics(t, MetricsSpec{Func: MetricsQuantileOverTime, Attr: g.attr, Quantiles: qs}, r)
			perInterval := make([][]float64, 3)
			for i := range 3 {
				n := []int{20000, 300, 7}[i] // large, small and tiny samples
				for range n {
					v := g.gen(rng)
					perInterval[i] = append(perInterval[i], v)
					m.add(uint64(i)*10*metricsSec+uint64(rng.IntN(int(10*metricsSec))), nil, v)
				}
				sort.Float64s(perInterval[i])
			}
			ss := m.Series()
			if len(ss) != len(qs) {
				t.Fatalf("%d series, want %d", len(ss), len(qs))
			}
			worst := make([]float64, 3)
			for j, s := range ss {
				q := qs[j]
				if s.Labels[0].Value.F != q {
					t.Fatalf("series %d is p=%v, want %v", j, s.Labels[0].Value.F, q)
				}
				for i, smp := range s.Samples {
					sorted := perInterval[i]
					exact := exactMetricsQuantile(sorted, q)
					// Any value between the neighbouring order statistics is a
					// correct quantile; measure against the nearest of them.
					lo := sorted[int(math.Floor(q*float64(len(sorted)-1)))]
					hi := sorted[int(math.Ceil(q*float64(len(sorted)-1)))]
					est := smp.Value
					var rel float64
					switch {
					case est < lo:
						rel = (lo - est) / math.Abs(lo)
					case est > hi:
						rel = (est - hi) / math.Abs(hi)
					}
					worst[i] = math.Max(worst[i], rel)
					if rel > 0.02 {
						t.Errorf("interval %d (n=%d) p%v: got %v, exact %v (rel err %.4f)", i, len(sorted), q, est, exact, rel)
					}
					if q == 0 && est != sorted[0] || q == 1 && est != sorted[len(sorted)-1] {
						t.Errorf("interval %d p%v: got %v, want the exact extreme", i, q, est)
					}
				}
			}
			t.Logf("worst relative error by sample size 20000/300/7: %.5f %.5f %.5f", worst[0], worst[1], worst[2])
		})
	}
}

func TestMetricsQuantileEmptyIntervals(t *testing.T) {
	r := MetricsRange{Start: 0, End: 30 * metricsSec, Step: 10 * metricsSec}
	m := mustMetrics(t, MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.5}}, r)
	m.add(10*metricsSec, nil, 0.25)
	want := []Series{{
		Labels:  []Attr{{Key: "p", Value: metricsFloat(0.5)}},
		Samples: []Sample{{0, 0}, {10_000, 0.25}, {20_000, 0}}, // Tempo reports 0 where empty
	}}
	if got := m.Series(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

var metricsTestSpecs = []MetricsSpec{
	{Func: MetricsRate, By: []string{"resource.service.name", "span.k"}},
	{Func: MetricsCountOverTime, By: []string{"name"}},
	{Func: MetricsMinOverTime, Attr: "duration", By: []string{"name"}},
	{Func: MetricsMaxOverTime, Attr: "span.x", By: []string{"name"}},
	{Func: MetricsAvgOverTime, Attr: "span.x", By: []string{"name"}},
	{Func: MetricsSumOverTime, Attr: "span.x"},
	{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.5, 0.99}, By: []string{"name"}},
	{Func: MetricsHistogramOverTime, Attr: "duration", By: []string{"name"}},
}

type metricsObs struct {
	ts uint64
	by []Value
	v  float64
}

func randomMetricsObs(rng *rand.Rand, spec MetricsSpec, r MetricsRange, n int) []metricsObs {
	obs := make([]metricsObs, n)
	for i := range obs {
		by := make([]Value, len(spec.By))
		for j := range by {
			switch rng.IntN(4) {
			case 0: // nil
			case 1:
				by[j] = Value{Type: TypeInt, I: int64(rng.IntN(3))}
			default:
				by[j] = metricsStr(string(rune('a' + rng.IntN(4))))
			}
		}
		// Dyadic values keep sums exact whatever the order of addition.
		v := float64(rng.IntN(1<<16)-1000) / 1024
		if spec.Attr == "duration" {
			v = float64(rng.IntN(1<<30)) / 1e9
		}
		if rng.IntN(50) == 0 {
			v = math.NaN()
		}
		obs[i] = metricsObs{ts: r.Start + uint64(rng.Int64N(int64(r.End-r.Start+metricsSec))) - metricsSec/2, by: by, v: v}
	}
	return obs
}

func TestMetricsMergeEquivalence(t *testing.T) {
	r := MetricsRange{Start: 1000 * metricsSec, End: 1095 * metricsSec, Step: 10 * metricsSec}
	for _, spec := range metricsTestSpecs {
		t.Run(spec.Func.name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(spec.Func)))
			obs := randomMetricsObs(rng, spec, r, 5000)
			all := mustMetrics(t, spec, r)
			parts := []*Metrics{mustMetrics(t, spec, r), mustMetrics(t, spec, r), mustMetrics(t, spec, r)}
			for _, o := range obs {
				all.add(o.ts, o.by, o.v)
				parts[rng.IntN(len(parts))].add(o.ts, o.by, o.v)
			}
			want := all.Series()
			if len(want) == 0 {
				t.Fatal("no series")
			}
			wantBytes, err := all.Marshal()
			if err != nil {
				t.Fatal(err)
			}

			// In-process Merge.
			merged := mustMetrics(t, spec, r)
			for _, p := range parts {
				if err := merged.Merge(p); err != nil {
					t.Fatal(err)
				}
			}
			if got := merged.Series(); !reflect.DeepEqual(got, want) {
				t.Fatalf("Merge differs:\n got %+v\nwant %+v", got, want)
			}
			if b, _ := merged.Marshal(); !bytes.Equal(b, wantBytes) {
				t.Fatal("Marshal after Merge differs")
			}

			// Through Marshal/MergeMarshaled, including an empty state.
			shipped := mustMetrics(t, spec, r)
			for _, p := range append(slices.Clone(parts), mustMetrics(t, spec, r)) {
				b, err := p.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if err := shipped.MergeMarshaled(b); err != nil {
					t.Fatal(err)
				}
			}
			if got := shipped.Series(); !reflect.DeepEqual(got, want) {
				t.Fatalf("MergeMarshaled differs:\n got %+v\nwant %+v", got, want)
			}
			c := mustMetrics(t, spec, r)
			if err := c.MergeMarshaled(wantBytes); err != nil {
				t.Fatal(err)
			}
			if got := c.Series(); !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, want)
			}
			t.Logf("state of %d observations: %d bytes", len(obs), len(wantBytes))

			// Merge into a non-empty accumulator.
			m2 := mustMetrics(t, spec, r)
			if err := m2.Merge(parts[0]); err != nil {
				t.Fatal(err)
			}
			if err := m2.Merge(parts[1]); err != nil {
				t.Fatal(err)
			}
			p2 := mustMetrics(t, spec, r)
			if err := p2.Merge(parts[2]); err != nil {
				t.Fatal(err)
			}
			if err := p2.Merge(m2); err != nil {
				t.Fatal(err)
			}
			if got := p2.Series(); !reflect.DeepEqual(got, want) {
				t.Fatalf("chained Merge differs")
			}

			// Merge leaves its argument untouched and unshared.
			before, _ := parts[0].Marshal()
			m3 := mustMetrics(t, spec, r)
			_ = m3.Merge(parts[0])
			m3.add(r.Start, make([]Value, len(spec.By)), 1)
			_ = m3.Merge(parts[1])
			if after, _ := parts[0].Marshal(); !bytes.Equal(before, after) {
				t.Fatal("Merge modified its argument")
			}
		})
	}
}

func TestMetricsMergeErrors(t *testing.T) {
	r := MetricsRange{Start: 0, End: 100 * metricsSec, Step: 10 * metricsSec}
	spec := MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.5}, By: []string{"name"}}
	m := mustMetrics(t, spec, r)
	m.add(0, []Value{metricsStr("x")}, 0.1)
	m.add(55*metricsSec, []Value{metricsStr("y")}, 0.2)
	valid, _ := m.Marshal()

	others := map[string]*Metrics{
		"func":      mustMetrics(t, MetricsSpec{Func: MetricsHistogramOverTime, Attr: "duration", By: []string{"name"}}, r),
		"attr":      mustMetrics(t, MetricsSpec{Func: MetricsQuantileOverTime, Attr: "span.x", Quantiles: []float64{0.5}, By: []string{"name"}}, r),
		"quantiles": mustMetrics(t, MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.9}, By: []string{"name"}}, r),
		"more q":    mustMetrics(t, MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.5, 0.9}, By: []string{"name"}}, r),
		"by":        mustMetrics(t, MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.5}, By: []string{"kind"}}, r),
		"no by":     mustMetrics(t, MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.5}}, r),
		"start":     mustMetrics(t, spec, MetricsRange{Start: 1, End: 100 * metricsSec, Step: 10 * metricsSec}),
		"end":       mustMetrics(t, spec, MetricsRange{Start: 0, End: 90 * metricsSec, Step: 10 * metricsSec}),
		"step":      mustMetrics(t, spec, MetricsRange{Start: 0, End: 100 * metricsSec, Step: 5 * metricsSec}),
	}
	for name, o := range others {
		t.Run(name, func(t *testing.T) {
			if err := m.Merge(o); err == nil {
				t.Error("Merge: no error")
			}
			b, _ := o.Marshal()
			if err := m.MergeMarshaled(b); err == nil || !strings.Contains(err.Error(), "different") {
				t.Errorf("MergeMarshaled: %v, want a different query/range error", err)
			}
			if err := o.MergeMarshaled(valid); err == nil {
				t.Error("reverse MergeMarshaled: no error")
			}
		})
	}
	if err := m.Merge(nil); err == nil {
		t.Error("Merge(nil): no error")
	}
	if err := m.Merge(m); err == nil {
		t.Error("Merge(self): no error")
	}

	garbage := map[string][]byte{
		"nil":      nil,
		"empty":    {},
		"magic":    []byte("JSON{}"),
		"version":  append([]byte(metricsMagic), 9),
		"trailing": append(slices.Clone(valid), 0),
		"text":     []byte("TQLM\x01 this is not a state at all"),
	}
	// Every strict prefix of a valid state is an error.
	for i := range len(valid) {
		garbage["prefix"+string(rune('0'+i%10))+"_"+strings.Repeat("x", i/10)] = valid[:i]
	}
	want := m.Series()
	for name, b := range garbage {
		if err := m.MergeMarshaled(b); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "decoding metrics state: ") {
			t.Errorf("%s: error %q lacks context", name, err)
		}
	}
	if got := m.Series(); !reflect.DeepEqual(got, want) {
		t.Fatal("failed MergeMarshaled changed the accumulator")
	}

	// A flipped bit gives an error or a valid state, never a panic.
	for i := range len(valid) * 8 {
		b := slices.Clone(valid)
		b[i/8] ^= 1 << (i % 8)
		c := mustMetrics(t, spec, r)
		if err := c.MergeMarshaled(b); err == nil {
			_ = c.Series()
		}
	}
}

func TestMetricsSeriesCap(t *testing.T) {
	defer func(n int) { MaxMetricsSeries = n }(MaxMetricsSeries)
	MaxMetricsSeries = 3
	r := MetricsRange{Start: 0, End: 10 * metricsSec, Step: 10 * metricsSec}
	spec := MetricsSpec{Func: MetricsCountOverTime, By: []string{"name"}}
	m := mustMetrics(t, spec, r)
	for _, s := range []string{"a", "b", "c", "d", "a", "e"} {
		m.add(0, []Value{metricsStr(s)}, 0)
	}
	if !m.Truncated() {
		t.Fatal("not Truncated")
	}
	ss := m.Series()
	var names []string
	for _, s := range ss {
		names = append(names, s.Labels[0].Value.S)
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) || ss[0].Samples[0].Value != 2 {
		t.Fatalf("series %+v", ss)
	}

	// The flag travels through Marshal and Merge; Merge respects the cap.
	b, _ := m.Marshal()
	c := mustMetrics(t, spec, r)
	if c.Truncated() {
		t.Fatal("fresh accumulator Truncated")
	}
	if err := c.MergeMarshaled(b); err != nil || !c.Truncated() || len(c.Series()) != 3 {
		t.Fatalf("MergeMarshaled: %v, truncated %v, %d series", err, c.Truncated(), len(c.Series()))
	}
	d := mustMetrics(t, spec, r)
	d.add(0, []Value{metricsStr("z")}, 0)
	e := mustMetrics(t, spec, r)
	e.add(0, []Value{metricsStr("y")}, 0)
	e.add(0, []Value{metricsStr("x")}, 0)
	e.add(0, []Value{metricsStr("w")}, 0)
	if err := d.Merge(e); err != nil || !d.Truncated() {
		t.Fatalf("Merge: %v, truncated %v", err, d.Truncated())
	}
	names = nil
	for _, s := range d.Series() {
		names = append(names, s.Labels[0].Value.S)
	}
	if !slices.Equal(names, []string{"w", "x", "z"}) { // new groups join in key order
		t.Fatalf("after Merge: %v", names)
	}
}

func metricsFuzzAccumulators(t testing.TB) []*Metrics {
	r := MetricsRange{Start: 1000 * metricsSec, End: 1095 * metricsSec, Step: 10 * metricsSec}
	out := make([]*Metrics, len(metricsTestSpecs))
	for i, spec := range metricsTestSpecs {
		out[i] = mustMetrics(t, spec, r)
	}
	return out
}

func FuzzMergeMarshaled(f *testing.F) {
	for i, m := range metricsFuzzAccumulators(f) {
		rng := rand.New(rand.NewPCG(3, uint64(i)))
		for _, o := range randomMetricsObs(rng, m.spec, m.r, 20) {
			m.add(o.ts, o.by, o.v)
		}
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		empty, _ := mustMetrics(f, m.spec, m.r).Marshal()
		f.Add(empty)
	}
	f.Add([]byte{})
	f.Add([]byte("TQLM\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range metricsFuzzAccumulators(t) {
			if err := m.MergeMarshaled(b); err != nil {
				if len(m.groups) != 0 || m.truncated {
					t.Fatal("failed MergeMarshaled changed the accumulator")
				}
				continue
			}
			_ = m.Series()
			// A decoded state re-encodes canonically.
			b2, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			m2 := mustMetrics(t, m.spec, m.r)
			if err := m2.MergeMarshaled(b2); err != nil {
				t.Fatalf("re-marshaled state rejected: %v", err)
			}
			if b3, _ := m2.Marshal(); !bytes.Equal(b2, b3) {
				t.Fatal("re-marshaled state not stable")
			}
		}
	})
}

func BenchmarkMetricsAdd(b *testing.B) {
	r := MetricsRange{Start: 0, End: 3600 * metricsSec, Step: 15 * metricsSec}
	for _, spec := range []MetricsSpec{metricsTestSpecs[0], metricsTestSpecs[6]} {
		b.Run(spec.Func.name(), func(b *testing.B) {
			m := mustMetrics(b, spec, r)
			rng := rand.New(rand.NewPCG(1, 2))
			obs := randomMetricsObs(rng, spec, r, 4096)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				o := obs[i%len(obs)]
				m.add(o.ts, o.by, o.v)
			}
		})
	}
}
