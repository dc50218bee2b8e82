package tracing_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pace-tracing/pace/tracing"
)

func TestRequestSendsDocumentedJSON(t *testing.T) {
	co := newFakeCoordinator(t, true, map[string]string{
		"otlp_grpc": "http://10.0.0.5:4317", "otlp_http": "http://10.0.0.5:4318", "zipkin": "http://10.0.0.5:9411",
	})
	c := &tracing.Client{Coordinator: co.URL, Name: "checkout-service"}
	e, err := c.Request(context.Background(), tracing.OTLPGRPC, tracing.Zipkin, tracing.OTLPGRPC)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(co.lastBody()), `{"client":"checkout-service","protocols":["otlp_grpc","zipkin"]}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if !e.Ready {
		t.Error("not ready")
	}
	want := map[tracing.Protocol]string{
		tracing.OTLPGRPC: "http://10.0.0.5:4317", tracing.OTLPHTTP: "http://10.0.0.5:4318", tracing.Zipkin: "http://10.0.0.5:9411",
	}
	if len(e.URLs) != len(want) {
		t.Errorf("URLs %v, want %v", e.URLs, want)
	}
	for p, u := range want {
		if e.URL(p) != u {
			t.Errorf("URL(%s) = %q, want %q", p, e.URL(p), u)
		}
	}
	if e.URL(tracing.JaegerGRPC) != "" {
		t.Error("jaeger_grpc was not asked for")
	}

	// GET answers the same union without asking for anything.
	g, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(g.URLs) != 3 || g.URL(tracing.Zipkin) != "http://10.0.0.5:9411" || !g.Ready {
		t.Errorf("GET answered %+v", g)
	}
}

func TestRequestNoProtocolsAndDefaultName(t *testing.T) {
	co := newFakeCoordinator(t, false, nil)
	e, err := (&tracing.Client{Coordinator: co.URL}).Request(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body := string(co.lastBody())
	if !strings.HasPrefix(body, `{"client":"`) || strings.HasPrefix(body, `{"client":""`) || !strings.HasSuffix(body, `"protocols":[]}`) {
		t.Errorf("body %s: want the program's name and an empty list", body)
	}
	if e.Ready || e.URL(tracing.OTLPHTTP) != "http://127.0.0.1:4318" {
		t.Errorf("answer %+v: want not ready with otlp_http always on", e)
	}
}

func TestRequestUnknownProtocolIsRejectedBeforeSending(t *testing.T) {
	co := newFakeCoordinator(t, true, nil)
	_, err := (&tracing.Client{Coordinator: co.URL, Name: "x"}).Request(context.Background(), tracing.OTLPHTTP, "carrier_pigeon")
	if !errors.Is(err, tracing.ErrUnknownProtocol) {
		t.Fatalf("err %v, want ErrUnknownProtocol", err)
	}
	for _, s := range []string{`"carrier_pigeon"`, "otlp_grpc, otlp_http, zipkin, jaeger_thrift_http, jaeger_grpc"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %s", err, s)
		}
	}
	if n := co.requestCount(); n != 0 {
		t.Errorf("%d requests reached the coordinator", n)
	}
	if _, err := tracing.ParseProtocol("carrier_pigeon"); !errors.Is(err, tracing.ErrUnknownProtocol) {
		t.Errorf("ParseProtocol: %v", err)
	}
	for _, p := range tracing.Protocols() {
		if q, err := tracing.ParseProtocol(string(p)); err != nil || q != p || !p.Valid() {
			t.Errorf("ParseProtocol(%s) = %s, %v", p, q, err)
		}
	}
}

func TestRequest400SurfacesTheCoordinatorsMessage(t *testing.T) {
	// A coordinator that does not know zipkin answers 400 as documented.
	co := newFakeCoordinator(t, true, nil)
	co.valid = []string{"otlp_grpc", "otlp_http"}
	_, err := (&tracing.Client{Coordinator: co.URL, Name: "x"}).Request(context.Background(), tracing.Zipkin)
	var se *tracing.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest {
		t.Fatalf("err %v, want a 400 StatusError", err)
	}
	want := `unknown protocol "zipkin"; valid protocols: otlp_grpc, otlp_http`
	if se.Message != want || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "400") {
		t.Errorf("error %q, message %q: want %q", err, se.Message, want)
	}

	// A JSON error answer gives its "error" field.
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"no object store yet"}`))
	}))
	defer js.Close()
	_, err = (&tracing.Client{Coordinator: js.URL}).Get(context.Background())
	if !errors.As(err, &se) || se.StatusCode != 503 || se.Message != "no object store yet" {
		t.Errorf("err %v", err)
	}
}

func TestCoordinatorURLForms(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		_, _ = w.Write([]byte(`{"receivers":[],"ready":true}`))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, base := range []string{srv.URL, srv.URL + "/", host, srv.URL + "/pace/"} {
		if _, err := (&tracing.Client{Coordinator: base}).Get(context.Background()); err != nil {
			t.Errorf("%s: %v", base, err)
		}
	}
	want := []string{"/api/v1/receivers", "/api/v1/receivers", "/api/v1/receivers", "/pace/api/v1/receivers"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths %v, want %v", paths, want)
	}
	for _, bad := range []string{"", "ftp://x", "http://"} {
		if _, err := (&tracing.Client{Coordinator: bad}).Get(context.Background()); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestUnreachableAndMalformedCoordinator(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<html>a query-frontend</html>`))
	}))
	if _, err := (&tracing.Client{Coordinator: srv.URL}).Get(context.Background()); err == nil || !strings.Contains(err.Error(), "decoding") {
		t.Errorf("malformed answer: %v", err)
	}
	srv.Close()
	if _, err := (&tracing.Client{Coordinator: srv.URL}).Get(context.Background()); err == nil {
		t.Error("closed coordinator: no error")
	}
}
