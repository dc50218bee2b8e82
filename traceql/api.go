package traceql

// This file is the engine's contract with the storage and API layers. The
// bodies are filled in by the parser/evaluator work; the signatures and
// their documented meaning are what callers rely on.

import "fmt"

// ParseError is a syntax error. Line and Col are 1-based and point at the
// offending token; Msg says what was found and what was expected, e.g.
// `unexpected "}", expecting a value`.
type ParseError struct {
	Line, Col int
	Msg       string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

// Spanset is one result of a search query on one trace.
type Spanset struct {
	// Spans are the spans of the set, in trace order.
	Spans []MatchedSpan
	// Attrs are the set's own attributes: by() values keyed
	// "by(resource.service.name)" and aggregate values keyed "count()",
	// "avg(duration)", … as Tempo reports them.
	Attrs []Attr
}

// MatchedSpan is a span of a Spanset.
type MatchedSpan struct {
	Span *Span // points into the Trace passed to Match
	// Attrs are the attributes and intrinsics that the query names
	// (conditions and select()) as this span has them, keyed as Tempo
	// keys them: attribute names without their scope ("http.method"),
	// intrinsics by name ("status", "kind", …). Name, start and duration
	// are not repeated here.
	Attrs []Attr
}

// Op is a comparison operator.
type Op uint8

// Comparison operators.
const (
	OpEq Op = iota
	OpNeq
	OpGt
	OpGte
	OpLt
	OpLte
	OpRegex
	OpNotRegex
)

// Scope says where a Condition's Name is looked up.
type Scope uint8

// Condition scopes.
const (
	ScopeSpan      Scope = iota // span.<Name>: a span attribute
	ScopeResource               // resource.<Name>: a resource attribute
	ScopeIntrinsic              // a span intrinsic: "name", "status", "statusMessage", "duration", "kind"
	ScopeTrace                  // a trace intrinsic: "rootName", "rootServiceName", "traceDuration"
)

// Condition is a comparison that every trace matching the query satisfies:
// for ScopeSpan and ScopeIntrinsic some span of the trace satisfies it, for
// ScopeResource some resource, for ScopeTrace the trace itself. Value is a
// literal (for regex operators a string holding the pattern).
type Condition struct {
	Scope Scope
	Name  string
	Op    Op
	Value Value
}

// MetricsRange is the time range of a metrics query, in Unix nanoseconds.
// Interval i covers [Start+i*Step, Start+(i+1)*Step); an instant query has
// Step = End - Start.
type MetricsRange struct {
	Start, End, Step uint64
}

// Series is one time series of a metrics query's result.
type Series struct {
	Labels  []Attr // the by() values keyed as written, plus "p" for quantiles, "__bucket" for histograms
	Samples []Sample
}

// Sample is one point of a Series; TimestampMs is its interval's start.
type Sample struct {
	TimestampMs int64
	Value       float64
}
