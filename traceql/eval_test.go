package traceql

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func vStr(s string) Value       { return Value{Type: TypeString, S: s} }
func vInt(i int64) Value        { return Value{Type: TypeInt, I: i} }
func vFloat(f float64) Value    { return Value{Type: TypeFloat, F: f} }
func vBool(b bool) Value        { return Value{Type: TypeBool, B: b} }
func vArr(vs ...Value) Value    { return Value{Type: TypeArray, Arr: vs} }
func vDur(ns int64) Value       { return Value{Type: TypeDuration, I: ns} }
func kv(k string, v Value) Attr { return Attr{Key: k, Value: v} }

const ms = int64(1e6)

// testTrace is the trace the evaluator tests run on:
//
//	0 "GET /api"      frontend  server  ok     100ms  root
//	├─ 1 "auth"       frontend  client  error   10ms
//	└─ 2 "db"         backend   internal unset  50ms
//	   ├─ 3 "SELECT users" backend client error 20ms
//	   └─ 4 "cache"   backend   internal unset   5ms
//	5 "orphan"        backend   consumer unset   1ms  (parent not in the trace)
func testTrace() *Trace {
	front := &Resource{Attrs: []Attr{kv("service.name", vStr("frontend")), kv("zones", vArr(vStr("eu-1"), vStr("eu-2"))), kv("cluster", vStr("prod"))}}
	back := &Resource{Attrs: []Attr{kv("service.name", vStr("backend")), kv("cluster", vStr("prod")), kv("shared", vStr("from-resource"))}}
	goScope := &InstrumentationScope{Name: "otel-go", Version: "1.2.0", Attrs: []Attr{kv("language", vStr("go"))}}
	t := &Trace{
		ID:              [16]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0xab, 0xcd},
		RootServiceName: "frontend",
		RootSpanName:    "GET /api",
		DurationNano:    uint64(120 * ms),
		Spans: []Span{
			{ID: [8]byte{0, 0, 0, 0, 0, 0, 0, 1}, Parent: -1, Name: "GET /api", Kind: 2, StatusCode: 1,
				StartTimeUnixNano: 1000, DurationNano: uint64(100 * ms), Resource: front, Scope: goScope,
				Attrs: []Attr{kv("http.method", vStr("GET")), kv("http.status_code", vInt(200)), kv("foo bar", vStr("spaced")), kv("shared", vStr("from-span"))},
				Events: []Event{
					{Name: "exception", TimeSinceStartNano: uint64(5 * ms), Attrs: []Attr{kv("exception.message", vStr("boom"))}},
					{Name: "retry", TimeSinceStartNano: uint64(50 * ms), Attrs: []Attr{kv("attempt", vInt(2))}},
				}},
			{ID: [8]byte{0, 0, 0, 0, 0, 0, 0, 2}, ParentID: [8]byte{0, 0, 0, 0, 0, 0, 0, 1}, Parent: 0, Name: "auth", Kind: 3, StatusCode: 2,
				StatusMessage: "denied", StartTimeUnixNano: 2000, DurationNano: uint64(10 * ms), Resource: front, Scope: goScope,
				Attrs: []Attr{kv("http.status_code", vInt(500)), kv("tags", vArr(vStr("a"), vStr("b"))), kv("ratio", vFloat(0.25)), kv("nothing", Value{})}},
			{ID: [8]byte{0, 0, 0, 0, 0, 0, 0, 3}, ParentID: [8]byte{0, 0, 0, 0, 0, 0, 0, 1}, Parent: 0, Name: "db", Kind: 1,
				StartTimeUnixNano: 3000, DurationNano: uint64(50 * ms), Resource: back,
				Attrs: []Attr{kv("db.system", vStr("postgresql")), kv("codes", vArr(vInt(1), vInt(42))), kv("retry", vInt(0))}},
			{ID: [8]byte{0, 0, 0, 0, 0, 0, 0, 4}, ParentID: [8]byte{0, 0, 0, 0, 0, 0, 0, 3}, Parent: 2, Name: "SELECT users", Kind: 3, StatusCode: 2,
				StatusMessage: "timeout", StartTimeUnixNano: 4000, DurationNano: uint64(20 * ms), Resource: back,
				Attrs: []Attr{kv("retry", vInt(3)), kv("ratio", vFloat(0.5)), kv("cache.hit", vBool(true)), kv("db.system", vStr("postgresql"))}},
			{ID: [8]byte{0, 0, 0, 0, 0, 0, 0, 5}, ParentID: [8]byte{0, 0, 0, 0, 0, 0, 0, 3}, Parent: 2, Name: "cache", Kind: 1,
				StartTimeUnixNano: 5000, DurationNano: uint64(5 * ms), Resource: back,
				Attrs: []Attr{kv("cache.hit", vBool(false)), kv("ratio", vInt(1))},
				Links: []Link{{TraceID: [16]byte{15: 0x77}, SpanID: [8]byte{7: 0x99}, Attrs: []Attr{kv("ref", vStr("follows_from"))}}}},
			{ID: [8]byte{0, 0, 0, 0, 0, 0, 0, 6}, ParentID: [8]byte{9, 9, 9, 9, 9, 9, 9, 9}, Parent: -1, Name: "orphan", Kind: 5,
				StartTimeUnixNano: 6000, DurationNano: uint64(1 * ms), Resource: back},
		},
	}
	return t
}

// names renders spansets as span names: "GET /api,auth|db".
func names(sets []Spanset) string {
	var parts []string
	for _, ss := range sets {
		var n []string
		for _, s := range ss.Spans {
			n = append(n, s.Span.Name)
		}
		parts = append(parts, strings.Join(n, ","))
	}
	return strings.Join(parts, "|")
}

func mustParse(t testing.TB, q string) *Query {
	t.Helper()
	pq, err := Parse(q)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	return pq
}

const allSpans = "GET /api,auth,db,SELECT users,cache,orphan"

func TestMatch(t *testing.T) {
	tr := testTrace()
	cases := []struct{ q, want string }{
		// filters that match everything or nothing
		{`{}`, allSpans},
		{`{ true }`, allSpans},
		{`{ false }`, ""},
		{`{ 1 = 1 }`, allSpans},
		{`{ 1 > 2 }`, ""},
		// span intrinsics
		{`{ name = "auth" }`, "auth"},
		{`{ span:name = "auth" }`, "auth"},
		{`{ name != "auth" && kind = client }`, "SELECT users"},
		{`{ status = error }`, "auth,SELECT users"},
		{`{ span:status = ok }`, "GET /api"},
		{`{ status = unset }`, "db,cache,orphan"},
		{`{ status != unset }`, "GET /api,auth,SELECT users"},
		{`{ statusMessage = "timeout" }`, "SELECT users"},
		{`{ span:statusMessage =~ "de.*" }`, "auth"},
		{`{ duration > 20ms }`, "GET /api,db"},
		{`{ span:duration >= 20ms }`, "GET /api,db,SELECT users"},
		{`{ duration < 5ms }`, "orphan"},
		{`{ duration <= 5ms }`, "cache,orphan"},
		{`{ duration = 0.1s }`, "GET /api"},
		{`{ duration > 50000000 }`, "GET /api"}, // numbers compare with durations as nanoseconds
		{`{ kind = server }`, "GET /api"},
		{`{ span:kind = internal }`, "db,cache"},
		{`{ kind = consumer }`, "orphan"},
		{`{ kind = producer }`, ""},
		{`{ kind = unspecified }`, ""},
		{`{ span:childCount = 2 }`, "GET /api,db"},
		{`{ childCount = 0 && kind = client }`, "auth,SELECT users"},
		{`{ span:id = "0000000000000003" }`, "db"},
		{`{ span:id = "3" }`, "db"}, // leading zeros are optional
		{`{ span:id = "0000000000000003" || span:id = "00000000000000FF" }`, "db"},
		{`{ span:id != "1" && kind = client }`, "auth,SELECT users"},
		{`{ span:id = "zz" }`, ""},
		{`{ span:parentID = "0000000000000003" }`, "SELECT users,cache"},
		{`{ span:parentID = nil }`, "GET /api"},
		{`{ span:id =~ "0+[12]" }`, "GET /api,auth"},
		// trace intrinsics hold for every span of the trace
		{`{ rootName = "GET /api" && kind = internal }`, "db,cache"},
		{`{ trace:rootName = "nope" }`, ""},
		{`{ rootServiceName = "frontend" && status = error }`, "auth,SELECT users"},
		{`{ trace:rootService =~ "front.*" && name = "db" }`, "db"},
		{`{ traceDuration > 100ms && name = "db" }`, "db"},
		{`{ trace:duration < 100ms }`, ""},
		{`{ trace:id = "000000000000000000000000 1234abcd" }`, ""},
		{`{ trace:id = "1234ABCD" && name = "db" }`, "db"},
		{`{ trace:id = "000000000000000000000000123456ab" }`, ""},
		// events, links, instrumentation
		{`{ event:name = "retry" }`, "GET /api"},
		{`{ event:name = "nope" }`, ""},
		{`{ event:timeSinceStart > 40ms }`, "GET /api"},
		{`{ event.exception.message = "boom" }`, "GET /api"},
		{`{ event.exception.message =~ "bo.*" && event.attempt = 2 }`, "GET /api"},
		{`{ event.attempt > 2 }`, ""},
		{`{ event.exception.message = nil && kind = client }`, "auth,SELECT users"},
		{`{ event.exception.message != nil }`, "GET /api"},
		{`{ link:traceID = "00000000000000000000000000000077" }`, "cache"},
		{`{ link:traceID = "77" }`, "cache"},
		{`{ link:spanID = "0000000000000099" }`, "cache"},
		{`{ link.ref = "follows_from" }`, "cache"},
		{`{ link.ref != nil }`, "cache"},
		{`{ instrumentation:name = "otel-go" }`, "GET /api,auth"},
		{`{ instrumentation:version = "1.2.0" && status = error }`, "auth"},
		{`{ instrumentation.language = "go" && kind = server }`, "GET /api"},
		{`{ instrumentation:name = nil }`, "db,SELECT users,cache,orphan"},
		// attributes and scopes
		{`{ span.http.method = "GET" }`, "GET /api"},
		{`{ resource.service.name = "backend" }`, "db,SELECT users,cache,orphan"},
		{`{ resource.service.name = "backend" && span.http.status_code = 500 }`, ""},
		{`{ resource.service.name = "frontend" && span.http.status_code = 500 }`, "auth"},
		{`{ .service.name = "frontend" }`, "GET /api,auth"},               // unscoped falls back to the resource
		{`{ .shared = "from-span" }`, "GET /api"},                         // the span's attribute first
		{`{ .shared = "from-resource" }`, "db,SELECT users,cache,orphan"}, // else the resource's
		{`{ span.shared = "from-resource" }`, ""},                         // span scope only
		{`{ span."foo bar" = "spaced" }`, "GET /api"},
		{`{ ."foo bar" = "spaced" }`, "GET /api"},
		{`{ span.db.system = "postgresql" && resource.service.name = "backend" }`, "db,SELECT users"},
		// comparison operators and types
		{`{ span.http.status_code = 200 }`, "GET /api"},
		{`{ span.http.status_code != 200 }`, "auth"}, // absent is not "!= 200"
		{`{ span.http.status_code > 200 }`, "auth"},
		{`{ span.http.status_code >= 200 }`, "GET /api,auth"},
		{`{ span.http.status_code < 500 }`, "GET /api"},
		{`{ span.http.status_code <= 500 }`, "GET /api,auth"},
		{`{ span.http.status_code = 200.0 }`, "GET /api"}, // ints and floats compare as numbers
		{`{ span.ratio > 0.3 }`, "SELECT users,cache"},
		{`{ span.ratio = 1 }`, "cache"},
		{`{ span.http.status_code = "200" }`, ""}, // a string is not an int
		{`{ span.http.method > "GEA" }`, "GET /api"},
		{`{ span.http.method < "GEA" }`, ""},
		{`{ span.http.method =~ "G.T" }`, "GET /api"},
		{`{ span.http.method =~ "GE" }`, ""}, // regexes are anchored
		{`{ span.http.method !~ "P.*" }`, "GET /api"},
		{`{ span.http.status_code =~ "2.*" }`, ""}, // regexes apply to strings only
		{`{ span.cache.hit = true }`, "SELECT users"},
		{`{ span.cache.hit != true }`, "cache"},
		{`{ span.cache.hit }`, "SELECT users"}, // a boolean attribute alone
		{`{ !span.cache.hit }`, "cache"},
		{`{ span.cache.hit || name = "db" }`, "db,SELECT users"},
		{`{ span.nothing = nil && name = "auth" }`, "auth"}, // an attribute without a value is nil
		{`{ span.nothing != nil }`, ""},
		{`{ span.http.method = nil }`, "auth,db,SELECT users,cache,orphan"},
		{`{ span.http.method != nil }`, "GET /api"},
		{`{ nil = span.http.method && kind = internal }`, "db,cache"},
		// arrays: a comparison holds when it holds for an element
		{`{ span.tags = "b" }`, "auth"},
		{`{ span.tags = "c" }`, ""},
		{`{ span.tags != "a" }`, "auth"},
		{`{ span.tags =~ "[ab]" }`, "auth"},
		{`{ span.codes > 40 }`, "db"},
		{`{ span.codes < 1 }`, ""},
		{`{ resource.zones = "eu-2" }`, "GET /api,auth"},
		{`{ "eu-1" = resource.zones }`, "GET /api,auth"},
		// arithmetic
		{`{ span.retry + 1 = 4 }`, "SELECT users"},
		{`{ span.retry * 2 > 4 }`, "SELECT users"},
		{`{ span.retry - 1 < 0 }`, "db"},
		{`{ span.retry / 2 = 1 }`, "SELECT users"}, // integer division
		{`{ span.retry % 2 = 1 }`, "SELECT users"},
		{`{ 2 ^ span.retry = 8 }`, "SELECT users"},
		{`{ span.retry ^ 2 = 9 }`, "SELECT users"},
		{`{ -span.retry = -3 }`, "SELECT users"},
		{`{ span.ratio * 4 = 1 }`, "auth"},
		{`{ span.retry + 2 * 3 = 9 }`, "SELECT users"},
		{`{ (span.retry + 2) * 3 = 15 }`, "SELECT users"},
		{`{ span.retry + span.ratio = 3.5 }`, "SELECT users"},
		{`{ duration * 2 = 200ms }`, "GET /api"},
		{`{ duration - 50ms > 0s }`, "GET /api"},
		{`{ span.http.status_code > 10 * 20 }`, "auth"},
		{`{ span.missing + 1 = 1 }`, ""},
		{`{ span.retry ^ maxInt > 0 }`, "SELECT users"}, // overflows to a float, quickly
		{`{ span.retry / 0 = 0 }`, ""},                  // division by zero is nil
		{`{ span.ratio / 0 > 1 }`, "auth,SELECT users"}, // float division gives +Inf; cache has an int ratio
		// logic
		{`{ name = "auth" || name = "db" }`, "auth,db"},
		{`{ !(name = "auth") && kind = client }`, "SELECT users"},
		{`{ (name = "auth" || name = "db") && status = error }`, "auth"},
		{`{ name = "db" || name = "auth" && status = error }`, "auth"}, // && and || share a precedence, left to right
		{`{ name = "auth" && status = error || name = "db" }`, "auth,db"},
		// spanset operators
		{`{ name = "auth" } && { name = "db" }`, "auth,db"},
		{`{ name = "auth" } && { name = "nope" }`, ""},
		{`{ name = "auth" } || { name = "nope" }`, "auth"},
		{`{ name = "nope" } || { name = "db" }`, "db"},
		{`{ name = "auth" } || { name = "db" } || { name = "orphan" }`, "auth,db,orphan"},
		// structural: the right-hand spans
		{`{ name = "GET /api" } > { }`, "auth,db"},
		{`{ name = "db" } > { status = error }`, "SELECT users"},
		{`{ name = "GET /api" } >> { status = error }`, "auth,SELECT users"},
		{`{ name = "db" } >> { name = "auth" }`, ""},
		{`{ name = "cache" } < { }`, "db"},
		{`{ status = error } < { }`, "GET /api,db"},
		{`{ name = "cache" } << { }`, "GET /api,db"},
		{`{ name = "SELECT users" } ~ { }`, "cache"},
		{`{ name = "auth" } ~ { }`, "db"},
		{`{ name = "orphan" } ~ { }`, ""},
		{`{ } ~ { kind = consumer }`, ""},
		// negated structural: right-hand spans without the relation
		{`{ } !< { }`, "auth,SELECT users,cache,orphan"}, // leaves
		{`{ status = error } !< { status = error }`, "auth,SELECT users"},
		{`{ name = "GET /api" } !> { }`, "GET /api,SELECT users,cache,orphan"},
		{`{ name = "GET /api" } !>> { }`, "GET /api,orphan"},
		{`{ name = "cache" } !<< { }`, "auth,SELECT users,cache,orphan"},
		{`{ name = "auth" } !~ { }`, "GET /api,auth,SELECT users,cache,orphan"},
		{`{ name = "nope" } !> { }`, ""}, // both sides must match something
		// union structural: both ends of the relation
		{`{ name = "db" } &> { status = error }`, "db,SELECT users"},
		{`{ kind = server } &>> { status = error }`, "GET /api,auth,SELECT users"},
		{`{ name = "cache" } &< { }`, "db,cache"},
		{`{ name = "cache" } &<< { kind = server }`, "GET /api,cache"},
		{`{ name = "auth" } &~ { }`, "auth,db"},
		{`{ name = "orphan" } &> { }`, ""},
		// precedence: structural binds tighter than && and ||
		{`{ name = "orphan" } || { name = "db" } > { }`, "SELECT users,cache,orphan"},
		{`({ name = "orphan" } || { name = "db" }) > { }`, "SELECT users,cache"},
		{`{ name = "GET /api" } > { name = "db" } > { }`, "SELECT users,cache"},
		// pipelines
		{`{ } | { status = error }`, "auth,SELECT users"},
		{`{ status = error } | { kind = client } | { name = "auth" }`, "auth"},
		{`{ status = error } | count() = 2`, "auth,SELECT users"},
		{`{ status = error } | count() > 2`, ""},
		{`{ } | count() > 5`, allSpans},
		{`count() > 5`, allSpans},
		{`{ status = error } | avg(duration) = 15ms`, "auth,SELECT users"},
		{`{ status = error } | avg(duration) > 15ms`, ""},
		{`{ } | max(duration) >= 100ms`, allSpans},
		{`{ } | min(duration) = 1ms`, allSpans},
		{`{ kind = client } | sum(duration) = 30ms`, "auth,SELECT users"},
		{`{ } | sum(span.retry) = 3`, allSpans},
		{`{ } | avg(span.ratio) > 0.58`, allSpans}, // (0.25+0.5+1)/3
		{`{ } | avg(span.ratio) > 0.59`, ""},
		{`{ } | sum(span.missing) > 0`, ""},
		{`{ } | count() > 2 * 2`, allSpans},
		{`{ } | count() - 1 = 5`, allSpans},
		{`{ } | count() > 1 | { name = "db" } | count() = 1`, "db"},
		{`({ name = "auth" } && { name = "db" }) | count() > 1`, "auth,db"},
		{`({ name = "auth" } && { name = "db" }) | count() > 2`, ""},
		{`({ status = error } | count() > 1) && { name = "db" }`, "auth,db,SELECT users"},
		{`({ status = error } | count() > 2) || { name = "db" }`, "db"},
		// by, coalesce, select
		{`{ } | by(resource.service.name)`, "GET /api,auth|db,SELECT users,cache,orphan"},
		{`{ status = error } | by(resource.service.name) | count() = 1`, "auth|SELECT users"},
		{`{ } | by(resource.service.name) | count() > 2`, "db,SELECT users,cache,orphan"},
		{`{ } | by(kind)`, "GET /api|auth,SELECT users|db,cache|orphan"},
		{`{ } | by(span.retry)`, "GET /api,auth,cache,orphan|db|SELECT users"},
		{`{ } | by(resource.service.name, status) | count() = 1`, "GET /api|auth|SELECT users"},
		{`{ } | by(resource.service.name) | coalesce()`, allSpans},
		{`{ status = error } | by(name) | coalesce() | count() = 2`, "auth,SELECT users"},
		{`{ } | by(resource.service.name) | avg(duration) > 50ms`, "GET /api,auth"},
		{`{ } | by(resource.service.name) | { status = error }`, "auth|SELECT users"},
		{`by(kind) | count() = 2`, "auth,SELECT users|db,cache"},
		{`{ status = error } | select(span.http.method)`, "auth,SELECT users"},
		{`select(name)`, allSpans},
		{`{ } | rate()`, allSpans}, // the search part of a metrics query
		// hints change nothing here
		{`{ name = "db" } with (most_recent=true)`, "db"},
	}
	for _, c := range cases {
		q := mustParse(t, c.q)
		if got := names(q.Match(tr)); got != c.want {
			t.Errorf("%s\n got  %q\n want %q", c.q, got, c.want)
		}
	}
}

func TestMatchNoSpans(t *testing.T) {
	q := mustParse(t, `{ }`)
	if got := q.Match(&Trace{}); got != nil {
		t.Fatalf("empty trace: %v", got)
	}
	if got := q.Match(nil); got != nil {
		t.Fatalf("nil trace: %v", got)
	}
	if got := mustParse(t, `{ name = "x" }`).Match(testTrace()); got != nil {
		t.Fatalf("no match must be nil, got %#v", got)
	}
}

func attrsString(attrs []Attr) string {
	var parts []string
	for _, a := range attrs {
		parts = append(parts, a.Key+"="+formatLiteral(a.Value))
	}
	return strings.Join(parts, " ")
}

func TestMatchedSpanAttrs(t *testing.T) {
	tr := testTrace()
	cases := []struct {
		q    string
		want []string // per matched span, across spansets
	}{
		{`{ span.http.status_code = 500 }`, []string{"http.status_code=500"}},
		{`{ resource.service.name = "frontend" && span.http.method != nil }`, []string{`service.name="frontend" http.method="GET"`}},
		{`{ name = "auth" && duration > 1ms && status = error && kind = client && statusMessage != "" }`,
			[]string{`status=error kind=client statusMessage="denied"`}}, // name and duration are not repeated
		{`{ name = "db" } | select(span.db.system, resource.service.name, span.missing, span:id, trace:rootName)`,
			[]string{`db.system="postgresql" service.name="backend" span:id="0000000000000003"`}},
		{`{ name = "GET /api" } | select(event.exception.message, event:name, instrumentation:name, .shared)`,
			[]string{`exception.message="boom" event:name="exception" instrumentation:name="otel-go" shared="from-span"`}},
		{`{ name = "cache" } | select(link.ref, link:spanID, span:parentID, childCount)`,
			[]string{`ref="follows_from" link:spanID="0000000000000099" span:parentID="0000000000000003" childCount=0`}},
		{`{ status = error } | select(span.ratio)`, []string{`status=error ratio=0.25`, `status=error ratio=0.5`}},
		{`{ name = "orphan" }`, []string{``}},
	}
	for _, c := range cases {
		var got []string
		for _, ss := range mustParse(t, c.q).Match(tr) {
			for _, s := range ss.Spans {
				got = append(got, attrsString(s.Attrs))
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s\n got  %q\n want %q", c.q, got, c.want)
		}
	}
}

func TestSpansetAttrs(t *testing.T) {
	tr := testTrace()
	cases := []struct {
		q    string
		want []string // per spanset
	}{
		{`{ status = error } | count() > 1`, []string{`count()=2`}},
		{`{ status = error } | avg(duration) > 1ms`, []string{`avg(duration)=15ms`}},
		{`{ } | by(resource.service.name) | count() > 1`, []string{`by(resource.service.name)="frontend" count()=2`, `by(resource.service.name)="backend" count()=4`}},
		{`{ } | by(resource.service.name, kind) | count() = 2`, []string{`by(resource.service.name)="backend" by(kind)=internal count()=2`}},
		{`{ } | count() > 1 | count() > 2`, []string{`count()=6`}},
		{`{ } | sum(span.retry) > 1 | min(span.ratio) < 1 | max(span.ratio) > 0.5`, []string{`sum(span.retry)=3 min(span.ratio)=0.25 max(span.ratio)=1`}},
		{`{ } | by(kind) | coalesce()`, []string{``}},
		{`{ name = "db" }`, []string{``}},
	}
	for _, c := range cases {
		var got []string
		for _, ss := range mustParse(t, c.q).Match(tr) {
			got = append(got, attrsString(ss.Attrs))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s\n got  %q\n want %q", c.q, got, c.want)
		}
	}
}

// MatchedSpan.Span points into the trace passed to Match.
func TestMatchedSpanPointsIntoTrace(t *testing.T) {
	tr := testTrace()
	sets := mustParse(t, `{ name = "db" }`).Match(tr)
	if len(sets) != 1 || len(sets[0].Spans) != 1 || sets[0].Spans[0].Span != &tr.Spans[2] {
		t.Fatalf("got %+v", sets)
	}
}

// A cycle of parent indices must not hang the structural operators.
func TestStructuralCycle(t *testing.T) {
	tr := &Trace{Spans: []Span{{Name: "a", Parent: 1}, {Name: "b", Parent: 0}, {Name: "c", Parent: 2}}}
	for _, q := range []string{`{ } >> { }`, `{ } << { }`, `{ } !>> { }`, `{ } &>> { }`, `{ } &<< { }`, `{ } ~ { }`, `{ } > { }`} {
		mustParse(t, q).Match(tr) // must return
	}
	if got := names(mustParse(t, `{ name = "a" } >> { }`).Match(tr)); got != "a,b" {
		t.Fatalf("got %q", got)
	}
}

// Queries are safe for concurrent use.
func TestMatchConcurrent(t *testing.T) {
	q := mustParse(t, `{ span.retry >= 0 } >> { } | by(resource.service.name) | count() > 0 | select(span:id)`)
	tr := testTrace()
	want := names(q.Match(tr))
	done := make(chan string)
	for range 8 {
		go func() {
			var got string
			for range 200 {
				got = names(q.Match(tr))
			}
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Errorf("got %q want %q", got, want)
		}
	}
}

func benchTrace() *Trace {
	res := []*Resource{
		{Attrs: []Attr{kv("service.name", vStr("foo")), kv("k8s.namespace", vStr("prod")), kv("host.name", vStr("node-1"))}},
		{Attrs: []Attr{kv("service.name", vStr("bar")), kv("k8s.namespace", vStr("prod")), kv("host.name", vStr("node-2"))}},
	}
	t := &Trace{}
	for i := range 100 {
		code := int64(200)
		if i%10 == 0 {
			code = 500
		}
		t.Spans = append(t.Spans, Span{
			Name: fmt.Sprintf("op-%d", i%7), Parent: int32(i - 1), Kind: 2, DurationNano: uint64(i) * 1e6,
			Resource: res[i%2],
			Attrs: []Attr{
				kv("http.method", vStr("GET")), kv("http.route", vStr("/api/v1/things")),
				kv("http.status_code", vInt(code)), kv("net.peer.name", vStr("db")),
				kv("thread.id", vInt(int64(i))),
			},
		})
	}
	return t
}

func BenchmarkMatch(b *testing.B) {
	q := mustParse(b, `{ resource.service.name = "foo" && span.http.status_code = 500 }`)
	tr := benchTrace()
	if got := len(q.Match(tr)[0].Spans); got != 10 {
		b.Fatalf("matched %d spans", got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		q.Match(tr)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tr.Spans)), "ns/span")
}

func BenchmarkMatchNoMatch(b *testing.B) {
	q := mustParse(b, `{ resource.service.name = "foo" && span.http.status_code = 404 }`)
	tr := benchTrace()
	b.ReportAllocs()
	for b.Loop() {
		q.Match(tr)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tr.Spans)), "ns/span")
}

func BenchmarkMatchStructural(b *testing.B) {
	q := mustParse(b, `{ span.http.status_code = 500 } >> { resource.service.name = "bar" } | count() > 2`)
	tr := benchTrace()
	b.ReportAllocs()
	for b.Loop() {
		q.Match(tr)
	}
}
