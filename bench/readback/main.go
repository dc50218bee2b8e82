// Command readback measures trace-by-ID latency: it fetches a random sample
// of trace IDs (written by loadgen -ids-out) one after another from
// GET /api/traces/<id> and checks each answer is 200 with the expected
// number of spans, all of that trace.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pace-tracing/pace/bench/internal/stats"
)

func main() {
	var (
		cfg    Config
		idsIn  string
		asJSON bool
	)
	flag.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:3200", "pace HTTP base URL")
	flag.StringVar(&cfg.Path, "path", "/api/traces/", "trace-by-ID path prefix")
	flag.StringVar(&idsIn, "ids", "", "file of hex trace IDs, one per line (loadgen -ids-out)")
	flag.IntVar(&cfg.N, "n", 200, "how many IDs to fetch (a random sample; all if fewer)")
	flag.IntVar(&cfg.SpansPerTrace, "spans-per-trace", 10, "spans every trace must have (0: don't check)")
	flag.StringVar(&cfg.Format, "format", "json", "response format to ask for: json or protobuf")
	flag.StringVar(&cfg.Tenant, "tenant", "", "X-Scope-OrgID header (none if empty)")
	flag.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "sampling seed (0: random)")
	flag.BoolVar(&asJSON, "json", false, "print the result as JSON")
	flag.Parse()
	if idsIn == "" {
		fmt.Fprintln(os.Stderr, "readback: -ids is required")
		os.Exit(2)
	}
	ids, err := readIDs(idsIn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "readback:", err)
		os.Exit(1)
	}
	cfg.IDs = ids

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "readback:", err)
		os.Exit(1)
	}
	if asJSON {
		_ = stats.WriteJSON(os.Stdout, res)
	} else {
		fmt.Printf("trace-by-ID %s%s<id> (%s)\n", cfg.BaseURL, cfg.Path, cfg.Format)
		fmt.Printf("requests ok/failed  %d / %d\n", res.OK, res.Failed)
		fmt.Printf("latency p50/p99/max %.1f / %.1f / %.1f ms (mean %.1f)\n", res.P50Ms, res.P99Ms, res.MaxMs, res.MeanMs)
		for _, e := range res.Errors {
			fmt.Println("error:", e)
		}
	}
	if res.Failed > 0 || res.OK == 0 {
		os.Exit(1)
	}
}

func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			ids = append(ids, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s holds no trace IDs", path)
	}
	return ids, nil
}
