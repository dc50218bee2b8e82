package frontend

import (
	"testing"

	"github.com/pace-tracing/pace/traceql"
)

// FuzzSearchParams: the logfmt tags= of Tempo's search API either give a
// clear error or a TraceQL query that parses; nothing panics.
func FuzzSearchParams(f *testing.F) {
	for _, s := range []string{
		`service.name=foo`, `service.name="foo bar" http.status_code=500`, `name="GET /api" status.code=error`,
		`a=true b=1.5 c=-3`, `"k"=v`, `a="unterminated`, `a= b=`, `=x`, `k="\"quoted\""`, `weird key=1`, `a.b/c-d=ü`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tags string) {
		q, err := TagsToTraceQL(tags)
		if err != nil {
			return
		}
		if _, err := traceql.Parse(q); err != nil {
			t.Fatalf("tags %q gave %q, which does not parse: %v", tags, q, err)
		}
	})
}
