package traceql

import (
	"math"
	"strconv"
	"strings"
)

// binOp is a binary operator of a field or scalar expression.
type binOp uint8

const (
	opAnd binOp = iota
	opOr
	opEq
	opNeq
	opRe
	opNre
	opGt
	opGte
	opLt
	opLte
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opPow
)

var binOpText = [...]string{
	opAnd: "&&", opOr: "||", opEq: "=", opNeq: "!=", opRe: "=~", opNre: "!~",
	opGt: ">", opGte: ">=", opLt: "<", opLte: "<=",
	opAdd: "+", opSub: "-", opMul: "*", opDiv: "/", opMod: "%", opPow: "^",
}

// Operator precedences, as in Tempo's grammar: && and || share the lowest
// level (left-associative), then comparisons, + -, unary ! and -, * / %,
// and ^ (right-associative).
const (
	precLogic = 1
	precCmp   = 2
	precAdd   = 3
	precUnary = 4
	precMul   = 5
	precPow   = 6
	precAtom  = 7
)

func (o binOp) prec() int {
	switch o {
	case opAnd, opOr:
		return precLogic
	case opEq, opNeq, opRe, opNre, opGt, opGte, opLt, opLte:
		return precCmp
	case opAdd, opSub:
		return precAdd
	case opMul, opDiv, opMod:
		return precMul
	default:
		return precPow
	}
}

func (o binOp) isComparison() bool { return o.prec() == precCmp }
func (o binOp) isArith() bool      { return o >= opAdd }

// attrScope is the scope of an attribute reference.
type attrScope uint8

const (
	scNone attrScope = iota // ".x": span attribute, else resource attribute
	scSpan
	scResource
	scEvent
	scLink
	scInstr
)

var scopePrefix = [...]string{scNone: ".", scSpan: "span.", scResource: "resource.", scEvent: "event.", scLink: "link.", scInstr: "instrumentation."}

// intrinsic identifies an intrinsic field.
type intrinsic uint8

const (
	iName intrinsic = iota
	iStatus
	iStatusMessage
	iDuration
	iKind
	iChildCount
	iSpanID
	iParentID
	iRootName
	iRootService
	iTraceDuration
	iTraceID
	iEventName
	iEventTimeSinceStart
	iLinkTraceID
	iLinkSpanID
	iInstrName
	iInstrVersion
)

// bareIntrinsics are the intrinsics written without a scope.
var bareIntrinsics = map[string]intrinsic{
	"name": iName, "status": iStatus, "statusMessage": iStatusMessage, "duration": iDuration,
	"kind": iKind, "childCount": iChildCount, "rootName": iRootName,
	"rootServiceName": iRootService, "traceDuration": iTraceDuration,
}

// scopedIntrinsics are the "scope:name" intrinsics.
var scopedIntrinsics = map[string]intrinsic{
	"span:name": iName, "span:status": iStatus, "span:statusMessage": iStatusMessage,
	"span:duration": iDuration, "span:kind": iKind, "span:childCount": iChildCount,
	"span:id": iSpanID, "span:parentID": iParentID,
	"trace:rootName": iRootName, "trace:rootService": iRootService,
	"trace:duration": iTraceDuration, "trace:id": iTraceID,
	"event:name": iEventName, "event:timeSinceStart": iEventTimeSinceStart,
	"link:traceID": iLinkTraceID, "link:spanID": iLinkSpanID,
	"instrumentation:name": iInstrName, "instrumentation:version": iInstrVersion,
}

// outKey is the key under which a span reports the intrinsic in
// MatchedSpan.Attrs, or "" when it is not reported there (the span's name
// and duration, and trace-level intrinsics, travel elsewhere).
func (i intrinsic) outKey() string {
	switch i {
	case iStatus:
		return "status"
	case iStatusMessage:
		return "statusMessage"
	case iKind:
		return "kind"
	case iChildCount:
		return "childCount"
	case iSpanID:
		return "span:id"
	case iParentID:
		return "span:parentID"
	case iEventName:
		return "event:name"
	case iEventTimeSinceStart:
		return "event:timeSinceStart"
	case iLinkTraceID:
		return "link:traceID"
	case iLinkSpanID:
		return "link:spanID"
	case iInstrName:
		return "instrumentation:name"
	case iInstrVersion:
		return "instrumentation:version"
	}
	return ""
}

// ftype is the static type of a field expression; fUnknown for attributes,
// whose type is only known per span.
type ftype uint8

const (
	fUnknown ftype = iota
	fNil
	fBool
	fInt
	fFloat
	fString
	fDuration
	fStatus
	fKind
)

var ftypeText = [...]string{fUnknown: "attribute", fNil: "nil", fBool: "boolean", fInt: "integer", fFloat: "float", fString: "string", fDuration: "duration", fStatus: "status", fKind: "kind"}

// aType names a type with its article: "an integer".
func aType(t ftype) string {
	switch t {
	case fUnknown, fInt:
		return "an " + ftypeText[t]
	}
	return "a " + ftypeText[t]
}

func (t ftype) numeric() bool { return t == fInt || t == fFloat || t == fDuration }

func (i intrinsic) ftype() ftype {
	switch i {
	case iStatus:
		return fStatus
	case iKind:
		return fKind
	case iDuration, iTraceDuration, iEventTimeSinceStart:
		return fDuration
	case iChildCount:
		return fInt
	}
	return fString
}

// ---------------------------------------------------------------------------
// Field expressions (inside { } and in aggregates, by(), select()).

type fieldExpr interface {
	at() pos
	prec() int
	write(sb *strings.Builder)
}

type litExpr struct {
	v Value
	p pos
}

type attrExpr struct {
	scope attrScope
	name  string
	p     pos
}

type intrExpr struct {
	id       intrinsic
	spelling string // as written: "name", "span:name", …
	p        pos
}

type binExpr struct {
	op   binOp
	l, r fieldExpr
	p    pos // the operator's position
}

type unExpr struct {
	neg bool // true: unary minus; false: logical not
	e   fieldExpr
	p   pos
}

func (e *litExpr) at() pos  { return e.p }
func (e *attrExpr) at() pos { return e.p }
func (e *intrExpr) at() pos { return e.p }
func (e *binExpr) at() pos  { return e.l.at() }
func (e *unExpr) at() pos   { return e.p }

func (e *litExpr) prec() int {
	if isNegative(e.v) {
		return precUnary
	}
	return precAtom
}
func (e *attrExpr) prec() int { return precAtom }
func (e *intrExpr) prec() int { return precAtom }
func (e *binExpr) prec() int  { return e.op.prec() }
func (e *unExpr) prec() int   { return precUnary }

func isNegative(v Value) bool {
	switch v.Type {
	case TypeInt, TypeDuration:
		return v.I < 0 && v.I != math.MinInt64
	case TypeFloat:
		return v.F < 0 || (v.F == 0 && math.Signbit(v.F))
	}
	return false
}

func (e *litExpr) write(sb *strings.Builder) { sb.WriteString(formatLiteral(e.v)) }

func (e *attrExpr) write(sb *strings.Builder) {
	sb.WriteString(scopePrefix[e.scope])
	writeAttrName(sb, e.name, e.scope == scNone)
}

func (e *intrExpr) write(sb *strings.Builder) { sb.WriteString(e.spelling) }

func (e *binExpr) write(sb *strings.Builder) {
	p := e.op.prec()
	right := e.op == opPow
	writeChild(sb, e.l, p, !right && !mixesLogic(e, e.l))
	sb.WriteByte(' ')
	sb.WriteString(binOpText[e.op])
	sb.WriteByte(' ')
	writeChild(sb, e.r, p, right)
}

// mixesLogic reports whether child is an && under an || or the reverse:
// the two share a precedence level (as in Tempo), and parentheses make
// the grouping plain to the reader.
func mixesLogic(parent *binExpr, child fieldExpr) bool {
	c, ok := child.(*binExpr)
	return ok && parent.op.prec() == precLogic && c.op.prec() == precLogic && c.op != parent.op
}

// writeChild writes an operand of an operator of precedence p, in
// parentheses where the parser would otherwise group it differently. tight
// is true on the side where an operand of equal precedence binds without
// parentheses (the left side of a left-associative operator).
func writeChild(sb *strings.Builder, c fieldExpr, p int, tight bool) {
	cp := c.prec()
	if cp < p || (cp == p && !tight) {
		sb.WriteByte('(')
		c.write(sb)
		sb.WriteByte(')')
		return
	}
	c.write(sb)
}

func (e *unExpr) write(sb *strings.Builder) {
	if e.neg {
		sb.WriteByte('-')
	} else {
		sb.WriteByte('!')
	}
	if e.e.prec() <= precUnary {
		sb.WriteByte('(')
		e.e.write(sb)
		sb.WriteByte(')')
		return
	}
	e.e.write(sb)
}

func fieldString(e fieldExpr) string {
	var sb strings.Builder
	e.write(&sb)
	return sb.String()
}

// writeAttrName writes an attribute name, quoted when it holds runes that
// would end it (or, unscoped, when it would read as a number).
func writeAttrName(sb *strings.Builder, name string, unscoped bool) {
	plain := name != ""
	for _, r := range name {
		if !isAttrRune(r) || r == '\\' {
			plain = false
			break
		}
	}
	if plain && unscoped && isDigit(rune(name[0])) {
		plain = false
	}
	if plain {
		sb.WriteString(name)
		return
	}
	sb.WriteByte('"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' || name[i] == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(name[i])
	}
	sb.WriteByte('"')
}

// formatLiteral writes a literal so that the lexer reads it back as the
// same value and type.
func formatLiteral(v Value) string {
	switch v.Type {
	case TypeNil:
		return "nil"
	case TypeString:
		return strconv.Quote(v.S)
	case TypeInt:
		switch v.I {
		case math.MinInt64:
			return "minInt"
		case math.MaxInt64:
			return "maxInt"
		}
		return strconv.FormatInt(v.I, 10)
	case TypeFloat:
		return formatFloat(v.F)
	case TypeBool:
		return strconv.FormatBool(v.B)
	case TypeDuration:
		return formatDuration(v.I)
	case TypeStatus:
		if v.I >= 0 && int(v.I) < len(StatusNames) {
			return StatusNames[v.I]
		}
	case TypeKind:
		if v.I >= 0 && int(v.I) < len(KindNames) {
			return KindNames[v.I]
		}
	}
	return "nil"
}

func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

func formatDuration(ns int64) string {
	if ns == 0 {
		return "0s"
	}
	neg := ns < 0
	u := uint64(ns)
	if neg {
		u = uint64(-ns)
	}
	units := []struct {
		n    uint64
		name string
	}{{3600e9, "h"}, {60e9, "m"}, {1e9, "s"}, {1e6, "ms"}, {1e3, "us"}, {1, "ns"}}
	s := ""
	for _, un := range units {
		if u%un.n == 0 {
			s = strconv.FormatUint(u/un.n, 10) + un.name
			break
		}
	}
	if neg {
		return "-" + s
	}
	return s
}

// ---------------------------------------------------------------------------
// Spanset expressions and pipelines.

type ssOp uint8

const (
	ssAnd ssOp = iota
	ssOr
	ssChild
	ssParent
	ssDesc
	ssAnce
	ssSibl
	ssNotChild
	ssNotParent
	ssNotDesc
	ssNotAnce
	ssNotSibl
	ssUChild
	ssUParent
	ssUDesc
	ssUAnce
	ssUSibl
)

var ssOpText = [...]string{
	ssAnd: "&&", ssOr: "||", ssChild: ">", ssParent: "<", ssDesc: ">>", ssAnce: "<<", ssSibl: "~",
	ssNotChild: "!>", ssNotParent: "!<", ssNotDesc: "!>>", ssNotAnce: "!<<", ssNotSibl: "!~",
	ssUChild: "&>", ssUParent: "&<", ssUDesc: "&>>", ssUAnce: "&<<", ssUSibl: "&~",
}

func (o ssOp) prec() int {
	if o == ssAnd || o == ssOr {
		return 1
	}
	return 2
}

type ssExpr interface {
	ssPrec() int
	writeSS(sb *strings.Builder)
}

// filterExpr is a spanset filter { e }; e is nil for { }.
type filterExpr struct {
	e fieldExpr
	p pos
}

type ssBinExpr struct {
	op   ssOp
	l, r ssExpr
	p    pos
}

// pipeExpr is a parenthesised pipeline used as a spanset expression.
type pipeExpr struct {
	stages []stage
	p      pos
}

func (*filterExpr) ssPrec() int  { return 3 }
func (e *ssBinExpr) ssPrec() int { return e.op.prec() }
func (*pipeExpr) ssPrec() int    { return 3 }

func (e *filterExpr) writeSS(sb *strings.Builder) {
	if e.e == nil {
		sb.WriteString("{ }")
		return
	}
	sb.WriteString("{ ")
	e.e.write(sb)
	sb.WriteString(" }")
}

func (e *ssBinExpr) writeSS(sb *strings.Builder) {
	p := e.op.prec()
	c, ok := e.l.(*ssBinExpr)
	writeSSChild(sb, e.l, p, !(ok && c.op != e.op))
	sb.WriteByte(' ')
	sb.WriteString(ssOpText[e.op])
	sb.WriteByte(' ')
	writeSSChild(sb, e.r, p, false)
}

func writeSSChild(sb *strings.Builder, c ssExpr, p int, left bool) {
	cp := c.ssPrec()
	if cp < p || (cp == p && !left) {
		sb.WriteByte('(')
		c.writeSS(sb)
		sb.WriteByte(')')
		return
	}
	c.writeSS(sb)
}

func (e *pipeExpr) writeSS(sb *strings.Builder) {
	sb.WriteByte('(')
	writeStages(sb, e.stages)
	sb.WriteByte(')')
}

func writeStages(sb *strings.Builder, stages []stage) {
	for i, s := range stages {
		if i > 0 {
			sb.WriteString(" | ")
		}
		s.writeStage(sb)
	}
}

// stage is one stage of a pipeline.
type stage interface {
	writeStage(sb *strings.Builder)
}

type ssStage struct{ e ssExpr }

type scalarFilterStage struct {
	op   binOp
	l, r scalarExpr
	p    pos
}

type byStage struct {
	fields []fieldExpr
	p      pos
}

type selectStage struct {
	fields []fieldExpr
	p      pos
}

type coalesceStage struct{ p pos }

func (s *ssStage) writeStage(sb *strings.Builder) { s.e.writeSS(sb) }

func (s *scalarFilterStage) writeStage(sb *strings.Builder) {
	writeScalarChild(sb, s.l, precCmp, true)
	sb.WriteByte(' ')
	sb.WriteString(binOpText[s.op])
	sb.WriteByte(' ')
	writeScalarChild(sb, s.r, precCmp, false)
}

func writeFieldList(sb *strings.Builder, fields []fieldExpr) {
	for i, f := range fields {
		if i > 0 {
			sb.WriteString(", ")
		}
		f.write(sb)
	}
}

func (s *byStage) writeStage(sb *strings.Builder) {
	sb.WriteString("by(")
	writeFieldList(sb, s.fields)
	sb.WriteByte(')')
}

func (s *selectStage) writeStage(sb *strings.Builder) {
	sb.WriteString("select(")
	writeFieldList(sb, s.fields)
	sb.WriteByte(')')
}

func (s *coalesceStage) writeStage(sb *strings.Builder) { sb.WriteString("coalesce()") }

// ---------------------------------------------------------------------------
// Scalar expressions (aggregates and the arithmetic around them).

type aggFn uint8

const (
	aggCount aggFn = iota
	aggAvg
	aggMin
	aggMax
	aggSum
)

var aggText = [...]string{aggCount: "count", aggAvg: "avg", aggMin: "min", aggMax: "max", aggSum: "sum"}

type scalarExpr interface {
	sprec() int
	writeScalar(sb *strings.Builder)
}

type aggExpr struct {
	fn aggFn
	e  fieldExpr // nil for count()
	p  pos
}

type scalarLit struct {
	v Value
	p pos
}

type scalarBin struct {
	op   binOp
	l, r scalarExpr
}

func (*aggExpr) sprec() int { return precAtom }
func (e *scalarLit) sprec() int {
	if isNegative(e.v) {
		return precUnary
	}
	return precAtom
}
func (e *scalarBin) sprec() int { return e.op.prec() }

func (e *aggExpr) writeScalar(sb *strings.Builder) {
	sb.WriteString(aggText[e.fn])
	sb.WriteByte('(')
	if e.e != nil {
		e.e.write(sb)
	}
	sb.WriteByte(')')
}

func (e *aggExpr) String() string {
	var sb strings.Builder
	e.writeScalar(&sb)
	return sb.String()
}

func (e *scalarLit) writeScalar(sb *strings.Builder) { sb.WriteString(formatLiteral(e.v)) }

func (e *scalarBin) writeScalar(sb *strings.Builder) {
	p := e.op.prec()
	right := e.op == opPow
	writeScalarChild(sb, e.l, p, !right)
	sb.WriteByte(' ')
	sb.WriteString(binOpText[e.op])
	sb.WriteByte(' ')
	writeScalarChild(sb, e.r, p, right)
}

func writeScalarChild(sb *strings.Builder, c scalarExpr, p int, tight bool) {
	cp := c.sprec()
	if cp < p || (cp == p && !tight) {
		sb.WriteByte('(')
		c.writeScalar(sb)
		sb.WriteByte(')')
		return
	}
	c.writeScalar(sb)
}

// ---------------------------------------------------------------------------
// Metrics stage and hints.

var metricsFuncText = map[MetricsFunc]string{
	MetricsRate: "rate", MetricsCountOverTime: "count_over_time", MetricsMinOverTime: "min_over_time",
	MetricsMaxOverTime: "max_over_time", MetricsAvgOverTime: "avg_over_time", MetricsSumOverTime: "sum_over_time",
	MetricsQuantileOverTime: "quantile_over_time", MetricsHistogramOverTime: "histogram_over_time",
}

type metricsStage struct {
	spec MetricsSpec
	attr fieldExpr   // nil for rate() and count_over_time()
	by   []fieldExpr // by (…) fields
	p    pos
}

func (m *metricsStage) write(sb *strings.Builder) {
	sb.WriteString(metricsFuncText[m.spec.Func])
	sb.WriteByte('(')
	if m.attr != nil {
		m.attr.write(sb)
	}
	for _, q := range m.spec.Quantiles {
		sb.WriteString(", ")
		sb.WriteString(strconv.FormatFloat(q, 'g', -1, 64))
	}
	sb.WriteByte(')')
	if len(m.by) > 0 {
		sb.WriteString(" by (")
		writeFieldList(sb, m.by)
		sb.WriteByte(')')
	}
}

type hint struct {
	name string
	v    Value
}
