package conformance

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/traceql"
)

var update = flag.Bool("update", false, "rewrite testdata/expected.json from the predicates")

const goldenPath = "testdata/expected.json"

// goldenCase is a case's entry in the golden file: its query and the
// dataset indices (as in TraceID(i)) of the traces it must match.
type goldenCase struct {
	Query  string `json:"query"`
	Count  int    `json:"count"`
	Traces []int  `json:"traces"`
}

func golden(traces []*traceql.Trace) map[string]goldenCase {
	index := map[[16]byte]int{}
	for i := 0; i < NumTraces; i++ {
		index[TraceID(i)] = i
	}
	g := map[string]goldenCase{}
	for _, c := range Cases {
		gc := goldenCase{Query: c.Query, Traces: []int{}}
		for _, t := range traces {
			if c.Want(t) {
				gc.Traces = append(gc.Traces, index[t.ID])
			}
		}
		gc.Count = len(gc.Traces)
		g[c.Name] = gc
	}
	return g
}

// encodeGolden writes one line per case, in name order.
func encodeGolden(g map[string]goldenCase) ([]byte, error) {
	var names []string
	for n := range g {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, n := range names {
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(n); err != nil {
			return nil, err
		}
		key := string(bytes.TrimSpace(line.Bytes()))
		line.Reset()
		if err := enc.Encode(g[n]); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "  %s: %s", key, bytes.TrimSpace(line.Bytes()))
		if i < len(names)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// TestGolden keeps the expected result of every case in testdata, so that
// a change to the dataset or to a predicate shows as a diff. Run with
// -update to rewrite it.
func TestGolden(t *testing.T) {
	got := golden(Traces())
	b, err := encodeGolden(got)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if bytes.Equal(old, b) {
		return
	}
	var want map[string]goldenCase
	if err := json.Unmarshal(old, &want); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	for n := range want {
		if _, ok := got[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		g, gok := got[n]
		w, wok := want[n]
		switch {
		case !wok:
			t.Errorf("%s: new case (%d traces)", n, g.Count)
		case !gok:
			t.Errorf("%s: case removed", n)
		case g.Query != w.Query:
			t.Errorf("%s: query changed from %s to %s", n, w.Query, g.Query)
		case !slices.Equal(g.Traces, w.Traces):
			t.Errorf("%s: expected traces changed: %d → %d; gained %v, lost %v", n, w.Count, g.Count,
				minusInts(g.Traces, w.Traces), minusInts(w.Traces, g.Traces))
		}
	}
	t.Log("run go test -run TestGolden -update if the changes are intended")
}

// minusInts is a \ b for sorted a and b.
func minusInts(a, b []int) []int {
	var out []int
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

// minus is a \ b for sorted a and b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

// TestCasesAreMeaningful checks the suite itself: enough cases, unique
// names, and results that tell engines apart — for all but a few cases
// neither no trace nor every trace.
func TestCasesAreMeaningful(t *testing.T) {
	traces := Traces()
	if len(Cases) < 170 {
		t.Errorf("%d search cases, want at least 170", len(Cases))
	}
	if len(MetricsCases) < 15 {
		t.Errorf("%d metrics cases, want at least 15", len(MetricsCases))
	}
	names := map[string]bool{}
	queries := map[string]string{}
	trivial := 0
	for _, c := range Cases {
		if names[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		if other, dup := queries[c.Query]; dup {
			t.Errorf("cases %q and %q have the same query", other, c.Name)
		}
		queries[c.Query] = c.Name
		n := len(ExpectedIDs(c, traces))
		isTrivial := n == 0 || n == len(traces)
		if isTrivial {
			trivial++
		}
		if isTrivial != Trivial[c.Name] {
			t.Errorf("%s: matches %d of %d traces; listed as trivial: %v", c.Name, n, len(traces), Trivial[c.Name])
		}
	}
	for n := range Trivial {
		if !names[n] {
			t.Errorf("Trivial names unknown case %q", n)
		}
	}
	if trivial*10 > len(Cases) {
		t.Errorf("%d of %d cases match no trace or every trace; at most 10%% may", trivial, len(Cases))
	}
	snames := map[string]bool{}
	for _, c := range SpanCases {
		if snames[c.Name] {
			t.Errorf("duplicate span case name %q", c.Name)
		}
		snames[c.Name] = true
		n := 0
		for _, tr := range traces {
			if len(c.Want(tr)) > 0 {
				n++
			}
		}
		if n == 0 || n == len(traces) {
			t.Errorf("span case %s: matches %d of %d traces", c.Name, n, len(traces))
		}
	}
	mnames := map[string]bool{}
	for _, c := range MetricsCases {
		if mnames[c.Name] {
			t.Errorf("duplicate metrics case name %q", c.Name)
		}
		mnames[c.Name] = true
		series := c.Want(traces)
		if len(series) == 0 {
			t.Errorf("%s: no series", c.Name)
		}
		nonzero := 0
		for _, s := range series {
			for _, smp := range s.Samples {
				if smp.Value != 0 {
					nonzero++
				}
			}
		}
		if nonzero < 2 {
			t.Errorf("%s: only %d non-zero samples", c.Name, nonzero)
		}
	}
}

// TestDatasetDeterministic checks that Dataset() returns equal data every
// time.
func TestDatasetDeterministic(t *testing.T) {
	var m ptrace.ProtoMarshaler
	a, err := m.MarshalTraces(Dataset())
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalTraces(Dataset())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("Dataset() differs between calls")
	}
	if ids := TraceIDs(Dataset()); len(ids) != NumTraces {
		t.Fatalf("%d trace IDs, want %d", len(ids), NumTraces)
	}
}

// TestDatasetCoverage checks that the dataset has what the cases rely on.
func TestDatasetCoverage(t *testing.T) {
	traces := Traces()
	if len(traces) != NumTraces {
		t.Fatalf("%d traces", len(traces))
	}
	have := map[string]int{}
	note := func(k string) { have[k]++ }
	for i, tr := range traces {
		if tr.ID != TraceID(i) {
			t.Fatalf("trace %d has ID %x, want %x", i, tr.ID, TraceID(i))
		}
		roots, orphans := 0, 0
		for j := range tr.Spans {
			s := &tr.Spans[j]
			if s.ParentID == ([8]byte{}) {
				roots++
			} else if s.Parent < 0 {
				orphans++
			}
			note(fmt.Sprintf("kind %d", s.Kind))
			note(fmt.Sprintf("status %d", s.StatusCode))
			if s.StatusMessage != "" {
				note(fmt.Sprintf("status %d with a message", s.StatusCode))
			}
			for _, a := range s.Attrs {
				note(fmt.Sprintf("span %v", a.Value.Type))
			}
			for _, a := range s.Resource.Attrs {
				note(fmt.Sprintf("resource %v", a.Value.Type))
			}
			for _, a := range s.Scope.Attrs {
				note(fmt.Sprintf("scope %v", a.Value.Type))
			}
			for _, e := range s.Events {
				note("event " + e.Name)
				for _, a := range e.Attrs {
					note(fmt.Sprintf("event %v", a.Value.Type))
				}
			}
			for _, l := range s.Links {
				note("link")
				for _, a := range l.Attrs {
					note(fmt.Sprintf("link %v", a.Value.Type))
				}
			}
			switch d := s.DurationNano; {
			case d < 2000:
				note("duration µs")
			case d > 10e9:
				note("duration tens of seconds")
			}
		}
		switch {
		case roots == 0:
			note("trace without root")
		case roots > 1:
			note("trace with two roots")
		}
		if roots > 0 && orphans > 0 {
			note("rooted trace with orphans")
		}
		switch n := len(tr.Spans); {
		case n == 1:
			note("single span")
		case n >= 35:
			note("35 or more spans")
		}
		if depth(tr) >= 8 {
			note("depth 8")
		}
	}
	var missing []string
	for _, k := range []string{
		"kind 0", "kind 1", "kind 2", "kind 3", "kind 4", "kind 5",
		"status 0", "status 1", "status 2", "status 1 with a message", "status 2 with a message",
		"duration µs", "duration tens of seconds",
		"event exception", "event retry", "event log", "event cache miss", "link",
		"trace without root", "trace with two roots", "rooted trace with orphans",
		"single span", "35 or more spans", "depth 8",
	} {
		if have[k] == 0 {
			missing = append(missing, k)
		}
	}
	for _, level := range []string{"span", "resource", "scope", "event", "link"} {
		for _, ty := range []traceql.Type{traceql.TypeString, traceql.TypeInt, traceql.TypeFloat, traceql.TypeBool, traceql.TypeArray} {
			if k := fmt.Sprintf("%s %v", level, ty); have[k] == 0 {
				missing = append(missing, k)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("the dataset lacks: %s", strings.Join(missing, ", "))
	}
}

func depth(tr *traceql.Trace) int {
	best := 0
	for j := range tr.Spans {
		d := 0
		for p := tr.Spans[j].Parent; p >= 0 && d <= len(tr.Spans); p = tr.Spans[p].Parent {
			d++
		}
		best = max(best, d)
	}
	return best
}
