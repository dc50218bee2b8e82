package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/pace-tracing/pace/traceql"
	"github.com/pace-tracing/pace/traceql/conformance"
)

// searchJSON is the part of Tempo's /api/search answer the tests read.
type searchJSON struct {
	Traces []struct {
		TraceID           string `json:"traceID"`
		RootServiceName   string `json:"rootServiceName"`
		RootTraceName     string `json:"rootTraceName"`
		StartTimeUnixNano string `json:"startTimeUnixNano"`
		DurationMs        int    `json:"durationMs"`
		SpanSets          []struct {
			Spans []struct {
				SpanID     string `json:"spanID"`
				Attributes []struct {
					Key   string         `json:"key"`
					Value map[string]any `json:"value"`
				} `json:"attributes"`
			} `json:"spans"`
			Matched int `json:"matched"`
		} `json:"spanSets"`
	} `json:"traces"`
	Metrics struct {
		InspectedTraces int    `json:"inspectedTraces"`
		InspectedBytes  string `json:"inspectedBytes"`
		TotalJobs       int    `json:"totalJobs"`
		CompletedJobs   int    `json:"completedJobs"`
	} `json:"metrics"`
}

// sendDataset sends the conformance dataset over OTLP gRPC.
func sendDataset(t *testing.T, s *Server, tenant string, td ptrace.Traces) {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	var data tracepb.TracesData
	if err := proto.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GRPCExport(t, tenant, &data); err != nil {
		t.Fatalf("sending the dataset: %v", err)
	}
}

// datasetRange covers the dataset and ends now, so the ingesters are asked.
func datasetRange() url.Values {
	v := url.Values{}
	v.Set("start", strconv.FormatInt(conformance.Base.Add(-time.Hour).Unix(), 10))
	v.Set("end", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
	return v
}

func (s *Server) search(t *testing.T, tenant string, q url.Values) (searchJSON, int, string) {
	t.Helper()
	resp, body := s.Do(t, http.MethodGet, "/api/search?"+q.Encode(), tenant, nil, nil)
	var out searchJSON
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("search answer is not JSON: %v: %s", err, truncate(body))
		}
	}
	return out, resp.StatusCode, string(body)
}

// runConformance checks every conformance case against the server.
func runConformance(t *testing.T, s *Server, where string) {
	traces := conformance.Traces()
	failed := 0
	for _, c := range conformance.Cases {
		want := conformance.ExpectedIDs(c, traces)
		q := datasetRange()
		q.Set("q", c.Query)
		q.Set("limit", "100000")
		got, code, body := s.search(t, "", q)
		if code != http.StatusOK {
			t.Errorf("%s: %s: %q answered %d: %s", where, c.Name, c.Query, code, body)
			failed++
			continue
		}
		var ids []string
		for _, tr := range got.Traces {
			ids = append(ids, tr.TraceID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			failed++
			t.Errorf("%s: %s: %q found %d traces, want %d (missing %v, extra %v)", where, c.Name, c.Query, len(ids), len(want),
				minus(want, ids), minus(ids, want))
		}
	}
	t.Logf("%s: %d of %d TraceQL conformance queries give the expected traces", where, len(conformance.Cases)-failed, len(conformance.Cases))
	runMetricsConformance(t, s, where)
}

// runMetricsConformance checks every metrics case through
// /api/metrics/query_range. The range ends now (so the ingesters are
// asked); samples after the dataset's hour are dropped before comparing.
func runMetricsConformance(t *testing.T, s *Server, where string) {
	traces := conformance.Traces()
	failed := 0
	for _, c := range conformance.MetricsCases {
		r := c.Range()
		q := url.Values{}
		q.Set("q", c.Query)
		q.Set("start", strconv.FormatUint(r.Start, 10))
		q.Set("end", strconv.FormatInt(time.Now().UnixNano(), 10))
		q.Set("step", time.Duration(r.Step).String())
		resp, body := s.Do(t, http.MethodGet, "/api/metrics/query_range?"+q.Encode(), "", nil, nil)
		if resp.StatusCode != http.StatusOK {
			failed++
			t.Errorf("%s: %s: %q answered %d: %s", where, c.Name, c.Query, resp.StatusCode, truncate(body))
			continue
		}
		got, err := seriesFromJSON(body, int64(r.End/1e6))
		if err != nil {
			failed++
			t.Errorf("%s: %s: %v: %s", where, c.Name, err, truncate(body))
			continue
		}
		if diffs := conformance.CompareSeries(got, rendered(c.Want(traces)), c.Tolerance); len(diffs) > 0 {
			failed++
			t.Errorf("%s: %s: %q:\n%s", where, c.Name, c.Query, strings.Join(diffs, "\n"))
		}
	}
	t.Logf("%s: %d of %d TraceQL metrics queries give the expected series", where, len(conformance.MetricsCases)-failed, len(conformance.MetricsCases))
}

// rendered is what the JSON API makes of label values: statuses and kinds
// are strings there, as in Tempo's answers.
func rendered(series []traceql.Series) []traceql.Series {
	for i := range series {
		for j, l := range series[i].Labels {
			switch l.Value.Type {
			case traceql.TypeStatus:
				series[i].Labels[j].Value = traceql.Value{Type: traceql.TypeString, S: traceql.StatusNames[l.Value.I]}
			case traceql.TypeKind:
				series[i].Labels[j].Value = traceql.Value{Type: traceql.TypeString, S: traceql.KindNames[l.Value.I]}
			}
		}
	}
	return series
}

// seriesFromJSON reads Tempo's query_range answer, keeping samples before
// untilMs; a series left without samples is dropped.
func seriesFromJSON(body []byte, untilMs int64) ([]traceql.Series, error) {
	var out struct {
		Series []struct {
			Labels []struct {
				Key   string         `json:"key"`
				Value map[string]any `json:"value"`
			} `json:"labels"`
			Samples []struct {
				TimestampMs string  `json:"timestampMs"`
				Value       float64 `json:"value"`
			} `json:"samples"`
		} `json:"series"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	var series []traceql.Series
	for _, js := range out.Series {
		var s traceql.Series
		for _, l := range js.Labels {
			v, err := valueFromJSON(l.Value)
			if err != nil {
				return nil, fmt.Errorf("label %s: %w", l.Key, err)
			}
			s.Labels = append(s.Labels, traceql.Attr{Key: l.Key, Value: v})
		}
		for _, p := range js.Samples {
			ts, err := strconv.ParseInt(p.TimestampMs, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("timestampMs %q: %w", p.TimestampMs, err)
			}
			if ts < untilMs {
				s.Samples = append(s.Samples, traceql.Sample{TimestampMs: ts, Value: p.Value})
			}
		}
		if len(s.Samples) > 0 {
			series = append(series, s)
		}
	}
	return series, nil
}

func valueFromJSON(m map[string]any) (traceql.Value, error) {
	for k, v := range m {
		switch k {
		case "stringValue":
			return traceql.Value{Type: traceql.TypeString, S: v.(string)}, nil
		case "intValue":
			n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64)
			return traceql.Value{Type: traceql.TypeInt, I: n}, err
		case "doubleValue":
			f, ok := v.(float64)
			if !ok {
				return traceql.Value{}, fmt.Errorf("doubleValue %v", v)
			}
			return traceql.Value{Type: traceql.TypeFloat, F: f}, nil
		case "boolValue":
			return traceql.Value{Type: traceql.TypeBool, B: v == true}, nil
		}
	}
	return traceql.Value{}, nil
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
			if len(out) == 5 {
				break
			}
		}
	}
	return out
}

// TestTraceQLConformance runs the conformance suite over data held by the
// ingester, then over the same data in blocks only (after a flush and a
// restart, so nothing is left in memory).
func TestTraceQLConformance(t *testing.T) {
	s := StartServer(t, ServerOptions{})
	sendDataset(t, s, "", conformance.Dataset())
	runConformance(t, s, "in the ingester")
	s.Flush(t)
	s.Restart()
	runConformance(t, s, "in blocks")
}

// TestSearchAPIShapes checks the answers a Grafana Tempo data source reads:
// the search result fields, tags by scope and typed tag values, and the
// errors for bad requests.
func TestSearchAPIShapes(t *testing.T) {
	s := StartServer(t, ServerOptions{})
	sendDataset(t, s, "", conformance.Dataset())
	traces := conformance.Traces()
	for _, phase := range []string{"ingester", "blocks"} {
		if phase == "blocks" {
			s.Flush(t)
			s.Restart()
		}
		t.Run(phase, func(t *testing.T) {
			q := datasetRange()
			q.Set("q", `{ resource.service.name = "foo" }`)
			q.Set("limit", "5")
			q.Set("spss", "2")
			got, code, body := s.search(t, "", q)
			if code != http.StatusOK || len(got.Traces) != 5 {
				t.Fatalf("search answered %d with %d traces, want 200 with 5 (the limit): %s", code, len(got.Traces), body)
			}
			byID := map[string]int{}
			for i := range traces {
				byID[fmt.Sprintf("%x", traces[i].ID)] = i
			}
			for _, tr := range got.Traces {
				i, ok := byID[tr.TraceID]
				if !ok {
					t.Fatalf("search returned unknown trace %s", tr.TraceID)
				}
				want := traces[i]
				if tr.RootServiceName != want.RootServiceName || tr.RootTraceName != want.RootSpanName {
					t.Errorf("trace %s: root %q/%q, want %q/%q", tr.TraceID, tr.RootServiceName, tr.RootTraceName, want.RootServiceName, want.RootSpanName)
				}
				if tr.StartTimeUnixNano != strconv.FormatUint(want.StartTimeUnixNano, 10) || tr.DurationMs != int(want.DurationNano/1e6) {
					t.Errorf("trace %s: start %s duration %d ms, want %d and %d", tr.TraceID, tr.StartTimeUnixNano, tr.DurationMs, want.StartTimeUnixNano, want.DurationNano/1e6)
				}
				if len(tr.SpanSets) != 1 || len(tr.SpanSets[0].Spans) == 0 || len(tr.SpanSets[0].Spans) > 2 {
					t.Errorf("trace %s: span sets %+v, want one with 1-2 spans (spss=2)", tr.TraceID, tr.SpanSets)
					continue
				}
				sp := tr.SpanSets[0].Spans[0]
				if len(sp.Attributes) == 0 || sp.Attributes[0].Key != "service.name" || sp.Attributes[0].Value["stringValue"] != "foo" {
					t.Errorf("trace %s: matched span attributes %+v, want service.name = foo", tr.TraceID, sp.Attributes)
				}
			}
			if got.Metrics.InspectedTraces == 0 || got.Metrics.TotalJobs == 0 {
				t.Errorf("metrics %+v: want inspected traces and jobs", got.Metrics)
			}

			// Tags, v1 and v2, every scope.
			resp, b := s.Do(t, http.MethodGet, "/api/v2/search/tags?"+datasetRange().Encode(), "", nil, nil)
			var v2 struct {
				Scopes []struct {
					Name string   `json:"name"`
					Tags []string `json:"tags"`
				} `json:"scopes"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(b, &v2) != nil {
				t.Fatalf("v2 tags: %d %s", resp.StatusCode, b)
			}
			scopes := map[string][]string{}
			for _, sc := range v2.Scopes {
				scopes[sc.Name] = sc.Tags
			}
			for scope, key := range map[string]string{"span": "http.status_code", "resource": "service.name", "event": "exception.type", "link": "relation", "instrumentation": "scope.tier", "intrinsic": "duration"} {
				if !slices.Contains(scopes[scope], key) {
					t.Errorf("v2 tags: scope %s = %v, want it to hold %q", scope, scopes[scope], key)
				}
				q := datasetRange()
				q.Set("scope", scope)
				resp, b := s.Do(t, http.MethodGet, "/api/v2/search/tags?"+q.Encode(), "", nil, nil)
				if resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"`+scope+`"`) || !strings.Contains(string(b), strconv.Quote(key)) {
					t.Errorf("v2 tags scope=%s: %d %s", scope, resp.StatusCode, truncate(b))
				}
			}
			resp, b = s.Do(t, http.MethodGet, "/api/search/tags?"+datasetRange().Encode(), "", nil, nil)
			var v1 struct {
				TagNames []string `json:"tagNames"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(b, &v1) != nil || !slices.Contains(v1.TagNames, "service.name") || !slices.Contains(v1.TagNames, "http.status_code") {
				t.Errorf("v1 tags: %d %s", resp.StatusCode, truncate(b))
			}

			// Typed tag values, unfiltered and filtered by q.
			resp, b = s.Do(t, http.MethodGet, "/api/v2/search/tag/resource.service.name/values?"+datasetRange().Encode(), "", nil, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `{"type":"string","value":"foo"}`) {
				t.Errorf("v2 values of resource.service.name: %d %s", resp.StatusCode, truncate(b))
			}
			resp, b = s.Do(t, http.MethodGet, "/api/v2/search/tag/span.http.status_code/values?"+datasetRange().Encode(), "", nil, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `{"type":"int","value":"500"}`) {
				t.Errorf("v2 values of span.http.status_code: %d %s", resp.StatusCode, truncate(b))
			}
			resp, b = s.Do(t, http.MethodGet, "/api/v2/search/tag/status/values", "", nil, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `{"type":"keyword","value":"error"}`) {
				t.Errorf("v2 values of status: %d %s", resp.StatusCode, truncate(b))
			}
			resp, b = s.Do(t, http.MethodGet, "/api/search/tag/service.name/values?"+datasetRange().Encode(), "", nil, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"foo"`) {
				t.Errorf("v1 values of service.name: %d %s", resp.StatusCode, truncate(b))
			}
			q = datasetRange()
			q.Set("q", `{ resource.service.name = "foo" }`)
			resp, b = s.Do(t, http.MethodGet, "/api/v2/search/tag/resource.service.name/values?"+q.Encode(), "", nil, nil)
			var vals struct {
				TagValues []struct{ Type, Value string } `json:"tagValues"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(b, &vals) != nil || len(vals.TagValues) != 1 || vals.TagValues[0].Value != "foo" {
				t.Errorf("values of resource.service.name filtered to foo: %d %s", resp.StatusCode, truncate(b))
			}
		})
	}

	// Bad requests: 400 naming the problem.
	for _, c := range []struct{ path, want string }{
		{"/api/search?q=" + url.QueryEscape(`{ span.foo = }`), "line 1, col"},
		{"/api/search?q=" + url.QueryEscape(`{ .a = 1 } | rate()`), "metrics"},
		{"/api/search?limit=x", "limit"},
		{"/api/search?minDuration=fast", "minDuration"},
		{"/api/search?start=20&end=10", "end is before start"},
		{"/api/search?tags=" + url.QueryEscape(`a="unterminated`), "tags"},
		{"/api/v2/search/tags?scope=bogus", "scope"},
		{"/api/metrics/query_range?q=" + url.QueryEscape(`{ }`), "metrics"},
		{"/api/metrics/query_range", "q is required"},
	} {
		resp, b := s.Do(t, http.MethodGet, c.path, "", nil, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), c.want) {
			t.Errorf("GET %s: %d %q, want 400 mentioning %q", c.path, resp.StatusCode, b, c.want)
		}
	}
}
