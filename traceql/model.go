// Package traceql parses and evaluates TraceQL, Grafana Tempo's trace query
// language: search queries (spanset filters, spanset operators, structural
// operators, pipelines with aggregates, by(), select(), coalesce()) and
// metrics queries (rate(), count_over_time(), quantile_over_time(), …).
//
// The engine works on one trace at a time, held in the small in-memory model
// below; the storage layers (ingester heads, Parquet blocks) build that model
// from their own representation and use Query.Conditions to read only what
// may match.
package traceql

// Type is the type of a Value.
type Type uint8

// Value types. TypeNil is the absent value (an attribute that is not there,
// or the literal nil).
const (
	TypeNil Type = iota
	TypeString
	TypeInt
	TypeFloat
	TypeBool
	TypeDuration // nanoseconds in I
	TypeStatus   // OTLP status code in I: 0 unset, 1 ok, 2 error
	TypeKind     // OTLP span kind in I: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer
	TypeArray    // Arr holds the elements (scalars only)
)

// StatusNames and KindNames are TraceQL's keywords for the OTLP status
// codes and span kinds, indexed by code (read-only).
var (
	StatusNames = []string{0: "unset", 1: "ok", 2: "error"}
	KindNames   = []string{0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
)

// Value is a typed attribute or intrinsic value.
type Value struct {
	Type Type
	S    string
	I    int64
	F    float64
	B    bool
	Arr  []Value
}

// Attr is one attribute of a span, resource, scope, event or link.
type Attr struct {
	Key   string
	Value Value
}

// Trace is one trace as the engine sees it.
type Trace struct {
	ID                [16]byte
	RootServiceName   string
	RootSpanName      string
	StartTimeUnixNano uint64
	DurationNano      uint64 // end of the last span minus start of the first
	Spans             []Span
}

// Resource is shared by the spans of one ResourceSpans. Attrs includes
// service.name.
type Resource struct {
	Attrs []Attr
}

// InstrumentationScope is the instrumentation scope shared by the spans of one ScopeSpans.
type InstrumentationScope struct {
	Name, Version string
	Attrs         []Attr
}

// Span is one span. Parent is the index of the parent span in Trace.Spans,
// or -1 when the span is a root or its parent is not in the trace.
type Span struct {
	ID                [8]byte
	ParentID          [8]byte // zero for a root span
	Parent            int32
	Name              string
	Kind              int32
	StatusCode        int32
	StatusMessage     string
	StartTimeUnixNano uint64
	DurationNano      uint64
	Attrs             []Attr
	Resource          *Resource
	Scope             *InstrumentationScope
	Events            []Event
	Links             []Link
}

// Event is a span event (a log).
type Event struct {
	Name               string
	TimeSinceStartNano uint64
	Attrs              []Attr
}

// Link is a span link.
type Link struct {
	TraceID [16]byte
	SpanID  [8]byte
	Attrs   []Attr
}
