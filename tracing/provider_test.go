package tracing_test

import (
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-tracing/pace/tracing"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// received is a span as a receiver saw it.
type received struct{ service, name string }

// collector gathers what a test receiver got.
type collector struct {
	mu       sync.Mutex
	requests int
	spans    []received
}

func (c *collector) add(req *coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans = append(c.spans, received{service, sp.GetName()})
			}
		}
	}
}

func (c *collector) got() (int, []received) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, append([]received(nil), c.spans...)
}

// otlpHTTPHandler is an OTLP HTTP receiver decoding protobuf
// ExportTraceServiceRequests at /v1/traces.
func otlpHTTPHandler(t testing.TB, c *collector) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("receiver got %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			body = gz
		}
		data, err := io.ReadAll(body)
		if err != nil {
			t.Error(err)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			t.Errorf("decoding the export request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.add(&req)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	})
}

// grpcReceiver implements the OTLP collector trace service.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	c *collector
}

func (g grpcReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.c.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// startGRPCReceiver serves the trace service on 127.0.0.1, over TLS when
// cert is not nil, and returns its host:port.
func startGRPCReceiver(t testing.TB, c *collector, cert *tls.Certificate) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewServerTLSFromCert(cert)))
	}
	srv := grpc.NewServer(opts...)
	coltracepb.RegisterTraceServiceServer(srv, grpcReceiver{c: c})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// writePEM writes der as a PEM certificate file and returns its path.
func writePEM(t testing.TB, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// selfSigned makes a self-signed CA certificate valid for 127.0.0.1.
func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pace test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// sendSpan configures tracing through the coordinator, builds the provider,
// creates one span and shuts the provider down, which flushes it.
func sendSpan(t *testing.T, coordinatorURL string, p tracing.Protocol, caFile string) tracing.Settings {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log, buf := captureLog()
	s := tracing.Configure(ctx, &tracing.Client{Coordinator: coordinatorURL, Name: "checkout-service"}, p, caFile, log)
	if !s.Enabled {
		t.Fatalf("tracing off: %s\n%s", s.Reason, buf)
	}
	tp, err := tracing.NewTracerProvider(ctx, s, "checkout-service")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(ctx, "place-order")
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	return s
}

func wantOneSpan(t *testing.T, c *collector) {
	t.Helper()
	_, spans := c.got()
	if len(spans) != 1 || spans[0] != (received{"checkout-service", "place-order"}) {
		t.Errorf("received %+v, want one place-order span of checkout-service", spans)
	}
}

func TestProviderOTLPHTTP(t *testing.T) {
	var c collector
	recv := httptest.NewServer(otlpHTTPHandler(t, &c))
	defer recv.Close()
	co := newFakeCoordinator(t, true, map[string]string{"otlp_http": recv.URL})
	sendSpan(t, co.URL, tracing.OTLPHTTP, "")
	wantOneSpan(t, &c)
}

func TestProviderOTLPHTTPSUsesTheCA(t *testing.T) {
	var c collector
	recv := httptest.NewUnstartedServer(otlpHTTPHandler(t, &c))
	recv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	recv.StartTLS()
	defer recv.Close()
	caFile := writePEM(t, recv.Certificate().Raw)
	co := newFakeCoordinator(t, true, map[string]string{"otlp_http": recv.URL})
	s := sendSpan(t, co.URL, tracing.OTLPHTTP, caFile)
	if s.CAFile != caFile || !strings.HasPrefix(s.Endpoint, "https://") {
		t.Errorf("settings %+v", s)
	}
	wantOneSpan(t, &c)

	// Trusting another CA, the same receiver is refused: the CA file is
	// what the exporter trusts.
	other := writePEM(t, selfSigned(t).Certificate[0])
	s.CAFile = other
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tp, err := tracing.NewTracerProvider(ctx, s, "checkout-service")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(ctx, "refused")
	span.End()
	if err := tp.ForceFlush(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("flush trusting another CA: %v, want a certificate error", err)
	}
	_ = tp.Shutdown(ctx)
	if n, _ := c.got(); n != 1 {
		t.Errorf("%d export requests, want only the first", n)
	}
}

func TestProviderOTLPGRPC(t *testing.T) {
	var c collector
	addr := startGRPCReceiver(t, &c, nil)
	co := newFakeCoordinator(t, true, map[string]string{"otlp_grpc": "http://" + addr})
	sendSpan(t, co.URL, tracing.OTLPGRPC, "")
	wantOneSpan(t, &c)
	if got := string(co.lastBody()); got != `{"client":"checkout-service","protocols":["otlp_grpc"]}` {
		t.Errorf("coordinator was asked %s", got)
	}
}

func TestProviderOTLPGRPCOverTLS(t *testing.T) {
	var c collector
	cert := selfSigned(t)
	addr := startGRPCReceiver(t, &c, &cert)
	co := newFakeCoordinator(t, true, map[string]string{"otlp_grpc": "https://" + addr})
	sendSpan(t, co.URL, tracing.OTLPGRPC, writePEM(t, cert.Certificate[0]))
	wantOneSpan(t, &c)
}

func TestProviderZipkin(t *testing.T) {
	var c collector
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var spans []struct {
			Name          string `json:"name"`
			LocalEndpoint struct {
				ServiceName string `json:"serviceName"`
			} `json:"localEndpoint"`
		}
		if r.URL.Path != "/api/v2/spans" {
			t.Errorf("zipkin receiver got %s", r.URL.Path)
		}
		if err := json.NewDecoder(r.Body).Decode(&spans); err != nil {
			t.Error(err)
		}
		c.mu.Lock()
		c.requests++
		for _, s := range spans {
			c.spans = append(c.spans, received{s.LocalEndpoint.ServiceName, s.Name})
		}
		c.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()
	co := newFakeCoordinator(t, true, map[string]string{"zipkin": recv.URL})
	sendSpan(t, co.URL, tracing.Zipkin, "")
	wantOneSpan(t, &c)
}

func TestProviderOffSendsNothing(t *testing.T) {
	var c collector
	plain := httptest.NewServer(otlpHTTPHandler(t, &c))
	defer plain.Close()
	secure := httptest.NewTLSServer(otlpHTTPHandler(t, &c))
	defer secure.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	notReady := newFakeCoordinator(t, false, map[string]string{"otlp_http": plain.URL})
	noCA := newFakeCoordinator(t, true, map[string]string{"otlp_http": secure.URL})
	for name, s := range map[string]tracing.Settings{
		"not ready":        tracing.Configure(ctx, &tracing.Client{Coordinator: notReady.URL}, tracing.OTLPHTTP, "", slog0()),
		"https without CA": tracing.Configure(ctx, &tracing.Client{Coordinator: noCA.URL}, tracing.OTLPHTTP, "", slog0()),
		"zero settings":    {},
	} {
		if s.Enabled {
			t.Fatalf("%s: tracing on", name)
		}
		tp, err := tracing.NewTracerProvider(ctx, s, "checkout-service")
		if err != nil || tp == nil {
			t.Fatalf("%s: %v, %v", name, tp, err)
		}
		spanCtx, span := tp.Tracer("test").Start(ctx, "unsent")
		_, child := tp.Tracer("test").Start(spanCtx, "unsent child")
		child.End()
		span.End()
		if err := tp.ForceFlush(ctx); err != nil {
			t.Errorf("%s: flush: %v", name, err)
		}
		if err := tp.Shutdown(ctx); err != nil {
			t.Errorf("%s: shutdown: %v", name, err)
		}
	}
	if n, _ := c.got(); n != 0 {
		t.Errorf("%d export requests with tracing off", n)
	}
}

func TestProviderErrorsStillGiveAProvider(t *testing.T) {
	ctx := context.Background()
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("no certificate here"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]tracing.Settings{
		"jaeger":          {Enabled: true, Endpoint: "http://127.0.0.1:14250", Protocol: tracing.JaegerGRPC},
		"unknown":         {Enabled: true, Endpoint: "http://127.0.0.1:1", Protocol: "carrier_pigeon"},
		"no PEM in CA":    {Enabled: true, Endpoint: "https://127.0.0.1:1", CAFile: bad},
		"CA file missing": {Enabled: true, Endpoint: "https://127.0.0.1:1", CAFile: bad + ".gone"},
		"not a URL":       {Enabled: true, Endpoint: "127.0.0.1:4318"},
	} {
		tp, err := tracing.NewTracerProvider(ctx, s, "svc")
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if tp == nil {
			t.Fatalf("%s: nil provider", name)
		}
		_, span := tp.Tracer("test").Start(ctx, "x")
		span.End()
		if err := tp.Shutdown(ctx); err != nil {
			t.Errorf("%s: shutdown: %v", name, err)
		}
	}
}
