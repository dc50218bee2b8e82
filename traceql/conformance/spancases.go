package conformance

import "github.com/pace-tracing/pace/traceql"

// SpanCase is a search case checked span by span: for every trace, the
// spans of the spansets Query returns, all spansets together, must be
// exactly those Want lists (indices into Trace.Spans, ascending; none when
// the trace must not match). It pins which spans an operator returns —
// the right-hand side of a structural operator, both sides of && and of
// the union forms, the groups a by() keeps.
type SpanCase struct {
	Name, Query string
	Want        func(t *traceql.Trace) []int
}

// SpanCases are the span-level cases.
var SpanCases = spanCases()

func spanCases() []SpanCase {
	var cs []SpanCase
	add := func(name, query string, want func(t *trace) set) {
		cs = append(cs, SpanCase{Name: name, Query: query, Want: func(t *traceql.Trace) []int { return want(t) }})
	}
	f := func(p pred) func(t *trace) set { return func(t *trace) set { return filter(t, p) } }
	structural := func(l, r pred, rl relation, negated bool) func(t *trace) set {
		return func(t *trace) set { return rel(t, filter(t, l), filter(t, r), rl, negated) }
	}
	unionOf := func(l, r pred, rl relation) func(t *trace) set {
		return func(t *trace) set { return relUnion(t, filter(t, l), filter(t, r), rl) }
	}
	nameG := func(_ *trace, s *span) (value, bool) { return value{Type: traceql.TypeString, S: s.Name}, true }

	add("filter", `{ status = error }`, f(status(statusError)))
	add("filter with two conditions", `{ kind = server && span.http.status_code >= 500 }`,
		f(and(kind(kindServer), is(spanAttr("http.status_code"), numCmp(">=", 500)))))
	add("event filter", `{ event:name = "exception" }`,
		f(eventWhere(func(e *traceql.Event) bool { return e.Name == "exception" })))
	add("link filter", `{ link.relation = "batch" }`, f(linkIs("relation", strEq("batch"))))
	add("unscoped filter", `{ .component = "gateway" }`, f(is(unscoped("component"), strEq("gateway"))))
	add("spanset and returns both sides", `{ kind = producer } && { status = error }`,
		func(t *trace) set { return both(filter(t, kind(kindProducer)), filter(t, status(statusError))) })
	add("spanset or returns both sides", `{ resource.service.name = "mailer" } || { name = "background job" }`,
		func(t *trace) set { return union(filter(t, service("mailer")), filter(t, name("background job"))) })
	add("child returns the children", `{ kind = server } > { kind = producer }`,
		structural(kind(kindServer), kind(kindProducer), relChild, false))
	add("parent returns the parents", `{ status = error } < { kind = client }`,
		structural(status(statusError), kind(kindClient), relParent, false))
	add("descendant returns the descendants", `{ resource.service.name = "foo" } >> { resource.service.name = "mailer" }`,
		structural(service("foo"), service("mailer"), relDescendant, false))
	add("ancestor returns the ancestors", `{ kind = consumer } << { kind = server }`,
		structural(kind(kindConsumer), kind(kindServer), relAncestor, false))
	add("sibling returns the right-hand siblings", `{ name = "render" } ~ { name = "cache.get" }`,
		structural(name("render"), name("cache.get"), relSibling, false))
	add("not child", `{ kind = server } !> { kind = client }`,
		structural(kind(kindServer), kind(kindClient), relChild, true))
	add("not parent", `{ status = error } !< { kind = server }`,
		structural(status(statusError), kind(kindServer), relParent, true))
	add("not descendant", `{ resource.service.name = "frontend" } !>> { status = error }`,
		structural(service("frontend"), status(statusError), relDescendant, true))
	add("not ancestor", `{ status = error } !<< { kind = server }`,
		structural(status(statusError), kind(kindServer), relAncestor, true))
	add("not sibling", `{ name = "render" } !~ { kind = internal }`,
		structural(name("render"), kind(kindInternal), relSibling, true))
	add("union child", `{ kind = server } &> { kind = producer }`, unionOf(kind(kindServer), kind(kindProducer), relChild))
	add("union parent", `{ status = error } &< { kind = client }`, unionOf(status(statusError), kind(kindClient), relParent))
	add("union descendant", `{ resource.service.name = "foo" } &>> { resource.service.name = "mailer" }`,
		unionOf(service("foo"), service("mailer"), relDescendant))
	add("union ancestor", `{ kind = consumer } &<< { kind = server }`, unionOf(kind(kindConsumer), kind(kindServer), relAncestor))
	add("union sibling", `{ name = "render" } &~ { name = "cache.get" }`, unionOf(name("render"), name("cache.get"), relSibling))
	add("chained structural", `{ kind = server } > { kind = client } > { kind = server }`,
		func(t *trace) set {
			a := rel(t, filter(t, kind(kindServer)), filter(t, kind(kindClient)), relChild, false)
			return rel(t, a, filter(t, kind(kindServer)), relChild, false)
		})
	add("structural then spanset and", `({ kind = server } > { kind = producer }) && { resource.service.name = "foo" }`,
		func(t *trace) set {
			return both(rel(t, filter(t, kind(kindServer)), filter(t, kind(kindProducer)), relChild, false), filter(t, service("foo")))
		})
	add("chained filter", `{ kind = server } | { status = error }`, f(and(kind(kindServer), status(statusError))))
	add("count keeps the whole spanset", `{ status = error } | count() > 2`,
		func(t *trace) set {
			if ss := filter(t, status(statusError)); len(ss) > 2 {
				return ss
			}
			return nil
		})
	add("spanset and with count", `({ kind = producer } && { status = error }) | count() > 6`,
		func(t *trace) set {
			if ss := both(filter(t, kind(kindProducer)), filter(t, status(statusError))); len(ss) > 6 {
				return ss
			}
			return nil
		})
	add("by keeps the passing groups", `{ status = error } | by(resource.service.name) | count() >= 2`,
		func(t *trace) set {
			var out set
			for _, g := range groupBy(t, filter(t, status(statusError)), resAttr("service.name")) {
				if len(g) >= 2 {
					out = union(out, g)
				}
			}
			return out
		})
	add("coalesce merges the kept groups", `{ status = error } | by(name) | count() = 1 | coalesce()`,
		func(t *trace) set {
			var out set
			for _, g := range groupBy(t, filter(t, status(statusError)), nameG) {
				if len(g) == 1 {
					out = union(out, g)
				}
			}
			return out
		})
	add("select keeps the spans", `{ kind = consumer } | select(span.messaging.partition, resource.service.name)`,
		f(kind(kindConsumer)))
	return cs
}
