// Command loadgen sends trace load to a pace (or any OTLP, Zipkin or Jaeger)
// endpoint and reports throughput, rejections and request latency.
//
// -protocol picks the wire protocol: otlp-grpc (default), otlp-http,
// zipkin-json, zipkin-proto, jaeger-thrift-http, jaeger-grpc or
// jaeger-udp-compact. The requests are the same bench/gen traces, converted
// with the OpenTelemetry collector-contrib translators.
//
// Requests are generated once up front (bench/gen), marshalled to protobuf
// and re-sent with fresh random trace IDs patched into the bytes, so the
// generator costs little CPU next to the server it measures.
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
		idsOut string
		asJSON bool
		proto  string
	)
	flag.StringVar(&proto, "protocol", string(OTLPGRPC), "wire protocol: "+protocolList())
	flag.StringVar(&cfg.Endpoint, "endpoint", "", "host:port of the protocol's receiver (default: its usual port on 127.0.0.1: 4317, 4318, 9411, 14268, 14250 or 6831)")
	flag.IntVar(&cfg.MaxDatagram, "max-datagram", 65000, "largest UDP datagram for jaeger-udp-compact (a request's spans are split per process and to fit)")
	flag.IntVar(&cfg.Clients, "clients", 4, "concurrent clients, each with its own connection and one request in flight")
	flag.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long to send")
	flag.IntVar(&cfg.TracesPerRequest, "traces-per-request", 100, "traces per export request")
	flag.IntVar(&cfg.SpansPerTrace, "spans-per-trace", 10, "spans per trace")
	flag.IntVar(&cfg.PoolSize, "pool", 64, "pre-generated requests per client")
	flag.StringVar(&cfg.Tenant, "tenant", "", "tenant sent as X-Scope-OrgID header or gRPC metadata (none if empty; not sent over UDP)")
	flag.StringVar(&idsOut, "ids-out", "", "write a random sample of accepted trace IDs (hex, one per line) to this file")
	flag.IntVar(&cfg.SampleIDs, "ids-count", 1000, "how many trace IDs -ids-out keeps")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "generator seed")
	flag.DurationVar(&cfg.RequestTimeout, "request-timeout", 30*time.Second, "per-request timeout")
	flag.DurationVar(&cfg.FailBackoff, "fail-backoff", 50*time.Millisecond, "how long a client pauses after a failed request (as exporters back off on ResourceExhausted)")
	flag.Float64Var(&cfg.Rate, "rate", 0, "spans per second over all clients (0: each client sends as fast as its requests are answered; UDP needs a rate, nothing pushes back)")
	flag.BoolVar(&asJSON, "json", false, "print the result as JSON")
	flag.Parse()
	cfg.Protocol = Protocol(proto)
	if !cfg.Protocol.valid() {
		fmt.Fprintf(os.Stderr, "loadgen: unknown -protocol %q; one of %s\n", proto, protocolList())
		os.Exit(2)
	}
	if idsOut == "" {
		cfg.SampleIDs = 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if idsOut != "" {
		if err := writeIDs(idsOut, res.SampledTraceIDs); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
	}
	if asJSON {
		_ = stats.WriteJSON(os.Stdout, res)
	} else {
		printResult(res)
	}
	if res.RequestsOK == 0 {
		os.Exit(1)
	}
}

func writeIDs(path string, ids []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, id := range ids {
		fmt.Fprintln(w, id)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func printResult(r *Result) {
	fmt.Printf("protocol            %s\n", r.Protocol)
	fmt.Printf("endpoint            %s\n", r.Endpoint)
	fmt.Printf("clients             %d  (%d traces x %d spans per request)\n", r.Clients, r.TracesPerRequest, r.SpansPerTrace)
	fmt.Printf("duration            %.1f s\n", r.DurationSeconds)
	if r.RateLimit > 0 {
		fmt.Printf("rate limit          %.0f spans/s\n", r.RateLimit)
	}
	fmt.Printf("requests ok/failed  %d / %d\n", r.RequestsOK, r.RequestsFailed)
	if r.DatagramsSent > 0 {
		fmt.Printf("datagrams sent      %d  (UDP: no acknowledgement, accepted = sent)\n", r.DatagramsSent)
	}
	fmt.Printf("spans sent          %d  (%.1f MiB)\n", r.SpansSent, float64(r.BytesSent)/(1<<20))
	fmt.Printf("spans rejected      %d\n", r.SpansRejected)
	fmt.Printf("spans accepted/s    %.0f\n", r.SpansPerSecond)
	fmt.Printf("latency p50/p99/max %.1f / %.1f / %.1f ms\n", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs)
	for _, e := range r.Errors {
		fmt.Printf("error: %s\n", e)
	}
}

func protocolList() string {
	var b strings.Builder
	for i, p := range Protocols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(p))
	}
	return b.String()
}
