package traceql

import (
	"fmt"
	"math"
	"strings"
)

// Query is a parsed and compiled TraceQL query. It is immutable and safe
// for concurrent use.
type Query struct {
	stages  []stage       // the search pipeline
	metrics *metricsStage // the metrics stage, nil for a search query
	hints   []hint        // with (…)
	text    string        // String()

	prog  *program     // the compiled search pipeline (eval.go)
	mprog *metricsProg // the compiled metrics stage (observe.go)
}

// Parse parses a TraceQL query: a search query (spanset filters, spanset
// operators, pipelines) or a metrics query (a search followed by
// "| rate()" and the like). A syntax or semantic error is a *ParseError.
func Parse(query string) (*Query, error) {
	toks, err := lex(query)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q, err := p.parseQuery()
	if err != nil {
		return nil, err
	}
	if err := q.compile(); err != nil {
		return nil, err
	}
	return q, nil
}

// String returns the query in normal form: the same query, parsed back by
// Parse, with single spaces and only the parentheses it needs.
func (q *Query) String() string { return q.text }

// IsMetrics reports whether the query ends in a metrics function.
func (q *Query) IsMetrics() bool { return q.metrics != nil }

// MetricsSpec returns the metrics stage of a metrics query.
func (q *Query) MetricsSpec() (MetricsSpec, bool) {
	if q.metrics == nil {
		return MetricsSpec{}, false
	}
	s := q.metrics.spec
	s.Quantiles = append([]float64(nil), s.Quantiles...)
	s.By = append([]string(nil), s.By...)
	return s, true
}

func (q *Query) buildString() string {
	var sb strings.Builder
	writeStages(&sb, q.stages)
	if q.metrics != nil {
		sb.WriteString(" | ")
		q.metrics.write(&sb)
	}
	if len(q.hints) > 0 {
		sb.WriteString(" with (")
		for i, h := range q.hints {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(h.name)
			sb.WriteByte('=')
			sb.WriteString(formatLiteral(h.v))
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// ---------------------------------------------------------------------------

type parser struct {
	toks  []token
	i     int
	depth int // nesting of parentheses, braces and prefix operators
}

// maxDepth bounds the nesting of a query.
const maxDepth = 500

func (p *parser) enter(at pos) {
	p.depth++
	if p.depth > maxDepth {
		p.fail(at, "query nested too deeply (more than %d levels)", maxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

// parseFail carries a *ParseError up the recursive descent.
type parseFail struct{ err *ParseError }

func (p *parser) fail(at pos, format string, args ...any) {
	panic(parseFail{&ParseError{Line: at.line, Col: at.col, Msg: fmt.Sprintf(format, args...)}})
}

func (p *parser) unexpected(t token, expecting string) {
	p.fail(t.pos, "unexpected %s, expecting %s", t.describe(), expecting)
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) expect(k tokKind, expecting string) token {
	t := p.peek()
	if t.kind != k {
		p.unexpected(t, expecting)
	}
	return p.advance()
}

func (p *parser) isIdent(word string) bool {
	t := p.peek()
	return t.kind == tIdent && t.str == word
}

// try runs f; on a parse error it returns the error (and leaves the
// position wherever f stopped).
func (p *parser) try(f func()) (err *ParseError) {
	depth := p.depth
	defer func() {
		p.depth = depth
		if r := recover(); r != nil {
			pf, ok := r.(parseFail)
			if !ok {
				panic(r)
			}
			err = pf.err
		}
	}()
	f()
	return nil
}

func (p *parser) parseQuery() (q *Query, err error) {
	q = &Query{}
	if perr := p.try(func() {
		q.stages, q.metrics = p.parsePipeline(true)
		if p.isIdent("with") {
			q.hints = p.parseHints()
		}
		if t := p.peek(); t.kind != tEOF {
			if _, ok := q.stages[len(q.stages)-1].(*ssStage); ok && q.metrics == nil {
				p.unexpected(t, `"|", a spanset operator or end of query`)
			}
			p.unexpected(t, `"|" or end of query`)
		}
	}); perr != nil {
		return nil, perr
	}
	q.text = q.buildString()
	return q, nil
}

var aggFns = map[string]aggFn{"count": aggCount, "avg": aggAvg, "min": aggMin, "max": aggMax, "sum": aggSum}

var metricsFns = map[string]MetricsFunc{
	"rate": MetricsRate, "count_over_time": MetricsCountOverTime, "min_over_time": MetricsMinOverTime,
	"max_over_time": MetricsMaxOverTime, "avg_over_time": MetricsAvgOverTime, "sum_over_time": MetricsSumOverTime,
	"quantile_over_time": MetricsQuantileOverTime, "histogram_over_time": MetricsHistogramOverTime,
}

// unsupportedMetrics are metrics functions of Tempo that pace does not run.
var unsupportedMetrics = map[string]bool{"compare": true, "topk": true, "bottomk": true}

func (p *parser) isMetricsIdent(t token) bool {
	return t.kind == tIdent && (metricsFns[t.str] != 0 || unsupportedMetrics[t.str])
}

// parsePipeline parses stages separated by "|". At the top level a
// metrics function may end it.
func (p *parser) parsePipeline(top bool) ([]stage, *metricsStage) {
	var stages []stage
	if t := p.peek(); p.isMetricsIdent(t) {
		p.fail(t.pos, "metrics function %s() must follow a search, e.g. { } | %s()", t.str, t.str)
	}
	stages = append(stages, p.parseStage())
	for p.peek().kind == tPipe {
		nt := p.peekAt(1)
		if p.isMetricsIdent(nt) {
			if !top {
				p.fail(nt.pos, "metrics function %s() must be the last stage of the query, not inside parentheses", nt.str)
			}
			p.advance()
			m := p.parseMetrics()
			if t := p.peek(); t.kind == tPipe {
				nt := p.peekAt(1)
				if nt.kind == tIdent && unsupportedMetrics[nt.str] {
					p.fail(nt.pos, "%s() is not supported", nt.str)
				}
				p.fail(t.pos, "unexpected \"|\": the metrics function %s() must be the last stage of the query", metricsFuncText[m.spec.Func])
			}
			return stages, m
		}
		p.advance()
		stages = append(stages, p.parseStage())
	}
	return stages, nil
}

func (p *parser) startsScalar(t token) bool {
	switch t.kind {
	case tInt, tFloat, tDuration, tSub:
		return true
	case tIdent:
		_, ok := aggFns[t.str]
		return ok
	}
	return false
}

func (p *parser) parseStage() stage {
	t := p.peek()
	switch {
	case t.kind == tIdent && t.str == "by":
		return p.parseBy()
	case t.kind == tIdent && t.str == "select":
		return p.parseSelect()
	case t.kind == tIdent && t.str == "coalesce":
		p.advance()
		p.expect(tLParen, `"("`)
		p.expect(tRParen, `")"`)
		return &coalesceStage{p: t.pos}
	case p.startsScalar(t):
		return p.parseScalarFilter()
	case t.kind == tLParen:
		// "(" opens a scalar expression ("(count() + 1) > 2") or a
		// spanset expression / wrapped pipeline ("({ a } | count() > 1)").
		k := 0
		for p.peekAt(k).kind == tLParen {
			k++
		}
		if p.startsScalar(p.peekAt(k)) {
			start := p.i
			var st stage
			err1 := p.try(func() { st = p.parseScalarFilter() })
			if err1 == nil {
				return st
			}
			end1 := p.i
			p.i = start
			var e ssExpr
			err2 := p.try(func() { e = p.parseSS(1) })
			if err2 == nil {
				return &ssStage{e: e}
			}
			if end1 >= p.i {
				panic(parseFail{err1})
			}
			panic(parseFail{err2})
		}
		return &ssStage{e: p.parseSS(1)}
	case t.kind == tLBrace:
		return &ssStage{e: p.parseSS(1)}
	case p.isMetricsIdent(t):
		p.fail(t.pos, "metrics function %s() must follow a search, e.g. { } | %s()", t.str, t.str)
	}
	p.unexpected(t, `a spanset filter "{", an aggregate such as count(), by(), select() or coalesce()`)
	return nil
}

// ---------------------------------------------------------------------------
// Spanset expressions.

func ssOpOf(k tokKind) (ssOp, bool) {
	switch k {
	case tAnd:
		return ssAnd, true
	case tOr:
		return ssOr, true
	case tGt:
		return ssChild, true
	case tLt:
		return ssParent, true
	case tDesc:
		return ssDesc, true
	case tAnce:
		return ssAnce, true
	case tTilde:
		return ssSibl, true
	case tNotChild:
		return ssNotChild, true
	case tNotParent:
		return ssNotParent, true
	case tNotDesc:
		return ssNotDesc, true
	case tNotAnce:
		return ssNotAnce, true
	case tNre:
		return ssNotSibl, true
	case tUChild:
		return ssUChild, true
	case tUParent:
		return ssUParent, true
	case tUDesc:
		return ssUDesc, true
	case tUAnce:
		return ssUAnce, true
	case tUSibl:
		return ssUSibl, true
	}
	return 0, false
}

func (p *parser) parseSS(minPrec int) ssExpr {
	left := p.parseSSPrimary()
	for {
		t := p.peek()
		op, ok := ssOpOf(t.kind)
		if !ok || op.prec() < minPrec {
			return left
		}
		p.advance()
		right := p.parseSS(op.prec() + 1)
		left = &ssBinExpr{op: op, l: left, r: right, p: t.pos}
	}
}

func (p *parser) parseSSPrimary() ssExpr {
	t := p.peek()
	p.enter(t.pos)
	defer p.leave()
	switch t.kind {
	case tLBrace:
		return p.parseFilter()
	case tLParen:
		p.advance()
		stages, _ := p.parsePipeline(false)
		if c := p.peek(); c.kind != tRParen {
			if _, ok := stages[len(stages)-1].(*ssStage); ok {
				p.unexpected(c, `")", "|" or a spanset operator`)
			}
			p.unexpected(c, `")" or "|"`)
		}
		p.advance()
		if len(stages) == 1 {
			if s, ok := stages[0].(*ssStage); ok {
				return s.e
			}
		}
		return &pipeExpr{stages: stages, p: t.pos}
	}
	p.unexpected(t, `a spanset filter "{"`)
	return nil
}

func (p *parser) parseFilter() *filterExpr {
	open := p.advance()
	if p.peek().kind == tRBrace {
		p.advance()
		return &filterExpr{p: open.pos}
	}
	e := p.parseField(precLogic)
	if t := p.peek(); t.kind != tRBrace {
		p.unexpected(t, `an operator or "}"`)
	}
	p.advance()
	if t := p.checkField(e); t != fBool && t != fUnknown {
		p.fail(e.at(), "a spanset filter must be a boolean expression, found %s", aType(t))
	}
	return &filterExpr{e: e, p: open.pos}
}

// ---------------------------------------------------------------------------
// Field expressions.

func fieldBinOp(k tokKind) (binOp, bool) {
	switch k {
	case tAnd:
		return opAnd, true
	case tOr:
		return opOr, true
	case tEq:
		return opEq, true
	case tNeq:
		return opNeq, true
	case tRe:
		return opRe, true
	case tNre:
		return opNre, true
	case tGt:
		return opGt, true
	case tGte:
		return opGte, true
	case tLt:
		return opLt, true
	case tLte:
		return opLte, true
	case tAdd:
		return opAdd, true
	case tSub:
		return opSub, true
	case tMul:
		return opMul, true
	case tDiv:
		return opDiv, true
	case tMod:
		return opMod, true
	case tPow:
		return opPow, true
	}
	return 0, false
}

func (p *parser) parseField(minPrec int) fieldExpr {
	left := p.parseFieldPrefix()
	for {
		t := p.peek()
		op, ok := fieldBinOp(t.kind)
		if !ok || op.prec() < minPrec {
			return left
		}
		p.advance()
		next := op.prec() + 1
		if op == opPow {
			next = op.prec()
		}
		right := p.parseField(next)
		left = &binExpr{op: op, l: left, r: right, p: t.pos}
	}
}

var keywordLits = map[string]Value{
	"true": {Type: TypeBool, B: true}, "false": {Type: TypeBool},
	"nil": {},
	"ok":  {Type: TypeStatus, I: 1}, "error": {Type: TypeStatus, I: 2}, "unset": {Type: TypeStatus, I: 0},
	"unspecified": {Type: TypeKind, I: 0}, "internal": {Type: TypeKind, I: 1}, "server": {Type: TypeKind, I: 2},
	"client": {Type: TypeKind, I: 3}, "producer": {Type: TypeKind, I: 4}, "consumer": {Type: TypeKind, I: 5},
	"minInt": {Type: TypeInt, I: math.MinInt64}, "maxInt": {Type: TypeInt, I: math.MaxInt64},
}

func (p *parser) parseFieldPrefix() fieldExpr {
	t := p.peek()
	p.enter(t.pos)
	defer p.leave()
	switch t.kind {
	case tNot:
		p.advance()
		e := p.parseField(precMul)
		return &unExpr{e: e, p: t.pos}
	case tSub:
		p.advance()
		e := p.parseField(precMul)
		if l, ok := e.(*litExpr); ok {
			if v, ok := negateLiteral(l.v); ok {
				return &litExpr{v: v, p: t.pos}
			}
			if l.v.Type == TypeInt || l.v.Type == TypeDuration {
				p.fail(t.pos, "-%s is out of range", formatLiteral(l.v))
			}
		}
		return &unExpr{neg: true, e: e, p: t.pos}
	case tLParen:
		p.advance()
		e := p.parseField(precLogic)
		if c := p.peek(); c.kind != tRParen {
			p.unexpected(c, `an operator or ")"`)
		}
		p.advance()
		return e
	case tString:
		p.advance()
		return &litExpr{v: Value{Type: TypeString, S: t.str}, p: t.pos}
	case tInt:
		p.advance()
		return &litExpr{v: Value{Type: TypeInt, I: t.i}, p: t.pos}
	case tFloat:
		p.advance()
		return &litExpr{v: Value{Type: TypeFloat, F: t.f}, p: t.pos}
	case tDuration:
		p.advance()
		return &litExpr{v: Value{Type: TypeDuration, I: t.i}, p: t.pos}
	case tIdent, tAttr, tScoped:
		return p.parseFieldRef(true)
	}
	p.unexpected(t, "a value")
	return nil
}

// negateLiteral folds unary minus into a numeric literal.
func negateLiteral(v Value) (Value, bool) {
	switch v.Type {
	case TypeInt, TypeDuration:
		if v.I == math.MinInt64 {
			return v, false
		}
		v.I = -v.I
		return v, true
	case TypeFloat:
		v.F = -v.F
		return v, true
	}
	return v, false
}

// parseFieldRef parses an attribute, an intrinsic or (when lits) a keyword
// literal.
func (p *parser) parseFieldRef(lits bool) fieldExpr {
	t := p.peek()
	switch t.kind {
	case tIdent:
		if v, ok := keywordLits[t.str]; ok && lits {
			p.advance()
			return &litExpr{v: v, p: t.pos}
		}
		if id, ok := bareIntrinsics[t.str]; ok {
			p.advance()
			return &intrExpr{id: id, spelling: t.str, p: t.pos}
		}
		if lits {
			p.fail(t.pos, "unexpected %s, expecting a value (attributes need a scope: span.%s, resource.%s or .%s)", t.describe(), t.str, t.str, t.str)
		}
	case tAttr:
		p.advance()
		var sc attrScope
		switch t.scope {
		case "":
			sc = scNone
		case "span":
			sc = scSpan
		case "resource":
			sc = scResource
		case "event":
			sc = scEvent
		case "link":
			sc = scLink
		case "instrumentation":
			sc = scInstr
		default:
			p.fail(t.pos, "the %s. scope is not supported", t.scope)
		}
		return &attrExpr{scope: sc, name: t.str, p: t.pos}
	case tScoped:
		full := t.scope + ":" + t.str
		id, ok := scopedIntrinsics[full]
		if !ok {
			p.fail(t.pos, "unknown intrinsic %q", full)
		}
		p.advance()
		return &intrExpr{id: id, spelling: full, p: t.pos}
	}
	if lits {
		p.unexpected(t, "a value")
	}
	p.unexpected(t, "an attribute or intrinsic such as span.http.method or duration")
	return nil
}

// checkField type-checks a field expression and returns its static type.
func (p *parser) checkField(e fieldExpr) ftype {
	switch e := e.(type) {
	case *litExpr:
		return valueFtype(e.v)
	case *attrExpr:
		return fUnknown
	case *intrExpr:
		return e.id.ftype()
	case *unExpr:
		t := p.checkField(e.e)
		if !e.neg {
			if t != fBool && t != fUnknown {
				p.fail(e.e.at(), "operator ! needs a boolean operand, found %s", aType(t))
			}
			return fBool
		}
		if !t.numeric() && t != fUnknown {
			p.fail(e.e.at(), "unary - needs a number, found %s", aType(t))
		}
		return t
	case *binExpr:
		lt, rt := p.checkField(e.l), p.checkField(e.r)
		op := binOpText[e.op]
		switch {
		case e.op == opAnd || e.op == opOr:
			for i, t := range []ftype{lt, rt} {
				if t != fBool && t != fUnknown {
					at := e.l.at()
					if i == 1 {
						at = e.r.at()
					}
					p.fail(at, "operator %s needs boolean operands, found %s", op, aType(t))
				}
			}
			return fBool
		case e.op.isArith():
			for i, t := range []ftype{lt, rt} {
				if !t.numeric() && t != fUnknown {
					at := e.l.at()
					if i == 1 {
						at = e.r.at()
					}
					p.fail(at, "operator %s needs numbers, found %s", op, aType(t))
				}
			}
			if lt == fUnknown || rt == fUnknown {
				return fUnknown
			}
			return fFloat
		case e.op == opRe || e.op == opNre:
			if lt != fString && lt != fUnknown {
				p.fail(e.l.at(), "operator %s needs a string on its left, found %s", op, aType(lt))
			}
			if rt != fString && rt != fUnknown {
				p.fail(e.r.at(), "operator %s needs a string pattern on its right, found %s", op, aType(rt))
			}
			return fBool
		default: // = != < <= > >=
			if lt == fNil || rt == fNil {
				if e.op != opEq && e.op != opNeq {
					p.fail(e.p, "nil can only be compared with = or !=")
				}
				return fBool
			}
			if lt == fUnknown || rt == fUnknown {
				return fBool
			}
			if lt != rt && !(lt.numeric() && rt.numeric()) {
				p.fail(e.p, "cannot compare %s with %s", aType(lt), aType(rt))
			}
			if e.op != opEq && e.op != opNeq && (lt == fBool || lt == fStatus || lt == fKind) {
				p.fail(e.p, "operator %s cannot compare %s values", op, ftypeText[lt])
			}
			return fBool
		}
	}
	return fUnknown
}

func valueFtype(v Value) ftype {
	switch v.Type {
	case TypeNil:
		return fNil
	case TypeString:
		return fString
	case TypeInt:
		return fInt
	case TypeFloat:
		return fFloat
	case TypeBool:
		return fBool
	case TypeDuration:
		return fDuration
	case TypeStatus:
		return fStatus
	case TypeKind:
		return fKind
	}
	return fUnknown
}

// ---------------------------------------------------------------------------
// Pipeline stages.

func (p *parser) parseFieldList(attrsOnly bool) []fieldExpr {
	p.expect(tLParen, `"("`)
	var fields []fieldExpr
	for {
		var f fieldExpr
		if attrsOnly {
			f = p.parseFieldRef(false)
		} else {
			f = p.parseField(precLogic)
			p.checkField(f)
		}
		fields = append(fields, f)
		t := p.peek()
		if t.kind == tComma {
			p.advance()
			continue
		}
		if t.kind != tRParen {
			p.unexpected(t, `"," or ")"`)
		}
		p.advance()
		return fields
	}
}

func (p *parser) parseBy() stage {
	t := p.advance()
	return &byStage{fields: p.parseFieldList(false), p: t.pos}
}

func (p *parser) parseSelect() stage {
	t := p.advance()
	return &selectStage{fields: p.parseFieldList(true), p: t.pos}
}

func isCmpTok(k tokKind) (binOp, bool) {
	switch k {
	case tEq:
		return opEq, true
	case tNeq:
		return opNeq, true
	case tGt:
		return opGt, true
	case tGte:
		return opGte, true
	case tLt:
		return opLt, true
	case tLte:
		return opLte, true
	}
	return 0, false
}

func (p *parser) parseScalarFilter() stage {
	start := p.peek()
	l := p.parseScalar(precAdd)
	t := p.peek()
	op, ok := isCmpTok(t.kind)
	if !ok {
		var sb strings.Builder
		l.writeScalar(&sb)
		p.fail(t.pos, "unexpected %s, expecting a comparison such as %s > 1 (an aggregate in a pipeline must be compared)", t.describe(), sb.String())
	}
	p.advance()
	r := p.parseScalar(precAdd)
	if !hasAggregate(l) && !hasAggregate(r) {
		p.fail(start.pos, "a pipeline comparison needs an aggregate such as count() or avg(duration)")
	}
	return &scalarFilterStage{op: op, l: l, r: r, p: t.pos}
}

func hasAggregate(e scalarExpr) bool {
	switch e := e.(type) {
	case *aggExpr:
		return true
	case *scalarBin:
		return hasAggregate(e.l) || hasAggregate(e.r)
	}
	return false
}

func scalarBinOp(k tokKind) (binOp, bool) {
	switch k {
	case tAdd:
		return opAdd, true
	case tSub:
		return opSub, true
	case tMul:
		return opMul, true
	case tDiv:
		return opDiv, true
	case tMod:
		return opMod, true
	case tPow:
		return opPow, true
	}
	return 0, false
}

func (p *parser) parseScalar(minPrec int) scalarExpr {
	left := p.parseScalarPrimary()
	for {
		t := p.peek()
		op, ok := scalarBinOp(t.kind)
		if !ok || op.prec() < minPrec {
			return left
		}
		p.advance()
		next := op.prec() + 1
		if op == opPow {
			next = op.prec()
		}
		left = &scalarBin{op: op, l: left, r: p.parseScalar(next)}
	}
}

func (p *parser) parseScalarPrimary() scalarExpr {
	t := p.peek()
	p.enter(t.pos)
	defer p.leave()
	switch t.kind {
	case tInt:
		p.advance()
		return &scalarLit{v: Value{Type: TypeInt, I: t.i}, p: t.pos}
	case tFloat:
		p.advance()
		return &scalarLit{v: Value{Type: TypeFloat, F: t.f}, p: t.pos}
	case tDuration:
		p.advance()
		return &scalarLit{v: Value{Type: TypeDuration, I: t.i}, p: t.pos}
	case tSub:
		p.advance()
		n := p.peek()
		var v Value
		switch n.kind {
		case tInt:
			v = Value{Type: TypeInt, I: n.i}
		case tFloat:
			v = Value{Type: TypeFloat, F: n.f}
		case tDuration:
			v = Value{Type: TypeDuration, I: n.i}
		default:
			p.unexpected(n, "a number after -")
		}
		p.advance()
		v, _ = negateLiteral(v)
		return &scalarLit{v: v, p: t.pos}
	case tLParen:
		p.advance()
		e := p.parseScalar(precAdd)
		if c := p.peek(); c.kind != tRParen {
			p.unexpected(c, `an operator or ")"`)
		}
		p.advance()
		return e
	case tIdent:
		if fn, ok := aggFns[t.str]; ok {
			p.advance()
			p.expect(tLParen, `"("`)
			a := &aggExpr{fn: fn, p: t.pos}
			if fn != aggCount {
				a.e = p.parseField(precLogic)
				if ft := p.checkField(a.e); !ft.numeric() && ft != fUnknown {
					p.fail(a.e.at(), "%s() needs a numeric field, found %s", t.str, aType(ft))
				}
			}
			if c := p.peek(); c.kind != tRParen {
				if fn == aggCount {
					p.unexpected(c, `")" (count() takes no argument)`)
				}
				p.unexpected(c, `an operator or ")"`)
			}
			p.advance()
			return a
		}
	}
	p.unexpected(t, "an aggregate such as count() or a number")
	return nil
}

// ---------------------------------------------------------------------------
// Metrics and hints.

func (p *parser) parseMetrics() *metricsStage {
	t := p.advance()
	if unsupportedMetrics[t.str] {
		p.fail(t.pos, "%s() is not supported", t.str)
	}
	m := &metricsStage{spec: MetricsSpec{Func: metricsFns[t.str]}, p: t.pos}
	p.expect(tLParen, `"("`)
	switch m.spec.Func {
	case MetricsRate, MetricsCountOverTime:
		p.expect(tRParen, fmt.Sprintf(`")" (%s() takes no argument)`, t.str))
	default:
		m.attr = p.parseFieldRef(false)
		m.spec.Attr = fieldString(m.attr)
		if m.spec.Func == MetricsQuantileOverTime {
			p.expect(tComma, `"," and the quantiles, e.g. quantile_over_time(duration, 0.5, 0.99)`)
			for {
				n := p.peek()
				var q float64
				switch n.kind {
				case tFloat:
					q = n.f
				case tInt:
					q = float64(n.i)
				default:
					p.unexpected(n, "a quantile between 0 and 1")
				}
				if q < 0 || q > 1 {
					p.fail(n.pos, "quantile %s is not between 0 and 1", n.text)
				}
				p.advance()
				m.spec.Quantiles = append(m.spec.Quantiles, q)
				if p.peek().kind != tComma {
					break
				}
				p.advance()
			}
			p.expect(tRParen, `"," or ")"`)
		} else {
			p.expect(tRParen, `")"`)
		}
	}
	if p.isIdent("by") {
		p.advance()
		m.by = p.parseFieldList(true)
		for _, f := range m.by {
			m.spec.By = append(m.spec.By, fieldString(f))
		}
	}
	return m
}

func (p *parser) parseHints() []hint {
	p.advance() // with
	p.expect(tLParen, `"("`)
	var hints []hint
	for {
		n := p.expect(tIdent, "a hint name")
		p.expect(tEq, `"="`)
		t := p.peek()
		var v Value
		neg := false
		if t.kind == tSub {
			neg = true
			p.advance()
			t = p.peek()
		}
		switch t.kind {
		case tString:
			v = Value{Type: TypeString, S: t.str}
		case tInt:
			v = Value{Type: TypeInt, I: t.i}
		case tFloat:
			v = Value{Type: TypeFloat, F: t.f}
		case tDuration:
			v = Value{Type: TypeDuration, I: t.i}
		case tIdent:
			if t.str == "true" || t.str == "false" {
				v = keywordLits[t.str]
				break
			}
			fallthrough
		default:
			p.unexpected(t, "a hint value")
		}
		if neg {
			var ok bool
			if v, ok = negateLiteral(v); !ok {
				p.unexpected(t, "a number after -")
			}
		}
		p.advance()
		hints = append(hints, hint{name: n.str, v: v})
		c := p.peek()
		if c.kind == tComma {
			p.advance()
			continue
		}
		if c.kind != tRParen {
			p.unexpected(c, `"," or ")"`)
		}
		p.advance()
		return hints
	}
}
