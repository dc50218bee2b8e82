// Package conformance is pace's TraceQL conformance suite: a fixed,
// deterministic OTLP dataset, search cases (a query and an independent,
// hand-written Go predicate saying which traces it must return) and
// metrics cases (a query and the hand-computed series it must produce).
//
// The predicates are written from the semantics of Tempo's TraceQL
// documentation over the engine's trace model (traceql.Trace, as built by
// traceql.TracesFromOTLP); they never call the engine. Integration tests
// can push Dataset() into a running pace and run Cases through its HTTP
// API.
package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/traceql"
)

// Base is the start of the dataset: trace i starts at about Base + i*11s.
var Base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// NumTraces is the number of traces in the dataset.
const NumTraces = 300

// The dataset's random source: math/rand/v2's PCG with these seeds.
const seed1, seed2 = 0x5ace_7ace, 0xc0f0_2026

// TraceID is the ID of trace i of the dataset. A few IDs start with a zero
// byte, so that hex handling is exercised.
func TraceID(i int) [16]byte {
	h := sha256.Sum256(fmt.Appendf(nil, "pace conformance trace %d", i))
	var id [16]byte
	copy(id[:], h[:])
	if i%50 == 7 {
		id[0] = 0
	}
	return id
}

// SpanID is the ID of span j of trace i of the dataset (j counts the spans
// as generated, including those left out of the dataset to make orphans).
func SpanID(i, j int) [8]byte {
	h := sha256.Sum256(fmt.Appendf(nil, "pace conformance span %d/%d", i, j))
	var id [8]byte
	copy(id[:], h[:])
	if id == [8]byte{} {
		id[7] = 1
	}
	return id
}

// TraceIDHex is the lowercase hex of TraceID(i), as Cases compare IDs.
func TraceIDHex(i int) string {
	id := TraceID(i)
	return hex.EncodeToString(id[:])
}

// SpanIDHex is the lowercase hex of SpanID(i, j).
func SpanIDHex(i, j int) string {
	id := SpanID(i, j)
	return hex.EncodeToString(id[:])
}

// TraceIDs are the sorted lowercase hex IDs of the traces in td.
func TraceIDs(td ptrace.Traces) []string {
	seen := map[string]bool{}
	var ids []string
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				id := sp.TraceID()
				h := hex.EncodeToString(id[:])
				if !seen[h] {
					seen[h] = true
					ids = append(ids, h)
				}
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// Traces is Dataset() converted by traceql.TracesFromOTLP.
func Traces() []*traceql.Trace {
	return traceql.TracesFromOTLP(Dataset())
}

// The services. Every trace gives each service it uses its own resource
// (deployment.environment and the host vary per trace).
type serviceDef struct {
	name      string
	version   string
	team      string
	costCtr   string // "cost center", empty for none
	cpuLimit  float64
	zones     []string
	component string // a resource-level "component", empty for none
}

var services = []serviceDef{
	{name: "foo", version: "2.0.0-beta.3", team: "foo-team", costCtr: "R&D 42", cpuLimit: 0.5, zones: []string{"us-east-1a"}},
	{name: "frontend", version: "1.12.0", team: "web-team", costCtr: "web", cpuLimit: 2, zones: []string{"us-east-1a", "us-east-1b"}, component: "gateway"},
	{name: "checkout", version: "3.1.4", team: "shop-team", cpuLimit: 1, zones: []string{"us-east-1b"}},
	{name: "payments", version: "3.1.4", team: "payments-team", costCtr: "finance", cpuLimit: 4, zones: []string{"eu-west-1a", "eu-west-1b"}},
	{name: "inventory", version: "0.9.0", team: "shop-team", cpuLimit: 1.5, zones: []string{"us-east-1c"}},
	{name: "db-proxy", version: "5.7.1", team: "data-team", cpuLimit: 8, zones: []string{"us-east-1a", "us-east-1c"}},
	{name: "auth service", version: "1.0.0", team: "security-team", costCtr: "R&D 7", cpuLimit: 1, zones: []string{"eu-west-1a"}},
	{name: "mailer", version: "0.1.0", team: "growth-team", cpuLimit: 0.25, zones: []string{"ap-south-1a"}, component: "queue"},
}

// Service indices.
const (
	svcFoo = iota
	svcFrontend
	svcCheckout
	svcPayments
	svcInventory
	svcDBProxy
	svcAuth
	svcMailer
)

// The instrumentation scopes.
type scopeDef struct {
	name, version string
	attrs         func(pcommon.Map)
}

var scopeDefs = []scopeDef{
	{"io.opentelemetry.net.http", "1.24.0", func(m pcommon.Map) {
		m.PutStr("scope.tier", "core")
		m.PutInt("scope.priority", 1)
		m.PutDouble("scope.sample_ratio", 0.25)
		m.PutBool("scope.enabled", true)
		putStrs(m, "scope.labels", "http", "net")
	}},
	{"io.opentelemetry.db", "0.9.1", func(m pcommon.Map) {
		m.PutStr("scope.tier", "storage")
		m.PutInt("scope.priority", 3)
		m.PutDouble("scope.sample_ratio", 1)
		m.PutBool("scope.enabled", false)
		putStrs(m, "scope.labels", "db")
	}},
	{"github.com/pace/foo-lib", "", func(pcommon.Map) {}},
	{"io.opentelemetry.messaging", "2.0.0-rc.1", func(m pcommon.Map) {
		m.PutStr("scope.tier", "async")
		m.PutInt("scope.priority", 2)
		m.PutBool("scope.enabled", true)
	}},
	{"manual", "1.0.0", func(m pcommon.Map) {
		m.PutDouble("scope.sample_ratio", 0.5)
		putStrs(m, "scope.labels", "manual", "net")
	}},
}

// Scope indices.
const (
	scopeHTTP = iota
	scopeDB
	scopeFooLib
	scopeMessaging
	scopeManual
)

// Span flavours: what a span does, which decides its kind, name, scope
// and attributes.
type flavour int

const (
	flHTTPServer flavour = iota
	flHTTPClient
	flDBClient
	flProducer
	flConsumer
	flInternal
	flUnspecified
)

var (
	serverNames   = []string{"GET /api/users", "POST /api/orders", "GET /api/orders/{id}", "DELETE /api/cart", "GET"}
	clientNames   = []string{"HTTP GET", "HTTP POST"}
	dbNames       = []string{"SELECT users", "INSERT orders", "UPDATE inventory", "redis GET"}
	internalNames = []string{"render", "compute tax", "cache.get", "validate"}
	statusCodes   = []int64{200, 200, 200, 200, 200, 201, 204, 301, 400, 404, 404, 429, 500, 500, 502, 503}
	errMessages   = []string{"connection refused", "timeout after 5s", "deadlock detected", "internal error", ""}
	tagWords      = []string{"alpha", "beta", "gamma", "delta"}
	users         = []string{"alice", "bob smith", "carol"}
	components    = []string{"api", "worker", "cron"}
	excTypes      = []string{"IOError", "TimeoutError", "ValueError"}
	levels        = []string{"info", "debug", "warn", "error"}
	relations     = []string{"follows_from", "child_of", "batch"}
	environments  = []string{"prod", "prod", "prod", "staging", "staging", "dev"}
)

// BigID is the smallest value of the int attribute "big.id" (2^53, where
// float64 stops representing every integer); values go up to BigID+3.
const BigID int64 = 1 << 53

// BlobBytes is the value of the bytes attribute "blob" that some spans
// carry; traceql.TracesFromOTLP turns it into its standard base64.
var BlobBytes = []byte{0xde, 0xad, 0xbe, 0xef}

// gspan is a generated span before it is laid out as OTLP.
type gspan struct {
	idx     int // j of SpanID(i, j)
	parent  int // index into the trace's gspans, -1 for a root
	fl      flavour
	svc     int
	scope   int
	sp      ptrace.Span // standalone, fully filled in but for the IDs' layout
	dropped bool
}

// Dataset builds the conformance dataset: NumTraces traces of 1 to 40
// spans over about 55 minutes from Base. It is deterministic: every call
// returns equal data.
func Dataset() ptrace.Traces {
	rng := rand.New(rand.NewPCG(seed1, seed2))
	td := ptrace.NewTraces()
	var prevRS map[int]ptrace.ResourceSpans
	for i := 0; i < NumTraces; i++ {
		spans := genTrace(rng, i)
		prevRS = layout(td, rng, i, spans, prevRS)
	}
	return td
}

// logUniform draws from [lo, hi) with a uniform logarithm.
func logUniform(rng *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func putStrs(m pcommon.Map, k string, vs ...string) {
	sl := m.PutEmptySlice(k)
	for _, v := range vs {
		sl.AppendEmpty().SetStr(v)
	}
}

// genTrace generates the spans of trace i.
func genTrace(rng *rand.Rand, i int) []*gspan {
	var n int
	switch r := rng.Float64(); {
	case r < 0.10:
		n = 1
	case r < 0.40:
		n = 2 + rng.IntN(4)
	case r < 0.80:
		n = 6 + rng.IntN(15)
	default:
		n = 21 + rng.IntN(20)
	}

	// The shape: normal, orphans (the root never arrives), a missing
	// middle span, or two roots.
	mode := "normal"
	switch r := rng.Float64(); {
	case n >= 2 && r < 0.09:
		mode = "orphans"
	case n >= 4 && r < 0.15:
		mode = "missing"
	case n >= 2 && r < 0.19:
		mode = "tworoots"
	}

	start := uint64(Base.UnixNano()) + uint64(i)*uint64(11*time.Second) + uint64(rng.Int64N(int64(5*time.Second)))
	var rootDur float64
	if rng.Float64() < 0.06 {
		rootDur = logUniform(rng, 15e9, 40e9)
	} else {
		rootDur = logUniform(rng, 20e3, 12e9)
	}

	spans := make([]*gspan, 0, n+1)
	starts := make([]uint64, 0, n+1)
	durs := make([]uint64, 0, n+1)
	for j := 0; j < n; j++ {
		g := &gspan{idx: j, parent: -1}
		var st, du uint64
		if j == 0 {
			switch r := rng.Float64(); {
			case r < 0.68:
				g.fl = flHTTPServer
			case r < 0.78:
				g.fl = flConsumer
			case r < 0.88:
				g.fl = flInternal
			case r < 0.94:
				g.fl = flUnspecified
			default:
				g.fl = flHTTPClient
			}
			switch r := rng.Float64(); {
			case r < 0.40:
				g.svc = svcFrontend
			case r < 0.58:
				g.svc = svcFoo
			default:
				g.svc = rng.IntN(len(services))
			}
			st, du = start, uint64(rootDur)
		} else {
			if rng.Float64() < 0.45 {
				g.parent = j - 1
			} else {
				g.parent = rng.IntN(j)
			}
			p := spans[g.parent]
			g.fl, g.svc = childFlavour(rng, p)
			pd := float64(durs[g.parent])
			du = uint64(pd * logUniform(rng, 0.002, 0.9))
			if rng.Float64() < 0.1 {
				du = uint64(logUniform(rng, 800, 20e3)) // very short: 0.8µs to 20µs
			}
			if du > uint64(pd) {
				du = uint64(pd)
			}
			st = starts[g.parent] + uint64(rng.Float64()*(pd-float64(du)))
			if rng.Float64() < 0.04 {
				st += durs[g.parent] // async: starts after its parent ended
			}
		}
		du = max(du, 500)
		starts = append(starts, st)
		durs = append(durs, du)
		g.scope = scopeFor(rng, g.fl)
		g.sp = fillSpan(rng, i, j, g, st, du)
		spans = append(spans, g)
	}

	switch mode {
	case "orphans":
		spans[0].dropped = true
	case "missing":
		// Drop a non-root span that has children.
		for _, j := range rng.Perm(n) {
			if j == 0 {
				continue
			}
			hasChild := false
			for _, c := range spans {
				if c.parent == j {
					hasChild = true
					break
				}
			}
			if hasChild {
				spans[j].dropped = true
				break
			}
		}
	case "tworoots":
		// A second root; it starts before the first one half of the time.
		g := &gspan{idx: n, parent: -1, fl: flInternal, svc: rng.IntN(len(services))}
		st := start + uint64(rng.Int64N(int64(time.Second)))
		if rng.IntN(2) == 0 {
			st = start - uint64(rng.Int64N(int64(time.Second))) - 1
		}
		g.scope = scopeFor(rng, g.fl)
		g.sp = fillSpan(rng, i, n, g, st, uint64(logUniform(rng, 1e3, 2e9)))
		g.sp.SetName("background job")
		spans = append(spans, g)
	}

	// Parent IDs (a dropped span's ID still names its children's parent).
	for _, g := range spans {
		if g.parent >= 0 {
			g.sp.SetParentSpanID(pcommon.SpanID(SpanID(i, spans[g.parent].idx)))
		}
	}

	// Links: the root of every trace i with i%25 == 11 links to trace i-1's
	// first span; other spans link now and then to random traces.
	for _, g := range spans {
		if g.dropped {
			continue
		}
		if g.idx == 0 && i%25 == 11 {
			addLink(rng, g.sp, i-1, 0)
		}
		if rng.Float64() < 0.08 {
			for k := rng.IntN(2); k >= 0; k-- {
				addLink(rng, g.sp, rng.IntN(NumTraces), rng.IntN(3))
			}
		}
	}

	kept := spans[:0]
	for _, g := range spans {
		if !g.dropped {
			kept = append(kept, g)
		}
	}
	return kept
}

func addLink(rng *rand.Rand, sp ptrace.Span, trace, span int) {
	l := sp.Links().AppendEmpty()
	l.SetTraceID(pcommon.TraceID(TraceID(trace)))
	l.SetSpanID(pcommon.SpanID(SpanID(trace, span)))
	a := l.Attributes()
	a.PutStr("relation", pick(rng, relations))
	a.PutInt("ordinal", int64(sp.Links().Len()-1))
	if rng.Float64() < 0.7 {
		a.PutDouble("weight", math.Round(rng.Float64()*100)/100)
	}
	if rng.Float64() < 0.6 {
		a.PutBool("sampled", rng.IntN(2) == 0)
	}
	if rng.Float64() < 0.4 {
		putStrs(a, "labels", pick(rng, []string{"batch", "retry", "fanout"}))
	}
}

// childFlavour picks the flavour and service of a child of p.
func childFlavour(rng *rand.Rand, p *gspan) (flavour, int) {
	otherSvc := func() int {
		s := rng.IntN(len(services) - 1)
		if s >= p.svc {
			s++
		}
		return s
	}
	r := rng.Float64()
	switch p.fl {
	case flHTTPServer, flConsumer:
		switch {
		case r < 0.35:
			return flHTTPClient, p.svc
		case r < 0.60:
			return flDBClient, p.svc
		case r < 0.70:
			return flProducer, p.svc
		case r < 0.95:
			return flInternal, p.svc
		default:
			return flUnspecified, p.svc
		}
	case flHTTPClient:
		if r < 0.85 {
			return flHTTPServer, otherSvc()
		}
		return flInternal, p.svc
	case flProducer:
		if r < 0.8 {
			return flConsumer, pick(rng, []int{svcMailer, svcInventory, svcPayments})
		}
		return flInternal, p.svc
	case flDBClient:
		return flInternal, p.svc
	default:
		switch {
		case r < 0.4:
			return flInternal, p.svc
		case r < 0.6:
			return flHTTPClient, p.svc
		case r < 0.8:
			return flDBClient, p.svc
		default:
			return flUnspecified, p.svc
		}
	}
}

func scopeFor(rng *rand.Rand, fl flavour) int {
	switch fl {
	case flHTTPServer, flHTTPClient:
		return scopeHTTP
	case flDBClient:
		return scopeDB
	case flProducer, flConsumer:
		return scopeMessaging
	case flInternal:
		if rng.IntN(2) == 0 {
			return scopeFooLib
		}
		return scopeManual
	default:
		return scopeManual
	}
}

// fillSpan builds span j of trace i.
func fillSpan(rng *rand.Rand, i, j int, g *gspan, start, dur uint64) ptrace.Span {
	sp := ptrace.NewSpan()
	sp.SetTraceID(pcommon.TraceID(TraceID(i)))
	sp.SetSpanID(pcommon.SpanID(SpanID(i, j)))
	sp.SetStartTimestamp(pcommon.Timestamp(start))
	sp.SetEndTimestamp(pcommon.Timestamp(start + dur))
	a := sp.Attributes()

	var httpCode int64 = -1
	switch g.fl {
	case flHTTPServer, flHTTPClient:
		var method string
		if g.fl == flHTTPServer {
			sp.SetKind(ptrace.SpanKindServer)
			name := pick(rng, serverNames)
			if name == "GET" && rng.Float64() < 0.7 {
				name = "GET /api/users" // keep the bare "GET" rare
			}
			sp.SetName(name)
			method = "GET"
			switch {
			case name == "GET":
			case name[0] == 'P':
				method = "POST"
			case name[0] == 'D':
				method = "DELETE"
			}
			a.PutStr("http.route", name)
		} else {
			sp.SetKind(ptrace.SpanKindClient)
			name := pick(rng, clientNames)
			sp.SetName(name)
			method = name[5:]
			if rng.Float64() < 0.1 {
				method = "PUT"
			}
			a.PutStr("http.url", fmt.Sprintf("http://%s.internal:8080/api/%s", pick(rng, []string{"checkout", "payments", "auth"}), pick(rng, tagWords)))
			a.PutInt("net.peer.port", pick(rng, []int64{80, 443, 8080}))
		}
		a.PutStr("http.method", method)
		httpCode = pick(rng, statusCodes)
		if rng.Float64() < 0.04 {
			a.PutStr("http.status_code", fmt.Sprint(httpCode)) // a string, not an int
		} else {
			a.PutInt("http.status_code", httpCode)
		}
	case flDBClient:
		sp.SetKind(ptrace.SpanKindClient)
		name := pick(rng, dbNames)
		sp.SetName(name)
		if name == "redis GET" {
			a.PutStr("db.system", "redis")
			a.PutStr("db.statement", "GET session:"+fmt.Sprint(rng.IntN(1000)))
		} else {
			a.PutStr("db.system", pick(rng, []string{"postgresql", "postgresql", "mysql"}))
			a.PutStr("db.statement", name+" WHERE id = ?")
			a.PutInt("db.rows", int64(rng.IntN(500)))
		}
	case flProducer:
		sp.SetKind(ptrace.SpanKindProducer)
		sp.SetName("publish orders")
		a.PutStr("messaging.system", "kafka")
		a.PutStr("messaging.destination", "orders")
	case flConsumer:
		sp.SetKind(ptrace.SpanKindConsumer)
		sp.SetName("consume orders")
		a.PutStr("messaging.system", "kafka")
		a.PutInt("messaging.partition", int64(rng.IntN(6)))
	case flInternal:
		sp.SetKind(ptrace.SpanKindInternal)
		sp.SetName(pick(rng, internalNames))
	case flUnspecified:
		sp.SetKind(ptrace.SpanKindUnspecified)
		sp.SetName("legacy op")
	}

	// Status.
	st := sp.Status()
	switch r := rng.Float64(); {
	case httpCode >= 500:
		st.SetCode(ptrace.StatusCodeError)
		st.SetMessage(pick(rng, []string{"HTTP 5xx", "upstream unavailable", ""}))
	case r < 0.07:
		st.SetCode(ptrace.StatusCodeError)
		st.SetMessage(pick(rng, errMessages))
	case r < 0.30:
		st.SetCode(ptrace.StatusCodeOk)
		if rng.Float64() < 0.2 {
			st.SetMessage("done")
		}
	}

	// Generic attributes, each on a fraction of the spans.
	if rng.Float64() < 0.30 {
		a.PutInt("retry.count", int64(rng.IntN(6)))
	}
	if rng.Float64() < 0.45 {
		a.PutInt("payload.size", int64(logUniform(rng, 10, 2e6)))
	}
	if rng.Float64() < 0.35 {
		a.PutDouble("ratio", math.Round(rng.Float64()*1000)/1000)
	}
	if rng.Float64() < 0.30 {
		a.PutBool("cache.hit", rng.IntN(3) == 0)
	}
	if rng.Float64() < 0.20 {
		sl := a.PutEmptySlice("tags")
		for _, k := range rng.Perm(len(tagWords))[:1+rng.IntN(3)] {
			sl.AppendEmpty().SetStr(tagWords[k])
		}
	}
	if rng.Float64() < 0.15 {
		sl := a.PutEmptySlice("codes")
		for k := rng.IntN(3); k >= 0; k-- {
			sl.AppendEmpty().SetInt(pick(rng, []int64{1, 2, 3, 5, 8, 13, 42}))
		}
	}
	if rng.Float64() < 0.10 {
		sl := a.PutEmptySlice("weights")
		for k := rng.IntN(3); k >= 0; k-- {
			sl.AppendEmpty().SetDouble(math.Round(rng.Float64()*100) / 100)
		}
	}
	if rng.Float64() < 0.06 {
		sl := a.PutEmptySlice("flags")
		for k := rng.IntN(2); k >= 0; k-- {
			sl.AppendEmpty().SetBool(rng.IntN(2) == 0)
		}
	}
	if rng.Float64() < 0.20 {
		a.PutStr("x-request-id", fmt.Sprintf("%x", rng.Uint32()))
	}
	if rng.Float64() < 0.10 {
		a.PutStr("user name", pick(rng, users))
	}
	if rng.Float64() < 0.20 {
		a.PutInt("offset", int64(rng.IntN(201)-100))
	}
	if rng.Float64() < 0.15 {
		a.PutDouble("temperature", math.Round((rng.Float64()*60-20)*10)/10)
	}
	if rng.Float64() < 0.25 {
		a.PutStr("component", pick(rng, components))
	}
	if rng.Float64() < 0.03 {
		a.PutEmptyBytes("blob").FromRaw(BlobBytes)
	}
	if rng.Float64() < 0.03 {
		m := a.PutEmptyMap("headers")
		m.PutStr("accept", pick(rng, []string{"json", "xml"}))
		m.PutInt("hops", int64(rng.IntN(3)))
	}
	if rng.Float64() < 0.02 {
		a.PutEmpty("empty.value")
	}
	if rng.Float64() < 0.03 {
		a.PutStr("name", pick(rng, []string{"shadow", "alias"})) // an attribute named like an intrinsic
	}
	if rng.Float64() < 0.03 {
		a.PutInt("big.id", BigID+int64(rng.IntN(4))) // beyond float64's exact integers
	}

	// Events.
	evTime := func() pcommon.Timestamp {
		if rng.Float64() < 0.03 {
			return pcommon.Timestamp(start - uint64(rng.Int64N(1e6)) - 1) // before the span
		}
		return pcommon.Timestamp(start + uint64(rng.Float64()*float64(dur)))
	}
	if (st.Code() == ptrace.StatusCodeError && rng.Float64() < 0.8) || rng.Float64() < 0.02 {
		ev := sp.Events().AppendEmpty()
		ev.SetName("exception")
		ev.SetTimestamp(evTime())
		ea := ev.Attributes()
		ea.PutStr("exception.type", pick(rng, excTypes))
		ea.PutStr("exception.message", pick(rng, []string{"broken pipe", "deadline exceeded", "bad input"}))
		ea.PutBool("exception.escaped", rng.IntN(2) == 0)
		ea.PutInt("exception.code", int64(rng.IntN(4)))
		ea.PutDouble("exception.severity", math.Round(rng.Float64()*100)/10)
		putStrs(ea, "exception.frames", pick(rng, []string{"main.go:42", "handler.go:7"}), "runtime.go:1")
	}
	if rng.Float64() < 0.10 {
		ev := sp.Events().AppendEmpty()
		ev.SetName("retry")
		ev.SetTimestamp(evTime())
		ev.Attributes().PutInt("attempt", int64(1+rng.IntN(3)))
		ev.Attributes().PutDouble("backoff.seconds", math.Round(rng.Float64()*30)/10)
	}
	if rng.Float64() < 0.10 {
		ev := sp.Events().AppendEmpty()
		ev.SetName("log")
		ev.SetTimestamp(evTime())
		ev.Attributes().PutStr("level", pick(rng, levels))
		putStrs(ev.Attributes(), "log.tags", pick(rng, tagWords))
	}
	if rng.Float64() < 0.02 {
		ev := sp.Events().AppendEmpty()
		ev.SetName("cache miss")
		ev.SetTimestamp(evTime())
		ev.Attributes().PutStr("cache.key", fmt.Sprintf("k%d", rng.IntN(50)))
	}
	return sp
}

// layout appends trace i's spans to td: one ResourceSpans per service the
// trace uses, one ScopeSpans per scope. Every tenth trace puts its spans of
// a service that the previous trace also used into that trace's
// ResourceSpans (so that a ResourceSpans holds two traces), and every
// seventh shuffles its spans (so that children come before parents). It
// returns the trace's ResourceSpans by service.
func layout(td ptrace.Traces, rng *rand.Rand, i int, spans []*gspan, prev map[int]ptrace.ResourceSpans) map[int]ptrace.ResourceSpans {
	if i%7 == 3 {
		rng.Shuffle(len(spans), func(a, b int) { spans[a], spans[b] = spans[b], spans[a] })
	}
	env := pick(rng, environments)
	canary := rng.Float64() < 0.1
	rsBySvc := map[int]ptrace.ResourceSpans{}
	ssBy := map[[2]int]ptrace.ScopeSpans{}
	for _, g := range spans {
		rs, ok := rsBySvc[g.svc]
		if !ok {
			if p, shared := prev[g.svc]; shared && i%10 == 9 {
				rs = p
			} else {
				rs = td.ResourceSpans().AppendEmpty()
				fillResource(rng, rs.Resource().Attributes(), g.svc, env, canary)
			}
			rsBySvc[g.svc] = rs
		}
		ss, ok := ssBy[[2]int{g.svc, g.scope}]
		if !ok {
			ss = rs.ScopeSpans().AppendEmpty()
			d := scopeDefs[g.scope]
			ss.Scope().SetName(d.name)
			ss.Scope().SetVersion(d.version)
			d.attrs(ss.Scope().Attributes())
			ssBy[[2]int{g.svc, g.scope}] = ss
		}
		g.sp.CopyTo(ss.Spans().AppendEmpty())
	}
	return rsBySvc
}

func fillResource(rng *rand.Rand, a pcommon.Map, svc int, env string, canary bool) {
	s := services[svc]
	a.PutStr("service.name", s.name)
	a.PutStr("service.version", s.version)
	a.PutStr("deployment.environment", env)
	a.PutStr("host.name", fmt.Sprintf("host-%d", 1+rng.IntN(3)))
	a.PutInt("k8s.pod.restarts", int64(rng.IntN(7)))
	a.PutDouble("cpu.limit", s.cpuLimit)
	a.PutBool("canary", canary)
	putStrs(a, "zones", s.zones...)
	a.PutStr("team-name", s.team)
	if s.costCtr != "" {
		a.PutStr("cost center", s.costCtr)
	}
	if s.component != "" {
		a.PutStr("component", s.component)
	}
	if canary {
		a.PutStr("status", "degraded") // an attribute named like an intrinsic
	}
}
