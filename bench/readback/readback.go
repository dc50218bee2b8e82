package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pace-tracing/pace/bench/internal/stats"
	"github.com/pace-tracing/pace/model"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Config is one readback run.
type Config struct {
	BaseURL       string
	Path          string
	IDs           []string
	N             int
	SpansPerTrace int
	Format        string // json or protobuf
	Tenant        string
	Timeout       time.Duration
	Seed          uint64
}

// Result is what a readback run measured.
type Result struct {
	Requests int      `json:"requests"`
	OK       int      `json:"ok"`
	Failed   int      `json:"failed"`
	Errors   []string `json:"errors,omitempty"`
	P50Ms    float64  `json:"p50_ms"`
	P99Ms    float64  `json:"p99_ms"`
	MaxMs    float64  `json:"max_ms"`
	MeanMs   float64  `json:"mean_ms"`
}

const maxErrors = 5

// Run fetches a random sample of cfg.IDs one after another.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Format != "json" && cfg.Format != "protobuf" {
		return nil, fmt.Errorf("unknown format %q (json or protobuf)", cfg.Format)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	ids := slices.Clone(cfg.IDs)
	rng := rand.New(rand.NewPCG(seed, 7))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	if cfg.N > 0 && cfg.N < len(ids) {
		ids = ids[:cfg.N]
	}

	client := &http.Client{Timeout: cfg.Timeout}
	base := strings.TrimRight(cfg.BaseURL, "/")
	// Open the keep-alive connection first so the first sample doesn't pay for it.
	if resp, err := client.Get(base + "/ready"); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	res := &Result{}
	var lat []time.Duration
	var total time.Duration
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		n, err := fetch(ctx, client, base+cfg.Path+id, id, cfg)
		d := time.Since(t0)
		res.Requests++
		lat = append(lat, d)
		total += d
		if err == nil && cfg.SpansPerTrace > 0 && n != cfg.SpansPerTrace {
			err = fmt.Errorf("%d spans, want %d", n, cfg.SpansPerTrace)
		}
		if err != nil {
			res.Failed++
			if len(res.Errors) < maxErrors {
				res.Errors = append(res.Errors, id+": "+err.Error())
			}
			continue
		}
		res.OK++
	}
	slices.Sort(lat)
	res.P50Ms = stats.Ms(stats.Quantile(lat, 0.50))
	res.P99Ms = stats.Ms(stats.Quantile(lat, 0.99))
	if len(lat) > 0 {
		res.MaxMs = stats.Ms(lat[len(lat)-1])
		res.MeanMs = stats.Ms(total / time.Duration(len(lat)))
	}
	return res, nil
}

// fetch gets one trace and returns its span count, checking every span
// belongs to the trace asked for.
func fetch(ctx context.Context, client *http.Client, url, id string, cfg Config) (int, error) {
	want, err := hex.DecodeString(id)
	if err != nil || len(want) != 16 {
		return 0, errors.New("not a 32-digit hex trace ID")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if cfg.Format == "protobuf" {
		req.Header.Set("Accept", "application/protobuf")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if cfg.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", cfg.Tenant)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	if cfg.Format == "protobuf" {
		return countProto(body, [16]byte(want))
	}
	return countJSON(body, [16]byte(want))
}

// countProto counts spans in a protobuf tempopb.Trace, whose field 1
// (batches, ResourceSpans) has the same wire form as OTLP TracesData.
func countProto(body []byte, want [16]byte) (int, error) {
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
	if err != nil {
		return 0, fmt.Errorf("decoding protobuf trace: %w", err)
	}
	n := 0
	err = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
		if got := [16]byte(sp.TraceID()); got != want {
			return fmt.Errorf("span of trace %x in answer", got)
		}
		n++
		return nil
	})
	return n, err
}

// countJSON counts spans in a JSON trace, whatever its envelope: Tempo v1
// {"batches":[...]}, OTLP {"resourceSpans":[...]}, v2 {"trace":{...}},
// scopeSpans or instrumentationLibrarySpans. Every array under a "spans"
// key holds spans; their traceId may be hex (OTLP JSON) or base64 (gogo
// jsonpb).
func countJSON(body []byte, want [16]byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, fmt.Errorf("decoding JSON trace: %w", err)
	}
	n := 0
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if spans, ok := c.([]any); ok && k == "spans" {
					for _, s := range spans {
						if err := checkSpanID(s, want); err != nil {
							return err
						}
						n++
					}
					continue
				}
				if err := walk(c); err != nil {
					return err
				}
			}
		case []any:
			for _, c := range x {
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(v); err != nil {
		return 0, err
	}
	return n, nil
}

func checkSpanID(span any, want [16]byte) error {
	m, ok := span.(map[string]any)
	if !ok {
		return errors.New("span is not a JSON object")
	}
	s, _ := m["traceId"].(string)
	if s == "" {
		s, _ = m["trace_id"].(string)
	}
	if s == "" {
		return nil // envelope without per-span IDs
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == 16 && [16]byte(b) == want {
		return nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 16 && [16]byte(b) == want {
		return nil
	}
	return fmt.Errorf("span with traceId %q in answer", s)
}
