package integration

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// oversizeBody is larger than any sensible OTLP/HTTP request limit (the
// OpenTelemetry collector's default is 20 MiB).
const oversizeBody = 48 << 20

// TestBadInputGetsClearErrors: malformed requests get a 4xx (or
// InvalidArgument) with a message, and the server keeps serving with its
// earlier data intact.
func TestBadInputGetsClearErrors(t *testing.T) {
	s := StartServer(t, ServerOptions{Backend: "local"})

	good := newRawTrace("good", 4)
	s.SendOTLPProtobuf(t, "", good.Data(), false)
	flushedGood := newRawTrace("flushed-good", 3)
	s.SendOTLPJSON(t, "", flushedGood.Data())
	s.Flush(t)

	expect4xx := func(name string, want int, contentType, encoding string, body []byte, mention string) {
		t.Helper()
		resp, rb := s.PostOTLP(t, "", contentType, encoding, body)
		switch {
		case want != 0 && resp.StatusCode != want:
			t.Errorf("%s: want %d, got %d %q", name, want, resp.StatusCode, truncate(rb))
		case want == 0 && (resp.StatusCode < 400 || resp.StatusCode > 499):
			t.Errorf("%s: want a 4xx, got %d %q", name, resp.StatusCode, truncate(rb))
		case len(bytes.TrimSpace(rb)) == 0:
			t.Errorf("%s: got %d with an empty body, want an error message", name, resp.StatusCode)
		case mention != "" && !strings.Contains(strings.ToLower(string(rb)), mention):
			t.Errorf("%s: got %d %q, want a message that mentions %q", name, resp.StatusCode, truncate(rb), mention)
		default:
			t.Logf("%s: %d %s", name, resp.StatusCode, truncate(rb))
		}
	}

	const pb, js = "application/x-protobuf", "application/json"
	expect4xx("garbage protobuf", 400, pb, "", []byte{0xff, 0xff, 0xff, 0xff, 0x0a}, "")
	expect4xx("protobuf that is not gzip but says so", 400, pb, "gzip", []byte("not gzip at all"), "")
	expect4xx("malformed JSON", 400, js, "", []byte(`{"resourceSpans": [ {"scopeSpans": [`), "")
	expect4xx("JSON of the wrong shape", 400, js, "", []byte(`{"resourceSpans": "nope"}`), "")

	// Wrong-length and empty IDs in OTLP/JSON.
	jsonWithIDs := func(traceID, spanID string) []byte {
		return []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"bad"}}]},` +
			`"scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"` + traceID + `","spanId":"` + spanID + `",` +
			`"name":"bad-id","kind":1,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000100000000"}]}]}]}`)
	}
	okTrace, okSpan := hex.EncodeToString(randomBytes(16)), hex.EncodeToString(randomBytes(8))
	expect4xx("JSON with a 10-hex-char traceId", 400, js, "", jsonWithIDs("0123456789", okSpan), "id")
	expect4xx("JSON with an empty traceId", 400, js, "", jsonWithIDs("", okSpan), "id")
	expect4xx("JSON with a 6-hex-char spanId", 400, js, "", jsonWithIDs(okTrace, "abcdef"), "id")
	expect4xx("JSON with an empty spanId", 400, js, "", jsonWithIDs(okTrace, ""), "id")
	expect4xx("JSON with a non-hex traceId", 400, js, "", jsonWithIDs(strings.Repeat("zz", 16), okSpan), "id")

	// Wrong-length and empty IDs in protobuf.
	pbWithIDs := func(traceID, spanID []byte) []byte {
		tr := newRawTrace("bad", 1)
		tr.Spans[0].TraceId, tr.Spans[0].SpanId = traceID, spanID
		b, err := proto.Marshal(tr.Data())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	expect4xx("protobuf with a 5-byte trace_id", 400, pb, "", pbWithIDs(randomBytes(5), randomBytes(8)), "id")
	expect4xx("protobuf with an empty trace_id", 400, pb, "", pbWithIDs(nil, randomBytes(8)), "id")
	expect4xx("protobuf with a 3-byte span_id", 400, pb, "", pbWithIDs(randomBytes(16), randomBytes(3)), "id")
	expect4xx("protobuf with an empty span_id", 400, pb, "", pbWithIDs(randomBytes(16), nil), "id")
	expect4xx("gzip protobuf with a 5-byte trace_id", 400, pb, "gzip", Gzip(pbWithIDs(randomBytes(5), randomBytes(8))), "id")

	// A body over the size limit: a well-formed request with one huge
	// attribute, so only its size is wrong.
	big := newRawTrace("big", 1)
	big.Spans[0].Attributes = append(big.Spans[0].Attributes, &commonpb.KeyValue{Key: "blob", Value: strV(strings.Repeat("x", oversizeBody))})
	bigBody, err := proto.Marshal(big.Data())
	if err != nil {
		t.Fatal(err)
	}
	expect4xx("protobuf body of 48 MiB", 0, pb, "", bigBody, "")
	bigBody = nil
	s.RequireNotFound(t, "", big.Hex(), TraceForm{V2: true}, nil, "the oversize trace")

	// gRPC: a span with an empty trace ID.
	bad := newRawTrace("grpc-bad", 2)
	bad.Spans[1].TraceId = nil
	_, err = s.GRPCExport(t, "", bad.Data())
	if st, _ := status.FromError(err); err == nil || st.Code() != codes.InvalidArgument {
		t.Errorf("gRPC Export with an empty trace ID: want InvalidArgument, got %v", err)
	} else if st.Message() == "" {
		t.Errorf("gRPC Export with an empty trace ID: InvalidArgument without a message")
	} else {
		t.Logf("gRPC Export with an empty trace ID: %v", err)
	}
	bad2 := newRawTrace("grpc-bad-span", 1)
	bad2.Spans[0].SpanId = nil
	_, err = s.GRPCExport(t, "", bad2.Data())
	if st, _ := status.FromError(err); err == nil || st.Code() != codes.InvalidArgument {
		t.Errorf("gRPC Export with an empty span ID: want InvalidArgument, got %v", err)
	}

	// gRPC: a message over the receiver's limit (16 MiB by default).
	huge := newRawTrace("grpc-huge", 1)
	huge.Spans[0].Attributes = append(huge.Spans[0].Attributes, &commonpb.KeyValue{Key: "blob", Value: strV(strings.Repeat("y", 20<<20))})
	_, err = s.GRPCExport(t, "", huge.Data())
	if st, _ := status.FromError(err); err == nil || st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "larger than max") {
		t.Errorf("gRPC Export of 20 MiB: want ResourceExhausted naming the size limit, got %v", err)
	} else {
		t.Logf("gRPC Export of 20 MiB: %v", err)
	}
	s.RequireNotFound(t, "", huge.Hex(), TraceForm{V2: true}, nil, "the oversize gRPC trace")
	huge = rawTrace{}

	// Query API.
	for _, f := range AllTraceForms {
		for _, id := range []string{"xyz", strings.Repeat("a", 40), "0123456789abcdef0123456789abcdeg"} {
			r := s.GetTrace(t, "", id, f, nil)
			if r.Status != http.StatusBadRequest {
				t.Errorf("GET trace %q (%s): want 400, got %d %q", id, f, r.Status, truncate(r.Body))
			} else if len(bytes.TrimSpace(r.Body)) == 0 {
				t.Errorf("GET trace %q (%s): 400 without a message", id, f)
			}
		}
		s.RequireNotFound(t, "", hex.EncodeToString(randomBytes(16)), f, nil, "unknown trace ID")
	}

	// Still serving, earlier traces intact, new writes accepted.
	resp, body := s.Do(t, http.MethodGet, "/ready", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after bad input: /ready %d %q", resp.StatusCode, truncate(body))
	}
	s.RequireTraceAllForms(t, "", good.Expected(), "after bad input")
	s.RequireTraceAllForms(t, "", flushedGood.Expected(), "after bad input")
	after := newRawTrace("after", 3)
	s.SendOTLPProtobuf(t, "", after.Data(), true)
	s.RequireTraceAllForms(t, "", after.Expected(), "sent after bad input")
	s.Flush(t)
	for _, tr := range []rawTrace{good, flushedGood, after} {
		s.RequireTraceAllForms(t, "", tr.Expected(), "after bad input and POST /flush")
	}
}
