package distributor

import (
	"context"
	"flag"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/wal"
)

type recorder struct {
	mu      sync.Mutex
	tenants []string
	entries []wal.Entry
}

func (r *recorder) Push(_ context.Context, tenant string, e []wal.Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tenants = append(r.tenants, tenant)
	r.entries = append(r.entries, e...)
	return nil
}

// loopbackConfig enables every receiver on a free loopback port.
func loopbackConfig() Config {
	var cfg Config
	fs := flag.NewFlagSet("t", flag.PanicOnError)
	cfg.RegisterFlags(fs)
	r := &cfg.Receivers
	for _, e := range []*string{&r.OTLP.Protocols.GRPC.Endpoint, &r.OTLP.Protocols.HTTP.Endpoint, &r.Jaeger.Protocols.GRPC.Endpoint,
		&r.Jaeger.Protocols.ThriftHTTP.Endpoint, &r.Jaeger.Protocols.ThriftCompact.Endpoint, &r.Jaeger.Protocols.ThriftBinary.Endpoint, &r.Zipkin.Endpoint} {
		*e = "127.0.0.1:0"
	}
	return cfg
}

func newTestDistributor(t testing.TB, p Pusher) *Distributor {
	t.Helper()
	d, err := New(loopbackConfig(), p, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSplitGroupsSpansByTraceKeepingResourceAndScope(t *testing.T) {
	td := gen.New(1).Traces(20, 10)
	entries, spans, err := splitByTrace(td)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 20 || spans != 200 {
		t.Fatalf("got %d traces / %d spans, want 20 / 200", len(entries), spans)
	}
	var u ptrace.ProtoUnmarshaler
	total := 0
	for _, e := range entries {
		part, err := u.UnmarshalTraces(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		rss := part.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			if _, ok := rss.At(i).Resource().Attributes().Get("service.name"); !ok {
				t.Fatal("resource lost its service.name")
			}
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				if sss.At(j).Scope().Name() == "" {
					t.Fatal("scope lost its name")
				}
				sl := sss.At(j).Spans()
				for k := 0; k < sl.Len(); k++ {
					if model.TraceID(sl.At(k).TraceID()) != e.ID {
						t.Fatal("span filed under the wrong trace")
					}
					total++
				}
			}
		}
	}
	if total != 200 {
		t.Fatalf("entries hold %d spans, want 200", total)
	}
}

func TestBadIDsRefuseTheWholeRequestWithInvalidArgument(t *testing.T) {
	for name, mutate := range map[string]func(ptrace.Span){
		"empty trace ID": func(s ptrace.Span) { s.SetTraceID(pcommon.NewTraceIDEmpty()) },
		"empty span ID":  func(s ptrace.Span) { s.SetSpanID(pcommon.NewSpanIDEmpty()) },
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			d := newTestDistributor(t, rec)
			td := gen.New(2).Traces(3, 4)
			mutate(td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0))
			err := d.PushTraces(context.Background(), "t", "test", td)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), name) {
				t.Fatalf("got %v, want InvalidArgument naming %q", err, name)
			}
			if len(rec.entries) != 0 {
				t.Fatal("part of a refused request was stored")
			}
		})
	}
}

func FuzzOTLPHTTPDecode(f *testing.F) {
	req := ptraceotlp.NewExportRequestFromTraces(gen.New(3).Traces(2, 3))
	pb, _ := req.MarshalProto()
	js, _ := req.MarshalJSON()
	f.Add(pb, false)
	f.Add(js, true)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":"01"}]}]}]}`), true)
	f.Add([]byte{0x0a, 0x05, 0x12, 0x03, 0x12, 0x01, 0x00}, false)
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		// The otlpreceiver's decode step, then pace's consumer.
		r := ptraceotlp.NewExportRequest()
		var err error
		if isJSON {
			err = r.UnmarshalJSON(body)
		} else {
			err = r.UnmarshalProto(body)
		}
		if err != nil {
			return
		}
		pushDecoded(t, r.Traces())
	})
}
