package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/deploy"
)

const renderUsage = `Usage: pace render --mode M --format kubernetes|compose (--s3-endpoint HOST:PORT --s3-bucket B ... | --minio) [flags]

Writes the manifests of a pace cluster: a coordinator and the workers of a
mode, on an existing S3 store or on a bundled demo MinIO. Without --out
they are printed (one multi-document YAML, or one compose file).

Flags:
`

// runRender is `pace render`.
func runRender(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pace render", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported on one line below
	var o deploy.Options
	var s3 deploy.S3
	var out string
	fs.StringVar(&o.Mode, "mode", deploy.Monolithic, "Deployment mode: "+strings.Join(deploy.Modes(), ", ")+".")
	fs.StringVar(&o.Format, "format", deploy.Kubernetes, "Output format: "+strings.Join(deploy.Formats(), ", ")+".")
	fs.StringVar(&s3.Endpoint, "s3-endpoint", "", "S3 endpoint, host:port without a scheme.")
	fs.StringVar(&s3.Bucket, "s3-bucket", "", "S3 bucket (must exist: pace does not create it).")
	fs.StringVar(&s3.Region, "s3-region", "", "S3 region.")
	fs.StringVar(&s3.AccessKey, "s3-access-key", "", "S3 access key (kept in a Secret; none: the pods' own credentials).")
	fs.StringVar(&s3.SecretKey, "s3-secret-key", "", "S3 secret key (kept in a Secret).")
	fs.BoolVar(&s3.Insecure, "s3-insecure", false, "Reach S3 over plain http.")
	fs.BoolVar(&o.MinIO, "minio", false, "Add a single-node demo MinIO (fixed, public credentials) and use it.")
	fs.StringVar(&o.Version, "version", app.Version, "pace version: the image tag and version label.")
	fs.StringVar(&o.Image, "image", "", "pace image (default "+deploy.DefaultImageRepo+":<version>).")
	fs.StringVar(&o.Namespace, "namespace", "", "Kubernetes namespace, created by the manifests (default "+deploy.DefaultNamespace+").")
	fs.StringVar(&o.VolumeSize, "volume-size", deploy.DefaultVolumeSize, "Kubernetes: each ingester's WAL volume (and the demo MinIO's).")
	fs.IntVar(&o.CoordinatorReplicas, "coordinator-replicas", deploy.DefaultCoordinator, "Kubernetes: coordinator replicas.")
	fs.StringVar(&o.MinIOImage, "minio-image", deploy.DefaultMinIOImage, "Image of the demo MinIO.")
	fs.StringVar(&o.MCImage, "mc-image", deploy.DefaultMCImage, "Image of the MinIO client that creates the demo bucket.")
	fs.BoolVar(&o.TLS, "tls", false, "TLS from an internal CA (not implemented yet).")
	fs.StringVar(&out, "out", "", "Write the files into this directory instead of printing them.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, renderUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "pace render: %v (pace render -h for the flags)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pace render: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var bad string
	fs.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "s3-") {
			o.S3 = &s3
		}
		// "--s3-endpoint --minio" took the next flag for a value.
		if v := f.Value.String(); bad == "" && strings.HasPrefix(v, "-") && f.Name != "coordinator-replicas" {
			bad = fmt.Sprintf("flag needs an argument: --%s (got %q)", f.Name, v)
		}
	})
	if bad != "" {
		fmt.Fprintf(stderr, "pace render: %s\n", bad)
		return 2
	}
	files, err := deploy.Render(o)
	if err != nil {
		fmt.Fprintf(stderr, "pace render: %v\n", err)
		return 2
	}
	if out == "" {
		if _, err := stdout.Write(deploy.Join(files)); err != nil {
			fmt.Fprintf(stderr, "pace render: %v\n", err)
			return 1
		}
		return 0
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintf(stderr, "pace render: --out: %v\n", err)
		return 1
	}
	for _, f := range files {
		p := filepath.Join(out, f.Name)
		// 0600: the files may hold S3 keys.
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			fmt.Fprintf(stderr, "pace render: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	if o.Format == deploy.Compose {
		fmt.Fprintf(stdout, "start it: docker compose -f %s up -d\n", filepath.Join(out, deploy.ComposeFile))
	} else {
		fmt.Fprintf(stdout, "apply it: kubectl apply -f %s\n", out)
	}
	return 0
}
