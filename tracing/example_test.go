package tracing_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/pace-tracing/pace/tracing"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Configure asks the coordinator for an OTLP HTTP receiver, and
// NewTracerProvider sends spans there.
func ExampleConfigure() {
	// An OTLP HTTP receiver standing in for pace's distributor.
	got := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		_ = proto.Unmarshal(body, &req)
		rs := req.ResourceSpans[0]
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" {
				got <- fmt.Sprintf("span %q of service %q", rs.ScopeSpans[0].Spans[0].Name, kv.Value.GetStringValue())
			}
		}
	}))
	defer receiver.Close()

	// A coordinator answering POST /api/v1/receivers with that receiver.
	coordinator := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"receivers": [{"protocol": "otlp_http", "url": %q}], "ready": true}`, receiver.URL)
	}))
	defer coordinator.Close()

	ctx := context.Background()
	client := &tracing.Client{Coordinator: coordinator.URL, Name: "checkout-service"}
	s := tracing.Configure(ctx, client, tracing.OTLPHTTP, "/etc/pace/ca.pem", nil)
	fmt.Println("tracing on:", s.Enabled, "protocol:", s.Protocol)

	tp, err := tracing.NewTracerProvider(ctx, s, "checkout-service")
	if err != nil {
		fmt.Println("tracing off:", err) // tp is usable all the same
	}
	_, span := tp.Tracer("checkout").Start(ctx, "place-order")
	span.End()
	_ = tp.Shutdown(ctx) // flushes the batch

	fmt.Println("received:", <-got)
	// Output:
	// tracing on: true protocol: otlp_http
	// received: span "place-order" of service "checkout-service"
}

// A coordinator whose cluster is not ready yet means tracing off; the
// provider is usable all the same and sends nothing.
func ExampleNewTracerProvider_off() {
	coordinator := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"receivers": [{"protocol": "otlp_http", "url": "http://127.0.0.1:4318"}], "ready": false}`)
	}))
	defer coordinator.Close()

	ctx := context.Background()
	s := tracing.Configure(ctx, &tracing.Client{Coordinator: coordinator.URL}, tracing.OTLPHTTP, "", nil)
	fmt.Println("tracing on:", s.Enabled, "reason:", s.Reason)

	tp, err := tracing.NewTracerProvider(ctx, s, "checkout-service")
	_, span := tp.Tracer("checkout").Start(ctx, "place-order") // no if needed
	span.End()
	fmt.Println("error:", err, "shutdown:", tp.Shutdown(ctx))
	// Output:
	// tracing on: false reason: the coordinator is not ready
	// error: <nil> shutdown: <nil>
}

// Decide's rules, on a coordinator's answer.
func ExampleDecide() {
	// A logger without timestamps, so that the output is stable.
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	answer := &tracing.Endpoints{Ready: true, URLs: map[tracing.Protocol]string{
		tracing.OTLPHTTP: "http://10.0.0.5:4318",
		tracing.OTLPGRPC: "https://10.0.0.5:4317",
	}}

	s := tracing.Decide(answer, tracing.OTLPHTTP, "", log)
	fmt.Println(s.Enabled, s.Endpoint)

	s = tracing.Decide(answer, tracing.Zipkin, "", log)
	fmt.Println(s.Enabled, s.Reason)

	s = tracing.Decide(answer, tracing.OTLPGRPC, "/nonexistent/ca.pem", log)
	fmt.Println(s.Enabled)
	// Output:
	// true http://10.0.0.5:4318
	// false the coordinator offers no zipkin endpoint
	// level=ERROR msg="tracing off: https endpoint without a CA file" protocol=otlp_grpc endpoint=https://10.0.0.5:4317 ca_file=/nonexistent/ca.pem reason="the otlp_grpc endpoint https://10.0.0.5:4317 is https but the CA file /nonexistent/ca.pem does not exist; tracing stays off until it is there"
	// false
}
