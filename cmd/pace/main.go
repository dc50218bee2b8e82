// Command pace is the whole of pace in one binary: a tracing backend with
// Tempo's API, and (in later releases) its coordinator and workers.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pace-tracing/pace/app"
)

const usage = `pace — distributed tracing with high availability built in

Usage:
  pace up [--mode M] [--data DIR]                       a whole cluster on this machine (coordinator + workers)
  pace render --mode M --format kubernetes|compose (--s3-endpoint ... | --minio) [--out DIR]
                                                        deployment manifests for the three modes
  pace server [-config.file F] [-target all] [flags]   run pace in one process
  pace coordinator [-config.file F] [flags]             run a coordinator: registry, status, access point
  pace worker --coordinator URL --role R[,R...] --data DIR
                                                        run a worker of a coordinated cluster
  pace status [--coordinator URL] [--json]              the cluster's status and workers
  pace receivers [--coordinator URL] [--json]           the ingest URL of every enabled protocol
  pace version                                          print the build information

Run 'pace server -h' for every flag.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "server":
		os.Exit(runServer(os.Args[2:], os.Stdout, os.Stderr))
	case "up":
		os.Exit(runUp(os.Args[2:], os.Stdout, os.Stderr))
	case "render":
		os.Exit(runRender(os.Args[2:], os.Stdout, os.Stderr))
	case "coordinator":
		os.Exit(runCoordinator(os.Args[2:], os.Stdout, os.Stderr))
	case "worker":
		os.Exit(runWorker(os.Args[2:], os.Stderr))
	case "status":
		os.Exit(runStatus(os.Args[2:], os.Stdout, os.Stderr))
	case "receivers":
		os.Exit(runReceivers(os.Args[2:], os.Stdout, os.Stderr))
	case "version", "-version", "--version":
		bi := app.GetBuildInfo()
		fmt.Printf("pace %s (revision %s, %s)\n", bi.Version, bi.Revision, bi.GoVersion)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "pace: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}

func runServer(args []string, stdout, stderr io.Writer) int {
	cfg, err := app.Load(args)
	if err != nil {
		if err.Error() == "flag: help requested" {
			return 0
		}
		fmt.Fprintf(stderr, "pace server: %v\n", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Server.LogLevel)); err != nil {
		fmt.Fprintf(stderr, "pace server: log.level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := app.New(cfg, log)
	err = a.Run(ctx, func() { printEndpoints(stdout, cfg, a.HTTPAddr()) })
	if err != nil {
		log.Error("pace server stopped with an error", "err", err)
		return 1
	}
	log.Info("pace server stopped cleanly")
	return 0
}

func printEndpoints(w io.Writer, cfg *app.Config, httpAddr string) {
	host := func(addr string) string {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return addr
		}
		if h == "" || h == "0.0.0.0" || h == "::" {
			h = "localhost"
		}
		return net.JoinHostPort(h, p)
	}
	r := cfg.Distributor.Receivers
	var b strings.Builder
	fmt.Fprintf(&b, "pace %s is ready (target %s, storage %s)\n", app.Version, cfg.Target, cfg.Storage.Trace.Backend)
	for _, e := range []struct{ name, endpoint, format string }{
		{"OTLP gRPC", r.OTLP.Protocols.GRPC.Endpoint, "%s"},
		{"OTLP HTTP", r.OTLP.Protocols.HTTP.Endpoint, "http://%s/v1/traces"},
		{"Jaeger gRPC", r.Jaeger.Protocols.GRPC.Endpoint, "%s"},
		{"Jaeger HTTP", r.Jaeger.Protocols.ThriftHTTP.Endpoint, "http://%s/api/traces"},
		{"Jaeger UDP", r.Jaeger.Protocols.ThriftCompact.Endpoint, "%s (thrift compact)"},
		{"Jaeger UDP", r.Jaeger.Protocols.ThriftBinary.Endpoint, "%s (thrift binary)"},
		{"Zipkin", r.Zipkin.Endpoint, "http://%s/api/v2/spans"},
	} {
		if e.endpoint != "" {
			fmt.Fprintf(&b, "  %-13s "+e.format+"\n", e.name, host(e.endpoint))
		}
	}
	fmt.Fprintf(&b, "  Query (Tempo) http://%s   (Grafana Tempo data source URL)\n", host(httpAddr))
	fmt.Fprintf(&b, "  Trace by ID   http://%s/api/traces/<trace-id>\n", host(httpAddr))
	fmt.Fprintf(&b, "  Metrics       http://%s/metrics\n", host(httpAddr))
	if cfg.Storage.Trace.Backend == "local" {
		fmt.Fprintf(&b, "  Data          %s (blocks), %s (WAL)\n", cfg.Storage.Trace.Local.Path, cfg.Storage.Trace.WAL.Path)
	}
	_, _ = io.WriteString(w, b.String())
}
