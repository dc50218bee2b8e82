package frontend

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/querier"
)

var knownID = model.TraceID{0xde, 0xad, 0xbe, 0xef, 15: 1}

type finder struct {
	gotTenant     string
	gotStart, end time.Time
}

func (f *finder) FindTraceByID(_ context.Context, tenant string, id model.TraceID, start, end time.Time) (ptrace.Traces, error) {
	f.gotTenant, f.gotStart, f.end = tenant, start, end
	if id != knownID {
		return ptrace.Traces{}, querier.ErrTraceNotFound
	}
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID(knownID))
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	sp.SetName("GET /cart")
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetStartTimestamp(1_700_000_000_000_000_000)
	sp.SetEndTimestamp(1_700_000_000_500_000_000)
	return td, nil
}

func serve(t *testing.T, f *finder) *httptest.Server {
	mux := http.NewServeMux()
	New(f, slog.New(slog.DiscardHandler)).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestV1JSONIsTempoBatchesWithBase64IDs(t *testing.T) {
	srv := serve(t, &finder{})
	resp, body := get(t, srv.URL+"/api/traces/"+knownID.String(), nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var v struct {
		Batches []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID, SpanID, Name, Kind, StartTimeUnixNano string
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	sp := v.Batches[0].ScopeSpans[0].Spans[0]
	if sp.TraceID != base64.StdEncoding.EncodeToString(knownID[:]) || sp.Name != "GET /cart" ||
		sp.Kind != "SPAN_KIND_SERVER" || sp.StartTimeUnixNano != "1700000000000000000" {
		t.Fatalf("span not in Tempo's JSON form: %+v", sp)
	}
}

func TestV2JSONWrapsTraceResourceSpans(t *testing.T) {
	srv := serve(t, &finder{})
	_, body := get(t, srv.URL+"/api/v2/traces/"+knownID.String(), nil)
	if !strings.HasPrefix(string(body), `{"trace":{"resourceSpans":[{`) {
		t.Fatalf("v2 body: %s", body)
	}
}

func TestProtobufAcceptReturnsTempoMessages(t *testing.T) {
	srv := serve(t, &finder{})
	resp, body := get(t, srv.URL+"/api/traces/"+knownID.String(), map[string]string{"Accept": "application/protobuf"})
	var td tracepb.TracesData
	if err := proto.Unmarshal(body, &td); err != nil || resp.Header.Get("Content-Type") != "application/protobuf" {
		t.Fatalf("v1 protobuf: %v, type %q", err, resp.Header.Get("Content-Type"))
	}
	if td.ResourceSpans[0].ScopeSpans[0].Spans[0].Name != "GET /cart" {
		t.Fatal("v1 protobuf lost the span")
	}
	_, body = get(t, srv.URL+"/api/v2/traces/"+knownID.String(), map[string]string{"Accept": "application/protobuf"})
	num, typ, n := protowire.ConsumeTag(body)
	if num != 1 || typ != protowire.BytesType || n < 0 {
		t.Fatal("v2 protobuf does not start with TraceByIDResponse.trace")
	}
	inner, _ := protowire.ConsumeBytes(body[n:])
	if err := proto.Unmarshal(inner, &td); err != nil || len(td.ResourceSpans) == 0 {
		t.Fatalf("v2 inner trace: %v", err)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	f := &finder{}
	srv := serve(t, f)
	for path, want := range map[string]int{
		"/api/traces/xyz":                             400,
		"/api/traces/" + strings.Repeat("a", 33):      400,
		"/api/traces/0000":                            400,
		"/api/traces/abcd":                            404,
		"/api/traces/abcd?start=soon":                 400,
		"/api/traces/abcd?start=200&end=100":          400,
		"/api/v2/traces/" + knownID.String() + "?x=1": 200,
	} {
		resp, body := get(t, srv.URL+path, nil)
		if resp.StatusCode != want {
			t.Errorf("%s: status %d (%s), want %d", path, resp.StatusCode, body, want)
		}
		if want == 400 && len(strings.TrimSpace(string(body))) < 10 {
			t.Errorf("%s: 400 without a useful message: %q", path, body)
		}
	}
}

func TestTenantAndTimeRangeReachTheQuerier(t *testing.T) {
	f := &finder{}
	srv := serve(t, f)
	get(t, srv.URL+"/api/traces/"+knownID.String()+"?start=100&end=200", map[string]string{"X-Scope-OrgID": "team-a"})
	if f.gotTenant != "team-a" || f.gotStart.Unix() != 100 || f.end.Unix() != 200 {
		t.Fatalf("querier got tenant %q, range %v–%v", f.gotTenant, f.gotStart, f.end)
	}
	get(t, srv.URL+"/api/traces/"+knownID.String(), nil)
	if f.gotTenant != model.DefaultTenant {
		t.Fatalf("no header: tenant %q, want %q", f.gotTenant, model.DefaultTenant)
	}
	resp, _ := get(t, srv.URL+"/api/traces/"+knownID.String(), map[string]string{"X-Scope-OrgID": "../etc"})
	if resp.StatusCode != 400 {
		t.Fatalf("path-like tenant got %d, want 400", resp.StatusCode)
	}
}
