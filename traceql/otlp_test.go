package traceql

import (
	"encoding/base64"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	tidA = pcommon.TraceID{0xa1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	tidB = pcommon.TraceID{0xb2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	tidC = pcommon.TraceID{0xc3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
)

func sid(b byte) pcommon.SpanID { return pcommon.SpanID{b, b, b, b, b, b, b, b} }

func addSpan(ss ptrace.ScopeSpans, tid pcommon.TraceID, id, parent byte, name string, start, end uint64) ptrace.Span {
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid(id))
	if parent != 0 {
		sp.SetParentSpanID(sid(parent))
	}
	sp.SetName(name)
	sp.SetStartTimestamp(pcommon.Timestamp(start))
	sp.SetEndTimestamp(pcommon.Timestamp(end))
	return sp
}

func attr(t *testing.T, attrs []Attr, key string) Value {
	t.Helper()
	for _, a := range attrs {
		if a.Key == key {
			return a.Value
		}
	}
	t.Fatalf("no attribute %q in %v", key, attrs)
	return Value{}
}

func TestTracesFromOTLPEmpty(t *testing.T) {
	if got := TracesFromOTLP(ptrace.NewTraces()); len(got) != 0 {
		t.Fatalf("got %d traces from nothing", len(got))
	}
}

func TestTracesFromOTLPFields(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "frontend")
	rs.Resource().Attributes().PutInt("replicas", 3)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("io.opentelemetry.http")
	ss.Scope().SetVersion("1.2.3")
	ss.Scope().Attributes().PutBool("scope.enabled", true)

	// The child comes before its parent.
	child := addSpan(ss, tidA, 2, 1, "child", 1500, 1400) // ends before it starts
	child.SetKind(ptrace.SpanKindClient)
	child.Status().SetCode(ptrace.StatusCodeError)
	child.Status().SetMessage("boom")
	a := child.Attributes()
	a.PutStr("s", "v")
	a.PutInt("i", -7)
	a.PutDouble("f", 2.5)
	a.PutBool("b", true)
	a.PutEmptyBytes("bytes").FromRaw([]byte{0xff, 0x00, 0x10})
	sl := a.PutEmptySlice("arr")
	sl.AppendEmpty().SetStr("x")
	sl.AppendEmpty().SetInt(4)
	sl.AppendEmpty().SetDouble(1.5)
	sl.AppendEmpty().SetBool(false)
	sl.AppendEmpty().SetEmptySlice().AppendEmpty().SetInt(1)
	m := a.PutEmptyMap("map")
	m.PutStr("k", "v")
	m.PutInt("n", 1)
	a.PutEmpty("empty")

	ev := child.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(1600)
	ev.Attributes().PutStr("exception.type", "IOError")
	ev2 := child.Events().AppendEmpty()
	ev2.SetName("early")
	ev2.SetTimestamp(1000)

	lk := child.Links().AppendEmpty()
	lk.SetTraceID(tidB)
	lk.SetSpanID(sid(9))
	lk.Attributes().PutInt("link.index", 1)

	root := addSpan(ss, tidA, 1, 0, "GET /", 1000, 5000)
	root.SetKind(ptrace.SpanKindServer)
	root.Status().SetCode(ptrace.StatusCodeOk)

	got := TracesFromOTLP(td)
	if len(got) != 1 {
		t.Fatalf("got %d traces, want 1", len(got))
	}
	tr := got[0]
	if tr.ID != [16]byte(tidA) {
		t.Errorf("trace ID %x", tr.ID)
	}
	if tr.RootSpanName != "GET /" || tr.RootServiceName != "frontend" {
		t.Errorf("root %q/%q", tr.RootSpanName, tr.RootServiceName)
	}
	if tr.StartTimeUnixNano != 1000 || tr.DurationNano != 4000 {
		t.Errorf("trace start %d duration %d", tr.StartTimeUnixNano, tr.DurationNano)
	}
	if len(tr.Spans) != 2 {
		t.Fatalf("%d spans", len(tr.Spans))
	}
	c, r := &tr.Spans[0], &tr.Spans[1]
	if c.Parent != 1 || r.Parent != -1 {
		t.Errorf("parents %d %d", c.Parent, r.Parent)
	}
	if c.ID != [8]byte(sid(2)) || c.ParentID != [8]byte(sid(1)) || r.ParentID != [8]byte{} {
		t.Errorf("ids %x %x %x", c.ID, c.ParentID, r.ParentID)
	}
	if c.Name != "child" || c.Kind != 3 || c.StatusCode != 2 || c.StatusMessage != "boom" {
		t.Errorf("child %q kind %d status %d %q", c.Name, c.Kind, c.StatusCode, c.StatusMessage)
	}
	if r.Kind != 2 || r.StatusCode != 1 {
		t.Errorf("root kind %d status %d", r.Kind, r.StatusCode)
	}
	if c.StartTimeUnixNano != 1500 || c.DurationNano != 0 || r.DurationNano != 4000 {
		t.Errorf("child start %d dur %d, root dur %d", c.StartTimeUnixNano, c.DurationNano, r.DurationNano)
	}
	if c.Resource != r.Resource || c.Scope != r.Scope {
		t.Errorf("resource/scope not shared")
	}
	if v := attr(t, c.Resource.Attrs, "service.name"); v.Type != TypeString || v.S != "frontend" {
		t.Errorf("service.name %+v", v)
	}
	if v := attr(t, c.Resource.Attrs, "replicas"); v.Type != TypeInt || v.I != 3 {
		t.Errorf("replicas %+v", v)
	}
	if c.Scope.Name != "io.opentelemetry.http" || c.Scope.Version != "1.2.3" {
		t.Errorf("scope %+v", c.Scope)
	}
	if v := attr(t, c.Scope.Attrs, "scope.enabled"); v.Type != TypeBool || !v.B {
		t.Errorf("scope.enabled %+v", v)
	}

	if v := attr(t, c.Attrs, "s"); v.Type != TypeString || v.S != "v" {
		t.Errorf("s %+v", v)
	}
	if v := attr(t, c.Attrs, "i"); v.Type != TypeInt || v.I != -7 {
		t.Errorf("i %+v", v)
	}
	if v := attr(t, c.Attrs, "f"); v.Type != TypeFloat || v.F != 2.5 {
		t.Errorf("f %+v", v)
	}
	if v := attr(t, c.Attrs, "b"); v.Type != TypeBool || !v.B {
		t.Errorf("b %+v", v)
	}
	if v := attr(t, c.Attrs, "bytes"); v.Type != TypeString || v.S != base64.StdEncoding.EncodeToString([]byte{0xff, 0, 0x10}) {
		t.Errorf("bytes %+v", v)
	}
	if v := attr(t, c.Attrs, "map"); v.Type != TypeString || v.S != `{"k":"v","n":1}` {
		t.Errorf("map %+v", v)
	}
	if v := attr(t, c.Attrs, "empty"); v.Type != TypeNil {
		t.Errorf("empty %+v", v)
	}
	arr := attr(t, c.Attrs, "arr")
	if arr.Type != TypeArray || len(arr.Arr) != 5 {
		t.Fatalf("arr %+v", arr)
	}
	want := []Value{
		{Type: TypeString, S: "x"},
		{Type: TypeInt, I: 4},
		{Type: TypeFloat, F: 1.5},
		{Type: TypeBool, B: false},
		{Type: TypeString, S: "[1]"},
	}
	for i, w := range want {
		g := arr.Arr[i]
		if g.Type != w.Type || g.S != w.S || g.I != w.I || g.F != w.F || g.B != w.B {
			t.Errorf("arr[%d] = %+v, want %+v", i, g, w)
		}
	}

	if len(c.Events) != 2 {
		t.Fatalf("%d events", len(c.Events))
	}
	if e := c.Events[0]; e.Name != "exception" || e.TimeSinceStartNano != 100 || attr(t, e.Attrs, "exception.type").S != "IOError" {
		t.Errorf("event %+v", e)
	}
	if e := c.Events[1]; e.Name != "early" || e.TimeSinceStartNano != 0 || e.Attrs != nil {
		t.Errorf("early event %+v", e)
	}
	if len(c.Links) != 1 {
		t.Fatalf("%d links", len(c.Links))
	}
	if l := c.Links[0]; l.TraceID != [16]byte(tidB) || l.SpanID != [8]byte(sid(9)) || attr(t, l.Attrs, "link.index").I != 1 {
		t.Errorf("link %+v", l)
	}
	if r.Attrs != nil || r.Events != nil || r.Links != nil {
		t.Errorf("root has attrs/events/links: %+v", r)
	}
}

func TestTracesFromOTLPGrouping(t *testing.T) {
	td := ptrace.NewTraces()

	// One ResourceSpans with spans of two traces, interleaved.
	rs1 := td.ResourceSpans().AppendEmpty()
	rs1.Resource().Attributes().PutStr("service.name", "svc1")
	ss1 := rs1.ScopeSpans().AppendEmpty()
	ss1.Scope().SetName("s1")
	addSpan(ss1, tidB, 1, 0, "b-root", 100, 200)
	addSpan(ss1, tidA, 2, 9, "a-orphan", 50, 70) // parent 9 never arrives
	addSpan(ss1, tidB, 3, 1, "b-child", 110, 300)
	ss1b := rs1.ScopeSpans().AppendEmpty()
	ss1b.Scope().SetName("s1b")
	addSpan(ss1b, tidB, 4, 3, "b-grandchild", 120, 130)

	// A second ResourceSpans for trace B and one for trace C.
	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutStr("service.name", "svc2")
	ss2 := rs2.ScopeSpans().AppendEmpty()
	addSpan(ss2, tidB, 5, 1, "b-remote", 150, 160)
	addSpan(ss2, tidC, 6, 0, "c-late-root", 20, 30)
	addSpan(ss2, tidC, 7, 0, "c-early-root", 10, 40)
	addSpan(ss2, tidA, 8, 9, "a-orphan2", 60, 90)

	got := TracesFromOTLP(td)
	if len(got) != 3 {
		t.Fatalf("%d traces", len(got))
	}
	// In the order first seen: B, A, C.
	if got[0].ID != [16]byte(tidB) || got[1].ID != [16]byte(tidA) || got[2].ID != [16]byte(tidC) {
		t.Fatalf("order %x %x %x", got[0].ID, got[1].ID, got[2].ID)
	}
	b, a, c := got[0], got[1], got[2]

	// Trace B: root, child, grandchild in another scope, remote child in another resource.
	if len(b.Spans) != 4 {
		t.Fatalf("B has %d spans", len(b.Spans))
	}
	names := []string{"b-root", "b-child", "b-grandchild", "b-remote"}
	parents := []int32{-1, 0, 1, 0}
	for i, s := range b.Spans {
		if s.Name != names[i] || s.Parent != parents[i] {
			t.Errorf("B span %d: %q parent %d, want %q parent %d", i, s.Name, s.Parent, names[i], parents[i])
		}
	}
	if b.Spans[0].Resource != b.Spans[1].Resource || b.Spans[1].Resource != b.Spans[2].Resource {
		t.Errorf("B spans of one ResourceSpans do not share the resource")
	}
	if b.Spans[3].Resource == b.Spans[0].Resource {
		t.Errorf("B spans of two ResourceSpans share a resource")
	}
	if b.Spans[0].Scope != b.Spans[1].Scope || b.Spans[2].Scope == b.Spans[1].Scope {
		t.Errorf("B scopes shared wrongly")
	}
	if b.Spans[2].Scope.Name != "s1b" {
		t.Errorf("grandchild scope %q", b.Spans[2].Scope.Name)
	}
	if b.RootSpanName != "b-root" || b.RootServiceName != "svc1" || b.StartTimeUnixNano != 100 || b.DurationNano != 200 {
		t.Errorf("B summary %q %q %d %d", b.RootSpanName, b.RootServiceName, b.StartTimeUnixNano, b.DurationNano)
	}

	// Trace A: orphans only.
	if len(a.Spans) != 2 || a.Spans[0].Parent != -1 || a.Spans[1].Parent != -1 {
		t.Fatalf("A spans %+v", a.Spans)
	}
	if a.Spans[0].Resource == a.Spans[1].Resource {
		t.Errorf("A spans of two ResourceSpans share a resource")
	}
	if a.Spans[0].Resource == b.Spans[0].Resource {
		t.Errorf("traces A and B share a *Resource")
	}
	if a.RootSpanName != NoRootName || a.RootServiceName != NoRootName {
		t.Errorf("A root %q %q", a.RootSpanName, a.RootServiceName)
	}
	if a.StartTimeUnixNano != 50 || a.DurationNano != 40 {
		t.Errorf("A start %d duration %d", a.StartTimeUnixNano, a.DurationNano)
	}

	// Trace C: two roots, the earliest wins.
	if c.RootSpanName != "c-early-root" || c.RootServiceName != "svc2" {
		t.Errorf("C root %q %q", c.RootSpanName, c.RootServiceName)
	}
}

func TestTracesFromOTLPLargeTrace(t *testing.T) {
	// More spans than the linear parent scan handles: a chain, emitted
	// leaf first.
	const n = 3 * linearParentLookup
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	id := func(i int) pcommon.SpanID { return pcommon.SpanID{1, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)} }
	for i := n - 1; i >= 0; i-- {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tidA)
		sp.SetSpanID(id(i))
		if i > 0 {
			sp.SetParentSpanID(id(i - 1))
		}
		sp.SetStartTimestamp(pcommon.Timestamp(1000 + i))
		sp.SetEndTimestamp(pcommon.Timestamp(3000 - i))
	}
	// A self-parented span and one whose parent is missing.
	self := ss.Spans().AppendEmpty()
	self.SetTraceID(tidA)
	self.SetSpanID(id(5000))
	self.SetParentSpanID(id(5000))
	miss := ss.Spans().AppendEmpty()
	miss.SetTraceID(tidA)
	miss.SetSpanID(id(5001))
	miss.SetParentSpanID(id(6000))

	tr := TracesFromOTLP(td)[0]
	for i, s := range tr.Spans[:n] {
		// Span i of the slice is chain element n-1-i, whose parent is
		// element n-2-i, at slice index i+1.
		want := int32(i + 1)
		if i == n-1 {
			want = -1
		}
		if s.Parent != want {
			t.Fatalf("span %d parent %d, want %d", i, s.Parent, want)
		}
	}
	if tr.Spans[n].Parent != -1 || tr.Spans[n+1].Parent != -1 {
		t.Errorf("self/missing parents %d %d", tr.Spans[n].Parent, tr.Spans[n+1].Parent)
	}
	if tr.RootSpanName != "" || tr.StartTimeUnixNano != 0 || tr.DurationNano != 3000 {
		// The self- and missing-parented spans have zero timestamps.
		t.Errorf("summary %q %d %d", tr.RootSpanName, tr.StartTimeUnixNano, tr.DurationNano)
	}
}

func BenchmarkTracesFromOTLP(b *testing.B) {
	td := ptrace.NewTraces()
	for r := 0; r < 4; r++ {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "svc")
		rs.Resource().Attributes().PutStr("host.name", "h")
		ss := rs.ScopeSpans().AppendEmpty()
		for i := 0; i < 50; i++ {
			tid := tidA
			tid[15] = byte(i % 5)
			sp := addSpan(ss, tid, byte(i+1), byte(i), "op", 100, 200)
			sp.Attributes().PutStr("http.method", "GET")
			sp.Attributes().PutInt("http.status_code", 200)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		TracesFromOTLP(td)
	}
}
