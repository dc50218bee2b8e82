package block

// The parquet schema of data.parquet: one row per trace, nested like OTLP
// (resource spans → scope spans → spans → events / links), the way Tempo's
// vParquet lays a trace out. Every value that TraceQL filters on is a real
// column; only bytes, arrays and maps (rare in attributes) are stored as
// proto-encoded AnyValue blobs.
//
// Encoding choices, measured on bench/gen data:
//   - strings are dictionary encoded (service and span names, attribute keys
//     and most attribute values have few distinct values per row group);
//   - timestamps and durations use DELTA_BINARY_PACKED;
//   - a span's parent is stored as the index of the parent span inside the
//     trace row (ParentIdx, -1 for none), the raw parent span ID only when
//     the parent is not in the trace; this saves ~7 random bytes per span
//     and is what structural TraceQL operators need anyway;
//   - an event's time is stored relative to its span's start.

// pqTrace is one row.
type pqTrace struct {
	TraceID           [16]byte          `parquet:"TraceID"`
	StartTimeUnixNano uint64            `parquet:"StartTimeUnixNano,delta"`
	EndTimeUnixNano   uint64            `parquet:"EndTimeUnixNano,delta"`
	DurationNano      uint64            `parquet:"DurationNano,delta"`
	RootServiceName   string            `parquet:"RootServiceName,dict"`
	RootSpanName      string            `parquet:"RootSpanName,dict"`
	SpanCount         int32             `parquet:"SpanCount"`
	ResourceSpans     []pqResourceSpans `parquet:"rs"`
}

type pqResourceSpans struct {
	Resource   pqResource     `parquet:"Resource"`
	SchemaURL  string         `parquet:"SchemaUrl,dict"`
	ScopeSpans []pqScopeSpans `parquet:"ss"`
}

type pqResource struct {
	// ServiceName is the service.name attribute when it is a string
	// (HasServiceName tells an absent attribute from an empty one); it is
	// not repeated in Attrs.
	ServiceName            string   `parquet:"ServiceName,dict"`
	HasServiceName         bool     `parquet:"HasServiceName"`
	Attrs                  []pqAttr `parquet:"Attrs"`
	DroppedAttributesCount int32    `parquet:"DroppedAttributesCount"`
}

type pqScopeSpans struct {
	Scope     pqScope  `parquet:"Scope"`
	SchemaURL string   `parquet:"SchemaUrl,dict"`
	Spans     []pqSpan `parquet:"Spans"`
}

type pqScope struct {
	Name                   string   `parquet:"Name,dict"`
	Version                string   `parquet:"Version,dict"`
	Attrs                  []pqAttr `parquet:"Attrs"`
	DroppedAttributesCount int32    `parquet:"DroppedAttributesCount"`
}

type pqSpan struct {
	SpanID                 [8]byte   `parquet:"SpanID"`
	ParentIdx              int32     `parquet:"ParentIdx"`
	ParentSpanID           []byte    `parquet:"ParentSpanID,optional"`
	TraceState             string    `parquet:"TraceState,dict"`
	Flags                  uint32    `parquet:"Flags"`
	Name                   string    `parquet:"Name,dict"`
	Kind                   int32     `parquet:"Kind"`
	StartTimeUnixNano      uint64    `parquet:"StartTimeUnixNano,delta"`
	DurationNano           uint64    `parquet:"DurationNano,delta"`
	StatusCode             int32     `parquet:"StatusCode"`
	StatusMessage          string    `parquet:"StatusMessage,dict"`
	Attrs                  []pqAttr  `parquet:"Attrs"`
	DroppedAttributesCount int32     `parquet:"DroppedAttributesCount"`
	Events                 []pqEvent `parquet:"Events"`
	DroppedEventsCount     int32     `parquet:"DroppedEventsCount"`
	Links                  []pqLink  `parquet:"Links"`
	DroppedLinksCount      int32     `parquet:"DroppedLinksCount"`
}

type pqEvent struct {
	TimeSinceStartNano     uint64   `parquet:"TimeSinceStartNano,delta"`
	Name                   string   `parquet:"Name,dict"`
	Attrs                  []pqAttr `parquet:"Attrs"`
	DroppedAttributesCount int32    `parquet:"DroppedAttributesCount"`
}

type pqLink struct {
	TraceID                [16]byte `parquet:"TraceID"`
	SpanID                 [8]byte  `parquet:"SpanID"`
	TraceState             string   `parquet:"TraceState,dict"`
	Flags                  uint32   `parquet:"Flags"`
	Attrs                  []pqAttr `parquet:"Attrs"`
	DroppedAttributesCount int32    `parquet:"DroppedAttributesCount"`
}

// pqAttr is one attribute: exactly one of the value columns is non-null, or
// none for an empty AnyValue. Bytes, arrays and maps go to Any as a
// proto-encoded opentelemetry.proto.common.v1.AnyValue.
type pqAttr struct {
	Key    string   `parquet:"Key,dict"`
	Str    *string  `parquet:"Value,optional,dict"`
	Int    *int64   `parquet:"ValueInt,optional"`
	Double *float64 `parquet:"ValueDouble,optional"`
	Bool   *bool    `parquet:"ValueBool,optional"`
	Any    []byte   `parquet:"ValueAny,optional"`
}
