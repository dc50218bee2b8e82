package distributor

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/wal"
)

type refusing struct{ err error }

func (r refusing) Push(context.Context, string, []wal.Entry) error { return r.err }

func post(t *testing.T, h http.Handler, path, ct string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func TestZipkinHandlerAcceptsJSONProtobufAndGzipForTheHeaderTenant(t *testing.T) {
	rec := &recorder{}
	h := newTestDistributor(t, rec).zipkinHandler(1 << 20)
	td := gen.New(9).Traces(3, 4)
	js, _ := zipkinv2.NewJSONTracesMarshaler().MarshalTraces(td)
	pb, _ := zipkinv2.NewProtobufTracesMarshaler().MarshalTraces(td)
	for name, c := range map[string]struct {
		ct   string
		body []byte
		hdr  map[string]string
	}{
		"json":     {"application/json", js, nil},
		"protobuf": {"application/x-protobuf", pb, nil},
		"gzip":     {"application/json", gzipped(js), map[string]string{"Content-Encoding": "gzip"}},
	} {
		t.Run(name, func(t *testing.T) {
			rec.entries, rec.tenants = nil, nil
			hdr := map[string]string{"X-Scope-OrgID": "team-z"}
			for k, v := range c.hdr {
				hdr[k] = v
			}
			if w := post(t, h, "/api/v2/spans", c.ct, c.body, hdr); w.Code != http.StatusAccepted {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if len(rec.entries) != 3 || rec.tenants[0] != "team-z" {
				t.Fatalf("stored %d traces for %v, want 3 for team-z", len(rec.entries), rec.tenants)
			}
		})
	}
}

func TestIngestErrorsMapToStatusesThatNameTheProblem(t *testing.T) {
	d := newTestDistributor(t, &recorder{})
	zipkin, jaeger := d.zipkinHandler(1000), d.jaegerHTTPHandler(1000)
	batch, _ := thrift.NewTSerializer().Write(context.Background(), sampleJaegerBatch())
	for name, c := range map[string]struct {
		h        http.Handler
		path, ct string
		body     []byte
		hdr      map[string]string
		code     int
		want     string
	}{
		"zipkin bad json":        {zipkin, "/api/v2/spans", "application/json", []byte(`[{"traceId":`), nil, 400, "zipkin"},
		"zipkin wrong type":      {zipkin, "/api/v2/spans", "text/xml", []byte("<x/>"), nil, 415, "text/xml"},
		"zipkin too large":       {zipkin, "/api/v2/spans", "application/json", bytes.Repeat([]byte(" "), 2000), nil, 413, "too large"},
		"zipkin bad encoding":    {zipkin, "/api/v2/spans", "application/json", []byte("[]"), map[string]string{"Content-Encoding": "br"}, 400, "Content-Encoding"},
		"zipkin bad tenant":      {zipkin, "/api/v2/spans", "application/json", []byte("[]"), map[string]string{"X-Scope-OrgID": "a/b"}, 400, "X-Scope-OrgID"},
		"jaeger truncated":       {jaeger, "/api/traces", "application/x-thrift", batch[:len(batch)/2], nil, 400, "jaeger thrift"},
		"jaeger wrong type":      {jaeger, "/api/traces", "application/json", batch, nil, 415, "application/x-thrift"},
		"jaeger zero trace ID":   {jaeger, "/api/traces", "application/x-thrift", zeroIDBatch(t), nil, 400, "empty trace ID"},
		"zipkin zero trace ID":   {zipkin, "/api/v2/spans", "application/json", []byte(`[{"traceId":"00000000000000000000000000000000","id":"0000000000000001","name":"x"}]`), nil, 400, "trace"},
		"jaeger accepted":        {jaeger, "/api/traces", "application/x-thrift", batch, nil, 202, ""},
		"jaeger vnd thrift type": {jaeger, "/api/traces", "application/vnd.apache.thrift.binary", batch, nil, 202, ""},
	} {
		t.Run(name, func(t *testing.T) {
			w := post(t, c.h, c.path, c.ct, c.body, c.hdr)
			if w.Code != c.code || !strings.Contains(w.Body.String(), c.want) {
				t.Fatalf("got %d %q, want %d mentioning %q", w.Code, w.Body, c.code, c.want)
			}
		})
	}
}

func zeroIDBatch(t *testing.T) []byte {
	b := sampleJaegerBatch()
	b.Spans[0].TraceIdLow, b.Spans[0].TraceIdHigh = 0, 0
	out, err := thrift.NewTSerializer().Write(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLimitsAndOutagesReachTheClientAs429And503(t *testing.T) {
	batch, _ := thrift.NewTSerializer().Write(context.Background(), sampleJaegerBatch())
	for code, err := range map[int]error{
		429: status.Error(codes.ResourceExhausted, "ingester.max_pending_bytes reached"),
		503: status.Error(codes.Unavailable, "ingester is not running"),
	} {
		h := newTestDistributor(t, refusing{err}).jaegerHTTPHandler(1 << 20)
		w := post(t, h, "/api/traces", "application/x-thrift", batch, nil)
		if w.Code != code || !strings.Contains(w.Body.String(), strings.SplitN(status.Convert(err).Message(), " ", 2)[0]) {
			t.Errorf("got %d %q, want %d with the reason", w.Code, w.Body, code)
		}
	}
}
