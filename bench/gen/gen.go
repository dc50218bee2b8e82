// Package gen builds realistic traces for benchmarks and tests: a handful of
// services with OpenTelemetry semantic-convention resource and span
// attributes, about 500 bytes per span in OTLP protobuf.
package gen

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type service struct {
	name, namespace, version string
	instances                []string
	ops                      []string
	// legacyHTTP services use the older HTTP semantic conventions
	// (http.method, http.status_code), as much instrumentation still does.
	legacyHTTP bool
}

var services = func() []service {
	names := []string{"frontend", "checkout", "cart", "payment", "shipping", "currency", "recommendation", "product-catalog", "foo"}
	out := make([]service, len(names))
	for i, n := range names {
		s := service{name: n, namespace: "shop", version: fmt.Sprintf("1.%d.%d", i, i*3%7), legacyHTTP: i%2 == 0}
		for j := 0; j < 3; j++ {
			s.instances = append(s.instances, fmt.Sprintf("%s-%08x", n, uint32(i*7919+j*104729)))
		}
		for _, op := range []string{"GET /api/%s", "POST /api/%s", "%s.Get", "%s.List", "%s.Update", "SELECT %s", "%s/Handle", "publish %s"} {
			s.ops = append(s.ops, fmt.Sprintf(op, n))
		}
		out[i] = s
	}
	return out
}()

var (
	methods  = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	routes   = []string{"/api/products/{id}", "/api/cart", "/api/checkout", "/api/users/{id}/orders", "/healthz", "/api/currency/convert"}
	statuses = []int64{200, 200, 200, 200, 201, 204, 304, 400, 404, 500}
	stmts    = []string{"SELECT * FROM products WHERE id = ?", "UPDATE carts SET items = ? WHERE user_id = ?", "INSERT INTO orders (user_id, total) VALUES (?, ?)", "SELECT price FROM currency WHERE code = ?"}
)

// Generator makes traces; it is not safe for concurrent use.
type Generator struct {
	rng *rand.Rand
	now func() time.Time
}

// New returns a generator seeded with seed (same seed, same traces apart
// from timestamps, which follow the wall clock).
func New(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Now}
}

// TraceID returns a fresh random trace ID.
func (g *Generator) TraceID() pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], g.rng.Uint64())
	binary.BigEndian.PutUint64(id[8:], g.rng.Uint64())
	return id
}

func (g *Generator) spanID() pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], g.rng.Uint64()|1)
	return id
}

// Traces returns nTraces traces of spansPerTrace spans each. Each trace
// spans several services; all spans of one service in a request share a
// ResourceSpans, as an SDK batch would.
func (g *Generator) Traces(nTraces, spansPerTrace int) ptrace.Traces {
	td := ptrace.NewTraces()
	byInstance := map[string]ptrace.SpanSlice{}
	for t := 0; t < nTraces; t++ {
		tid := g.TraceID()
		start := g.now().Add(-time.Duration(g.rng.IntN(2000)) * time.Millisecond)
		total := time.Duration(math.Exp(g.rng.NormFloat64()*1.2+math.Log(50e6))) + time.Millisecond
		parents := make([]pcommon.SpanID, 0, spansPerTrace)
		for s := 0; s < spansPerTrace; s++ {
			svc := &services[g.rng.IntN(len(services))]
			if s == 0 {
				svc = &services[0]
			}
			inst := svc.instances[g.rng.IntN(len(svc.instances))]
			spans, ok := byInstance[inst]
			if !ok {
				rs := td.ResourceSpans().AppendEmpty()
				g.resource(rs.Resource(), svc, inst)
				rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
				ss := rs.ScopeSpans().AppendEmpty()
				ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
				ss.Scope().SetVersion("0.61.0")
				spans = ss.Spans()
				byInstance[inst] = spans
			}
			sp := spans.AppendEmpty()
			sp.SetTraceID(tid)
			id := g.spanID()
			sp.SetSpanID(id)
			var off, dur time.Duration
			if s == 0 {
				dur = total
				sp.SetKind(ptrace.SpanKindServer)
			} else {
				sp.SetParentSpanID(parents[g.rng.IntN(len(parents))])
				off = time.Duration(g.rng.Int64N(int64(total)))
				dur = time.Duration(g.rng.Int64N(int64(total-off))) + 1000
				sp.SetKind(ptrace.SpanKind(1 + g.rng.IntN(5)))
			}
			parents = append(parents, id)
			sp.SetName(svc.ops[g.rng.IntN(len(svc.ops))])
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(off)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(off + dur)))
			g.spanAttrs(sp, svc.legacyHTTP)
		}
	}
	return td
}

func (g *Generator) resource(r pcommon.Resource, svc *service, inst string) {
	a := r.Attributes()
	a.PutStr("service.name", svc.name)
	a.PutStr("service.namespace", svc.namespace)
	a.PutStr("service.version", svc.version)
	a.PutStr("service.instance.id", inst)
	a.PutStr("host.name", "node-"+inst[len(inst)-4:])
	a.PutStr("k8s.pod.name", inst+"-7d9f8b6c5d-x2k4p")
	a.PutStr("k8s.namespace.name", "production")
	a.PutStr("deployment.environment", "production")
	a.PutStr("telemetry.sdk.name", "opentelemetry")
	a.PutStr("telemetry.sdk.language", "go")
	a.PutStr("telemetry.sdk.version", "1.47.0")
	a.PutInt("process.pid", int64(1000+len(inst)*37))
}

func (g *Generator) spanAttrs(sp ptrace.Span, legacyHTTP bool) {
	a := sp.Attributes()
	status := statuses[g.rng.IntN(len(statuses))]
	method, url, code := "http.request.method", "url.full", "http.response.status_code"
	if legacyHTTP {
		method, url, code = "http.method", "http.url", "http.status_code"
	}
	a.PutStr(method, methods[g.rng.IntN(len(methods))])
	a.PutStr("http.route", routes[g.rng.IntN(len(routes))])
	a.PutStr(url, fmt.Sprintf("http://shop.internal/api/products/%d?page=%d", g.rng.IntN(5000), g.rng.IntN(20)))
	a.PutInt(code, status)
	a.PutStr("server.address", "shop.internal")
	a.PutInt("server.port", 8080)
	a.PutStr("user.id", fmt.Sprintf("user-%05d", g.rng.IntN(10000)))
	a.PutBool("cache.hit", g.rng.IntN(3) == 0)
	a.PutDouble("order.total", math.Round(g.rng.Float64()*50000)/100)
	if sp.Kind() == ptrace.SpanKindClient && g.rng.IntN(2) == 0 {
		a.PutStr("db.system", "postgresql")
		a.PutStr("db.statement", stmts[g.rng.IntN(len(stmts))])
	}
	if status >= 500 {
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage("upstream returned 500")
		ev := sp.Events().AppendEmpty()
		ev.SetName("exception")
		ev.SetTimestamp(sp.EndTimestamp())
		ev.Attributes().PutStr("exception.type", "*errors.errorString")
		ev.Attributes().PutStr("exception.message", "connection reset by peer")
	} else if g.rng.IntN(4) == 0 {
		sp.Status().SetCode(ptrace.StatusCodeOk)
	}
}
