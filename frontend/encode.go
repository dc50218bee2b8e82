package frontend

import (
	"bytes"
	"fmt"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Tempo answers trace-by-ID with gogo/protobuf's jsonpb: camelCase fields,
// enums by name, 64-bit integers as strings, and trace/span IDs as base64
// (bytes fields). protojson over the OTLP Go types produces the same.
var jsonOpts = protojson.MarshalOptions{}

// traceProto is the trace as OTLP TracesData protobuf, which is also the
// wire form of Tempo's tempopb.Trace (field 1: repeated ResourceSpans).
func traceProto(td ptrace.Traces) ([]byte, error) {
	var m ptrace.ProtoMarshaler
	return m.MarshalTraces(td)
}

// v2Proto wraps a trace in Tempo's TraceByIDResponse { Trace trace = 1; }.
func v2Proto(td ptrace.Traces) ([]byte, error) {
	b, err := traceProto(td)
	if err != nil {
		return nil, err
	}
	out := protowire.AppendTag(make([]byte, 0, len(b)+8), 1, protowire.BytesType)
	return protowire.AppendBytes(out, b), nil
}

func toOTLP(td ptrace.Traces) (*tracepb.TracesData, error) {
	b, err := traceProto(td)
	if err != nil {
		return nil, err
	}
	var out tracepb.TracesData
	if err := proto.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// v1JSON is Tempo's /api/traces/{id} JSON: {"batches":[ResourceSpans...]}.
func v1JSON(td ptrace.Traces) ([]byte, error) {
	return wrapJSON(td, `{"batches":[`, `]}`)
}

// v2JSON is Tempo's /api/v2/traces/{id} JSON: {"trace":{"resourceSpans":[...]}}.
func v2JSON(td ptrace.Traces) ([]byte, error) {
	return wrapJSON(td, `{"trace":{"resourceSpans":[`, `]}}`)
}

func wrapJSON(td ptrace.Traces, open, close string) ([]byte, error) {
	t, err := toOTLP(td)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(open)
	for i, rs := range t.ResourceSpans {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := jsonOpts.Marshal(rs)
		if err != nil {
			return nil, fmt.Errorf("encoding trace as JSON: %w", err)
		}
		buf.Write(b)
	}
	buf.WriteString(close)
	return buf.Bytes(), nil
}
