package conformance

// The TraceQL semantics the predicates are written with, as small Go
// helpers over the engine's model. They follow Tempo's documentation:
//
//   - A spanset filter { cond } selects the spans for which cond holds; a
//     trace matches a query when its final spanset is not empty.
//   - An attribute that a span does not have is nil, and every comparison
//     with nil is false — including != — except `!= nil`, which tests
//     existence. Comparing values of different types is false, except
//     that ints and floats compare as numbers.
//   - A comparison with an array attribute holds when it holds for one of
//     the array's elements.
//   - Regular expressions are RE2 and fully anchored; =~ and !~ apply to
//     strings only.
//   - Unscoped attributes (.x) are the span's attribute if the span has
//     one, else the resource's.
//   - event.x / event:name hold when one of the span's events satisfies
//     the comparison, link.x / link:traceID likewise for links;
//     instrumentation.x are the attributes of the span's scope.
//   - Structural operators return the right-hand spans: {a} > {b} the b
//     spans whose parent is an a span, {a} < {b} the b spans that are the
//     parent of an a span, >> and << likewise for descendants and
//     ancestors, {a} ~ {b} the b spans that share their parent (a span of
//     the trace) with another, a, span. A span has no parent when its
//     parent is not in the trace. The negated forms return the b spans
//     with no such a span, but only when the trace has both a and b spans
//     (Tempo joins the two sides only when neither is empty).
//   - The union forms (&>, &<, &>>, &<<, &~) return the spans of both
//     sides that take part in the relation.
//   - childCount is the number of a span's children in the trace.
//   - {a} && {b} holds when the trace has both a and b spans and returns
//     both; {a} || {b} returns the spans of either.
//   - Pipelines: `| {…}` filters the spans of each spanset; count(),
//     avg(), min(), max() and sum() compute over a spanset's spans and a
//     comparison after them keeps the spansets it holds for; by(x) splits a
//     spanset by the value of x; coalesce() merges a trace's spansets into
//     one; select() changes no match.

import (
	"math"
	"regexp"
	"slices"
	"strconv"

	"github.com/pace-tracing/pace/traceql"
)

type (
	trace = traceql.Trace
	span  = traceql.Span
	value = traceql.Value
)

// pred is a span predicate.
type pred func(t *trace, s *span) bool

// getter reads a value of a span; ok is false when the span has none.
type getter func(t *trace, s *span) (value, bool)

// test is a comparison of one value with a literal.
type test func(v value) bool

// set is a spanset: indices into Trace.Spans, ascending.
type set []int

// filter is the spanset { p } of t.
func filter(t *trace, p pred) set {
	var out set
	for i := range t.Spans {
		if p(t, &t.Spans[i]) {
			out = append(out, i)
		}
	}
	return out
}

// some says whether a span of t satisfies p: whether { p } matches t.
func some(p pred) func(*trace) bool {
	return func(t *trace) bool {
		for i := range t.Spans {
			if p(t, &t.Spans[i]) {
				return true
			}
		}
		return false
	}
}

func and(ps ...pred) pred {
	return func(t *trace, s *span) bool {
		for _, p := range ps {
			if !p(t, s) {
				return false
			}
		}
		return true
	}
}

func or(ps ...pred) pred {
	return func(t *trace, s *span) bool {
		for _, p := range ps {
			if p(t, s) {
				return true
			}
		}
		return false
	}
}

func not(p pred) pred {
	return func(t *trace, s *span) bool { return !p(t, s) }
}

// ---- attributes ----

func find(attrs []traceql.Attr, k string) (value, bool) {
	for _, a := range attrs {
		if a.Key == k {
			return a.Value, a.Value.Type != traceql.TypeNil
		}
	}
	return value{}, false
}

func spanAttr(k string) getter {
	return func(_ *trace, s *span) (value, bool) { return find(s.Attrs, k) }
}

func resAttr(k string) getter {
	return func(_ *trace, s *span) (value, bool) {
		if s.Resource == nil {
			return value{}, false
		}
		return find(s.Resource.Attrs, k)
	}
}

func scopeAttr(k string) getter {
	return func(_ *trace, s *span) (value, bool) {
		if s.Scope == nil {
			return value{}, false
		}
		return find(s.Scope.Attrs, k)
	}
}

// unscoped is .k: the span's attribute, else the resource's.
func unscoped(k string) getter {
	return func(t *trace, s *span) (value, bool) {
		if v, ok := spanAttr(k)(t, s); ok {
			return v, true
		}
		return resAttr(k)(t, s)
	}
}

// is holds when the span has a value for g that passes tt (for an array,
// when one of its elements does).
func is(g getter, tt test) pred {
	return func(t *trace, s *span) bool {
		v, ok := g(t, s)
		return ok && holds(v, tt)
	}
}

func holds(v value, tt test) bool {
	if v.Type == traceql.TypeArray {
		for _, e := range v.Arr {
			if e.Type != traceql.TypeNil && tt(e) {
				return true
			}
		}
		return false
	}
	return v.Type != traceql.TypeNil && tt(v)
}

// exists is `!= nil`.
func exists(g getter) pred {
	return func(t *trace, s *span) bool {
		_, ok := g(t, s)
		return ok
	}
}

// eventIs holds when one of the span's events has attribute k passing tt.
func eventIs(k string, tt test) pred {
	return func(_ *trace, s *span) bool {
		for _, e := range s.Events {
			if v, ok := find(e.Attrs, k); ok && holds(v, tt) {
				return true
			}
		}
		return false
	}
}

// eventWhere holds when one of the span's events satisfies f.
func eventWhere(f func(e *traceql.Event) bool) pred {
	return func(_ *trace, s *span) bool {
		for i := range s.Events {
			if f(&s.Events[i]) {
				return true
			}
		}
		return false
	}
}

// linkIs holds when one of the span's links has attribute k passing tt.
func linkIs(k string, tt test) pred {
	return func(_ *trace, s *span) bool {
		for _, l := range s.Links {
			if v, ok := find(l.Attrs, k); ok && holds(v, tt) {
				return true
			}
		}
		return false
	}
}

// linkWhere holds when one of the span's links satisfies f.
func linkWhere(f func(l *traceql.Link) bool) pred {
	return func(_ *trace, s *span) bool {
		for i := range s.Links {
			if f(&s.Links[i]) {
				return true
			}
		}
		return false
	}
}

// ---- comparisons of a value with a literal ----

// num is a value as a number: ints and floats only.
func num(v value) (float64, bool) {
	switch v.Type {
	case traceql.TypeInt:
		return float64(v.I), true
	case traceql.TypeFloat:
		return v.F, true
	}
	return 0, false
}

func cmpF(a float64, op string, b float64) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "<":
		return a < b
	case "<=":
		return a <= b
	}
	panic("bad operator " + op)
}

// numCmp compares a number with x.
func numCmp(op string, x float64) test {
	return func(v value) bool {
		n, ok := num(v)
		return ok && cmpF(n, op, x)
	}
}

func strEq(x string) test {
	return func(v value) bool { return v.Type == traceql.TypeString && v.S == x }
}

func strNe(x string) test {
	return func(v value) bool { return v.Type == traceql.TypeString && v.S != x }
}

// anchored compiles a TraceQL regular expression: RE2, fully anchored.
func anchored(pattern string) *regexp.Regexp {
	return regexp.MustCompile(`^(?:` + pattern + `)$`)
}

func reMatch(pattern string) test {
	re := anchored(pattern)
	return func(v value) bool { return v.Type == traceql.TypeString && re.MatchString(v.S) }
}

func reNotMatch(pattern string) test {
	re := anchored(pattern)
	return func(v value) bool { return v.Type == traceql.TypeString && !re.MatchString(v.S) }
}

func boolEq(b bool) test {
	return func(v value) bool { return v.Type == traceql.TypeBool && v.B == b }
}

func boolNe(b bool) test {
	return func(v value) bool { return v.Type == traceql.TypeBool && v.B != b }
}

// numAttr reads a scalar number for arithmetic: ints and floats, not
// arrays.
func numAttr(g getter, t *trace, s *span) (float64, bool) {
	v, ok := g(t, s)
	if !ok {
		return 0, false
	}
	return num(v)
}

// intAttr reads an int.
func intAttr(g getter, t *trace, s *span) (int64, bool) {
	v, ok := g(t, s)
	if !ok || v.Type != traceql.TypeInt {
		return 0, false
	}
	return v.I, true
}

// ---- intrinsics ----

const (
	kindUnspecified = 0
	kindInternal    = 1
	kindServer      = 2
	kindClient      = 3
	kindProducer    = 4
	kindConsumer    = 5

	statusUnset = 0
	statusOK    = 1
	statusError = 2
)

func name(n string) pred    { return func(_ *trace, s *span) bool { return s.Name == n } }
func kind(k int32) pred     { return func(_ *trace, s *span) bool { return s.Kind == k } }
func status(c int32) pred   { return func(_ *trace, s *span) bool { return s.StatusCode == c } }
func service(n string) pred { return is(resAttr("service.name"), strEq(n)) }
func durCmp(op string, d float64) pred {
	return func(_ *trace, s *span) bool { return cmpF(float64(s.DurationNano), op, d) }
}
func nameRe(pattern string) pred {
	re := anchored(pattern)
	return func(_ *trace, s *span) bool { return re.MatchString(s.Name) }
}

// root is the trace's root span, nil when it has none.
func root(t *trace) *span {
	var r *span
	for i := range t.Spans {
		s := &t.Spans[i]
		if s.ParentID == ([8]byte{}) && (r == nil || s.StartTimeUnixNano < r.StartTimeUnixNano) {
			r = s
		}
	}
	return r
}

// ---- structural operators ----

// isAncestor says whether span a is a proper ancestor of span b.
func isAncestor(t *trace, a, b int) bool {
	p := t.Spans[b].Parent
	for steps := 0; p >= 0 && steps <= len(t.Spans); steps++ {
		if int(p) == a {
			return true
		}
		p = t.Spans[p].Parent
	}
	return false
}

func isParent(t *trace, a, b int) bool { return t.Spans[b].Parent >= 0 && int(t.Spans[b].Parent) == a }

func isSibling(t *trace, a, b int) bool {
	return a != b && t.Spans[a].Parent >= 0 && t.Spans[a].Parent == t.Spans[b].Parent
}

// relation says whether a span of lhs relates to span b.
type relation func(t *trace, a, b int) bool

// rel returns the rhs spans for which some lhs span relates to them, or,
// negated, those for which none does (and then only when neither side is
// empty).
func rel(t *trace, lhs, rhs set, r relation, negated bool) set {
	if len(rhs) == 0 || (len(lhs) == 0 && (!negated || negatedNeedsLHS)) {
		return nil
	}
	var out set
	for _, b := range rhs {
		found := false
		for _, a := range lhs {
			if r(t, a, b) {
				found = true
				break
			}
		}
		if found != negated {
			out = append(out, b)
		}
	}
	return out
}

// relUnion is a union structural operator (&>, &<, &>>, &<<, &~): the
// spans of both sides that take part in the relation.
func relUnion(t *trace, lhs, rhs set, r relation) set {
	var out set
	for _, b := range rhs {
		for _, a := range lhs {
			if r(t, a, b) {
				out = append(out, a, b)
			}
		}
	}
	return union(out, nil)
}

// childCount is the number of spans of t whose parent is span i.
func childCount(t *trace, i int) int {
	n := 0
	for j := range t.Spans {
		if int(t.Spans[j].Parent) == i {
			n++
		}
	}
	return n
}

// The relations as seen from the rhs span b.
var (
	relChild      relation = func(t *trace, a, b int) bool { return isParent(t, a, b) }   // a > b
	relParent     relation = func(t *trace, a, b int) bool { return isParent(t, b, a) }   // a < b
	relDescendant relation = func(t *trace, a, b int) bool { return isAncestor(t, a, b) } // a >> b
	relAncestor   relation = func(t *trace, a, b int) bool { return isAncestor(t, b, a) } // a << b
	relSibling    relation = isSibling                                                    // a ~ b
)

// negatedNeedsLHS says that a negated structural operator returns nothing
// when its left-hand side is empty (Tempo's behaviour). Tests flip it to
// see which cases depend on it.
var negatedNeedsLHS = true

// union of two spansets.
func union(a, b set) set {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// both is {a} && {b}.
func both(a, b set) set {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	return union(a, b)
}

// within keeps the spans of ss that satisfy p: `| { p }`.
func within(t *trace, ss set, p pred) set {
	var out set
	for _, i := range ss {
		if p(t, &t.Spans[i]) {
			out = append(out, i)
		}
	}
	return out
}

// ---- pipelines ----

// groupBy splits ss by the value of g (absent values form their own group).
func groupBy(t *trace, ss set, g getter) []set {
	idx := map[string]int{}
	var out []set
	for _, i := range ss {
		v, ok := g(t, &t.Spans[i])
		k := "nil"
		if ok {
			k = valueKey(v)
		}
		j, seen := idx[k]
		if !seen {
			j = len(out)
			idx[k] = j
			out = append(out, nil)
		}
		out[j] = append(out[j], i)
	}
	return out
}

func valueKey(v value) string {
	switch v.Type {
	case traceql.TypeString:
		return "s" + strconv.Quote(v.S)
	case traceql.TypeFloat:
		return "f" + strconv.FormatFloat(v.F, 'g', -1, 64)
	case traceql.TypeBool:
		return "b" + strconv.FormatBool(v.B)
	case traceql.TypeArray:
		k := "a"
		for _, e := range v.Arr {
			k += valueKey(e) + ","
		}
		return k
	default:
		return strconv.Itoa(int(v.Type)) + ":" + strconv.FormatInt(v.I, 10)
	}
}

// anyGroup says whether one of the groups passes f.
func anyGroup(gs []set, f func(set) bool) bool {
	for _, g := range gs {
		if len(g) > 0 && f(g) {
			return true
		}
	}
	return false
}

// durs are the durations of ss in nanoseconds.
func durs(t *trace, ss set) []float64 {
	out := make([]float64, len(ss))
	for k, i := range ss {
		out[k] = float64(t.Spans[i].DurationNano)
	}
	return out
}

// nums are the numeric values of g over ss (spans without one left out).
func nums(t *trace, ss set, g getter) []float64 {
	var out []float64
	for _, i := range ss {
		if n, ok := numAttr(g, t, &t.Spans[i]); ok {
			out = append(out, n)
		}
	}
	return out
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

func avg(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return sum(xs) / float64(len(xs))
}

func minOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Min(xs)
}

func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Max(xs)
}

// Durations in nanoseconds, for reading.
const (
	us  = 1e3
	ms  = 1e6
	sec = 1e9
)
