package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pace-tracing/pace/coordinator"
	"github.com/pace-tracing/pace/up"
)

func runUp(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pace up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o up.Options
	fs.StringVar(&o.Mode, "mode", coordinator.ModeMonolithic, "Deployment mode: monolithic (3 × all), minimal-microservices, recommended-microservices.")
	fs.StringVar(&o.DataDir, "data", "./pace-data", "Directory of the blocks, every worker's WAL and the logs.")
	fs.IntVar(&o.PortOffset, "port-offset", 0, "Added to every access-point port (3200, 4317, ...).")
	fs.IntVar(&o.WorkerPortBase, "worker-port-base", 10000, "Port offset of the first worker; each next one adds 100.")
	fs.StringVar(&o.S3.Endpoint, "s3-endpoint", "", "host:port of an S3 store to use instead of the local disk.")
	fs.StringVar(&o.S3.Bucket, "s3-bucket", "pace", "S3 bucket (must exist).")
	fs.StringVar(&o.S3.Region, "s3-region", "", "S3 region.")
	fs.StringVar(&o.S3.AccessKey, "s3-access-key", "", "S3 access key.")
	fs.StringVar(&o.S3.SecretKey, "s3-secret-key", "", "S3 secret key.")
	fs.BoolVar(&o.S3.Insecure, "s3-insecure", false, "Plain http to S3.")
	fs.DurationVar(&o.ReadyTimeout, "timeout", time.Minute, "Longest the start may take.")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pace up: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "pace up: %s, data in %s\n", o.Mode, o.DataDir)
	c, err := up.Start(o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "pace up: %v\n", err)
		return 1
	}
	if err := c.WaitReady(ctx); err != nil {
		c.Stop()
		if ctx.Err() != nil {
			fmt.Fprintln(stdout, "pace up: stopped")
			return 0
		}
		fmt.Fprintf(stderr, "pace up: %v\n", err)
		return 1
	}
	c.PrintEndpoints()
	if err := c.Wait(ctx); err != nil {
		fmt.Fprintf(stderr, "pace up: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "pace up: stopped; data kept in", o.DataDir)
	return 0
}
