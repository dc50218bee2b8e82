package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pace-tracing/pace/coordinator"
	"github.com/pace-tracing/pace/worker"
)

func newLogger(stderr io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l})), nil
}

func runCoordinator(args []string, stdout, stderr io.Writer) int {
	cfg, err := coordinator.Load(args)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "pace coordinator: %v\n", err)
		return 2
	}
	log, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "pace coordinator: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := coordinator.New(cfg, log)
	// SIGHUP re-reads the configuration (as Prometheus does).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			next, err := coordinator.Load(args)
			if err != nil {
				log.Error("configuration not reloaded", "err", err)
				continue
			}
			c.Reload(next)
		}
	}()
	err = c.Run(ctx, func() {
		fmt.Fprintf(stdout, "pace coordinator is listening: status http://%s:%d/api/v1/status\n", cfg.PublicAddress, 3200+cfg.PortOffset)
	})
	if err != nil {
		log.Error("pace coordinator stopped with an error", "err", err)
		return 1
	}
	return 0
}

func runWorker(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("pace worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg worker.Config
	var coords, roles, level string
	fs.StringVar(&coords, "coordinator", "", "Coordinator URL(s), comma-separated: one per coordinator replica.")
	fs.StringVar(&roles, "role", "", "Comma-separated roles: all, distributor, ingester, querier, query-frontend, compactor, metrics-generator.")
	fs.StringVar(&cfg.Name, "name", "", "Worker name (default: host name and HTTP port).")
	fs.StringVar(&cfg.Address, "address", "", "Host other processes reach this worker at (default: the bind address, or the host name).")
	fs.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "Address the worker's servers listen on.")
	fs.IntVar(&cfg.PortOffset, "port-offset", 0, "Added to every default port (3200, 9095, 7946, 4317, ...).")
	fs.StringVar(&cfg.DataDir, "data", "./pace-worker-data", "Directory of the worker's WAL.")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", 2*time.Second, "How long /ready fails before the roles stop on a restart or shutdown.")
	fs.StringVar(&level, "log.level", "info", "Log level: debug, info, warn, error.")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if coords != "" {
		cfg.Coordinators = strings.Split(coords, ",")
	}
	if roles != "" {
		cfg.Roles = strings.Split(roles, ",")
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "pace worker: %v\n", err)
		return 2
	}
	log, err := newLogger(stderr, level)
	if err != nil {
		fmt.Fprintf(stderr, "pace worker: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := worker.New(cfg, log.With("worker", cfg.Name)).Run(ctx); err != nil {
		log.Error("pace worker stopped with an error", "err", err)
		return 1
	}
	return 0
}

func coordinatorFlag(name string, args []string, stderr io.Writer) (string, bool, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("coordinator", "http://localhost:3200", "Coordinator URL.")
	asJSON := fs.Bool("json", false, "Print the API's JSON.")
	if err := fs.Parse(args); err != nil {
		return "", false, false
	}
	return *url, *asJSON, true
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	url, asJSON, ok := coordinatorFlag("pace status", args, stderr)
	if !ok {
		return 2
	}
	s, err := coordinator.Client{URL: url}.Status(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "pace status: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
		return 0
	}
	printStatus(stdout, s)
	if s.Status != coordinator.Active {
		return 3
	}
	return 0
}

func printStatus(w io.Writer, s coordinator.Status) {
	line := s.Status
	if s.Message != "" {
		line += ": " + s.Message
	}
	fmt.Fprintf(w, "status: %s\n", line)
	for _, m := range s.Messages[min(1, len(s.Messages)):] {
		fmt.Fprintf(w, "        %s\n", m)
	}
	fmt.Fprintf(w, "storage: %s\n\n", s.Storage)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tADDRESS\tROLES\tSTATE\tCONFIG\tVERSION")
	for _, wk := range s.Workers {
		state := wk.State
		if wk.Reason != "" {
			state += " (" + wk.Reason + ")"
		}
		cfg := wk.ConfigVersion
		if cfg == "" {
			cfg = "-"
		}
		if wk.TargetConfigVersion != "" && wk.TargetConfigVersion != wk.ConfigVersion {
			cfg += " -> " + wk.TargetConfigVersion
		}
		fmt.Fprintf(tw, "%s\t%s:%d\t%s\t%s\t%s\t%s\n", wk.Name, wk.Address, wk.Ports[coordinator.PortHTTP], strings.Join(wk.Roles, ","), state, cfg, wk.Version)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tWORKERS")
	for _, r := range []string{"distributor", "ingester", "querier", "query-frontend", "compactor", "metrics-generator"} {
		fmt.Fprintf(tw, "%s\t%d\n", r, s.Roles[r])
	}
	_ = tw.Flush()
}

func runReceivers(args []string, stdout, stderr io.Writer) int {
	url, asJSON, ok := coordinatorFlag("pace receivers", args, stderr)
	if !ok {
		return 2
	}
	r, err := coordinator.Client{URL: url}.Receivers(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "pace receivers: %v\n", err)
		return 1
	}
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(r)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range r.Receivers {
		fmt.Fprintf(tw, "%s\t%s\n", e.Protocol, e.URL)
	}
	_ = tw.Flush()
	if !r.Ready {
		fmt.Fprintln(stdout, "(not ready: the cluster is not coherent yet; see pace status)")
	}
	return 0
}
