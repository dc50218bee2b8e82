package traceql

import (
	"encoding/hex"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ---------------------------------------------------------------------------
// Evaluation context: one per Match/Observe call, pooled.

type evalCtx struct {
	t   *Trace
	idx int32 // index of the span being evaluated
	ev  int   // event being evaluated by an "any event" comparison, -1 for none
	ln  int   // likewise for links

	children    []int32 // child counts, computed on first use
	hasChildren bool
	all         []int32 // 0..n-1, built on first use

	rePattern string // the last pattern compiled at run time
	re        *regexp.Regexp

	root [1]spanset // the pipeline's input
}

var ctxPool = sync.Pool{New: func() any { return &evalCtx{} }}

func getCtx(t *Trace) *evalCtx {
	c := ctxPool.Get().(*evalCtx)
	c.t = t
	c.ev, c.ln = -1, -1
	return c
}

func putCtx(c *evalCtx) {
	c.t = nil
	c.hasChildren = false
	c.children = c.children[:0]
	c.all = nil
	c.re, c.rePattern = nil, ""
	ctxPool.Put(c)
}

func (c *evalCtx) childCount(i int32) int64 {
	if !c.hasChildren {
		n := len(c.t.Spans)
		if cap(c.children) < n {
			c.children = make([]int32, n)
		}
		c.children = c.children[:n]
		clear(c.children)
		for j := range c.t.Spans {
			if p := c.t.Spans[j].Parent; p >= 0 && int(p) < n && int(p) != j {
				c.children[p]++
			}
		}
		c.hasChildren = true
	}
	return int64(c.children[i])
}

func (c *evalCtx) allSpans() []int32 {
	if c.all == nil {
		c.all = make([]int32, len(c.t.Spans))
		for i := range c.all {
			c.all[i] = int32(i)
		}
	}
	return c.all
}

func (c *evalCtx) dynRegex(pattern string) *regexp.Regexp {
	if c.re != nil && c.rePattern == pattern {
		return c.re
	}
	re, err := regexp.Compile(anchor(pattern))
	if err != nil {
		return nil
	}
	c.re, c.rePattern = re, pattern
	return re
}

func anchor(pattern string) string { return "^(?:" + pattern + ")$" }

// ---------------------------------------------------------------------------
// Compiled field expressions.

type evaluator interface {
	eval(c *evalCtx, s *Span) Value
}

type predicate interface {
	test(c *evalCtx, s *Span) bool
}

type litEval struct{ v Value }

func (e *litEval) eval(*evalCtx, *Span) Value { return e.v }

// findAttr returns the value of attribute key, nil when it is absent or
// has no value.
func findAttr(attrs []Attr, key string) *Value {
	for i := range attrs {
		if attrs[i].Key == key {
			if attrs[i].Value.Type == TypeNil {
				return nil
			}
			return &attrs[i].Value
		}
	}
	return nil
}

type attrEval struct {
	scope attrScope
	key   string
}

// lookup returns the attribute's value on span s, nil when absent.
func (e *attrEval) lookup(c *evalCtx, s *Span) *Value {
	switch e.scope {
	case scSpan:
		return findAttr(s.Attrs, e.key)
	case scResource:
		if s.Resource != nil {
			return findAttr(s.Resource.Attrs, e.key)
		}
	case scNone:
		if v := findAttr(s.Attrs, e.key); v != nil {
			return v
		}
		if s.Resource != nil {
			return findAttr(s.Resource.Attrs, e.key)
		}
	case scInstr:
		if s.Scope != nil {
			return findAttr(s.Scope.Attrs, e.key)
		}
	case scEvent:
		if c.ev >= 0 {
			if c.ev < len(s.Events) {
				return findAttr(s.Events[c.ev].Attrs, e.key)
			}
			return nil
		}
		for i := range s.Events {
			if v := findAttr(s.Events[i].Attrs, e.key); v != nil {
				return v
			}
		}
	case scLink:
		if c.ln >= 0 {
			if c.ln < len(s.Links) {
				return findAttr(s.Links[c.ln].Attrs, e.key)
			}
			return nil
		}
		for i := range s.Links {
			if v := findAttr(s.Links[i].Attrs, e.key); v != nil {
				return v
			}
		}
	}
	return nil
}

func (e *attrEval) eval(c *evalCtx, s *Span) Value {
	if v := e.lookup(c, s); v != nil {
		return *v
	}
	return Value{}
}

type intrEval struct{ id intrinsic }

func strOrNil(s string) Value {
	if s == "" {
		return Value{}
	}
	return Value{Type: TypeString, S: s}
}

func (e *intrEval) eval(c *evalCtx, s *Span) Value {
	switch e.id {
	case iName:
		return Value{Type: TypeString, S: s.Name}
	case iStatus:
		return Value{Type: TypeStatus, I: int64(s.StatusCode)}
	case iStatusMessage:
		return Value{Type: TypeString, S: s.StatusMessage}
	case iDuration:
		return Value{Type: TypeDuration, I: int64(s.DurationNano)}
	case iKind:
		return Value{Type: TypeKind, I: int64(s.Kind)}
	case iChildCount:
		return Value{Type: TypeInt, I: c.childCount(c.idx)}
	case iSpanID:
		return Value{Type: TypeString, S: hex.EncodeToString(s.ID[:])}
	case iParentID:
		if s.ParentID == ([8]byte{}) {
			return Value{}
		}
		return Value{Type: TypeString, S: hex.EncodeToString(s.ParentID[:])}
	case iRootName:
		return strOrNil(c.t.RootSpanName)
	case iRootService:
		return strOrNil(c.t.RootServiceName)
	case iTraceDuration:
		return Value{Type: TypeDuration, I: int64(c.t.DurationNano)}
	case iTraceID:
		return Value{Type: TypeString, S: hex.EncodeToString(c.t.ID[:])}
	case iEventName, iEventTimeSinceStart:
		var ev *Event
		if c.ev >= 0 {
			if c.ev < len(s.Events) {
				ev = &s.Events[c.ev]
			}
		} else if len(s.Events) > 0 {
			ev = &s.Events[0]
		}
		if ev == nil {
			return Value{}
		}
		if e.id == iEventName {
			return Value{Type: TypeString, S: ev.Name}
		}
		return Value{Type: TypeDuration, I: int64(ev.TimeSinceStartNano)}
	case iLinkTraceID, iLinkSpanID:
		var l *Link
		if c.ln >= 0 {
			if c.ln < len(s.Links) {
				l = &s.Links[c.ln]
			}
		} else if len(s.Links) > 0 {
			l = &s.Links[0]
		}
		if l == nil {
			return Value{}
		}
		if e.id == iLinkTraceID {
			return Value{Type: TypeString, S: hex.EncodeToString(l.TraceID[:])}
		}
		return Value{Type: TypeString, S: hex.EncodeToString(l.SpanID[:])}
	case iInstrName:
		if s.Scope != nil {
			return strOrNil(s.Scope.Name)
		}
	case iInstrVersion:
		if s.Scope != nil {
			return strOrNil(s.Scope.Version)
		}
	}
	return Value{}
}

type arithEval struct {
	op   binOp
	l, r evaluator
}

func (e *arithEval) eval(c *evalCtx, s *Span) Value {
	return arith(e.op, e.l.eval(c, s), e.r.eval(c, s))
}

type negEval struct{ e evaluator }

func (e *negEval) eval(c *evalCtx, s *Span) Value {
	v := e.e.eval(c, s)
	switch v.Type {
	case TypeInt, TypeDuration:
		v.I = -v.I
		return v
	case TypeFloat:
		v.F = -v.F
		return v
	}
	return Value{}
}

// predEval turns a predicate into a boolean value.
type predEval struct{ p predicate }

func (e *predEval) eval(c *evalCtx, s *Span) Value {
	return Value{Type: TypeBool, B: e.p.test(c, s)}
}

func isNum(t Type) bool { return t == TypeInt || t == TypeFloat || t == TypeDuration }

func toFloat(v *Value) float64 {
	if v.Type == TypeFloat {
		return v.F
	}
	return float64(v.I)
}

// arith applies an arithmetic operator. Integers stay integers for + - * %
// (division and power give floats); durations stay durations when added
// to durations or scaled by numbers; anything non-numeric gives nil.
func arith(op binOp, a, b Value) Value {
	if !isNum(a.Type) || !isNum(b.Type) {
		return Value{}
	}
	ad, bd := a.Type == TypeDuration, b.Type == TypeDuration
	intLike := a.Type != TypeFloat && b.Type != TypeFloat
	resType := TypeFloat
	switch op {
	case opAdd, opSub, opMod:
		if ad || bd {
			resType = TypeDuration
		} else if intLike {
			resType = TypeInt
		}
	case opMul:
		if ad != bd {
			resType = TypeDuration
		} else if intLike && !ad {
			resType = TypeInt
		}
	case opDiv:
		if ad && !bd {
			resType = TypeDuration
		} else if intLike && !ad && !bd {
			resType = TypeInt
		}
	case opPow:
		if a.Type == TypeInt && b.Type == TypeInt && b.I >= 0 {
			if r, ok := intPow(a.I, b.I); ok {
				return Value{Type: TypeInt, I: r}
			}
		}
	}
	if resType != TypeFloat && intLike {
		x, y := a.I, b.I
		var r int64
		switch op {
		case opAdd:
			r = x + y
			if (r > x) != (y > 0) {
				goto float
			}
		case opSub:
			r = x - y
			if (r < x) != (y > 0) {
				goto float
			}
		case opMul:
			if x != 0 && y != 0 {
				r = x * y
				if r/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
					goto float
				}
			}
		case opMod:
			if y == 0 {
				return Value{}
			}
			if y == -1 {
				r = 0
			} else {
				r = x % y
			}
		case opDiv:
			if y == 0 {
				return Value{}
			}
			if y == -1 && x == math.MinInt64 {
				goto float
			}
			r = x / y
		}
		return Value{Type: resType, I: r}
	}
float:
	x, y := toFloat(&a), toFloat(&b)
	var f float64
	switch op {
	case opAdd:
		f = x + y
	case opSub:
		f = x - y
	case opMul:
		f = x * y
	case opDiv:
		f = x / y
	case opMod:
		f = math.Mod(x, y)
	case opPow:
		f = math.Pow(x, y)
	}
	if resType == TypeDuration {
		if math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
			return Value{Type: TypeFloat, F: f}
		}
		return Value{Type: TypeDuration, I: int64(f)}
	}
	return Value{Type: TypeFloat, F: f}
}

// intPow is x^y for y >= 0; ok is false on overflow.
func intPow(x, y int64) (int64, bool) {
	switch x {
	case 0:
		if y == 0 {
			return 1, true
		}
		return 0, true
	case 1:
		return 1, true
	case -1:
		if y%2 == 0 {
			return 1, true
		}
		return -1, true
	}
	if y >= 64 {
		return 0, false
	}
	r := int64(1)
	for ; y > 0; y-- {
		n := r * x
		if n/x != r {
			return 0, false
		}
		r = n
	}
	return r, true
}

// ---------------------------------------------------------------------------
// Predicates.

type constPred bool

func (p constPred) test(*evalCtx, *Span) bool { return bool(p) }

type andPred struct{ l, r predicate }

func (p *andPred) test(c *evalCtx, s *Span) bool { return p.l.test(c, s) && p.r.test(c, s) }

type orPred struct{ l, r predicate }

func (p *orPred) test(c *evalCtx, s *Span) bool { return p.l.test(c, s) || p.r.test(c, s) }

type notPred struct{ p predicate }

func (p *notPred) test(c *evalCtx, s *Span) bool { return !p.p.test(c, s) }

// truthyPred is an attribute used as a boolean operand: true when it is
// the boolean want (so !attr holds for false, not for an absent attribute).
type truthyPred struct {
	e    evaluator
	want bool
}

func (p *truthyPred) test(c *evalCtx, s *Span) bool {
	v := p.e.eval(c, s)
	return v.Type == TypeBool && v.B == p.want
}

// existsPred is "x != nil" (want true) or "x = nil" (want false).
type existsPred struct {
	e    evaluator
	want bool
}

func (p *existsPred) test(c *evalCtx, s *Span) bool {
	v := p.e.eval(c, s)
	return (v.Type != TypeNil) == p.want
}

type attrExistsPred struct {
	a    *attrEval
	want bool
}

func (p *attrExistsPred) test(c *evalCtx, s *Span) bool {
	return (p.a.lookup(c, s) != nil) == p.want
}

// attrCmpLit compares an attribute with a literal: the hot path.
type attrCmpLit struct {
	a   attrEval
	op  binOp
	lit Value
	re  *regexp.Regexp
}

func (p *attrCmpLit) test(c *evalCtx, s *Span) bool {
	v := p.a.lookup(c, s)
	if v == nil {
		return false
	}
	return compareValues(c, v, p.op, &p.lit, p.re)
}

// strAttrEq is attrCmpLit for "attribute = string literal" on a string
// attribute, without the generic comparison.
type strAttrEq struct {
	a   attrEval
	lit Value
}

func (p *strAttrEq) test(c *evalCtx, s *Span) bool {
	v := p.a.lookup(c, s)
	if v == nil {
		return false
	}
	if v.Type == TypeString {
		return v.S == p.lit.S
	}
	return compareValues(c, v, opEq, &p.lit, nil)
}

type cmpPred struct {
	l, r evaluator
	op   binOp
	re   *regexp.Regexp
}

func (p *cmpPred) test(c *evalCtx, s *Span) bool {
	a, b := p.l.eval(c, s), p.r.eval(c, s)
	return compareValues(c, &a, p.op, &b, p.re)
}

// intrCmpLit compares a span intrinsic with a literal.
type intrCmpLit struct {
	id  intrEval
	op  binOp
	lit Value
	re  *regexp.Regexp
}

func (p *intrCmpLit) test(c *evalCtx, s *Span) bool {
	switch p.id.id {
	case iName:
		if p.lit.Type == TypeString {
			switch p.op {
			case opEq:
				return s.Name == p.lit.S
			case opNeq:
				return s.Name != p.lit.S
			case opRe:
				return p.re.MatchString(s.Name)
			case opNre:
				return !p.re.MatchString(s.Name)
			}
		}
	case iStatus:
		if p.lit.Type == TypeStatus {
			if p.op == opEq {
				return int64(s.StatusCode) == p.lit.I
			}
			return int64(s.StatusCode) != p.lit.I
		}
	case iKind:
		if p.lit.Type == TypeKind {
			if p.op == opEq {
				return int64(s.Kind) == p.lit.I
			}
			return int64(s.Kind) != p.lit.I
		}
	case iDuration:
		if p.lit.Type == TypeDuration {
			return cmpInt(int64(s.DurationNano), p.op, p.lit.I)
		}
	}
	v := p.id.eval(c, s)
	return compareValues(c, &v, p.op, &p.lit, p.re)
}

// idCmp compares an ID intrinsic with a hex string literal, ignoring case
// and leading zeros (Tempo prints IDs without them).
type idCmp struct {
	id    intrinsic
	want  [16]byte
	valid bool // the literal is a hex ID of the right size
	neq   bool
}

func newIDCmp(id intrinsic, lit string, neq bool) *idCmp {
	p := &idCmp{id: id, neq: neq}
	size := 8
	if id == iTraceID || id == iLinkTraceID {
		size = 16
	}
	h := strings.TrimLeft(strings.ToLower(lit), "0")
	if len(h) <= 2*size {
		h = strings.Repeat("0", 2*size-len(h)) + h
		if b, err := hex.DecodeString(h); err == nil {
			copy(p.want[16-size:], b)
			p.valid = true
		}
	}
	return p
}

func (p *idCmp) test(c *evalCtx, s *Span) bool {
	var got [16]byte
	switch p.id {
	case iSpanID:
		copy(got[8:], s.ID[:])
	case iParentID:
		if s.ParentID == ([8]byte{}) {
			return false
		}
		copy(got[8:], s.ParentID[:])
	case iTraceID:
		got = c.t.ID
	case iLinkTraceID, iLinkSpanID:
		var l *Link
		if c.ln >= 0 {
			if c.ln < len(s.Links) {
				l = &s.Links[c.ln]
			}
		} else if len(s.Links) > 0 {
			l = &s.Links[0]
		}
		if l == nil {
			return false
		}
		if p.id == iLinkTraceID {
			got = l.TraceID
		} else {
			copy(got[8:], l.SpanID[:])
		}
	}
	eq := p.valid && got == p.want
	return eq != p.neq
}

// anyEventPred evaluates p once per event of the span (event fields then
// read that event) and is true when any is; without events, once with no
// event (event fields are nil).
type anyEventPred struct{ p predicate }

func (w *anyEventPred) test(c *evalCtx, s *Span) bool {
	if len(s.Events) == 0 || c.ev >= 0 {
		return w.p.test(c, s)
	}
	defer func() { c.ev = -1 }()
	for i := range s.Events {
		c.ev = i
		if w.p.test(c, s) {
			return true
		}
	}
	return false
}

type anyLinkPred struct{ p predicate }

func (w *anyLinkPred) test(c *evalCtx, s *Span) bool {
	if len(s.Links) == 0 || c.ln >= 0 {
		return w.p.test(c, s)
	}
	defer func() { c.ln = -1 }()
	for i := range s.Links {
		c.ln = i
		if w.p.test(c, s) {
			return true
		}
	}
	return false
}

func cmpInt(a int64, op binOp, b int64) bool {
	switch op {
	case opEq:
		return a == b
	case opNeq:
		return a != b
	case opGt:
		return a > b
	case opGte:
		return a >= b
	case opLt:
		return a < b
	case opLte:
		return a <= b
	}
	return false
}

func cmpFloat(a float64, op binOp, b float64) bool {
	switch op {
	case opEq:
		return a == b
	case opNeq:
		return a != b
	case opGt:
		return a > b
	case opGte:
		return a >= b
	case opLt:
		return a < b
	case opLte:
		return a <= b
	}
	return false
}

// compatible reports whether scalars a and b can be compared with op.
func compatible(a, b *Value, op binOp) bool {
	if op == opRe || op == opNre {
		return a.Type == TypeString && b.Type == TypeString
	}
	if isNum(a.Type) && isNum(b.Type) {
		return true
	}
	if a.Type != b.Type || a.Type == TypeNil {
		return false
	}
	switch a.Type {
	case TypeBool, TypeStatus, TypeKind:
		return op == opEq || op == opNeq
	}
	return true
}

// compareValues compares two values. Values of types that cannot be
// compared (including nil, an absent attribute) give false. An array
// satisfies a comparison when one of its elements does (for != and !~ too,
// as Tempo's engine evaluates them).
func compareValues(c *evalCtx, a *Value, op binOp, b *Value, re *regexp.Regexp) bool {
	if a.Type == TypeArray {
		return cmpArray(c, a.Arr, op, b, re)
	}
	if b.Type == TypeArray {
		if op == opRe || op == opNre {
			return false
		}
		return cmpArray(c, b.Arr, flipOp(op), a, nil)
	}
	return cmpScalar(c, a, op, b, re)
}

func flipOp(op binOp) binOp {
	switch op {
	case opGt:
		return opLt
	case opGte:
		return opLte
	case opLt:
		return opGt
	case opLte:
		return opGte
	}
	return op
}

func cmpArray(c *evalCtx, arr []Value, op binOp, other *Value, re *regexp.Regexp) bool {
	for i := range arr {
		if cmpScalar(c, &arr[i], op, other, re) {
			return true
		}
	}
	return false
}

func cmpScalar(c *evalCtx, a *Value, op binOp, b *Value, re *regexp.Regexp) bool {
	if !compatible(a, b, op) {
		return false
	}
	switch a.Type {
	case TypeString:
		switch op {
		case opRe, opNre:
			if re == nil {
				if c == nil {
					var err error
					if re, err = regexp.Compile(anchor(b.S)); err != nil {
						return false
					}
				} else if re = c.dynRegex(b.S); re == nil {
					return false
				}
			}
			return re.MatchString(a.S) == (op == opRe)
		case opEq:
			return a.S == b.S
		case opNeq:
			return a.S != b.S
		}
		return cmpInt(int64(strings.Compare(a.S, b.S)), op, 0)
	case TypeBool:
		return (a.B == b.B) == (op == opEq)
	case TypeStatus, TypeKind:
		return (a.I == b.I) == (op == opEq)
	}
	// numeric
	if a.Type != TypeFloat && b.Type != TypeFloat {
		return cmpInt(a.I, op, b.I)
	}
	return cmpFloat(toFloat(a), op, toFloat(b))
}

// ---------------------------------------------------------------------------
// Compiling field expressions.

// refs reports whether e reads the event and link scopes, and whether it
// reads any field at all.
func refs(e fieldExpr) (events, links, fields bool) {
	switch e := e.(type) {
	case *attrExpr:
		return e.scope == scEvent, e.scope == scLink, true
	case *intrExpr:
		return e.id == iEventName || e.id == iEventTimeSinceStart, e.id == iLinkTraceID || e.id == iLinkSpanID, true
	case *binExpr:
		e1, l1, f1 := refs(e.l)
		e2, l2, f2 := refs(e.r)
		return e1 || e2, l1 || l2, f1 || f2
	case *unExpr:
		return refs(e.e)
	}
	return false, false, false
}

func compileEval(e fieldExpr) evaluator {
	if _, _, f := refs(e); !f {
		if _, isLit := e.(*litExpr); !isLit {
			return &litEval{v: constValue(e)}
		}
	}
	switch e := e.(type) {
	case *litExpr:
		return &litEval{v: e.v}
	case *attrExpr:
		return &attrEval{scope: e.scope, key: e.name}
	case *intrExpr:
		return &intrEval{id: e.id}
	case *unExpr:
		if e.neg {
			return &negEval{e: compileEval(e.e)}
		}
		return &predEval{p: mustPred(e)}
	case *binExpr:
		if e.op.isArith() {
			return &arithEval{op: e.op, l: compileEval(e.l), r: compileEval(e.r)}
		}
		return &predEval{p: mustPred(e)}
	}
	return &litEval{}
}

// constValue evaluates an expression that reads no field.
func constValue(e fieldExpr) Value {
	switch e := e.(type) {
	case *litExpr:
		return e.v
	case *unExpr:
		v := constValue(e.e)
		if e.neg {
			return (&negEval{e: &litEval{v: v}}).eval(nil, nil)
		}
		if v.Type != TypeBool {
			return Value{Type: TypeBool}
		}
		return Value{Type: TypeBool, B: !v.B}
	case *binExpr:
		if e.op.isArith() {
			return arith(e.op, constValue(e.l), constValue(e.r))
		}
		p, err := compilePred(e)
		if err != nil {
			return Value{Type: TypeBool}
		}
		return Value{Type: TypeBool, B: p.test(nil, nil)}
	}
	return Value{}
}

func mustPred(e fieldExpr) predicate {
	p, err := compilePred(e)
	if err != nil {
		pe, ok := err.(*ParseError)
		if !ok {
			pe = &ParseError{Line: e.at().line, Col: e.at().col, Msg: err.Error()}
		}
		panic(parseFail{pe})
	}
	return p
}

// compilePred compiles a boolean field expression.
func compilePred(e fieldExpr) (predicate, error) {
	switch e := e.(type) {
	case *litExpr:
		return constPred(e.v.Type == TypeBool && e.v.B), nil
	case *unExpr:
		if !e.neg {
			if isValueExpr(e.e) {
				// !attr: true when the attribute is the boolean false
				return wrapMulti(e, &truthyPred{e: compileEval(e.e), want: false}), nil
			}
			p, err := compilePred(e.e)
			if err != nil {
				return nil, err
			}
			if cp, ok := p.(constPred); ok {
				return !cp, nil
			}
			return &notPred{p: p}, nil
		}
	case *binExpr:
		switch {
		case e.op == opAnd || e.op == opOr:
			l, err := compilePred(e.l)
			if err != nil {
				return nil, err
			}
			r, err := compilePred(e.r)
			if err != nil {
				return nil, err
			}
			lc, lok := l.(constPred)
			rc, rok := r.(constPred)
			if e.op == opAnd {
				switch {
				case lok && !bool(lc), rok && !bool(rc):
					return constPred(false), nil
				case lok:
					return r, nil
				case rok:
					return l, nil
				}
				return &andPred{l: l, r: r}, nil
			}
			switch {
			case lok && bool(lc), rok && bool(rc):
				return constPred(true), nil
			case lok:
				return r, nil
			case rok:
				return l, nil
			}
			return &orPred{l: l, r: r}, nil
		case e.op.isComparison():
			p, err := compileCmp(e)
			if err != nil {
				return nil, err
			}
			return wrapMulti(e, p), nil
		}
	}
	// an attribute (or arithmetic on one) as a boolean operand
	if _, _, f := refs(e); !f {
		v := constValue(e)
		return constPred(v.Type == TypeBool && v.B), nil
	}
	return wrapMulti(e, &truthyPred{e: compileEval(e), want: true}), nil
}

// isValueExpr reports whether e, in a boolean place, is a value (an
// attribute, arithmetic on one) rather than a condition.
func isValueExpr(e fieldExpr) bool {
	switch e := e.(type) {
	case *attrExpr, *intrExpr:
		return true
	case *unExpr:
		return e.neg
	case *binExpr:
		return e.op.isArith()
	}
	return false
}

func wrapMulti(e fieldExpr, p predicate) predicate {
	ev, ln, _ := refs(e)
	if ln {
		p = &anyLinkPred{p: p}
	}
	if ev {
		p = &anyEventPred{p: p}
	}
	return p
}

func isIDIntrinsic(i intrinsic) bool {
	return i == iSpanID || i == iParentID || i == iTraceID || i == iLinkTraceID || i == iLinkSpanID
}

func compileCmp(e *binExpr) (predicate, error) {
	l, r, op := e.l, e.r, e.op
	_, _, lf := refs(l)
	_, _, rf := refs(r)
	var lc, rc *Value
	if !lf {
		v := constValue(l)
		lc = &v
	}
	if !rf {
		v := constValue(r)
		rc = &v
	}
	// a literal regex is compiled once
	var re *regexp.Regexp
	if (op == opRe || op == opNre) && rc != nil && rc.Type == TypeString {
		if _, err := regexp.Compile(rc.S); err != nil {
			at := r.at()
			return nil, &ParseError{Line: at.line, Col: at.col, Msg: "invalid regular expression " + strconv.Quote(rc.S) + ": " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")}
		}
		re = regexp.MustCompile(anchor(rc.S))
	}
	if lc != nil && rc != nil {
		return constPred(constCompare(lc, op, rc, re)), nil
	}
	// nil literals: presence tests
	if (rc != nil && rc.Type == TypeNil) || (lc != nil && lc.Type == TypeNil) {
		field := l
		if lc != nil {
			field = r
		}
		want := op == opNeq
		if op != opEq && op != opNeq {
			return constPred(false), nil
		}
		if a, ok := field.(*attrExpr); ok {
			return &attrExistsPred{a: &attrEval{scope: a.scope, key: a.name}, want: want}, nil
		}
		return &existsPred{e: compileEval(field), want: want}, nil
	}
	// literal on the left: flip so the field is on the left
	if lc != nil && op != opRe && op != opNre {
		l, r = r, l
		lc, rc = rc, lc
		op = flipOp(op)
	}
	if rc != nil {
		switch f := l.(type) {
		case *attrExpr:
			a := attrEval{scope: f.scope, key: f.name}
			if op == opEq && rc.Type == TypeString {
				return &strAttrEq{a: a, lit: *rc}, nil
			}
			return &attrCmpLit{a: a, op: op, lit: *rc, re: re}, nil
		case *intrExpr:
			if isIDIntrinsic(f.id) && rc.Type == TypeString && (op == opEq || op == opNeq) {
				return newIDCmp(f.id, rc.S, op == opNeq), nil
			}
			if !compatibleStatic(f.id.ftype(), rc, op) {
				return constPred(false), nil
			}
			return &intrCmpLit{id: intrEval{id: f.id}, op: op, lit: *rc, re: re}, nil
		}
	}
	return &cmpPred{l: compileEval(l), r: compileEval(r), op: op, re: re}, nil
}

// compatibleStatic reports whether an intrinsic of type t can ever
// compare true with literal v under op.
func compatibleStatic(t ftype, v *Value, op binOp) bool {
	var probe Value
	switch t {
	case fString:
		probe.Type = TypeString
	case fInt:
		probe.Type = TypeInt
	case fDuration:
		probe.Type = TypeDuration
	case fStatus:
		probe.Type = TypeStatus
	case fKind:
		probe.Type = TypeKind
	default:
		return true
	}
	return compatible(&probe, v, op)
}

func constCompare(a *Value, op binOp, b *Value, re *regexp.Regexp) bool {
	if a.Type == TypeNil || b.Type == TypeNil {
		return false
	}
	return compareValues(nil, a, op, b, re)
}

// ---------------------------------------------------------------------------
// Spansets and the compiled pipeline.

// spanset is a set of spans during evaluation: indices into Trace.Spans,
// ascending and unique, or every span of the trace.
type spanset struct {
	spans []int32
	attrs []Attr
	all   bool
}

func (c *evalCtx) spansOf(ss *spanset) []int32 {
	if ss.all {
		return c.allSpans()
	}
	return ss.spans
}

type cstage interface {
	run(c *evalCtx, in []spanset) []spanset
}

type cssExpr interface {
	eval(c *evalCtx, in *spanset) []spanset
}

type program struct {
	stages []cstage
	out    []outField
}

// outField is a field reported in MatchedSpan.Attrs.
type outField struct {
	key string
	ev  evaluator
}

func runStages(c *evalCtx, stages []cstage, in []spanset) []spanset {
	for _, st := range stages {
		if len(in) == 0 {
			return nil
		}
		in = st.run(c, in)
	}
	return in
}

func (p *program) run(c *evalCtx) []spanset {
	c.root[0] = spanset{all: true}
	return runStages(c, p.stages, c.root[:])
}

type ssStageC struct{ e cssExpr }

func (s *ssStageC) run(c *evalCtx, in []spanset) []spanset {
	if len(in) == 1 {
		return s.e.eval(c, &in[0])
	}
	var out []spanset
	for i := range in {
		out = append(out, s.e.eval(c, &in[i])...)
	}
	return out
}

type filterC struct{ p predicate } // p nil: every span

func (f *filterC) eval(c *evalCtx, in *spanset) []spanset {
	if f.p == nil {
		if in.all {
			return []spanset{{spans: c.allSpans(), attrs: in.attrs}}
		}
		if len(in.spans) == 0 {
			return nil
		}
		return []spanset{*in}
	}
	var out []int32
	spans := c.t.Spans
	if in.all {
		for i := range spans {
			c.idx = int32(i)
			if f.p.test(c, &spans[i]) {
				out = append(out, int32(i))
			}
		}
	} else {
		for _, i := range in.spans {
			c.idx = i
			if f.p.test(c, &spans[i]) {
				out = append(out, i)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return []spanset{{spans: out, attrs: in.attrs}}
}

type pipeC struct{ stages []cstage }

func (p *pipeC) eval(c *evalCtx, in *spanset) []spanset {
	return runStages(c, p.stages, []spanset{*in})
}

type ssBinC struct {
	op   ssOp
	l, r cssExpr
}

// flatten is the union of the spans of sets.
func (c *evalCtx) flatten(sets []spanset) []int32 {
	switch len(sets) {
	case 0:
		return nil
	case 1:
		return c.spansOf(&sets[0])
	}
	out := c.spansOf(&sets[0])
	for i := 1; i < len(sets); i++ {
		out = union(out, c.spansOf(&sets[i]))
	}
	return out
}

// union merges two ascending lists of span indices.
func union(a, b []int32) []int32 {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]int32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func (e *ssBinC) eval(c *evalCtx, in *spanset) []spanset {
	one := func(spans []int32) []spanset {
		if len(spans) == 0 {
			return nil
		}
		return []spanset{{spans: spans, attrs: in.attrs}}
	}
	l := c.flatten(e.l.eval(c, in))
	switch e.op {
	case ssAnd:
		if len(l) == 0 {
			return nil
		}
		r := c.flatten(e.r.eval(c, in))
		if len(r) == 0 {
			return nil
		}
		return one(union(l, r))
	case ssOr:
		return one(union(l, c.flatten(e.r.eval(c, in))))
	}
	// as in Tempo, a structural operator (negated ones too) joins the two
	// sides only when neither is empty
	if len(l) == 0 {
		return nil
	}
	r := c.flatten(e.r.eval(c, in))
	if len(r) == 0 {
		return nil
	}
	return one(structural(c, e.op, l, r))
}

func parentOf(t *Trace, i int32) int32 {
	p := t.Spans[i].Parent
	if p < 0 || int(p) >= len(t.Spans) || p == i {
		return -1
	}
	return p
}

func membership(n int, set []int32) []bool {
	m := make([]bool, n)
	for _, i := range set {
		m[i] = true
	}
	return m
}

// parentsOf marks the parents of the spans in set.
func parentsOf(t *Trace, set []int32) []bool {
	m := make([]bool, len(t.Spans))
	for _, i := range set {
		if p := parentOf(t, i); p >= 0 {
			m[p] = true
		}
	}
	return m
}

// ancestorsOf marks every ancestor of the spans in set.
func ancestorsOf(t *Trace, set []int32) []bool {
	m := make([]bool, len(t.Spans))
	for _, i := range set {
		for p := parentOf(t, i); p >= 0 && !m[p]; p = parentOf(t, p) {
			m[p] = true
		}
	}
	return m
}

// withAncestorIn marks the spans that have an ancestor in the set in.
func withAncestorIn(t *Trace, in []bool) []bool {
	const unknown, yes, no, busy = 0, 1, 2, 3
	n := len(t.Spans)
	st := make([]uint8, n)
	var stack []int32
	for i := range n {
		if st[i] != unknown {
			continue
		}
		stack = append(stack[:0], int32(i))
		st[i] = busy
		for {
			p := parentOf(t, stack[len(stack)-1])
			if p < 0 || in[p] || st[p] != unknown {
				break
			}
			st[p] = busy
			stack = append(stack, p)
		}
		for k := len(stack) - 1; k >= 0; k-- {
			j := stack[k]
			p := parentOf(t, j)
			switch {
			case p < 0:
				st[j] = no
			case in[p] || st[p] == yes:
				st[j] = yes
			default: // no, or a cycle
				st[j] = no
			}
		}
	}
	m := make([]bool, n)
	for i := range m {
		m[i] = st[i] == yes
	}
	return m
}

// siblingOf marks the spans that share a parent with a span of set other
// than themselves.
func siblingOf(t *Trace, set []int32) []bool {
	n := len(t.Spans)
	count := make([]int32, n)
	inSet := membership(n, set)
	for _, i := range set {
		if p := parentOf(t, i); p >= 0 {
			count[p]++
		}
	}
	m := make([]bool, n)
	for i := range n {
		p := parentOf(t, int32(i))
		if p < 0 {
			continue
		}
		k := count[p]
		if inSet[i] {
			k--
		}
		m[i] = k > 0
	}
	return m
}

func filterBy(set []int32, m []bool, want bool) []int32 {
	var out []int32
	for _, i := range set {
		if m[i] == want {
			out = append(out, i)
		}
	}
	return out
}

// structural applies a structural operator to the lhs spans l and rhs
// spans r: the rhs spans in the relation (or, negated, not in it), and for
// the union forms also the lhs spans on the other end of it.
func structural(c *evalCtx, op ssOp, l, r []int32) []int32 {
	t := c.t
	n := len(t.Spans)
	// rel marks the spans that stand in the relation to some lhs span.
	var rel []bool
	switch op {
	case ssChild, ssNotChild, ssUChild:
		rel = make([]bool, n)
		inL := membership(n, l)
		for i := range n {
			if p := parentOf(t, int32(i)); p >= 0 && inL[p] {
				rel[i] = true
			}
		}
	case ssParent, ssNotParent, ssUParent:
		rel = parentsOf(t, l)
	case ssDesc, ssNotDesc, ssUDesc:
		rel = withAncestorIn(t, membership(n, l))
	case ssAnce, ssNotAnce, ssUAnce:
		rel = ancestorsOf(t, l)
	case ssSibl, ssNotSibl, ssUSibl:
		rel = siblingOf(t, l)
	}
	switch op {
	case ssChild, ssParent, ssDesc, ssAnce, ssSibl:
		return filterBy(r, rel, true)
	case ssNotChild, ssNotParent, ssNotDesc, ssNotAnce, ssNotSibl:
		return filterBy(r, rel, false)
	}
	right := filterBy(r, rel, true)
	if len(right) == 0 {
		return nil
	}
	// the lhs spans related to the matched rhs spans
	var back []bool
	switch op {
	case ssUChild: // parents of matched children
		back = parentsOf(t, right)
	case ssUParent: // children of matched parents
		back = make([]bool, n)
		inR := membership(n, right)
		for _, i := range l {
			if p := parentOf(t, i); p >= 0 && inR[p] {
				back[i] = true
			}
		}
	case ssUDesc: // ancestors of matched descendants
		back = ancestorsOf(t, right)
	case ssUAnce: // descendants of matched ancestors
		back = withAncestorIn(t, membership(n, right))
	case ssUSibl:
		back = siblingOf(t, right)
	}
	return union(filterBy(l, back, true), right)
}

// scalar filters --------------------------------------------------------------

type cscalar interface {
	value(vals []Value) Value
}

type cscalarLit struct{ v Value }

func (s *cscalarLit) value([]Value) Value { return s.v }

type cscalarAgg struct{ i int }

func (s *cscalarAgg) value(vals []Value) Value { return vals[s.i] }

type cscalarBin struct {
	op   binOp
	l, r cscalar
}

func (s *cscalarBin) value(vals []Value) Value { return arith(s.op, s.l.value(vals), s.r.value(vals)) }

type caggregate struct {
	fn  aggFn
	e   evaluator
	key string
}

type scalarFilterC struct {
	op   binOp
	l, r cscalar
	aggs []caggregate
}

func (a *caggregate) compute(c *evalCtx, spans []int32) Value {
	if a.fn == aggCount {
		return Value{Type: TypeInt, I: int64(len(spans))}
	}
	n := 0
	allInt, allDur := true, true
	var sumF float64
	var sumI int64
	intOK := true
	var best Value
	bestF := 0.0
	for _, i := range spans {
		c.idx = i
		v := a.e.eval(c, &c.t.Spans[i])
		if !isNum(v.Type) {
			continue
		}
		f := toFloat(&v)
		if v.Type != TypeInt {
			allInt = false
		}
		if v.Type != TypeDuration {
			allDur = false
		}
		if intOK {
			s := sumI + v.I
			if v.Type == TypeFloat || (s > sumI) != (v.I > 0) {
				intOK = false
			}
			sumI = s
		}
		sumF += f
		if n == 0 || (a.fn == aggMin && f < bestF) || (a.fn == aggMax && f > bestF) {
			best, bestF = v, f
		}
		n++
	}
	if n == 0 { // no value: the spanset is dropped, as in Tempo
		return Value{}
	}
	switch a.fn {
	case aggMin, aggMax: // the extreme value, with its type
		return best
	case aggSum:
		switch {
		case allInt && intOK:
			return Value{Type: TypeInt, I: sumI}
		case allDur && intOK:
			return Value{Type: TypeDuration, I: sumI}
		}
		return Value{Type: TypeFloat, F: sumF}
	default: // avg
		avg := sumF / float64(n)
		if allDur {
			return Value{Type: TypeDuration, I: int64(math.Round(avg))}
		}
		return Value{Type: TypeFloat, F: avg}
	}
}

func (s *scalarFilterC) run(c *evalCtx, in []spanset) []spanset {
	var out []spanset
	vals := make([]Value, len(s.aggs))
	for k := range in {
		ss := &in[k]
		spans := c.spansOf(ss)
		for i := range s.aggs {
			vals[i] = s.aggs[i].compute(c, spans)
		}
		lv, rv := s.l.value(vals), s.r.value(vals)
		if lv.Type == TypeNil || rv.Type == TypeNil || !compareValues(c, &lv, s.op, &rv, nil) {
			continue
		}
		attrs := ss.attrs[:len(ss.attrs):len(ss.attrs)]
		for i := range s.aggs {
			attrs = setAttr(attrs, s.aggs[i].key, vals[i])
		}
		out = append(out, spanset{spans: ss.spans, all: ss.all, attrs: attrs})
	}
	return out
}

// setAttr sets key in a spanset's attributes (replacing an earlier value),
// copying the slice first.
func setAttr(attrs []Attr, key string, v Value) []Attr {
	out := make([]Attr, 0, len(attrs)+1)
	for _, a := range attrs {
		if a.Key != key {
			out = append(out, a)
		}
	}
	return append(out, Attr{Key: key, Value: v})
}

// by() ------------------------------------------------------------------------

type byC struct {
	fields []evaluator
	keys   []string // "by(<field>)"
}

func appendValueKey(b []byte, v *Value) []byte {
	b = append(b, byte(v.Type))
	switch v.Type {
	case TypeString:
		b = strconv.AppendQuote(b, v.S)
	case TypeFloat:
		b = strconv.AppendFloat(b, v.F, 'g', -1, 64)
	case TypeBool:
		b = strconv.AppendBool(b, v.B)
	case TypeArray:
		for i := range v.Arr {
			b = appendValueKey(b, &v.Arr[i])
		}
		b = append(b, ']')
	default:
		b = strconv.AppendInt(b, v.I, 10)
	}
	return append(b, 0)
}

func (s *byC) run(c *evalCtx, in []spanset) []spanset {
	var out []spanset
	vals := make([]Value, len(s.fields))
	var key []byte
	for k := range in {
		ss := &in[k]
		groups := map[string]int{}
		for _, i := range c.spansOf(ss) {
			c.idx = i
			key = key[:0]
			for f, ev := range s.fields {
				vals[f] = ev.eval(c, &c.t.Spans[i])
				key = appendValueKey(key, &vals[f])
			}
			g, ok := groups[string(key)]
			if !ok {
				g = len(out)
				groups[string(key)] = g
				attrs := ss.attrs[:len(ss.attrs):len(ss.attrs)]
				for f := range s.fields {
					attrs = setAttr(attrs, s.keys[f], vals[f])
				}
				out = append(out, spanset{attrs: attrs})
			}
			out[g].spans = append(out[g].spans, i)
		}
	}
	return out
}

// coalesce() -----------------------------------------------------------------

type coalesceC struct{}

func (coalesceC) run(c *evalCtx, in []spanset) []spanset {
	spans := c.flatten(in)
	if len(spans) == 0 {
		return nil
	}
	return []spanset{{spans: spans}}
}

// ---------------------------------------------------------------------------
// Compiling the query.

func (q *Query) compile() (err error) {
	defer func() {
		if r := recover(); r != nil {
			pf, ok := r.(parseFail)
			if !ok {
				panic(r)
			}
			err = pf.err
		}
	}()
	prog := &program{}
	prog.stages = compileStages(q.stages)
	prog.out = outFields(q)
	q.prog = prog
	q.mprog = compileMetrics(q.metrics)
	return nil
}

func compileStages(stages []stage) []cstage {
	var out []cstage
	for _, s := range stages {
		switch s := s.(type) {
		case *ssStage:
			out = append(out, &ssStageC{e: compileSS(s.e)})
		case *scalarFilterStage:
			sf := &scalarFilterC{op: s.op}
			sf.l = compileScalar(s.l, sf)
			sf.r = compileScalar(s.r, sf)
			out = append(out, sf)
		case *byStage:
			b := &byC{}
			for _, f := range s.fields {
				b.fields = append(b.fields, compileEval(f))
				b.keys = append(b.keys, "by("+fieldString(f)+")")
			}
			out = append(out, b)
		case *coalesceStage:
			out = append(out, coalesceC{})
		case *selectStage:
			// select() only adds fields to MatchedSpan.Attrs (outFields)
		}
	}
	return out
}

func compileSS(e ssExpr) cssExpr {
	switch e := e.(type) {
	case *filterExpr:
		if e.e == nil {
			return &filterC{}
		}
		p := mustPred(e.e)
		if cp, ok := p.(constPred); ok && bool(cp) {
			return &filterC{}
		}
		return &filterC{p: p}
	case *ssBinExpr:
		return &ssBinC{op: e.op, l: compileSS(e.l), r: compileSS(e.r)}
	case *pipeExpr:
		return &pipeC{stages: compileStages(e.stages)}
	}
	return &filterC{p: constPred(false)}
}

func compileScalar(e scalarExpr, sf *scalarFilterC) cscalar {
	switch e := e.(type) {
	case *scalarLit:
		return &cscalarLit{v: e.v}
	case *aggExpr:
		a := caggregate{fn: e.fn, key: e.String()}
		if e.e != nil {
			a.e = compileEval(e.e)
		}
		sf.aggs = append(sf.aggs, a)
		return &cscalarAgg{i: len(sf.aggs) - 1}
	case *scalarBin:
		return &cscalarBin{op: e.op, l: compileScalar(e.l, sf), r: compileScalar(e.r, sf)}
	}
	return &cscalarLit{}
}

// outFields lists the attributes and intrinsics that the query's filters
// and select() name, in order, once per key.
func outFields(q *Query) []outField {
	var out []outField
	seen := map[string]bool{}
	add := func(e fieldExpr) {
		var key string
		var ev evaluator
		switch f := e.(type) {
		case *attrExpr:
			key, ev = f.name, &attrEval{scope: f.scope, key: f.name}
		case *intrExpr:
			key, ev = f.id.outKey(), &intrEval{id: f.id}
		}
		if key == "" || seen[key] {
			return
		}
		seen[key] = true
		out = append(out, outField{key: key, ev: ev})
	}
	var walkField func(e fieldExpr)
	walkField = func(e fieldExpr) {
		switch e := e.(type) {
		case *binExpr:
			walkField(e.l)
			walkField(e.r)
		case *unExpr:
			walkField(e.e)
		default:
			add(e)
		}
	}
	var walkSS func(e ssExpr)
	var walkStages func(stages []stage)
	walkSS = func(e ssExpr) {
		switch e := e.(type) {
		case *filterExpr:
			if e.e != nil {
				walkField(e.e)
			}
		case *ssBinExpr:
			walkSS(e.l)
			walkSS(e.r)
		case *pipeExpr:
			walkStages(e.stages)
		}
	}
	walkStages = func(stages []stage) {
		for _, s := range stages {
			switch s := s.(type) {
			case *ssStage:
				walkSS(s.e)
			case *selectStage:
				for _, f := range s.fields {
					add(f)
				}
			}
		}
	}
	walkStages(q.stages)
	return out
}

// spanAttrs appends the reported fields of span i to buf and returns them
// (a sub-slice of buf, nil when there are none) and the grown buf.
func (p *program) spanAttrs(c *evalCtx, i int32, buf []Attr) (attrs, grown []Attr) {
	s := &c.t.Spans[i]
	c.idx = i
	start := len(buf)
	for _, f := range p.out {
		v := f.ev.eval(c, s)
		if v.Type == TypeNil || (v.Type == TypeString && v.S == "" && f.key == "statusMessage") {
			continue
		}
		buf = append(buf, Attr{Key: f.key, Value: v})
	}
	if len(buf) == start {
		return nil, buf
	}
	return buf[start:len(buf):len(buf)], buf
}

// ---------------------------------------------------------------------------
// Match.

// Match runs the query's search part on one trace and returns the
// matching spansets, or nil when the trace does not match.
func (q *Query) Match(t *Trace) []Spanset {
	if t == nil || len(t.Spans) == 0 {
		return nil
	}
	c := getCtx(t)
	defer putCtx(c)
	sets := q.prog.run(c)
	if len(sets) == 0 {
		return nil
	}
	total := 0
	for k := range sets {
		total += len(c.spansOf(&sets[k]))
	}
	var buf []Attr
	if len(q.prog.out) > 0 {
		buf = make([]Attr, 0, total*len(q.prog.out))
	}
	res := make([]Spanset, 0, len(sets))
	for k := range sets {
		spans := c.spansOf(&sets[k])
		if len(spans) == 0 {
			continue
		}
		ms := make([]MatchedSpan, len(spans))
		for j, i := range spans {
			var attrs []Attr
			if len(q.prog.out) > 0 {
				attrs, buf = q.prog.spanAttrs(c, i, buf)
			}
			ms[j] = MatchedSpan{Span: &t.Spans[i], Attrs: attrs}
		}
		var attrs []Attr
		if len(sets[k].attrs) > 0 {
			attrs = append([]Attr(nil), sets[k].attrs...)
		}
		res = append(res, Spanset{Spans: ms, Attrs: attrs})
	}
	if len(res) == 0 {
		return nil
	}
	return res
}

// matchedSpans runs the search part and returns each matched span once,
// in trace order.
func (q *Query) matchedSpans(c *evalCtx) []int32 {
	sets := q.prog.run(c)
	switch len(sets) {
	case 0:
		return nil
	case 1:
		return c.spansOf(&sets[0])
	}
	var all []int32
	for k := range sets {
		all = append(all, c.spansOf(&sets[k])...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	out := all[:0]
	for i, s := range all {
		if i == 0 || s != all[i-1] {
			out = append(out, s)
		}
	}
	return out
}
