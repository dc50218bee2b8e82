package traceql

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// recorder is a metrics sink that records what it is given.
type recorder struct{ got []string }

func (r *recorder) add(ts uint64, by []Value, v float64) {
	var b []string
	for _, x := range by {
		b = append(b, formatLiteral(x))
	}
	val := fmt.Sprint(v)
	if math.IsNaN(v) {
		val = "NaN"
	}
	r.got = append(r.got, fmt.Sprintf("%d [%s] %s", ts, strings.Join(b, " "), val))
}

func TestObserveRouting(t *testing.T) {
	tr := testTrace()
	cases := []struct {
		q          string
		start, end uint64
		want       []string
	}{
		// durations in seconds, by() values per span, the range [start, end)
		{`{ status = error || kind = internal } | quantile_over_time(duration, 0.5) by (resource.service.name, span.retry)`, 2000, 5000,
			[]string{`2000 ["frontend" nil] 0.01`, `3000 ["backend" 0] 0.05`, `4000 ["backend" 3] 0.02`}},
		// rate and count_over_time measure nothing
		{`{ } | rate()`, 0, 10000,
			[]string{`1000 [] 0`, `2000 [] 0`, `3000 [] 0`, `4000 [] 0`, `5000 [] 0`, `6000 [] 0`}},
		{`{ kind = client } | count_over_time() by (name)`, 0, 10000,
			[]string{`2000 ["auth"] 0`, `4000 ["SELECT users"] 0`}},
		// an attribute as a float; NaN where a span has no number
		{`{ } | avg_over_time(span.ratio)`, 1000, 6000,
			[]string{`1000 [] NaN`, `2000 [] 0.25`, `3000 [] NaN`, `4000 [] 0.5`, `5000 [] 1`}},
		{`{ } | max_over_time(event:timeSinceStart)`, 0, 1001, []string{`1000 [] 0.005`}},
		{`{ } | sum_over_time(span.http.method)`, 0, 1001, []string{`1000 [] NaN`}},
		// a span in several spansets is observed once, in trace order
		{`{ } | by(kind) | min_over_time(traceDuration)`, 0, 3001,
			[]string{`1000 [] 0.12`, `2000 [] 0.12`, `3000 [] 0.12`}},
		{`{ name = "db" } &> { } | histogram_over_time(span:duration)`, 0, 10000,
			[]string{`3000 [] 0.05`, `4000 [] 0.02`, `5000 [] 0.005`}},
		// the search part filters
		{`{ span.http.status_code = 500 } | rate() by (resource.service.name)`, 0, 10000, []string{`2000 ["frontend"] 0`}},
		{`{ name = "nope" } | rate()`, 0, 10000, nil},
	}
	for _, c := range cases {
		var r recorder
		mustParse(t, c.q).observe(tr, c.start, c.end, nil, &r)
		if !reflect.DeepEqual(r.got, c.want) {
			t.Errorf("%s\n got  %q\n want %q", c.q, r.got, c.want)
		}
	}
}

func TestNewMetrics(t *testing.T) {
	if _, err := mustParse(t, `{ } | count() > 1`).NewMetrics(MetricsRange{Start: 0, End: 10, Step: 1}); err == nil {
		t.Fatal("NewMetrics on a search query must fail")
	}
	q := mustParse(t, `{ } | rate()`)
	if _, err := q.NewMetrics(MetricsRange{Start: 10, End: 0, Step: 1}); err == nil {
		t.Fatal("NewMetrics with a bad range must fail")
	}
	m, err := q.NewMetrics(MetricsRange{Start: 0, End: 10, Step: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.q != q {
		t.Fatal("NewMetrics must set m.q")
	}
}

// Observe feeds the real accumulator.
func TestObserveSeries(t *testing.T) {
	q := mustParse(t, `{ } | count_over_time() by (resource.service.name)`)
	m, err := q.NewMetrics(MetricsRange{Start: 0, End: 20000, Step: 10000})
	if err != nil {
		t.Fatal(err)
	}
	m.Observe(testTrace())
	m.Observe(testTrace())
	m.Observe(&Trace{})
	var got []string
	for _, s := range m.Series() {
		got = append(got, fmt.Sprintf("%s %v", attrsString(s.Labels), s.Samples))
	}
	want := []string{
		`resource.service.name="backend" [{0 8} {0 0}]`,
		`resource.service.name="frontend" [{0 4} {0 0}]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
