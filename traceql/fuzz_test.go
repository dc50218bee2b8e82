package traceql

import "testing"

// FuzzParse: Parse never panics, and whatever it accepts prints (String)
// to a query that parses again to the same normal form; evaluating it
// never panics either.
func FuzzParse(f *testing.F) {
	for _, c := range validQueries {
		f.Add(c.in)
	}
	for _, q := range []string{
		``, `{`, `}`, `{ name = }`, `{ .a = "x"`, `(`, `)`, `|`, `{ } |`, `{ } | count(`, `{ span.`, `{ span."`,
		`{ .a = 1 } | rate() by (`, `{ } | quantile_over_time(duration, `, `{ } with (`, `{ .a =~ "[" }`,
		`{ resource.service.name = "foo" && span.http.status_code = 500 }`,
		`{ status = error } | by(resource.service.name) | count() > 1 | select(span.http.url) | coalesce()`,
		`{ span.tags = "a" } &>> ({ } | count() > 1) !~ { event.x != nil && link:spanID = "1" }`,
		`{ 1 / 0 = 1 && 1 % 0 = 1 && minInt / -1 = 1 && minInt * -1 = 1 && 2 ^ 64 = 1 && 2 ^ -1 = 0.5 }`,
		`{ -minInt = 1 }`, `{ - -1 = 1 }`, `{ !!span.a }`, `{ .a = 1e308 * 10 }`, `{ duration > 9223372036s }`,
		"{ .a = `x` } | avg(-duration) > -1s", `{ trace:id = "" && span:id = "x" && link:traceID = "0" }`,
		`{ span.µ = 1µs }`, "{\n\t.a\n\t=\n\t1\n}\n",
	} {
		f.Add(q)
	}
	tr := testTrace()
	f.Fuzz(func(t *testing.T, in string) {
		q, err := Parse(in)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("Parse(%q) returned %T, not a *ParseError: %v", in, err, err)
			}
			return
		}
		s := q.String()
		q2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) succeeded but its normal form %q does not parse: %v", in, s, err)
		}
		if s2 := q2.String(); s2 != s {
			t.Fatalf("normal form not stable for %q: %q then %q", in, s, s2)
		}
		q.Match(tr)
		q.Conditions()
		if q.IsMetrics() {
			q.observe(tr, 0, 10000, nil, &recorder{})
		}
	})
}
