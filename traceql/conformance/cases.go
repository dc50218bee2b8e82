package conformance

import (
	"encoding/base64"
	"encoding/hex"
	"slices"

	"github.com/pace-tracing/pace/traceql"
)

// Case is a search case: Query must match exactly the traces for which
// Want holds. Want is written by hand from TraceQL's documented semantics
// over the engine's model (see semantics.go); it never calls the engine.
type Case struct {
	Name, Query string
	Want        func(t *traceql.Trace) bool
}

// ExpectedIDs are the sorted lowercase hex IDs of the traces c must match.
func ExpectedIDs(c Case, traces []*traceql.Trace) []string {
	ids := []string{}
	for _, t := range traces {
		if c.Want(t) {
			ids = append(ids, hex.EncodeToString(t.ID[:]))
		}
	}
	slices.Sort(ids)
	return ids
}

// Trivial names the cases that match every trace of the dataset or none,
// on purpose.
var Trivial = map[string]bool{
	"empty filter":             true,
	"static true":              true,
	"static comparison":        true,
	"attribute never present":  true,
	"resource service exists":  true,
	"status always present":    true,
	"static false":             true,
	"name and not name":        true,
	"duration of zero or more": true,
	"empty value is nil":       true,
}

// Some IDs of the dataset that cases refer to.
const (
	idTrace       = 123 // a trace for trace:id
	idZeroTrace   = 7   // its ID starts with a zero byte
	idSpanTrace   = 42  // a trace for span:id and span:parentID
	idSpanIndex   = 3
	linkedTrace   = 10 // trace 11's root links to trace 10's first span
	linkedSpanOf  = 35 // trace 36's root links to trace 35's first span
	linkedSpanIdx = 0
)

// Cases are the search cases.
var Cases = searchCases()

func searchCases() []Case {
	var cs []Case
	add := func(name, query string, want func(t *trace) bool) {
		cs = append(cs, Case{Name: name, Query: query, Want: want})
	}
	// addS adds a case whose query is a single spanset filter: it matches
	// the traces with a span satisfying p.
	addS := func(name, query string, p pred) { add(name, query, some(p)) }
	all := func(*trace) bool { return true }
	none := func(*trace) bool { return false }
	trueP := func(*trace, *span) bool { return true }

	// ---- trivial ----
	add("empty filter", `{ }`, all)
	add("static true", `{ true }`, all)
	add("static false", `{ false }`, none)
	add("static comparison", `{ 1 = 1 }`, all)
	add("attribute never present", `{ span.does.not.exist != nil }`, none)
	add("resource service exists", `{ resource.service.name != nil }`, all)
	add("status always present", `{ status = ok || status = error || status = unset }`, all)
	add("name and not name", `{ name = "render" && name != "render" }`, none)
	add("duration of zero or more", `{ duration >= 0s }`, all)

	// ---- name ----
	addS("name equals", `{ name = "POST /api/orders" }`, name("POST /api/orders"))
	addS("span:name equals", `{ span:name = "compute tax" }`, name("compute tax"))
	addS("name with braces", `{ name = "GET /api/orders/{id}" }`, name("GET /api/orders/{id}"))
	addS("name not equal among servers", `{ name != "GET /api/users" && kind = server }`,
		and(not(name("GET /api/users")), kind(kindServer)))
	addS("name regex prefix", `{ name =~ "GET.*" }`, nameRe("GET.*"))
	addS("name regex is anchored", `{ name =~ "GET" }`, name("GET"))
	addS("name regex substring", `{ name =~ ".*orders.*" }`, nameRe(".*orders.*"))
	addS("name regex alternation", `{ name =~ "render|validate" }`, or(name("render"), name("validate")))
	addS("name regex case-insensitive", `{ name =~ "(?i)http get" }`, name("HTTP GET"))
	addS("name regex class", `{ name =~ "[A-Z]+ [a-z]+" }`, nameRe("[A-Z]+ [a-z]+"))
	addS("name regex escaped dot", `{ name =~ "cache\\.get" }`, name("cache.get"))
	addS("name regex word class", `{ name =~ "SELECT \\w+" }`, name("SELECT users"))
	addS("name not regex", `{ name !~ "(GET|POST|DELETE) .*" && kind = server }`,
		and(not(nameRe("(GET|POST|DELETE) .*")), kind(kindServer)))
	addS("span:name not regex", `{ span:name !~ ".*e.*" }`, not(nameRe(".*e.*")))

	// ---- status ----
	addS("status error", `{ status = error }`, status(statusError))
	addS("status ok", `{ status = ok }`, status(statusOK))
	addS("status unset server", `{ status = unset && kind = server }`, and(status(statusUnset), kind(kindServer)))
	addS("span:status error", `{ span:status = error }`, status(statusError))
	addS("status not ok client", `{ status != ok && kind = producer }`, and(not(status(statusOK)), kind(kindProducer)))
	addS("status not error and not unset", `{ status != error && status != unset && kind = consumer }`,
		and(status(statusOK), kind(kindConsumer)))
	addS("statusMessage equals", `{ statusMessage = "connection refused" }`,
		func(_ *trace, s *span) bool { return s.StatusMessage == "connection refused" })
	addS("span:statusMessage regex", `{ span:statusMessage =~ "timeout.*" }`,
		func(_ *trace, s *span) bool { return anchored("timeout.*").MatchString(s.StatusMessage) })
	addS("error without message", `{ status = error && statusMessage = "" }`,
		func(_ *trace, s *span) bool { return s.StatusCode == statusError && s.StatusMessage == "" })
	addS("ok with message", `{ status = ok && statusMessage != "" }`,
		func(_ *trace, s *span) bool { return s.StatusCode == statusOK && s.StatusMessage != "" })

	// ---- duration ----
	addS("duration over 1s", `{ duration > 1s }`, durCmp(">", 1*sec))
	addS("duration under 5us", `{ duration < 5us }`, durCmp("<", 5*us))
	addS("duration micro sign", `{ duration < 2µs }`, durCmp("<", 2*us))
	addS("duration range ms", `{ span:duration >= 10ms && span:duration <= 20ms }`,
		and(durCmp(">=", 10*ms), durCmp("<=", 20*ms)))
	addS("duration fractional seconds", `{ duration > 1.5s && kind = client }`, and(durCmp(">", 1.5*sec), kind(kindClient)))
	addS("duration over 25s", `{ duration > 25s }`, durCmp(">", 25*sec))
	addS("duration nanoseconds", `{ duration <= 900ns }`, durCmp("<=", 900))
	addS("duration minutes", `{ duration > 0.5m }`, durCmp(">", 30*sec))
	addS("duration not equal", `{ duration != 500ns && duration < 1us }`, and(durCmp("!=", 500), durCmp("<", 1*us)))
	addS("duration equals", `{ duration = 500ns }`, durCmp("=", 500))

	// ---- kind ----
	addS("kind server", `{ kind = server }`, kind(kindServer))
	addS("kind client", `{ kind = client }`, kind(kindClient))
	addS("kind producer", `{ kind = producer }`, kind(kindProducer))
	addS("kind consumer", `{ kind = consumer }`, kind(kindConsumer))
	addS("kind internal", `{ kind = internal }`, kind(kindInternal))
	addS("kind unspecified", `{ span:kind = unspecified }`, kind(kindUnspecified))
	addS("kind neither server nor client", `{ span:kind != server && span:kind != client && span:kind != internal }`,
		and(not(kind(kindServer)), not(kind(kindClient)), not(kind(kindInternal))))

	// ---- trace intrinsics ----
	rootName := func(n string) pred { return func(t *trace, _ *span) bool { return t.RootSpanName == n } }
	rootSvc := func(n string) pred { return func(t *trace, _ *span) bool { return t.RootServiceName == n } }
	traceDur := func(op string, d float64) pred {
		return func(t *trace, _ *span) bool { return cmpF(float64(t.DurationNano), op, d) }
	}
	addS("rootName", `{ rootName = "POST /api/orders" }`, rootName("POST /api/orders"))
	addS("trace:rootName", `{ trace:rootName = "consume orders" }`, rootName("consume orders"))
	addS("rootServiceName", `{ rootServiceName = "foo" }`, rootSvc("foo"))
	addS("trace:rootService", `{ trace:rootService = "checkout" }`, rootSvc("checkout"))
	addS("rootServiceName regex", `{ rootServiceName =~ "f.*" }`,
		func(t *trace, _ *span) bool { return anchored("f.*").MatchString(t.RootServiceName) })
	addS("rootServiceName with a space", `{ rootServiceName = "auth service" }`, rootSvc("auth service"))
	addS("rootName not equal with error", `{ rootName != "GET /api/users" && status = error }`,
		and(not(rootName("GET /api/users")), status(statusError)))
	addS("traceDuration over 10s", `{ traceDuration > 10s }`, traceDur(">", 10*sec))
	addS("trace:duration under 1ms", `{ trace:duration < 1ms }`, traceDur("<", 1*ms))
	addS("traceDuration and span duration", `{ traceDuration > 5s && duration < 10us }`,
		and(traceDur(">", 5*sec), durCmp("<", 10*us)))
	addS("root service and span service", `{ rootServiceName = "frontend" && resource.service.name = "payments" }`,
		and(rootSvc("frontend"), service("payments")))

	// ---- IDs ----
	addS("trace:id", `{ trace:id = "`+TraceIDHex(idTrace)+`" }`,
		func(t *trace, _ *span) bool { return t.ID == TraceID(idTrace) })
	addS("trace:id with a leading zero", `{ trace:id = "`+TraceIDHex(idZeroTrace)+`" }`,
		func(t *trace, _ *span) bool { return t.ID == TraceID(idZeroTrace) })
	addS("span:id", `{ span:id = "`+SpanIDHex(idSpanTrace, idSpanIndex)+`" }`,
		func(_ *trace, s *span) bool { return s.ID == SpanID(idSpanTrace, idSpanIndex) })
	addS("span:parentID", `{ span:parentID = "`+SpanIDHex(idSpanTrace, 0)+`" }`,
		func(_ *trace, s *span) bool { return s.ParentID == SpanID(idSpanTrace, 0) })
	addS("span:id or span:id", `{ span:id = "`+SpanIDHex(idSpanTrace, 1)+`" || span:id = "`+SpanIDHex(idTrace, 0)+`" }`,
		func(_ *trace, s *span) bool { return s.ID == SpanID(idSpanTrace, 1) || s.ID == SpanID(idTrace, 0) })
	addS("link:traceID", `{ link:traceID = "`+TraceIDHex(linkedTrace)+`" }`,
		linkWhere(func(l *traceql.Link) bool { return l.TraceID == TraceID(linkedTrace) }))
	addS("link:spanID", `{ link:spanID = "`+SpanIDHex(linkedSpanOf, linkedSpanIdx)+`" }`,
		linkWhere(func(l *traceql.Link) bool { return l.SpanID == SpanID(linkedSpanOf, linkedSpanIdx) }))

	// ---- events ----
	eventName := func(n string) pred {
		return eventWhere(func(e *traceql.Event) bool { return e.Name == n })
	}
	addS("event:name exception", `{ event:name = "exception" }`, eventName("exception"))
	addS("event:name with a space", `{ event:name = "cache miss" }`, eventName("cache miss"))
	addS("event:name regex", `{ event:name =~ "re.*" }`,
		eventWhere(func(e *traceql.Event) bool { return anchored("re.*").MatchString(e.Name) }))
	addS("event:name not exception", `{ event:name != "exception" }`,
		eventWhere(func(e *traceql.Event) bool { return e.Name != "exception" }))
	addS("exception without error", `{ event:name = "exception" && status != error }`,
		and(eventName("exception"), not(status(statusError))))
	addS("event:timeSinceStart", `{ event:timeSinceStart > 2s }`,
		eventWhere(func(e *traceql.Event) bool { return e.TimeSinceStartNano > 2*sec }))
	addS("event string attribute", `{ event.exception.type = "TimeoutError" }`, eventIs("exception.type", strEq("TimeoutError")))
	addS("event bool attribute", `{ event.exception.escaped = true }`, eventIs("exception.escaped", boolEq(true)))
	addS("event int attribute", `{ event.attempt >= 3 }`, eventIs("attempt", numCmp(">=", 3)))
	addS("event float attribute", `{ event.backoff.seconds > 2.5 }`, eventIs("backoff.seconds", numCmp(">", 2.5)))
	addS("event array attribute", `{ event.exception.frames = "handler.go:7" }`, eventIs("exception.frames", strEq("handler.go:7")))
	addS("event attribute regex", `{ event.level =~ "warn|error" }`, eventIs("level", reMatch("warn|error")))
	addS("event int not equal", `{ event.exception.code != 0 }`, eventIs("exception.code", numCmp("!=", 0)))
	addS("event attribute or event name", `{ event:name = "retry" || event.exception.escaped = false }`,
		or(eventName("retry"), eventIs("exception.escaped", boolEq(false))))
	addS("event attribute and span attribute", `{ event.exception.type = "IOError" && resource.service.name = "foo" }`,
		and(eventIs("exception.type", strEq("IOError")), service("foo")))

	// ---- links ----
	addS("link string attribute", `{ link.relation = "follows_from" }`, linkIs("relation", strEq("follows_from")))
	addS("link int attribute", `{ link.ordinal > 0 }`, linkIs("ordinal", numCmp(">", 0)))
	addS("link float attribute", `{ link.weight < 0.2 }`, linkIs("weight", numCmp("<", 0.2)))
	addS("link bool attribute", `{ link.sampled = true }`, linkIs("sampled", boolEq(true)))
	addS("link array attribute", `{ link.labels = "fanout" }`, linkIs("labels", strEq("fanout")))
	addS("link attribute exists", `{ link.weight != nil && kind = server }`, and(linkIs("weight", func(value) bool { return true }), kind(kindServer)))

	// ---- instrumentation scope ----
	scopeName := func(n string) pred {
		return func(_ *trace, s *span) bool { return s.Scope != nil && s.Scope.Name == n }
	}
	addS("instrumentation:name", `{ instrumentation:name = "io.opentelemetry.db" }`, scopeName("io.opentelemetry.db"))
	addS("instrumentation:version", `{ instrumentation:version = "2.0.0-rc.1" }`,
		func(_ *trace, s *span) bool { return s.Scope != nil && s.Scope.Version == "2.0.0-rc.1" })
	addS("instrumentation:name regex", `{ instrumentation:name =~ "github\\.com/.*" && status = error }`,
		and(func(_ *trace, s *span) bool {
			return s.Scope != nil && anchored(`github\.com/.*`).MatchString(s.Scope.Name)
		}, status(statusError)))
	addS("instrumentation:name and kind", `{ instrumentation:name = "manual" && kind = unspecified && duration > 1s }`,
		and(scopeName("manual"), kind(kindUnspecified), durCmp(">", 1*sec)))
	addS("instrumentation string attribute", `{ instrumentation.scope.tier = "storage" && status = error }`,
		and(is(scopeAttr("scope.tier"), strEq("storage")), status(statusError)))
	addS("instrumentation int attribute", `{ instrumentation.scope.priority >= 2 && resource.service.name = "mailer" }`,
		and(is(scopeAttr("scope.priority"), numCmp(">=", 2)), service("mailer")))
	addS("instrumentation float attribute", `{ instrumentation.scope.sample_ratio < 0.3 && span.http.status_code = 404 }`,
		and(is(scopeAttr("scope.sample_ratio"), numCmp("<", 0.3)), is(spanAttr("http.status_code"), numCmp("=", 404))))
	addS("instrumentation bool attribute", `{ instrumentation.scope.enabled = false && duration > 2s }`,
		and(is(scopeAttr("scope.enabled"), boolEq(false)), durCmp(">", 2*sec)))
	addS("instrumentation array attribute", `{ instrumentation.scope.labels = "manual" && status = error }`,
		and(is(scopeAttr("scope.labels"), strEq("manual")), status(statusError)))

	// ---- span attributes: strings ----
	addS("span string", `{ span.http.method = "DELETE" }`, is(spanAttr("http.method"), strEq("DELETE")))
	addS("span string not equal", `{ span.http.method != "GET" && kind = client }`,
		and(is(spanAttr("http.method"), strNe("GET")), kind(kindClient)))
	addS("span string regex", `{ span.db.system =~ "post.*" && duration > 3s }`,
		and(is(spanAttr("db.system"), reMatch("post.*")), durCmp(">", 3*sec)))
	addS("span string not regex", `{ span.component !~ "api|worker" }`, is(spanAttr("component"), reNotMatch("api|worker")))
	addS("span string regex on url", `{ span.http.url =~ "http://payments\\.internal:8080/api/(beta|gamma)" }`,
		is(spanAttr("http.url"), reMatch(`http://payments\.internal:8080/api/(beta|gamma)`)))
	addS("span string with punctuation", `{ span.db.statement = "UPDATE inventory WHERE id = ?" && resource.service.name = "foo" }`,
		and(is(spanAttr("db.statement"), strEq("UPDATE inventory WHERE id = ?")), service("foo")))

	// ---- span attributes: ints ----
	addS("span int equals", `{ span.http.status_code = 500 }`, is(spanAttr("http.status_code"), numCmp("=", 500)))
	addS("span int gte", `{ span.http.status_code >= 500 }`, is(spanAttr("http.status_code"), numCmp(">=", 500)))
	addS("span int not equal", `{ span.http.status_code != 200 && kind = server && resource.service.name = "foo" }`,
		and(is(spanAttr("http.status_code"), numCmp("!=", 200)), kind(kindServer), service("foo")))
	addS("span int range", `{ span.http.status_code >= 400 && span.http.status_code < 500 }`,
		and(is(spanAttr("http.status_code"), numCmp(">=", 400)), is(spanAttr("http.status_code"), numCmp("<", 500))))
	addS("span int greater", `{ span.retry.count > 4 }`, is(spanAttr("retry.count"), numCmp(">", 4)))
	addS("span int zero", `{ span.retry.count = 0 && status = error }`,
		and(is(spanAttr("retry.count"), numCmp("=", 0)), status(statusError)))
	addS("span int negative literal", `{ span.offset < -90 }`, is(spanAttr("offset"), numCmp("<", -90)))
	addS("span int lte zero", `{ span.offset <= 0 && kind = producer }`, and(is(spanAttr("offset"), numCmp("<=", 0)), kind(kindProducer)))
	addS("span int large", `{ span.payload.size > 1500000 }`, is(spanAttr("payload.size"), numCmp(">", 1500000)))
	addS("span int vs float literal", `{ span.http.status_code = 503.0 }`, is(spanAttr("http.status_code"), numCmp("=", 503)))
	addS("span int vs fractional literal", `{ span.http.status_code > 501.5 }`, is(spanAttr("http.status_code"), numCmp(">", 501.5)))
	addS("span int vs string literal", `{ span.http.status_code = "500" }`, is(spanAttr("http.status_code"), strEq("500")))

	// ---- span attributes: floats ----
	addS("span float greater", `{ span.ratio > 0.98 }`, is(spanAttr("ratio"), numCmp(">", 0.98)))
	addS("span float lte", `{ span.ratio <= 0.01 }`, is(spanAttr("ratio"), numCmp("<=", 0.01)))
	addS("span float negative", `{ span.temperature < -15.5 }`, is(spanAttr("temperature"), numCmp("<", -15.5)))
	addS("span float vs int literal", `{ span.temperature > 35 }`, is(spanAttr("temperature"), numCmp(">", 35)))
	addS("span float equals", `{ span.ratio = 0.5 || span.temperature = 0.0 }`,
		or(is(spanAttr("ratio"), numCmp("=", 0.5)), is(spanAttr("temperature"), numCmp("=", 0))))
	addS("span float range", `{ span.ratio > 0.4 && span.ratio < 0.41 }`,
		and(is(spanAttr("ratio"), numCmp(">", 0.4)), is(spanAttr("ratio"), numCmp("<", 0.41))))

	// ---- span attributes: bools ----
	addS("span bool true", `{ span.cache.hit = true && kind = server }`, and(is(spanAttr("cache.hit"), boolEq(true)), kind(kindServer)))
	addS("span bool false", `{ span.cache.hit = false && status = error }`,
		and(is(spanAttr("cache.hit"), boolEq(false)), status(statusError)))
	addS("span bool not true", `{ span.cache.hit != true && name = "render" }`,
		and(is(spanAttr("cache.hit"), boolNe(true)), name("render")))

	// ---- span attributes: arrays ----
	addS("span string array", `{ span.tags = "delta" }`, is(spanAttr("tags"), strEq("delta")))
	addS("span string array regex", `{ span.tags =~ "gam.*" && kind = client }`, and(is(spanAttr("tags"), reMatch("gam.*")), kind(kindClient)))
	addS("span int array", `{ span.codes = 42 }`, is(spanAttr("codes"), numCmp("=", 42)))
	addS("span int array greater", `{ span.codes > 10 && status = ok }`, and(is(spanAttr("codes"), numCmp(">", 10)), status(statusOK)))
	addS("span float array", `{ span.weights >= 0.95 }`, is(spanAttr("weights"), numCmp(">=", 0.95)))
	addS("span bool array", `{ span.flags = true }`, is(spanAttr("flags"), boolEq(true)))

	// ---- existence, names with dashes and spaces, converted values ----
	addS("span attribute exists", `{ span.x-request-id != nil && status = error }`,
		and(exists(spanAttr("x-request-id")), status(statusError)))
	addS("two attributes exist", `{ span.payload.size != nil && span.ratio != nil && span.retry.count != nil && kind = consumer }`,
		and(exists(spanAttr("payload.size")), exists(spanAttr("ratio")), exists(spanAttr("retry.count")), kind(kindConsumer)))
	addS("dashed name regex", `{ span.x-request-id =~ "a.*" }`, is(spanAttr("x-request-id"), reMatch("a.*")))
	addS("quoted dashed name", `{ span."x-request-id" =~ "f.*" }`, is(spanAttr("x-request-id"), reMatch("f.*")))
	addS("quoted name with a space", `{ span."user name" = "bob smith" }`, is(spanAttr("user name"), strEq("bob smith")))
	addS("quoted resource name with a space", `{ resource."cost center" = "R&D 7" }`, is(resAttr("cost center"), strEq("R&D 7")))
	addS("dashed resource name", `{ resource.team-name = "payments-team" && status = error }`,
		and(is(resAttr("team-name"), strEq("payments-team")), status(statusError)))
	addS("bytes as base64", `{ span.blob = "`+base64.StdEncoding.EncodeToString(BlobBytes)+`" }`,
		is(spanAttr("blob"), strEq(base64.StdEncoding.EncodeToString(BlobBytes))))
	addS("map as JSON", `{ span.headers =~ ".*\"accept\":\"xml\".*" }`, is(spanAttr("headers"), reMatch(`.*"accept":"xml".*`)))
	addS("empty value is nil", `{ span.empty.value != nil }`, exists(spanAttr("empty.value")))

	addS("attribute named like an intrinsic", `{ span.name = "shadow" }`, is(spanAttr("name"), strEq("shadow")))
	addS("unscoped attribute named like an intrinsic", `{ .name = "alias" }`, is(unscoped("name"), strEq("alias")))
	addS("resource attribute named like an intrinsic", `{ resource.status = "degraded" && status = error }`,
		and(is(resAttr("status"), strEq("degraded")), status(statusError)))
	addS("int beyond float precision", `{ span.big.id = 9007199254740993 }`, is(spanAttr("big.id"), func(v value) bool {
		return v.Type == traceql.TypeInt && v.I == BigID+1
	}))
	addS("float literal without a leading digit", `{ span.ratio < .02 }`, is(spanAttr("ratio"), numCmp("<", 0.02)))
	addS("float literal with an exponent", `{ span.payload.size > 1.5e6 }`, is(spanAttr("payload.size"), numCmp(">", 1.5e6)))
	addS("compound duration literal", `{ duration > 1s500ms && kind = internal }`, and(durCmp(">", 1.5*sec), kind(kindInternal)))
	addS("query over several lines", "{\n  status = error &&\n\tkind = consumer\n}", and(status(statusError), kind(kindConsumer)))
	add("parenthesised filter", `(({ kind = producer && duration > 1ms }))`, some(and(kind(kindProducer), durCmp(">", 1*ms))))
	addS("resource attribute exists", `{ resource."cost center" != nil && kind = consumer }`,
		and(exists(resAttr("cost center")), kind(kindConsumer)))
	addS("rootName of the earliest root", `{ rootName = "background job" }`,
		func(t *trace, _ *span) bool { return t.RootSpanName == "background job" })

	// ---- resource attributes ----
	addS("resource service", `{ resource.service.name = "foo" }`, service("foo"))
	addS("resource service with a space", `{ resource.service.name = "auth service" && kind = server }`,
		and(service("auth service"), kind(kindServer)))
	addS("resource string", `{ resource.deployment.environment = "dev" && status = error }`,
		and(is(resAttr("deployment.environment"), strEq("dev")), status(statusError)))
	addS("resource string regex", `{ resource.service.version =~ ".*beta.*" && duration > 5s }`,
		and(is(resAttr("service.version"), reMatch(".*beta.*")), durCmp(">", 5*sec)))
	addS("resource int", `{ resource.k8s.pod.restarts > 5 && kind = consumer }`,
		and(is(resAttr("k8s.pod.restarts"), numCmp(">", 5)), kind(kindConsumer)))
	addS("resource float", `{ resource.cpu.limit >= 4.0 && status = error }`,
		and(is(resAttr("cpu.limit"), numCmp(">=", 4)), status(statusError)))
	addS("resource float vs int", `{ resource.cpu.limit < 1 }`, is(resAttr("cpu.limit"), numCmp("<", 1)))
	addS("resource bool", `{ resource.canary = true }`, is(resAttr("canary"), boolEq(true)))
	addS("resource array", `{ resource.zones = "eu-west-1b" }`, is(resAttr("zones"), strEq("eu-west-1b")))
	addS("resource not equal", `{ resource.service.name != "frontend" && kind = server && span.http.method = "DELETE" }`,
		and(is(resAttr("service.name"), strNe("frontend")), kind(kindServer), is(spanAttr("http.method"), strEq("DELETE"))))

	// ---- unscoped attributes ----
	addS("unscoped span attribute", `{ .http.method = "PUT" }`, is(unscoped("http.method"), strEq("PUT")))
	addS("unscoped resource attribute", `{ .deployment.environment = "staging" && status = error }`,
		and(is(unscoped("deployment.environment"), strEq("staging")), status(statusError)))
	addS("unscoped service.name", `{ .service.name = "inventory" }`, is(unscoped("service.name"), strEq("inventory")))
	addS("unscoped int", `{ .retry.count >= 5 }`, is(unscoped("retry.count"), numCmp(">=", 5)))
	addS("unscoped span over resource", `{ .component = "gateway" && kind = client }`,
		and(is(unscoped("component"), strEq("gateway")), kind(kindClient)))
	addS("unscoped span value", `{ .component = "cron" }`, is(unscoped("component"), strEq("cron")))

	// ---- logic inside a filter ----
	addS("and", `{ resource.service.name = "payments" && status = error }`, and(service("payments"), status(statusError)))
	addS("or", `{ name = "redis GET" || name = "publish orders" }`, or(name("redis GET"), name("publish orders")))
	// && and || have one precedence and associate to the left, in Tempo's
	// grammar (%left AND OR): a || b && c is (a || b) && c.
	addS("or then and associate left", `{ kind = producer || kind = consumer && status = error }`,
		and(or(kind(kindProducer), kind(kindConsumer)), status(statusError)))
	addS("and then or associate left", `{ status = error && kind = producer || kind = consumer }`,
		or(and(status(statusError), kind(kindProducer)), kind(kindConsumer)))
	addS("or then and with parentheses", `{ kind = producer || (kind = consumer && status = error) }`,
		or(kind(kindProducer), and(kind(kindConsumer), status(statusError))))
	addS("parentheses", `{ (kind = producer || kind = consumer) && status = error }`,
		and(or(kind(kindProducer), kind(kindConsumer)), status(statusError)))
	addS("not", `{ !(status = error) && span.http.status_code >= 400 }`,
		and(not(status(statusError)), is(spanAttr("http.status_code"), numCmp(">=", 400))))
	addS("not of an and", `{ !(kind = server || kind = client) && duration > 10s }`,
		and(not(or(kind(kindServer), kind(kindClient))), durCmp(">", 10*sec)))
	addS("not of a missing attribute", `{ !(span.cache.hit = true) && name = "cache.get" && status = error }`,
		and(not(is(spanAttr("cache.hit"), boolEq(true))), name("cache.get"), status(statusError)))
	addS("three-way and", `{ kind = server && status = error && resource.deployment.environment = "prod" }`,
		and(kind(kindServer), status(statusError), is(resAttr("deployment.environment"), strEq("prod"))))
	addS("nested parentheses", `{ ((name = "render" || name = "validate") && (duration > 1s || status = error)) }`,
		and(or(name("render"), name("validate")), or(durCmp(">", 1*sec), status(statusError))))

	// ---- arithmetic ----
	arith := func(g getter, f func(x float64) bool) pred {
		return func(t *trace, s *span) bool {
			x, ok := numAttr(g, t, s)
			return ok && f(x)
		}
	}
	addS("division", `{ span.http.status_code / 100 >= 5 }`,
		arith(spanAttr("http.status_code"), func(x float64) bool { return x/100 >= 5 }))
	addS("multiplication", `{ span.retry.count * 2 > 8 }`,
		arith(spanAttr("retry.count"), func(x float64) bool { return x*2 > 8 }))
	addS("addition", `{ span.retry.count + 1 = 2 && kind = producer }`,
		and(arith(spanAttr("retry.count"), func(x float64) bool { return x+1 == 2 }), kind(kindProducer)))
	addS("subtraction", `{ span.payload.size - 1000 < 0 }`,
		arith(spanAttr("payload.size"), func(x float64) bool { return x-1000 < 0 }))
	addS("modulo", `{ span.offset % 50 = 0 }`,
		func(t *trace, s *span) bool {
			x, ok := intAttr(spanAttr("offset"), t, s)
			return ok && x%50 == 0
		})
	addS("power", `{ 2 ^ span.retry.count >= 32 }`,
		arith(spanAttr("retry.count"), func(x float64) bool { return x >= 5 }))
	addS("float arithmetic", `{ span.ratio * 100 >= 99.5 }`,
		arith(spanAttr("ratio"), func(x float64) bool { return x*100 >= 99.5 }))
	addS("arithmetic precedence", `{ span.retry.count + 2 * 3 = 8 }`,
		arith(spanAttr("retry.count"), func(x float64) bool { return x == 2 }))
	addS("arithmetic parentheses", `{ (span.retry.count + 2) * 3 = 15 && status = error }`,
		and(arith(spanAttr("retry.count"), func(x float64) bool { return x == 3 }), status(statusError)))
	addS("two attributes", `{ span.retry.count + span.offset > 95 }`,
		func(t *trace, s *span) bool {
			a, ok1 := numAttr(spanAttr("retry.count"), t, s)
			b, ok2 := numAttr(spanAttr("offset"), t, s)
			return ok1 && ok2 && a+b > 95
		})
	addS("arithmetic on both sides", `{ span.offset * 2 < span.retry.count - 150 }`,
		func(t *trace, s *span) bool {
			a, ok1 := numAttr(spanAttr("offset"), t, s)
			b, ok2 := numAttr(spanAttr("retry.count"), t, s)
			return ok1 && ok2 && a*2 < b-150
		})

	// ---- spanset operators ----
	f := func(p pred) func(t *trace) set { return func(t *trace) set { return filter(t, p) } }
	producer, consumer := f(kind(kindProducer)), f(kind(kindConsumer))
	errs := f(status(statusError))
	add("spanset and", `{ kind = producer } && { status = error }`,
		func(t *trace) bool { return len(both(producer(t), errs(t))) > 0 })
	addS("filter and is not spanset and", `{ kind = producer && status = error }`, and(kind(kindProducer), status(statusError)))
	add("spanset or", `{ resource.service.name = "mailer" } || { name = "background job" }`,
		func(t *trace) bool { return some(service("mailer"))(t) || some(name("background job"))(t) })
	add("spanset and of three", `{ kind = producer } && { kind = consumer } && { status = error }`,
		func(t *trace) bool { return len(both(both(producer(t), consumer(t)), errs(t))) > 0 })
	add("spanset or then and", `({ resource.service.name = "mailer" } || { resource.service.name = "auth service" }) && { status = error }`,
		func(t *trace) bool {
			return len(both(union(filter(t, service("mailer")), filter(t, service("auth service"))), errs(t))) > 0
		})
	add("spanset and with pipeline", `({ kind = producer } && { status = error }) | count() > 6`,
		func(t *trace) bool { return len(both(producer(t), errs(t))) > 6 })
	add("spanset or with pipeline", `({ kind = producer } || { kind = consumer }) | count() >= 4`,
		func(t *trace) bool { return len(union(producer(t), consumer(t))) >= 4 })

	// ---- structural operators ----
	type op struct {
		sym     string
		r       relation
		negated bool
	}
	structural := func(name, lhs, rhs string, o op, pl, pr pred) {
		add(name, lhs+" "+o.sym+" "+rhs, func(t *trace) bool {
			return len(rel(t, filter(t, pl), filter(t, pr), o.r, o.negated)) > 0
		})
	}
	var (
		child      = op{">", relChild, false}
		parent     = op{"<", relParent, false}
		descendant = op{">>", relDescendant, false}
		ancestor   = op{"<<", relAncestor, false}
		sibling    = op{"~", relSibling, false}
		notChild   = op{"!>", relChild, true}
		notParent  = op{"!<", relParent, true}
		notDesc    = op{"!>>", relDescendant, true}
		notAnc     = op{"!<<", relAncestor, true}
		notSibling = op{"!~", relSibling, true}
	)
	structural("child", `{ kind = server }`, `{ kind = producer }`, child, kind(kindServer), kind(kindProducer))
	structural("child across services", `{ resource.service.name = "checkout" }`, `{ resource.service.name = "payments" }`, child,
		service("checkout"), service("payments"))
	structural("child error", `{ name = "HTTP POST" }`, `{ status = error }`, child, name("HTTP POST"), status(statusError))
	structural("descendant", `{ name = "POST /api/orders" }`, `{ span.db.system = "redis" }`, descendant,
		name("POST /api/orders"), is(spanAttr("db.system"), strEq("redis")))
	structural("descendant across services", `{ resource.service.name = "foo" }`, `{ resource.service.name = "mailer" }`, descendant,
		service("foo"), service("mailer"))
	structural("descendant same condition", `{ kind = server }`, `{ kind = server }`, descendant, kind(kindServer), kind(kindServer))
	structural("parent", `{ status = error }`, `{ kind = client }`, parent, status(statusError), kind(kindClient))
	structural("parent of db", `{ span.db.system = "mysql" }`, `{ kind = server }`, parent,
		is(spanAttr("db.system"), strEq("mysql")), kind(kindServer))
	structural("ancestor", `{ span.db.system = "postgresql" && status = error }`, `{ resource.service.name = "frontend" }`, ancestor,
		and(is(spanAttr("db.system"), strEq("postgresql")), status(statusError)), service("frontend"))
	structural("ancestor of consumer", `{ kind = consumer }`, `{ name = "GET /api/users" }`, ancestor,
		kind(kindConsumer), name("GET /api/users"))
	structural("sibling", `{ name = "render" }`, `{ name = "cache.get" }`, sibling, name("render"), name("cache.get"))
	structural("sibling error", `{ kind = client }`, `{ status = error && kind = internal }`, sibling,
		kind(kindClient), and(status(statusError), kind(kindInternal)))
	structural("sibling same condition", `{ kind = producer }`, `{ kind = producer }`, sibling, kind(kindProducer), kind(kindProducer))
	structural("not child", `{ kind = server }`, `{ kind = client && span.http.method != nil }`, notChild,
		kind(kindServer), and(kind(kindClient), exists(spanAttr("http.method"))))
	structural("not child error", `{ kind = client }`, `{ kind = server && status = error }`, notChild,
		kind(kindClient), and(kind(kindServer), status(statusError)))
	structural("not parent", `{ status = error }`, `{ kind = server }`, notParent, status(statusError), kind(kindServer))
	structural("not descendant", `{ resource.service.name = "frontend" }`, `{ status = error }`, notDesc,
		service("frontend"), status(statusError))
	structural("not descendant of producer", `{ kind = producer }`, `{ kind = consumer }`, notDesc, kind(kindProducer), kind(kindConsumer))
	structural("not ancestor", `{ status = error }`, `{ kind = server && resource.service.name = "frontend" }`, notAnc,
		status(statusError), and(kind(kindServer), service("frontend")))
	structural("not sibling", `{ name = "render" }`, `{ kind = internal }`, notSibling, name("render"), kind(kindInternal))
	structural("not sibling same condition", `{ kind = producer }`, `{ kind = producer }`, notSibling, kind(kindProducer), kind(kindProducer))
	structural("any child", `{ }`, `{ }`, child, trueP, trueP)
	add("chained child", `{ kind = server } > { kind = client } > { kind = server && status = error }`,
		func(t *trace) bool {
			a := rel(t, filter(t, kind(kindServer)), filter(t, kind(kindClient)), relChild, false)
			return len(rel(t, a, filter(t, and(kind(kindServer), status(statusError))), relChild, false)) > 0
		})
	add("descendant then child", `{ resource.service.name = "frontend" } >> { kind = client } > { resource.service.name = "auth service" }`,
		func(t *trace) bool {
			a := rel(t, filter(t, service("frontend")), filter(t, kind(kindClient)), relDescendant, false)
			return len(rel(t, a, filter(t, service("auth service")), relChild, false)) > 0
		})
	add("descendant with count", `{ kind = server } >> { kind = client } | count() > 12`,
		func(t *trace) bool {
			return len(rel(t, filter(t, kind(kindServer)), filter(t, kind(kindClient)), relDescendant, false)) > 12
		})
	add("structural and spanset and", `({ kind = server } > { kind = producer }) && { resource.service.name = "foo" }`,
		func(t *trace) bool {
			a := rel(t, filter(t, kind(kindServer)), filter(t, kind(kindProducer)), relChild, false)
			return len(both(a, filter(t, service("foo")))) > 0
		})
	add("structural or", `({ kind = consumer } > { status = error }) || ({ name = "publish orders" } ~ { name = "render" })`,
		func(t *trace) bool {
			a := rel(t, filter(t, kind(kindConsumer)), filter(t, status(statusError)), relChild, false)
			b := rel(t, filter(t, name("publish orders")), filter(t, name("render")), relSibling, false)
			return len(union(a, b)) > 0
		})

	unionCount := func(name, query string, pl, pr pred, r relation, op string, n float64) {
		add(name, query, func(t *trace) bool {
			ss := relUnion(t, filter(t, pl), filter(t, pr), r)
			return len(ss) > 0 && cmpF(float64(len(ss)), op, n)
		})
	}
	unionCount("union child", `{ kind = server } &> { kind = producer } | count() >= 3`,
		kind(kindServer), kind(kindProducer), relChild, ">=", 3)
	unionCount("union parent", `{ status = error } &< { kind = client } | count() > 4`,
		status(statusError), kind(kindClient), relParent, ">", 4)
	unionCount("union descendant", `{ resource.service.name = "foo" } &>> { resource.service.name = "mailer" } | count() > 3`,
		service("foo"), service("mailer"), relDescendant, ">", 3)
	unionCount("union ancestor", `{ kind = consumer } &<< { kind = server } | count() >= 5`,
		kind(kindConsumer), kind(kindServer), relAncestor, ">=", 5)
	unionCount("union sibling", `{ name = "render" } &~ { name = "cache.get" } | count() > 3`,
		name("render"), name("cache.get"), relSibling, ">", 3)

	// ---- childCount ----
	addS("childCount", `{ childCount > 4 }`, func(t *trace, s *span) bool { return childCount(t, spanIndex(t, s)) > 4 })
	addS("span:childCount leaf", `{ span:childCount = 0 && kind = server && status = error }`,
		and(func(t *trace, s *span) bool { return childCount(t, spanIndex(t, s)) == 0 }, kind(kindServer), status(statusError)))

	// ---- pipelines: aggregates ----
	countCmp := func(p pred, op string, n float64) func(t *trace) bool {
		return func(t *trace) bool {
			ss := filter(t, p)
			return len(ss) > 0 && cmpF(float64(len(ss)), op, n)
		}
	}
	aggCmp := func(p pred, agg func(t *trace, ss set) float64, op string, x float64) func(t *trace) bool {
		return func(t *trace) bool {
			ss := filter(t, p)
			if len(ss) == 0 {
				return false
			}
			v := agg(t, ss)
			return !isNaN(v) && cmpF(v, op, x)
		}
	}
	avgDur := func(t *trace, ss set) float64 { return avg(durs(t, ss)) }
	minDur := func(t *trace, ss set) float64 { return minOf(durs(t, ss)) }
	maxDur := func(t *trace, ss set) float64 { return maxOf(durs(t, ss)) }
	sumDur := func(t *trace, ss set) float64 { return sum(durs(t, ss)) }
	ofAttr := func(agg func([]float64) float64, g getter) func(t *trace, ss set) float64 {
		return func(t *trace, ss set) float64 { return agg(nums(t, ss, g)) }
	}
	add("count greater", `{ } | count() > 30`, countCmp(trueP, ">", 30))
	add("count of errors", `{ status = error } | count() >= 3`, countCmp(status(statusError), ">=", 3))
	add("count equals", `{ kind = producer } | count() = 2`, countCmp(kind(kindProducer), "=", 2))
	add("count less", `{ } | count() < 3`, countCmp(trueP, "<", 3))
	add("count vs float", `{ status = error } | count() > 4.5`, countCmp(status(statusError), ">", 4.5))
	add("count not equal", `{ kind = server } | count() != 1`, countCmp(kind(kindServer), "!=", 1))
	add("avg duration", `{ kind = server } | avg(duration) > 2s`, aggCmp(kind(kindServer), avgDur, ">", 2*sec))
	add("min duration", `{ } | min(duration) < 1us`, aggCmp(trueP, minDur, "<", 1*us))
	add("max duration", `{ } | max(duration) > 20s`, aggCmp(trueP, maxDur, ">", 20*sec))
	add("sum duration", `{ kind = client } | sum(duration) > 8s`, aggCmp(kind(kindClient), sumDur, ">", 8*sec))
	add("sum int attribute", `{ span.payload.size != nil } | sum(span.payload.size) > 5000000`,
		aggCmp(exists(spanAttr("payload.size")), ofAttr(sum, spanAttr("payload.size")), ">", 5000000))
	add("avg int attribute", `{ span.payload.size != nil } | avg(span.payload.size) < 100`,
		aggCmp(exists(spanAttr("payload.size")), ofAttr(avg, spanAttr("payload.size")), "<", 100))
	add("min float attribute", `{ span.ratio != nil } | min(span.ratio) < 0.01`,
		aggCmp(exists(spanAttr("ratio")), ofAttr(minOf, spanAttr("ratio")), "<", 0.01))
	add("max float attribute", `{ span.ratio != nil } | max(span.ratio) >= 0.995`,
		aggCmp(exists(spanAttr("ratio")), ofAttr(maxOf, spanAttr("ratio")), ">=", 0.995))
	add("avg status code", `{ span.http.status_code >= 100 } | avg(span.http.status_code) > 350`,
		aggCmp(is(spanAttr("http.status_code"), numCmp(">=", 100)), ofAttr(avg, spanAttr("http.status_code")), ">", 350))
	add("avg float vs int", `{ span.temperature != nil } | avg(span.temperature) < -10`,
		aggCmp(exists(spanAttr("temperature")), ofAttr(avg, spanAttr("temperature")), "<", -10))
	add("aggregate arithmetic", `{ kind = client } | max(duration) - min(duration) > 5s`,
		aggCmp(kind(kindClient), func(t *trace, ss set) float64 { return maxDur(t, ss) - minDur(t, ss) }, ">", 5*sec))
	add("aggregates compared", `{ kind = server } | max(duration) > 3 * avg(duration)`,
		func(t *trace) bool {
			ss := filter(t, kind(kindServer))
			return len(ss) > 0 && maxDur(t, ss) > 3*avgDur(t, ss)
		})
	add("two aggregate stages", `{ } | count() > 10 | avg(duration) > 500ms`,
		func(t *trace) bool {
			ss := filter(t, trueP)
			return len(ss) > 10 && avgDur(t, ss) > 500*ms
		})
	add("aggregate then filter", `{ status = error } | count() > 1 | { kind = server }`,
		func(t *trace) bool {
			ss := filter(t, status(statusError))
			return len(ss) > 1 && len(within(t, ss, kind(kindServer))) > 0
		})
	add("parenthesised pipeline and filter", `({ status = error } | count() > 2) && { kind = producer }`,
		func(t *trace) bool {
			ss := filter(t, status(statusError))
			return len(ss) > 2 && some(kind(kindProducer))(t)
		})
	add("parenthesised pipeline or", `({ kind = server } | avg(duration) > 8s) || { rootServiceName = "mailer" }`,
		func(t *trace) bool {
			ss := filter(t, kind(kindServer))
			return (len(ss) > 0 && avgDur(t, ss) > 8*sec) || t.RootServiceName == "mailer"
		})

	// ---- pipelines: chained filters ----
	add("chained filter", `{ kind = server } | { status = error }`,
		func(t *trace) bool { return len(within(t, filter(t, kind(kindServer)), status(statusError))) > 0 })
	add("chained filter then count", `{ } | { span.http.status_code >= 500 } | count() >= 2`,
		func(t *trace) bool {
			return len(within(t, filter(t, trueP), is(spanAttr("http.status_code"), numCmp(">=", 500)))) >= 2
		})
	add("three chained filters", `{ resource.service.name = "checkout" } | { kind = client } | { duration > 100ms }`,
		func(t *trace) bool {
			return len(within(t, within(t, filter(t, service("checkout")), kind(kindClient)), durCmp(">", 100*ms))) > 0
		})

	// ---- pipelines: by(), coalesce(), select() ----
	byCount := func(p pred, g getter, op string, n float64) func(t *trace) bool {
		return func(t *trace) bool {
			return anyGroup(groupBy(t, filter(t, p), g), func(s set) bool { return cmpF(float64(len(s)), op, n) })
		}
	}
	intrinsic := func(f func(s *span) value) getter {
		return func(_ *trace, s *span) (value, bool) { return f(s), true }
	}
	nameG := intrinsic(func(s *span) value { return value{Type: traceql.TypeString, S: s.Name} })
	kindG := intrinsic(func(s *span) value { return value{Type: traceql.TypeKind, I: int64(s.Kind)} })
	statusG := intrinsic(func(s *span) value { return value{Type: traceql.TypeStatus, I: int64(s.StatusCode)} })
	add("by service count", `{ } | by(resource.service.name) | count() > 15`, byCount(trueP, resAttr("service.name"), ">", 15))
	add("by service errors", `{ status = error } | by(resource.service.name) | count() >= 3`,
		byCount(status(statusError), resAttr("service.name"), ">=", 3))
	add("by span attribute", `{ span.http.method != nil && kind = client } | by(span.http.method) | count() > 4`,
		byCount(and(exists(spanAttr("http.method")), kind(kindClient)), spanAttr("http.method"), ">", 4))
	add("by name", `{ } | by(name) | count() >= 6`, byCount(trueP, nameG, ">=", 6))
	add("by kind avg", `{ } | by(kind) | avg(duration) > 6s`,
		func(t *trace) bool {
			return anyGroup(groupBy(t, filter(t, trueP), kindG), func(s set) bool { return avgDur(t, s) > 6*sec })
		})
	add("by status", `{ } | by(status) | count() > 12`, byCount(trueP, statusG, ">", 12))
	add("by then filter", `{ } | by(resource.service.name) | count() > 5 | { status = error }`,
		func(t *trace) bool {
			return anyGroup(groupBy(t, filter(t, trueP), resAttr("service.name")), func(s set) bool {
				return len(s) > 5 && len(within(t, s, status(statusError))) > 0
			})
		})
	add("by then coalesce", `{ } | by(resource.service.name) | coalesce() | count() > 25`, countCmp(trueP, ">", 25))
	add("coalesce after filter by", `{ status = error } | by(name) | count() = 1 | coalesce() | count() >= 3`,
		func(t *trace) bool {
			var kept set
			for _, g := range groupBy(t, filter(t, status(statusError)), nameG) {
				if len(g) == 1 {
					kept = append(kept, g...)
				}
			}
			return len(kept) >= 3
		})
	add("coalesce alone", `{ kind = consumer } | coalesce()`, some(kind(kindConsumer)))
	add("select", `{ status = error && kind = producer } | select(span.http.method, resource.service.name)`,
		some(and(status(statusError), kind(kindProducer))))
	add("select intrinsics", `{ name = "validate" && duration > 3s } | select(duration, statusMessage, kind)`,
		some(and(name("validate"), durCmp(">", 3*sec))))
	add("select then count", `{ kind = consumer } | select(span.messaging.partition) | count() > 1`,
		countCmp(kind(kindConsumer), ">", 1))

	return cs
}

func isNaN(x float64) bool { return x != x }

// spanIndex is the index of s in t.Spans.
func spanIndex(t *trace, s *span) int {
	for i := range t.Spans {
		if &t.Spans[i] == s {
			return i
		}
	}
	return -1
}
