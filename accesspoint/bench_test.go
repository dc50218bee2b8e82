package accesspoint

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

const benchBody = 100 << 10

// BenchmarkProxyHTTP measures what the access point adds to an HTTP/1.1
// push of 100 KiB: direct to a backend versus through the proxy to 3.
func BenchmarkProxyHTTP(b *testing.B) {
	h := startHealth(b, testInterval, testInterval)
	p := NewPool("otlp_http", "distributor", h, nil)
	var bs []Backend
	var direct string
	for i := range 3 {
		be := newHTTPBackend(b, "w"+string(rune('0'+i)))
		be.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "ok")
		})
		bs = append(bs, be.backend())
		direct = be.srv.URL
	}
	// The replaced handler answers /ready with 200 as well.
	p.Set(bs)
	waitHealthy(b, p, 3)
	srv, _ := front(b, NewHTTPProxy(p, WithLogger(slog.New(slog.DiscardHandler))))
	payload := bytes.Repeat([]byte("x"), benchBody)

	for _, tc := range []struct{ name, url string }{{"direct", direct}, {"proxied", srv.URL}} {
		b.Run(tc.name, func(b *testing.B) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.ReportAllocs()
			b.SetBytes(benchBody)
			for b.Loop() {
				resp, err := client.Post(tc.url+"/v1/traces", "application/x-protobuf", bytes.NewReader(payload))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}

// BenchmarkProxyGRPC measures the same for an OTLP gRPC Export of about
// 100 KiB over one client connection.
func BenchmarkProxyGRPC(b *testing.B) {
	h := startHealth(b, testInterval, testInterval)
	p := NewPool("otlp_grpc", "distributor", h, nil)
	var bs []Backend
	var direct string
	for i := range 3 {
		be := newGRPCBackend(b, "w"+string(rune('0'+i)))
		bs = append(bs, be.backend())
		direct = be.lis.Addr().String()
	}
	p.Set(bs)
	waitHealthy(b, p, 3)
	srv, _ := front(b, NewHTTPProxy(p, WithLogger(slog.New(slog.DiscardHandler))))

	req := &collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8), Name: "bench",
			Attributes: []*commonpb.KeyValue{{Key: "payload", Value: &commonpb.AnyValue{
				Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", benchBody-64)}}}},
		}}}},
	}}}
	size := int64(proto.Size(req))

	for _, tc := range []struct{ name, addr string }{{"direct", direct}, {"proxied", srv.Listener.Addr().String()}} {
		b.Run(tc.name, func(b *testing.B) {
			client := collectortrace.NewTraceServiceClient(grpcClient(b, tc.addr))
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				if _, err := client.Export(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
