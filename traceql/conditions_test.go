package traceql

import (
	"reflect"
	"testing"
)

func TestConditions(t *testing.T) {
	span := func(n string, op Op, v Value) Condition {
		return Condition{Scope: ScopeSpan, Name: n, Op: op, Value: v}
	}
	res := func(n string, op Op, v Value) Condition {
		return Condition{Scope: ScopeResource, Name: n, Op: op, Value: v}
	}
	intr := func(n string, op Op, v Value) Condition {
		return Condition{Scope: ScopeIntrinsic, Name: n, Op: op, Value: v}
	}
	trc := func(n string, op Op, v Value) Condition {
		return Condition{Scope: ScopeTrace, Name: n, Op: op, Value: v}
	}
	statusErr := Value{Type: TypeStatus, I: 2}
	kindServer := Value{Type: TypeKind, I: 2}
	cases := []struct {
		q    string
		want []Condition
	}{
		// extracted: ANDed comparisons with literals
		{`{ resource.service.name = "foo" && span.http.status_code = 500 }`,
			[]Condition{res("service.name", OpEq, vStr("foo")), span("http.status_code", OpEq, vInt(500))}},
		{`{ span.a != "x" && span.b > 1 && span.c >= 1.5 && span.d < 2 && span.e <= 3 && span.f =~ "a.*" && span.g !~ "b" }`,
			[]Condition{span("a", OpNeq, vStr("x")), span("b", OpGt, vInt(1)), span("c", OpGte, vFloat(1.5)),
				span("d", OpLt, vInt(2)), span("e", OpLte, vInt(3)), span("f", OpRegex, vStr("a.*")), span("g", OpNotRegex, vStr("b"))}},
		{`{ 500 <= span.code }`, []Condition{span("code", OpGte, vInt(500))}}, // literal on the left: flipped
		{`{ span.size > 10 * 1024 }`, []Condition{span("size", OpGt, vInt(10240))}},
		{`{ span.x = -1 }`, []Condition{span("x", OpEq, vInt(-1))}},
		{`{ span.cache.hit }`, []Condition{span("cache.hit", OpEq, vBool(true))}},
		{`{ name = "GET" && status = error && statusMessage != "" && duration > 1s && kind = server }`,
			[]Condition{intr("name", OpEq, vStr("GET")), intr("status", OpEq, statusErr), intr("statusMessage", OpNeq, vStr("")),
				intr("duration", OpGt, vDur(1e9)), intr("kind", OpEq, kindServer)}},
		{`{ span:name =~ "GET.*" && span:status = error && span:duration < 5ms && span:kind = server }`,
			[]Condition{intr("name", OpRegex, vStr("GET.*")), intr("status", OpEq, statusErr), intr("duration", OpLt, vDur(5e6)), intr("kind", OpEq, kindServer)}},
		{`{ rootName = "a" && rootServiceName = "b" && traceDuration > 2s }`,
			[]Condition{trc("rootName", OpEq, vStr("a")), trc("rootServiceName", OpEq, vStr("b")), trc("traceDuration", OpGt, vDur(2e9))}},
		{`{ trace:rootName = "a" && trace:rootService = "b" && trace:duration > 2s }`,
			[]Condition{trc("rootName", OpEq, vStr("a")), trc("rootServiceName", OpEq, vStr("b")), trc("traceDuration", OpGt, vDur(2e9))}},
		// both sides of && and of structural operators
		{`{ span.a = 1 } && { span.b = 2 }`, []Condition{span("a", OpEq, vInt(1)), span("b", OpEq, vInt(2))}},
		{`{ span.a = 1 } > { span.b = 2 } >> { span.c = 3 } < { span.d = 4 } << { span.e = 5 } ~ { span.f = 6 }`,
			[]Condition{span("a", OpEq, vInt(1)), span("b", OpEq, vInt(2)), span("c", OpEq, vInt(3)), span("d", OpEq, vInt(4)), span("e", OpEq, vInt(5)), span("f", OpEq, vInt(6))}},
		{`{ span.a = 1 } &>> { span.b = 2 }`, []Condition{span("a", OpEq, vInt(1)), span("b", OpEq, vInt(2))}},
		// negated structural operators: only the right-hand side
		{`{ span.a = 1 } !> { span.b = 2 }`, []Condition{span("b", OpEq, vInt(2))}},
		{`{ span.a = 1 } !>> { span.b = 2 }`, []Condition{span("b", OpEq, vInt(2))}},
		{`{ span.a = 1 } !< { span.b = 2 }`, []Condition{span("b", OpEq, vInt(2))}},
		{`{ span.a = 1 } !<< { span.b = 2 }`, []Condition{span("b", OpEq, vInt(2))}},
		{`{ span.a = 1 } !~ { span.b = 2 }`, []Condition{span("b", OpEq, vInt(2))}},
		// pipelines: the spanset filters every stage must pass
		{`{ span.a = 1 } | count() > 2 | { span.b = 2 }`, []Condition{span("a", OpEq, vInt(1)), span("b", OpEq, vInt(2))}},
		{`({ span.a = 1 } | count() > 1) && { span.b = 2 }`, []Condition{span("a", OpEq, vInt(1)), span("b", OpEq, vInt(2))}},
		{`{ span.a = 1 } | rate() by (resource.service.name)`, []Condition{span("a", OpEq, vInt(1))}},
		{`{ span.a = 1 && span.a = 1 }`, []Condition{span("a", OpEq, vInt(1))}}, // once
		// mixed: the necessary part only
		{`{ span.a = 1 && (span.b = 2 || span.c = 3) }`, []Condition{span("a", OpEq, vInt(1))}},
		{`({ span.a = 1 } || { span.b = 2 }) && { span.c = 3 }`, []Condition{span("c", OpEq, vInt(3))}},
		// nothing
		{`{ }`, nil},
		{`{ span.a = 1 || span.b = 2 }`, nil},
		{`{ span.a = 1 } || { span.b = 2 }`, nil},
		{`{ !(span.a = 1) }`, nil},
		{`{ !span.cache.hit }`, nil},
		{`{ .a = 1 }`, nil}, // unscoped
		{`{ event.a = 1 && link.b = 2 && instrumentation.c = 3 }`, nil}, // other scopes
		{`{ event:name = "x" && link:traceID = "1" && span:id = "1" && trace:id = "1" && instrumentation:name = "x" && childCount > 1 }`, nil},
		{`{ span.a = nil && span.b != nil }`, nil},
		{`{ span.a = span.b }`, nil},
		{`{ span.a + 1 = 2 }`, nil},
		{`{ "x" =~ span.a }`, nil},  // the pattern is not a literal
		{`{ span.a > 1s }`, nil},    // durations are never attribute values
		{`{ duration > 100 }`, nil}, // a number is not a duration literal
		{`count() > 1`, nil},
		{`by(name) | count() > 1`, nil},
	}
	for _, c := range cases {
		got := mustParse(t, c.q).Conditions()
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s\n got  %+v\n want %+v", c.q, got, c.want)
		}
	}
}

// Every condition must hold on every trace the query matches: check it
// against the evaluator on the test trace.
func TestConditionsAreNecessary(t *testing.T) {
	tr := testTrace()
	for _, c := range validQueries {
		q := mustParse(t, c.in)
		if len(q.Match(tr)) == 0 {
			continue
		}
		for _, cond := range q.Conditions() {
			if !conditionHolds(tr, cond) {
				t.Errorf("%s matches the test trace but its condition %+v does not hold", c.in, cond)
			}
		}
	}
	for _, q := range []string{
		`{ resource.service.name = "frontend" && span.http.status_code = 500 }`,
		`{ name = "GET /api" } >> { status = error && duration < 15ms }`,
		`{ } !< { resource.cluster =~ "pr.*" && span.retry >= 3 }`,
		`{ span.tags = "a" && span.tags != "b" }`,
		`{ trace:rootService = "frontend" && traceDuration > 100ms && kind != server }`,
	} {
		pq := mustParse(t, q)
		if len(pq.Match(tr)) == 0 {
			t.Fatalf("%s should match the test trace", q)
		}
		conds := pq.Conditions()
		if len(conds) == 0 {
			t.Errorf("%s: no conditions", q)
		}
		for _, cond := range conds {
			if !conditionHolds(tr, cond) {
				t.Errorf("%s: condition %+v does not hold", q, cond)
			}
		}
	}
}

// conditionHolds checks a condition the way a storage layer would.
func conditionHolds(tr *Trace, c Condition) bool {
	ops := map[Op]binOp{OpEq: opEq, OpNeq: opNeq, OpGt: opGt, OpGte: opGte, OpLt: opLt, OpLte: opLte, OpRegex: opRe, OpNotRegex: opNre}
	test := func(v Value) bool { return compareValues(nil, &v, ops[c.Op], &c.Value, nil) }
	switch c.Scope {
	case ScopeTrace:
		switch c.Name {
		case "rootName":
			return test(vStr(tr.RootSpanName))
		case "rootServiceName":
			return test(vStr(tr.RootServiceName))
		case "traceDuration":
			return test(vDur(int64(tr.DurationNano)))
		}
		return false
	}
	for i := range tr.Spans {
		s := &tr.Spans[i]
		switch c.Scope {
		case ScopeSpan:
			if v := findAttr(s.Attrs, c.Name); v != nil && test(*v) {
				return true
			}
		case ScopeResource:
			if v := findAttr(s.Resource.Attrs, c.Name); v != nil && test(*v) {
				return true
			}
		case ScopeIntrinsic:
			id := bareIntrinsics[c.Name]
			if test((&intrEval{id: id}).eval(&evalCtx{t: tr, ev: -1, ln: -1}, s)) {
				return true
			}
		}
	}
	return false
}
