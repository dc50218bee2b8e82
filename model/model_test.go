package model

import (
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestParseTraceIDAcceptsTempoForms(t *testing.T) {
	for in, want := range map[string]string{
		"0123456789abcdef0123456789ABCDEF": "0123456789abcdef0123456789abcdef",
		"abc":                              "00000000000000000000000000000abc",
		"1234567890abcdef":                 "00000000000000001234567890abcdef", // 64-bit Jaeger ID
	} {
		id, err := ParseTraceID(in)
		if err != nil || id.String() != want {
			t.Errorf("ParseTraceID(%q) = %s, %v; want %s", in, id, err, want)
		}
	}
}

func TestParseTraceIDRejectsWithReason(t *testing.T) {
	for in, want := range map[string]error{
		"":                                   ErrEmptyTraceID,
		"xyz":                                ErrTraceIDNotHex,
		"0123456789abcdef0123456789abcdef00": ErrTraceIDTooLong,
		"0000":                               ErrZeroTraceID,
	} {
		if _, err := ParseTraceID(in); !errors.Is(err, want) {
			t.Errorf("ParseTraceID(%q) error = %v, want %v", in, err, want)
		}
	}
}

func FuzzParseTraceID(f *testing.F) {
	for _, s := range []string{"", "0", "abc", strings.Repeat("f", 32), strings.Repeat("0", 33), "zz", " 12 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseTraceID(s)
		if err != nil {
			return
		}
		if id.IsZero() {
			t.Fatalf("%q parsed to the zero ID", s)
		}
		again, err := ParseTraceID(id.String())
		if err != nil || again != id {
			t.Fatalf("%q: round trip through %s failed: %v", s, id, err)
		}
	})
}

func TestValidateTenantRefusesPathTricks(t *testing.T) {
	for _, bad := range []string{"", "..", "a/b", `a\b`, strings.Repeat("x", 151)} {
		if ValidateTenant(bad) == nil {
			t.Errorf("tenant %q accepted", bad)
		}
	}
	if err := ValidateTenant("team-a"); err != nil {
		t.Errorf("team-a refused: %v", err)
	}
}

func twoSpanTrace(ids ...byte) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	ss := rs.ScopeSpans().AppendEmpty()
	for _, b := range ids {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1})
		sp.SetSpanID(pcommon.SpanID{b})
		sp.SetName("op")
	}
	return td
}

func TestCombineKeepsEverySpanOnce(t *testing.T) {
	got := Combine(twoSpanTrace(1, 2), twoSpanTrace(2, 3), twoSpanTrace(3))
	if got.SpanCount() != 3 {
		t.Fatalf("combined trace has %d spans, want 3", got.SpanCount())
	}
}

func TestDedupeRemovesRepeatedSpansInPlace(t *testing.T) {
	td := twoSpanTrace(1, 2, 1, 3, 2)
	Dedupe(td)
	if td.SpanCount() != 3 {
		t.Fatalf("deduped trace has %d spans, want 3", td.SpanCount())
	}
	td = twoSpanTrace(1, 2)
	Dedupe(td)
	if td.SpanCount() != 2 {
		t.Fatal("Dedupe changed a trace without duplicates")
	}
}

func TestMergeReportsNothingKeepsOneAndCombinesMany(t *testing.T) {
	if _, ok := Merge(nil); ok {
		t.Fatal("no parts reported as found")
	}
	one := twoSpanTrace(1, 2)
	if td, ok := Merge([]ptrace.Traces{one}); !ok || td.SpanCount() != 2 {
		t.Fatalf("one part: found=%v, %d spans", ok, td.SpanCount())
	}
	if td, ok := Merge([]ptrace.Traces{one, twoSpanTrace(2, 3)}); !ok || td.SpanCount() != 3 {
		t.Fatalf("two parts: found=%v, %d spans, want 3", ok, td.SpanCount())
	}
}

func TestTenantDefaultsAndNamesTheHeaderWhenInvalid(t *testing.T) {
	if got, err := Tenant(""); got != DefaultTenant || err != nil {
		t.Fatalf("empty: %q, %v", got, err)
	}
	if got, err := Tenant("team-a"); got != "team-a" || err != nil {
		t.Fatalf("team-a: %q, %v", got, err)
	}
	if _, err := Tenant("a/b"); err == nil || !strings.Contains(err.Error(), TenantHeader) {
		t.Fatalf("a/b: %v, want an error naming %s", err, TenantHeader)
	}
}
