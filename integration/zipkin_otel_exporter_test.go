package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/zipkin"
	"go.opentelemetry.io/otel/sdk/resource"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestZipkinExporterTracesReadBackByID: the OpenTelemetry Go SDK with its
// Zipkin exporter (v2 JSON to /api/v2/spans), batched and synchronous, with
// attributes of every type, events, every span kind and an error status.
func TestZipkinExporterTracesReadBackByID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		var all []wantTrace
		for _, batch := range []bool{true, false} {
			all = append(all, sendWithZipkinExporter(t, s, "", batch, 3)...)
		}
		for _, w := range all {
			s.RequireSeen(t, "", w, 0, "right after the Zipkin exporter flushed")
		}
		s.Flush(t)
		for _, w := range all {
			s.RequireSeen(t, "", w, 0, "after POST /flush")
		}

		// Tenant from the exporter's headers.
		team := sendWithZipkinExporter(t, s, "team-a", false, 1)
		for _, w := range team {
			s.RequireSeen(t, "team-a", w, 0, "sent for team-a")
			s.RequireNotFound(t, "", w.ID, TraceForm{}, nil, "team-a's Zipkin trace asked by the default tenant")
		}
	})
}

// sendWithZipkinExporter emits nTraces SDK traces (emitSDKTrace) through the
// Zipkin exporter and returns what a user should see of them.
func sendWithZipkinExporter(t *testing.T, s *Server, tenant string, batch bool, nTraces int) []wantTrace {
	t.Helper()
	var opts []zipkin.Option
	if tenant != "" {
		opts = append(opts, zipkin.WithHeaders(map[string]string{"X-Scope-OrgID": tenant}))
	}
	exp, err := zipkin.New("http://"+s.ZipkinAddr+"/api/v2/spans", opts...)
	if err != nil {
		t.Fatalf("zipkin exporter: %v", err)
	}
	rec := &recordingExporter{SpanExporter: exp}
	svc := fmt.Sprintf("otel-zipkin-batch=%v", batch)
	res := resource.NewSchemaless(attribute.String("service.name", svc), attribute.String("deployment.environment", "integration"))
	tp := emitSDKTraces(rec, res, batch, nTraces)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Zipkin exporter: Shutdown: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) > 0 {
		t.Fatalf("Zipkin exporter: export failed: %v", rec.errs)
	}
	byTrace := map[string]*wantTrace{}
	var order []string
	for _, sp := range rec.spans {
		id := sp.SpanContext().TraceID().String()
		w := byTrace[id]
		if w == nil {
			w = &wantTrace{ID: id}
			byTrace[id] = w
			order = append(order, id)
		}
		ws := wantSpan{
			ID:      sp.SpanContext().SpanID().String(),
			Service: svc,
			Name:    strings.ToLower(sp.Name()), // zipkin-go lowercases span names
			Kind:    tracepb.Span_SpanKind(sp.SpanKind()),
			Attrs:   map[string]string{},
		}
		if p := sp.Parent(); p.SpanID().IsValid() {
			ws.Parent = p.SpanID().String()
		}
		if ws.Kind == tracepb.Span_SPAN_KIND_INTERNAL {
			ws.Kind = 0 // Zipkin has no INTERNAL kind: not checked
		}
		// Zipkin tags are strings: every attribute comes back as one.
		for _, kv := range sp.Attributes() {
			switch kv.Value.Type() {
			case attribute.STRING, attribute.BOOL, attribute.INT64, attribute.FLOAT64:
				ws.Attrs[string(kv.Key)] = "str:" + kv.Value.Emit()
			}
		}
		// An Error status comes back (from the "error" tag, whose text stays
		// an attribute instead of the status message). An Ok status is lost:
		// the exporter sends otel.status_code="OK", which the collector-contrib
		// translator does not know (it takes "STATUS_CODE_OK" or "Ok") and
		// drops, so it is not checked here.
		if sp.Status().Code == otelcodes.Error {
			ws.Status = tracepb.Status_STATUS_CODE_ERROR
			ws.Attrs["error"] = "str:" + sp.Status().Description
		}
		w.Spans = append(w.Spans, ws)
	}
	if len(order) != nTraces {
		t.Fatalf("Zipkin exporter acknowledged spans of %d traces, want %d", len(order), nTraces)
	}
	var out []wantTrace
	for _, id := range order {
		out = append(out, *byTrace[id])
	}
	return out
}
