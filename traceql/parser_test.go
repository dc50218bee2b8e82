package traceql

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// validQueries maps queries to their normal form (String()); "" means the
// query is already normal.
var validQueries = []struct{ in, want string }{
	// filters
	{`{}`, `{ }`},
	{`{ }`, ``},
	{`{ true }`, ``},
	{"{\n\tname = \"x\"\n}", `{ name = "x" }`},
	{`{name="x"}`, `{ name = "x" }`},
	// intrinsics
	{`{ name = "a" && status = error && statusMessage = "m" && duration > 1s && kind = server }`, ``},
	{`{ rootName = "a" && rootServiceName = "b" && traceDuration < 2h }`, ``},
	{`{ childCount > 1 && span:childCount = 0 }`, ``},
	{`{ span:name = "a" && span:status = ok && span:statusMessage != "" && span:duration >= 1ms && span:kind = client }`, ``},
	{`{ span:id = "0000000000000001" && span:parentID = "2" }`, ``},
	{`{ trace:id = "1234" && trace:rootName = "a" && trace:rootService = "b" && trace:duration > 1m }`, ``},
	{`{ event:name = "exception" && event:timeSinceStart > 2ms }`, ``},
	{`{ link:traceID = "ab" && link:spanID = "cd" }`, ``},
	{`{ instrumentation:name = "grpc" && instrumentation:version = "1.0" }`, ``},
	// attributes
	{`{ span.http.status_code = 200 }`, ``},
	{`{ resource.service.name = "a" }`, ``},
	{`{ event.exception.message =~ ".*x.*" }`, ``},
	{`{ link.opentracing.ref_type = "child_of" }`, ``},
	{`{ instrumentation.language = "java" }`, ``},
	{`{ .foo = "bar" }`, ``},
	{`{ span.foo-bar/baz:qux = 1 }`, ``},
	{`{ span."foo bar" = 1 }`, ``},
	{`{ span.attribute."with space" = 1 }`, `{ span."attribute.with space" = 1 }`},
	{`{ ."x y" = 1 }`, ``},
	{`{ span."a\"b\\c" = 1 }`, ``},
	{`{ span.status = "x" && span.name = "y" && resource.duration = 1 }`, ``}, // scoped names are attributes
	{`{ ."1abc" = 1 }`, ``},                                                   // unquoted, .1abc would read as a number
	// literals
	{`{ .a = "s" && .b = 1 && .c = 1.5 && .d = true && .e = false && .f = nil }`, ``},
	{"{ .a = `raw\\n` }", `{ .a = "raw\\n" }`},
	{`{ .a = "tab\there" }`, ``},
	{`{ .a = 1e3 }`, `{ .a = 1000.0 }`},
	{`{ .a = .5 }`, `{ .a = 0.5 }`},
	{`{ .a = -1 && .b = -1.5 && .c = -2s }`, ``},
	{`{ .a = minInt || .b = maxInt }`, ``},
	{`{ duration > 1ns && duration > 1us && duration > 1µs && duration > 1ms && duration > 1s && duration > 1m && duration > 1h }`,
		`{ duration > 1ns && duration > 1us && duration > 1us && duration > 1ms && duration > 1s && duration > 1m && duration > 1h }`},
	{`{ duration > 1.5s && duration < 1h30m && duration != 1d }`, `{ duration > 1500ms && duration < 90m && duration != 24h }`},
	{`{ status = error || status = ok || status = unset }`, ``},
	{`{ kind = unspecified || kind = internal || kind = server || kind = client || kind = producer || kind = consumer }`, ``},
	// operators
	{`{ .a = 1 && .b != 2 && .c > 3 && .d >= 4 && .e < 5 && .f <= 6 && .g =~ "x" && .h !~ "y" }`, ``},
	{`{ .a + 1 - 2 * 3 / 4 % 5 ^ 6 > 0 }`, ``},
	{`{ (.a + 1) * 2 > 0 }`, ``},
	{`{ .a - (1 - 2) > 0 }`, ``},
	{`{ 2 ^ 3 ^ 2 = .a }`, ``},
	{`{ (2 ^ 3) ^ 2 = .a }`, ``},
	{`{ -.a > 1 }`, ``},
	{`{ -(.a + 1) > 1 }`, ``},
	{`{ (-2) ^ 2 = .a }`, ``},
	{`{ - 2 = .a }`, `{ -2 = .a }`},
	{`{ !(.a = 1) }`, ``},
	{`{ !.a }`, ``},
	{`{ .a || .b }`, ``},
	{`{ .a = 1 || .b = 2 && .c = 3 }`, `{ (.a = 1 || .b = 2) && .c = 3 }`},
	{`{ .a = 1 || (.b = 2 && .c = 3) }`, ``},
	{`{ (.a = 1 && .b = 2) && .c = 3 }`, `{ .a = 1 && .b = 2 && .c = 3 }`},
	{`{ .a = 1 && (.b = 2 && .c = 3) }`, ``},
	// spanset operators
	{`{ .a = 1 } && { .b = 2 }`, ``},
	{`{ .a = 1 } || { .b = 2 }`, ``},
	{`{ .a = 1 } > { .b = 2 }`, ``},
	{`{ .a = 1 } >> { .b = 2 }`, ``},
	{`{ .a = 1 } < { .b = 2 }`, ``},
	{`{ .a = 1 } << { .b = 2 }`, ``},
	{`{ .a = 1 } ~ { .b = 2 }`, ``},
	{`{ .a = 1 } !> { .b = 2 }`, ``},
	{`{ .a = 1 } !>> { .b = 2 }`, ``},
	{`{ .a = 1 } !< { .b = 2 }`, ``},
	{`{ .a = 1 } !<< { .b = 2 }`, ``},
	{`{ .a = 1 } !~ { .b = 2 }`, ``},
	{`{ .a = 1 } &> { .b = 2 }`, ``},
	{`{ .a = 1 } &>> { .b = 2 }`, ``},
	{`{ .a = 1 } &< { .b = 2 }`, ``},
	{`{ .a = 1 } &<< { .b = 2 }`, ``},
	{`{ .a = 1 } &~ { .b = 2 }`, ``},
	{`{}>>{}`, `{ } >> { }`},
	{`{ } && { } > { }`, ``},
	{`({ } && { }) > { }`, ``},
	{`{ } > { } > { }`, ``},
	{`{ } > ({ } > { })`, ``},
	{`{ } || { } && { }`, `({ } || { }) && { }`},
	{`(({ .a = 1 }))`, `{ .a = 1 }`},
	// pipelines
	{`{ } | count() > 2`, ``},
	{`{ } | count() >= 2 | avg(duration) < 1s | min(span.x) <= 1 | max(.y) != 2 | sum(duration) = 3s`, ``},
	{`{ } | count() > 2 * 2 + 1`, ``},
	{`{ } | (count() + 1) * 2 > 5`, ``},
	{`{ } | 2 < count()`, ``},
	{`{ } | count() > -1`, ``},
	{`{ } | avg(duration) > -1.5s`, `{ } | avg(duration) > -1500ms`},
	{`{ } | avg(span.a + span.b) > 1`, ``},
	{`count() > 10`, ``},
	{`avg(duration) > 20ms`, ``},
	{`{ } | by(resource.service.name)`, ``},
	{`{ } | by(resource.service.name, name)`, ``},
	{`{ } | by(span.a + 1)`, ``},
	{`by(name) | count() > 1`, ``},
	{`{ } | select(span.a, resource.b, name, span:id, trace:rootName)`, ``},
	{`select(span.a)`, ``},
	{`{ } | by(name) | coalesce()`, ``},
	{`{ } | { .a = 1 } | { .b = 2 }`, ``},
	{`({ .a = 1 } && { .b = 2 }) | count() > 1`, `{ .a = 1 } && { .b = 2 } | count() > 1`},
	{`({ .a = 1 } | count() > 1) && { .b = 2 }`, ``},
	{`({ .a = 1 } | count() > 1) || ({ .b = 2 } | count() > 2)`, ``},
	{`({ .a = 1 } | by(name)) > { }`, ``},
	{`(count() > 1) && { }`, ``},
	{`{ } | ({ .a = 1 } | count() > 1)`, ``},
	{`{ status = error } | by(resource.service.name) | count() > 1`, ``},
	// metrics
	{`{ } | rate()`, ``},
	{`{ } | rate() by (resource.service.name)`, ``},
	{`{ } | rate() by(resource.service.name,name)`, `{ } | rate() by (resource.service.name, name)`},
	{`{ } | count_over_time()`, ``},
	{`{ } | min_over_time(duration)`, ``},
	{`{ } | max_over_time(span.http.response.size)`, ``},
	{`{ } | avg_over_time(duration) by (span.http.route)`, ``},
	{`{ } | sum_over_time(span:duration)`, ``},
	{`{ } | quantile_over_time(duration, .99, .9, .5)`, `{ } | quantile_over_time(duration, 0.99, 0.9, 0.5)`},
	{`{ } | quantile_over_time(duration, 0, 1)`, ``},
	{`{ } | histogram_over_time(duration) by (span.foo)`, ``},
	{`{ status = error } | by(name) | count() > 1 | rate()`, ``},
	{`{ } >> { } | rate()`, ``},
	// hints
	{`{ } with (most_recent=true)`, ``},
	{`{ } | rate() with(sample=0.1, exemplars=false, x="s", d=1s, n=-2)`, `{ } | rate() with (sample=0.1, exemplars=false, x="s", d=1s, n=-2)`},
}

func TestParseValid(t *testing.T) {
	for _, c := range validQueries {
		q, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := q.String(); got != want {
			t.Errorf("Parse(%q).String()\n got  %s\n want %s", c.in, got, want)
			continue
		}
		// the normal form is a fixed point
		q2, err := Parse(q.String())
		if err != nil {
			t.Errorf("Parse(%q) (normal form of %q): %v", q.String(), c.in, err)
			continue
		}
		if q2.String() != q.String() {
			t.Errorf("normal form of %q is not stable: %q then %q", c.in, q.String(), q2.String())
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in        string
		line, col int
		msg       string
	}{
		{``, 1, 1, `unexpected end of query, expecting a spanset filter "{"`},
		{`{`, 1, 2, `unexpected end of query, expecting a value`},
		{`{ name = }`, 1, 10, `unexpected "}", expecting a value`},
		{`{ name = "x"`, 1, 13, `unexpected end of query, expecting an operator or "}"`},
		{`{ name = "x" } }`, 1, 16, `unexpected "}", expecting "|", a spanset operator or end of query`},
		{"{\n  name = \"x\" &&\n  status = \n}", 4, 1, `unexpected "}", expecting a value`},
		{`{ name "x" }`, 1, 8, `unexpected "\"x\"", expecting an operator or "}"`},
		{`{ foo = 1 }`, 1, 3, `unexpected "foo", expecting a value (attributes need a scope: span.foo, resource.foo or .foo)`},
		{`{ span. = 1 }`, 1, 8, `unexpected ' ', expecting an attribute name`},
		{`{ span."unterminated = 1 }`, 1, 8, `unterminated quoted attribute name`},
		{`{ span."a\x" = 1 }`, 1, 8, `invalid escape sequence`},
		{`{ span:nope = 1 }`, 1, 3, `unknown intrinsic "span:nope"`},
		{`{ parent.x = 1 }`, 1, 3, `the parent. scope is not supported`},
		{`{ .a = "unterminated }`, 1, 8, `unterminated string`},
		{`{ .a = "bad \q" }`, 1, 8, `invalid string`},
		{`{ .a = 99999999999999999999 }`, 1, 8, `out of range`},
		{`{ .a = 5xs }`, 1, 8, `invalid duration "5xs"`},
		{`{ .a = 1 } | count()`, 1, 21, `unexpected end of query, expecting a comparison such as count() > 1`},
		{`{ .a = 1 } | avg(duration)`, 1, 27, `expecting a comparison such as avg(duration) > 1`},
		{`{ } | count(name) > 1`, 1, 13, `unexpected "name", expecting ")" (count() takes no argument)`},
		{`{ } | 1 > 2`, 1, 7, `a pipeline comparison needs an aggregate`},
		{`{ } | avg(name) > 1`, 1, 11, `avg() needs a numeric field, found a string`},
		{`{ } | rate() | count() > 1`, 1, 14, `the metrics function rate() must be the last stage`},
		{`({ } | rate()) && { }`, 1, 8, `metrics function rate() must be the last stage of the query, not inside parentheses`},
		{`rate()`, 1, 1, `metrics function rate() must follow a search`},
		{`{ } | rate(duration)`, 1, 12, `unexpected "duration", expecting ")" (rate() takes no argument)`},
		{`{ } | min_over_time()`, 1, 21, `expecting an attribute or intrinsic`},
		{`{ } | quantile_over_time(duration)`, 1, 34, `expecting "," and the quantiles`},
		{`{ } | quantile_over_time(duration, 1.5)`, 1, 36, `quantile 1.5 is not between 0 and 1`},
		{`{ } | rate() by (span.a + 1)`, 1, 25, `unexpected "+", expecting "," or ")"`},
		{`{ } | topk(10)`, 1, 7, `topk() is not supported`},
		{`{ } | rate() | topk(10)`, 1, 16, `topk() is not supported`},
		{`{ } | compare({ status = error })`, 1, 7, `compare() is not supported`},
		{`{ } | select(span.a + 1)`, 1, 21, `unexpected "+", expecting "," or ")"`},
		{`{ } | select()`, 1, 14, `expecting an attribute or intrinsic`},
		{`{ } | by()`, 1, 10, `unexpected ")", expecting a value`},
		{`{ } | coalesce(1)`, 1, 16, `unexpected "1", expecting ")"`},
		{`{ } | foo()`, 1, 7, `expecting a spanset filter "{", an aggregate such as count(), by(), select() or coalesce()`},
		{`{ } &&`, 1, 7, `unexpected end of query, expecting a spanset filter "{"`},
		{`({ }`, 1, 5, `unexpected end of query, expecting ")", "|" or a spanset operator`},
		{`{ name =~ "(" }`, 1, 11, `invalid regular expression "(": missing closing )`},
		{`{ name = 1 }`, 1, 8, `cannot compare a string with an integer`},
		{`{ status > ok }`, 1, 10, `operator > cannot compare status values`},
		{`{ status = "error" }`, 1, 10, `cannot compare a status with a string`},
		{`{ duration = "1s" }`, 1, 12, `cannot compare a duration with a string`},
		{`{ name }`, 1, 3, `a spanset filter must be a boolean expression, found a string`},
		{`{ 1 + 1 }`, 1, 3, `a spanset filter must be a boolean expression`},
		{`{ .a = 1 && "x" }`, 1, 13, `operator && needs boolean operands, found a string`},
		{`{ "a" + 1 = 2 }`, 1, 3, `operator + needs numbers, found a string`},
		{`{ !name }`, 1, 4, `operator ! needs a boolean operand, found a string`},
		{`{ -name = 1 }`, 1, 4, `unary - needs a number, found a string`},
		{`{ duration =~ "1.*" }`, 1, 3, `operator =~ needs a string on its left, found a duration`},
		{`{ name =~ 1 }`, 1, 11, `operator =~ needs a string pattern on its right, found an integer`},
		{`{ .a > nil }`, 1, 6, `nil can only be compared with = or !=`},
		{`{ .a = 1 } with`, 1, 16, `unexpected end of query, expecting "("`},
		{`{ .a = 1 } with (x)`, 1, 19, `unexpected ")", expecting "="`},
		{`{ .a = 1 } with (x=y)`, 1, 20, `unexpected "y", expecting a hint value`},
		{`{ .a = 1 } # comment`, 1, 12, `unexpected character '#'`},
		{"{ .a = 1 }\xff", 1, 11, `invalid UTF-8`},
		{"{\n .a = \"\xff\" }", 2, 8, `invalid UTF-8`},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", c.in, err)
			continue
		}
		if pe.Line != c.line || pe.Col != c.col || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("Parse(%q):\n got  %d:%d %s\n want %d:%d …%s…", c.in, pe.Line, pe.Col, pe.Msg, c.line, c.col, c.msg)
		}
	}
}

func TestParseErrorString(t *testing.T) {
	_, err := Parse(`{ name = }`)
	if got, want := err.Error(), `parse error at line 1, col 10: unexpected "}", expecting a value`; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestMetricsSpec(t *testing.T) {
	cases := []struct {
		q    string
		want MetricsSpec
	}{
		{`{ } | rate()`, MetricsSpec{Func: MetricsRate}},
		{`{ status = error } | rate() by (resource.service.name, name)`, MetricsSpec{Func: MetricsRate, By: []string{"resource.service.name", "name"}}},
		{`{ } | count_over_time() by (span:name)`, MetricsSpec{Func: MetricsCountOverTime, By: []string{"span:name"}}},
		{`{ } | min_over_time(duration)`, MetricsSpec{Func: MetricsMinOverTime, Attr: "duration"}},
		{`{ } | max_over_time(span.size)`, MetricsSpec{Func: MetricsMaxOverTime, Attr: "span.size"}},
		{`{ } | avg_over_time(span:duration)`, MetricsSpec{Func: MetricsAvgOverTime, Attr: "span:duration"}},
		{`{ } | sum_over_time(.bytes) by (resource.k8s.pod)`, MetricsSpec{Func: MetricsSumOverTime, Attr: ".bytes", By: []string{"resource.k8s.pod"}}},
		{`{ } | quantile_over_time(duration, 0.5, .99, 1)`, MetricsSpec{Func: MetricsQuantileOverTime, Attr: "duration", Quantiles: []float64{0.5, 0.99, 1}}},
		{`{ } | histogram_over_time(span."a b") by (instrumentation:name)`, MetricsSpec{Func: MetricsHistogramOverTime, Attr: `span."a b"`, By: []string{"instrumentation:name"}}},
	}
	for _, c := range cases {
		q := mustParse(t, c.q)
		got, ok := q.MetricsSpec()
		if !ok || !q.IsMetrics() {
			t.Errorf("%s: not a metrics query", c.q)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", c.q, got, c.want)
		}
	}
	q := mustParse(t, `{ } | count() > 1`)
	if _, ok := q.MetricsSpec(); ok || q.IsMetrics() {
		t.Errorf("a search query is not a metrics query")
	}
	// the spec returned is a copy
	q = mustParse(t, `{ } | rate() by (name)`)
	s, _ := q.MetricsSpec()
	s.By[0] = "changed"
	if s2, _ := q.MetricsSpec(); s2.By[0] != "name" {
		t.Errorf("MetricsSpec shares its slices")
	}
}

func TestParseDepthLimit(t *testing.T) {
	deep := strings.Repeat("(", 600) + "{ }" + strings.Repeat(")", 600)
	_, err := Parse(deep)
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "nested too deeply") {
		t.Fatalf("got %v", err)
	}
	ok := strings.Repeat("(", 100) + "{ " + strings.Repeat("!", 100) + "span.a }" + strings.Repeat(")", 100)
	if _, err := Parse(ok); err != nil {
		t.Fatalf("Parse(100 levels): %v", err)
	}
}
