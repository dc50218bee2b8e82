package accesspoint

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var errWatchDone = status.Error(codes.DataLoss, "stream over: 100% done, grüße")

const testInterval = 100 * time.Millisecond

// TestGRPCBalancesPerRPC: an OTLP exporter's single connection is spread
// over every backend, RPC by RPC.
func TestGRPCBalancesPerRPC(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	reg := prometheus.NewRegistry()
	p := NewPool("otlp_grpc", "distributor", h, reg)
	var bs []*grpcBackend
	for i := range 3 {
		b := newGRPCBackend(t, fmt.Sprintf("w%d", i))
		bs = append(bs, b)
	}
	p.Set([]Backend{bs[0].backend(), bs[1].backend(), bs[2].backend()})
	waitHealthy(t, p, 3)
	srv, conns := front(t, NewHTTPProxy(p, WithLogger(testLogger(t))))

	client := collectortrace.NewTraceServiceClient(grpcClient(t, srv.Listener.Addr().String()))
	const n = 30
	for i := range n {
		if _, err := client.Export(context.Background(), &collectortrace.ExportTraceServiceRequest{}); err != nil {
			t.Fatalf("rpc %d: %v", i, err)
		}
	}
	var total int64
	for _, b := range bs {
		if b.hits.Load() == 0 {
			t.Errorf("backend %s got no RPCs", b.name)
		}
		total += b.hits.Load()
	}
	if total != n {
		t.Errorf("backends got %d RPCs, want %d", total, n)
	}
	if c := conns.Load(); c != 1 {
		t.Errorf("client opened %d connections to the proxy, want 1", c)
	}
	if v := metricValue(t, reg, "pace_accesspoint_requests_total", map[string]string{"pool": "otlp_grpc", "class": "grpc_OK"}); v != n {
		t.Errorf("requests_total{class=grpc_OK} = %v, want %d", v, n)
	}
}

// TestGRPCStatusReachesClient: a backend's error status, trailers and
// streamed messages reach the client exactly.
func TestGRPCStatusReachesClient(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	p := NewPool("otlp_grpc", "distributor", h, nil)
	b := newGRPCBackend(t, "w0")
	want := status.Error(codes.ResourceExhausted, "w0 is full: 100% of 1 GiB, ça déborde")
	b.fail.Store(&want)
	p.Set([]Backend{b.backend()})
	waitHealthy(t, p, 1)
	srv, _ := front(t, NewHTTPProxy(p, WithLogger(testLogger(t))))
	cc := grpcClient(t, srv.Listener.Addr().String())

	_, err := collectortrace.NewTraceServiceClient(cc).Export(context.Background(), &collectortrace.ExportTraceServiceRequest{})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != status.Convert(want).Message() {
		t.Errorf("Export: got %v, want %v", err, want)
	}

	// A status after data, in real trailers.
	stream, err := healthpb.NewHealthClient(cc).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs int
	for {
		_, err = stream.Recv()
		if err != nil {
			break
		}
		msgs++
	}
	if msgs != 2 {
		t.Errorf("got %d streamed messages, want 2", msgs)
	}
	if st := status.Convert(err); st.Code() != codes.DataLoss || st.Message() != status.Convert(errWatchDone).Message() {
		t.Errorf("Watch: got %v, want %v", err, errWatchDone)
	}
	if got := stream.Trailer().Get("x-served-by"); len(got) != 1 || got[0] != "w0" {
		t.Errorf("trailer x-served-by = %v, want [w0]", got)
	}
}

// TestHTTPBalancesPerRequest: HTTP/1.1 keep-alive and h2c clients each use
// one connection, and their requests still spread over every backend.
func TestHTTPBalancesPerRequest(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	p := NewPool("otlp_http", "distributor", h, nil)
	var bs []*httpBackend
	for i := range 3 {
		bs = append(bs, newHTTPBackend(t, fmt.Sprintf("w%d", i)))
	}
	p.Set([]Backend{bs[0].backend(), bs[1].backend(), bs[2].backend()})
	waitHealthy(t, p, 3)

	// An h2c client with prior knowledge, as OTLP/HTTP exporters
	// configured for HTTP/2 are.
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	defer h2c.CloseIdleConnections()
	h1 := &http.Transport{MaxConnsPerHost: 1}
	defer h1.CloseIdleConnections()

	for _, tc := range []struct {
		name  string
		rt    http.RoundTripper
		proto int
	}{{"http1", h1, 1}, {"h2c", h2c, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, conns := front(t, NewHTTPProxy(p, WithLogger(testLogger(t))))
			client := &http.Client{Transport: tc.rt}
			before := make([]int64, len(bs))
			for i, b := range bs {
				before[i] = b.hits.Load()
			}
			for i := range 9 {
				body := fmt.Sprintf("span batch %d", i)
				resp, err := client.Post(srv.URL+"/v1/traces", "application/x-protobuf", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(got) != body || resp.ProtoMajor != tc.proto {
					t.Fatalf("got %s %s %q, want 200 HTTP/%d %q", resp.Proto, resp.Status, got, tc.proto, body)
				}
			}
			for i, b := range bs {
				if d := b.hits.Load() - before[i]; d != 3 {
					t.Errorf("backend %s got %d of 9 requests, want 3", b.name, d)
				}
			}
			if c := conns.Load(); c != 1 {
				t.Errorf("client opened %d connections, want 1", c)
			}
		})
	}
}

// TestHeadersPassThrough: tenant header, other end-to-end headers, path
// and query reach the backend; X-Forwarded-For is added; gRPC metadata too.
func TestHeadersPassThrough(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	hb := newHTTPBackend(t, "w0")
	ph := NewPool("query_http", "query-frontend", h, nil)
	ph.Set([]Backend{hb.backend()})
	gb := newGRPCBackend(t, "g0")
	pg := NewPool("otlp_grpc", "distributor", h, nil)
	pg.Set([]Backend{gb.backend()})
	waitHealthy(t, ph, 1)
	waitHealthy(t, pg, 1)

	hsrv, _ := front(t, NewHTTPProxy(ph, WithLogger(testLogger(t))))
	req, _ := http.NewRequest(http.MethodGet, hsrv.URL+"/api/v2/traces/abc%2Fdef?start=1&end=2", nil)
	req.Header.Set("X-Scope-OrgID", "tenant-a")
	req.Header.Set("Accept", "application/protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := hb.lastRequest()
	for k, want := range map[string]string{
		"X-Scope-Orgid":   "tenant-a",
		"Accept":          "application/protobuf",
		"X-Forwarded-For": "127.0.0.1",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("backend saw %s: %q, want %q", k, v, want)
		}
	}
	if got.URL.RequestURI() != "/api/v2/traces/abc%2Fdef?start=1&end=2" {
		t.Errorf("backend saw %q, want the path and query unchanged", got.URL.RequestURI())
	}

	gsrv, _ := front(t, NewHTTPProxy(pg, WithLogger(testLogger(t))))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-scope-orgid", "tenant-b")
	if _, err := collectortrace.NewTraceServiceClient(grpcClient(t, gsrv.Listener.Addr().String())).
		Export(ctx, &collectortrace.ExportTraceServiceRequest{}); err != nil {
		t.Fatal(err)
	}
	gb.mu.Lock()
	md := gb.lastMD
	gb.mu.Unlock()
	if v := md.Get("x-scope-orgid"); len(v) != 1 || v[0] != "tenant-b" {
		t.Errorf("gRPC backend saw x-scope-orgid %v, want [tenant-b]", v)
	}
}

// TestNoHealthyBackend: the client is told which pool has nobody, as 503
// or as gRPC UNAVAILABLE.
func TestNoHealthyBackend(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	reg := prometheus.NewRegistry()
	hb := newHTTPBackend(t, "w0")
	hb.ready.Store(false)
	ph := NewPool("otlp_http", "distributor", h, reg)
	ph.Set([]Backend{hb.backend()})
	pg := NewPool("otlp_grpc", "distributor", h, reg) // no members at all

	hsrv, _ := front(t, NewHTTPProxy(ph, WithLogger(testLogger(t))))
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, hsrv.URL+"/v1/traces", strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "no healthy distributor for otlp_http") {
			t.Errorf("%s: got %s %q, want 503 naming the pool", method, resp.Status, body)
		}
	}
	if hb.hits.Load() != 0 {
		t.Errorf("the unready backend got %d requests", hb.hits.Load())
	}

	gsrv, _ := front(t, NewHTTPProxy(pg, WithLogger(testLogger(t))))
	_, err := collectortrace.NewTraceServiceClient(grpcClient(t, gsrv.Listener.Addr().String())).
		Export(context.Background(), &collectortrace.ExportTraceServiceRequest{})
	if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "no healthy distributor for otlp_grpc" {
		t.Errorf("gRPC: got %v, want UNAVAILABLE naming the pool", err)
	}
	if v := metricValue(t, reg, "pace_accesspoint_requests_total", map[string]string{"pool": "otlp_http", "class": "5xx"}); v != 2 {
		t.Errorf("requests_total{otlp_http,5xx} = %v, want 2", v)
	}
	if v := metricValue(t, reg, "pace_accesspoint_requests_total", map[string]string{"pool": "otlp_grpc", "class": "grpc_Unavailable"}); v != 1 {
		t.Errorf("requests_total{otlp_grpc,grpc_Unavailable} = %v, want 1", v)
	}
}

// TestRetryOn503ForReadsOnly: a GET answered 503 is tried on another
// backend; a POST's 503 goes to the client (it reached a backend).
func TestRetryOn503ForReadsOnly(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	reg := prometheus.NewRegistry()
	p := NewPool("query_http", "query-frontend", h, reg)
	var bs []*httpBackend
	for i := range 3 {
		bs = append(bs, newHTTPBackend(t, fmt.Sprintf("w%d", i)))
	}
	bs[1].status.Store(http.StatusServiceUnavailable)
	p.Set([]Backend{bs[0].backend(), bs[1].backend(), bs[2].backend()})
	waitHealthy(t, p, 3)
	srv, _ := front(t, NewHTTPProxy(p, WithLogger(testLogger(t))))

	count := func(method string) (unavailable int) {
		for range 3 {
			req, _ := http.NewRequest(method, srv.URL+"/api/search", strings.NewReader("q"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				unavailable++
			}
		}
		return unavailable
	}
	if n := count(http.MethodGet); n != 0 {
		t.Errorf("%d of 3 GETs got 503, want 0", n)
	}
	if n := count(http.MethodPost); n != 1 {
		t.Errorf("%d of 3 POSTs got 503, want 1 (no retry once a backend answered)", n)
	}
	if v := metricValue(t, reg, "pace_accesspoint_retries_total", nil); v != 1 {
		t.Errorf("retries_total = %v, want 1", v)
	}
}

// TestKilledBackendRetried: a worker dies with no health check to notice
// it; POSTs and GETs keep succeeding through retries, and the first refused
// dial takes it out of the pool.
func TestKilledBackendRetried(t *testing.T) {
	h := startHealth(t, time.Hour, time.Second) // only the first check: ejection must be passive
	reg := prometheus.NewRegistry()
	p := NewPool("otlp_http", "distributor", h, reg)
	var bs []*httpBackend
	for i := range 3 {
		bs = append(bs, newHTTPBackend(t, fmt.Sprintf("w%d", i)))
	}
	p.Set([]Backend{bs[0].backend(), bs[1].backend(), bs[2].backend()})
	waitHealthy(t, p, 3)
	srv, _ := front(t, NewHTTPProxy(p, WithLogger(testLogger(t))))
	client := &http.Client{}

	killed := false
	do := func(method string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/v1/traces", bytes.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("%s: got %s with %d bytes, want 200 echoing %d bytes", method, resp.Status, len(got), len(body))
		}
		if killed && resp.Header.Get("X-Backend") == "w1" {
			t.Fatalf("%s answered by the killed backend", method)
		}
	}
	for range 6 { // warm: idle connections to every backend
		do(http.MethodGet, nil)
	}
	bs[1].kill()
	killed = true

	payload := bytes.Repeat([]byte("span"), 25<<10) // 100 KiB
	for range 6 {
		do(http.MethodPost, payload)
		do(http.MethodGet, nil)
	}
	if hasBackend(p.Healthy(), "w1") {
		t.Error("killed backend still in the pool")
	}
	if v := metricValue(t, reg, "pace_accesspoint_retries_total", nil); v < 1 {
		t.Errorf("retries_total = %v, want at least 1", v)
	}
	if v := metricValue(t, reg, "pace_accesspoint_backends", map[string]string{"state": "unhealthy"}); v != 1 {
		t.Errorf("backends{state=unhealthy} = %v, want 1", v)
	}
}

// TestGRPCRetriedWhenDialFails: a gRPC call to a dead backend is sent to a
// live one, since it never left the proxy.
func TestGRPCRetriedWhenDialFails(t *testing.T) {
	h := startHealth(t, time.Hour, time.Second)
	p := NewPool("otlp_grpc", "distributor", h, nil)
	live, dead := newGRPCBackend(t, "live"), newGRPCBackend(t, "dead")
	p.Set([]Backend{live.backend(), dead.backend()})
	waitHealthy(t, p, 2)
	dead.srv.Stop()

	srv, _ := front(t, NewHTTPProxy(p, WithLogger(testLogger(t))))
	client := collectortrace.NewTraceServiceClient(grpcClient(t, srv.Listener.Addr().String()))
	for i := range 4 {
		if _, err := client.Export(context.Background(), &collectortrace.ExportTraceServiceRequest{}); err != nil {
			t.Fatalf("rpc %d: %v", i, err)
		}
	}
	if live.hits.Load() != 4 || hasBackend(p.Healthy(), "dead") {
		t.Errorf("live got %d of 4 RPCs, healthy = %v; want 4 and the dead one ejected", live.hits.Load(), p.Healthy())
	}
}

// TestIsGRPC pins which requests take the HTTP/2 path.
func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/grpc": true, "application/grpc+proto": true, "application/grpc;charset=utf-8": true,
		"application/grpc-web": false, "application/json": false,
	} {
		r := &http.Request{ProtoMajor: 2, Header: http.Header{"Content-Type": {ct}}}
		if got := isGRPC(r); got != want {
			t.Errorf("isGRPC(%q) = %v, want %v", ct, got, want)
		}
	}
}

// TestResetBeforeResponseRetried: a backend that drops the connection
// before answering (crashed mid-request) costs the client nothing: the
// buffered POST goes to another backend.
func TestResetBeforeResponseRetried(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	p := NewPool("otlp_http", "distributor", h, nil)
	good := newHTTPBackend(t, "good")
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			return
		}
		io.Copy(io.Discard, r.Body)
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	t.Cleanup(bad.Close)
	p.Set([]Backend{good.backend(), {ID: "bad", Addr: bad.Listener.Addr().String(), ReadyURL: bad.URL + "/ready"}})
	waitHealthy(t, p, 2)
	srv, _ := front(t, NewHTTPProxy(p, WithLogger(testLogger(t))))

	for i := range 4 {
		body := fmt.Sprintf("push %d", i)
		resp, err := http.Post(srv.URL+"/v1/traces", "application/x-protobuf", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(got) != body {
			t.Fatalf("push %d: got %s %q", i, resp.Status, got)
		}
	}
	if good.hits.Load() != 4 {
		t.Errorf("good backend got %d of 4 pushes", good.hits.Load())
	}
}

// TestLargeBodyStreamed: bodies over the retry limit, of known or unknown
// length, still arrive whole.
func TestLargeBodyStreamed(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	p := NewPool("otlp_http", "distributor", h, nil)
	b := newHTTPBackend(t, "w0")
	p.Set([]Backend{b.backend()})
	waitHealthy(t, p, 1)
	srv, _ := front(t, NewHTTPProxy(p, WithLogger(testLogger(t)), WithMaxRetryBody(1000)))

	payload := bytes.Repeat([]byte("0123456789"), 1000)
	for name, body := range map[string]io.Reader{
		"known length":         bytes.NewReader(payload),
		"unknown length":       io.MultiReader(bytes.NewReader(payload)), // hides the length: chunked
		"under limit, chunked": io.MultiReader(bytes.NewReader(payload[:500])),
	} {
		want := payload
		if strings.HasPrefix(name, "under") {
			want = payload[:500]
		}
		resp, err := http.Post(srv.URL+"/v1/traces", "application/x-protobuf", body)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("%s: got %s with %d bytes, want 200 with %d", name, resp.Status, len(got), len(want))
		}
	}
}

// TestPlainServerRefusesHTTP2: served by a server without cleartext
// HTTP/2, the handler answers the HTTP/2 preface with a clear error
// instead of an obscure protocol failure.
func TestPlainServerRefusesHTTP2(t *testing.T) {
	p := NewPool("otlp_grpc", "distributor", NewHealth(0, 0, nil), nil)
	srv := httptest.NewServer(NewHTTPProxy(p, WithLogger(testLogger(t))))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 505") {
		t.Errorf("got %q, want HTTP/1.1 505", line)
	}
}
