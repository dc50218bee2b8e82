// Command searchbench measures search latency: it sends each query of its
// list to a pace (or Tempo) query API n times, one after another, checks
// every answer is 200 and reports p50/p99 and what the answers held.
//
// Queries are given as -search (TraceQL, /api/search with -limit), -values
// (a v2 tag name, /api/v2/search/tag/<name>/values) and -metrics
// (TraceQL metrics, /api/metrics/query_range over -since).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pace-tracing/pace/bench/internal/stats"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, "; ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// Result is one query's figures.
type Result struct {
	Kind     string  `json:"kind"`
	Query    string  `json:"query"`
	N        int     `json:"n"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	Results  int     `json:"results"` // traces, values or series in the last answer
	Failed   int     `json:"failed"`
	Inspect  uint64  `json:"inspected_traces"`
	BytesRd  string  `json:"inspected_bytes"`
	FirstErr string  `json:"first_error,omitempty"`
}

func main() {
	var (
		base, tenant string
		n, limit     int
		since        time.Duration
		searches     multi
		values       multi
		metrics      multi
		asJSON       bool
		warm         int
	)
	flag.StringVar(&base, "url", "http://127.0.0.1:3200", "query API base URL")
	flag.StringVar(&tenant, "tenant", "", "X-Scope-OrgID (none if empty)")
	flag.IntVar(&n, "n", 200, "requests per query")
	flag.IntVar(&warm, "warmup", 5, "requests per query before measuring (open files, fill caches of block footers)")
	flag.IntVar(&limit, "limit", 20, "search limit")
	flag.DurationVar(&since, "since", time.Hour, "metrics: range ending now")
	flag.Var(&searches, "search", "a TraceQL search query (repeatable)")
	flag.Var(&values, "values", "a tag whose values to list, v2 form (repeatable)")
	flag.Var(&metrics, "metrics", "a TraceQL metrics query (repeatable)")
	flag.BoolVar(&asJSON, "json", false, "print results as JSON")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client := &http.Client{Timeout: 30 * time.Second}
	var results []Result
	run := func(kind, query string, mk func() string) {
		r := Result{Kind: kind, Query: query, N: n}
		var lat []time.Duration
		for i := 0; i < warm+n && ctx.Err() == nil; i++ {
			u := mk()
			t0 := time.Now()
			body, err := get(ctx, client, u, tenant)
			d := time.Since(t0)
			if i < warm {
				continue
			}
			if err != nil {
				r.Failed++
				if r.FirstErr == "" {
					r.FirstErr = err.Error()
				}
				continue
			}
			lat = append(lat, d)
			r.Results, r.Inspect, r.BytesRd = count(body)
		}
		slices.Sort(lat)
		r.P50Ms, r.P99Ms = stats.Ms(stats.Quantile(lat, 0.5)), stats.Ms(stats.Quantile(lat, 0.99))
		if len(lat) > 0 {
			r.MaxMs = stats.Ms(lat[len(lat)-1])
		}
		results = append(results, r)
	}
	for _, q := range searches {
		run("search", q, func() string {
			return fmt.Sprintf("%s/api/search?q=%s&limit=%d", base, url.QueryEscape(q), limit)
		})
	}
	for _, t := range values {
		run("tag-values", t, func() string {
			return fmt.Sprintf("%s/api/v2/search/tag/%s/values", base, url.PathEscape(t))
		})
	}
	for _, q := range metrics {
		run("metrics", q, func() string {
			end := time.Now()
			return fmt.Sprintf("%s/api/metrics/query_range?q=%s&start=%d&end=%d", base, url.QueryEscape(q), end.Add(-since).Unix(), end.Unix())
		})
	}
	if asJSON {
		_ = stats.WriteJSON(os.Stdout, results)
	} else {
		for _, r := range results {
			fmt.Printf("%-10s %-70s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  results %d  inspected traces %d bytes %s  failed %d %s\n",
				r.Kind, r.Query, r.P50Ms, r.P99Ms, r.MaxMs, r.Results, r.Inspect, r.BytesRd, r.Failed, r.FirstErr)
		}
	}
	for _, r := range results {
		if r.Failed > 0 {
			os.Exit(1)
		}
	}
}

func get(ctx context.Context, c *http.Client, u, tenant string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// count reads how many results an answer holds and what it inspected.
func count(body []byte) (int, uint64, string) {
	var r struct {
		Traces    []json.RawMessage `json:"traces"`
		TagValues []json.RawMessage `json:"tagValues"`
		Series    []json.RawMessage `json:"series"`
		Metrics   struct {
			InspectedTraces uint64 `json:"inspectedTraces"`
			InspectedBytes  string `json:"inspectedBytes"`
		} `json:"metrics"`
	}
	if json.Unmarshal(body, &r) != nil {
		return 0, 0, ""
	}
	return len(r.Traces) + len(r.TagValues) + len(r.Series), r.Metrics.InspectedTraces, r.Metrics.InspectedBytes
}
