package traceql

// Conditions returns comparisons that every trace matching the query
// satisfies, for storage layers to skip data that cannot match. Only
// necessary conditions are returned: comparisons of a span attribute, a
// resource attribute or a span or trace intrinsic with a literal, ANDed
// inside the spanset filters that the search's pipeline stages must
// match, reached only through &&, the structural operators (both sides;
// only the right side of the negated ones) and parentheses. Nothing comes
// from ||, !, unscoped, event, link or instrumentation attributes,
// comparisons with nil or with non-literals.
//
// Numeric literals compare numerically with int and float attributes; for
// an array attribute a condition holds when some element satisfies it.
func (q *Query) Conditions() []Condition {
	var out []Condition
	add := func(c Condition) {
		for _, o := range out {
			if o.Scope == c.Scope && o.Name == c.Name && o.Op == c.Op && sameValue(o.Value, c.Value) {
				return
			}
		}
		out = append(out, c)
	}
	var stages func(st []stage)
	var ss func(e ssExpr)
	stages = func(st []stage) {
		for _, s := range st {
			if s, ok := s.(*ssStage); ok {
				ss(s.e)
			}
		}
	}
	ss = func(e ssExpr) {
		switch e := e.(type) {
		case *filterExpr:
			if e.e != nil {
				conjuncts(e.e, add)
			}
		case *ssBinExpr:
			switch e.op {
			case ssOr:
			case ssNotChild, ssNotParent, ssNotDesc, ssNotAnce, ssNotSibl:
				ss(e.r)
			default:
				ss(e.l)
				ss(e.r)
			}
		case *pipeExpr:
			stages(e.stages)
		}
	}
	stages(q.stages)
	return out
}

func sameValue(a, b Value) bool {
	return a.Type == b.Type && a.S == b.S && a.I == b.I && a.B == b.B &&
		(a.F == b.F || (a.F != a.F && b.F != b.F))
}

// conjuncts adds the conditions of the comparisons ANDed in e.
func conjuncts(e fieldExpr, add func(Condition)) {
	switch e := e.(type) {
	case *binExpr:
		switch {
		case e.op == opAnd:
			conjuncts(e.l, add)
			conjuncts(e.r, add)
		case e.op.isComparison():
			if c, ok := comparisonCondition(e); ok {
				add(c)
			}
		}
	case *attrExpr: // a boolean attribute used alone: = true
		if c, ok := fieldCondition(e, opEq, Value{Type: TypeBool, B: true}); ok {
			add(c)
		}
	}
}

func comparisonCondition(e *binExpr) (Condition, bool) {
	field, lit, op := e.l, e.r, e.op
	if _, _, f := refs(lit); f {
		if op == opRe || op == opNre {
			return Condition{}, false // the pattern is not a literal
		}
		field, lit, op = lit, field, flipOp(op)
		if _, _, f := refs(lit); f {
			return Condition{}, false
		}
	}
	switch field.(type) {
	case *attrExpr, *intrExpr:
	default:
		return Condition{}, false
	}
	return fieldCondition(field, op, constValue(lit))
}

var condOps = [...]Op{opEq: OpEq, opNeq: OpNeq, opGt: OpGt, opGte: OpGte, opLt: OpLt, opLte: OpLte, opRe: OpRegex, opNre: OpNotRegex}

func fieldCondition(field fieldExpr, op binOp, v Value) (Condition, bool) {
	if !op.isComparison() {
		return Condition{}, false
	}
	c := Condition{Op: condOps[op], Value: v}
	switch v.Type {
	case TypeNil, TypeArray:
		return Condition{}, false
	}
	if (op == opRe || op == opNre) && v.Type != TypeString {
		return Condition{}, false
	}
	switch f := field.(type) {
	case *attrExpr:
		switch f.scope {
		case scSpan:
			c.Scope = ScopeSpan
		case scResource:
			c.Scope = ScopeResource
		default:
			return Condition{}, false
		}
		switch v.Type {
		case TypeString, TypeInt, TypeFloat, TypeBool:
		default: // durations, statuses and kinds are never attribute values
			return Condition{}, false
		}
		c.Name = f.name
		return c, true
	case *intrExpr:
		var want Type
		switch f.id {
		case iName:
			c.Scope, c.Name, want = ScopeIntrinsic, "name", TypeString
		case iStatus:
			c.Scope, c.Name, want = ScopeIntrinsic, "status", TypeStatus
		case iStatusMessage:
			c.Scope, c.Name, want = ScopeIntrinsic, "statusMessage", TypeString
		case iDuration:
			c.Scope, c.Name, want = ScopeIntrinsic, "duration", TypeDuration
		case iKind:
			c.Scope, c.Name, want = ScopeIntrinsic, "kind", TypeKind
		case iRootName:
			c.Scope, c.Name, want = ScopeTrace, "rootName", TypeString
		case iRootService:
			c.Scope, c.Name, want = ScopeTrace, "rootServiceName", TypeString
		case iTraceDuration:
			c.Scope, c.Name, want = ScopeTrace, "traceDuration", TypeDuration
		default:
			return Condition{}, false
		}
		if v.Type != want {
			return Condition{}, false
		}
		return c, true
	}
	return Condition{}, false
}
