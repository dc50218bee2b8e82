// Package backend opens the object store that holds pace's blocks. It is a
// thin layer over thanos-io/objstore: filesystem (the default), S3 (any
// S3-compatible server) and in-memory buckets behind one interface.
package backend

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/exthttp"
	"github.com/thanos-io/objstore/providers/filesystem"
	"github.com/thanos-io/objstore/providers/s3"

	"github.com/pace-tracing/pace/internal/slogkit"
)

// Backend names accepted in storage.trace.backend.
const (
	Local  = "local"
	S3     = "s3"
	Memory = "memory"
)

// Config selects and configures the object store.
type Config struct {
	Backend string      `yaml:"backend"`
	Local   LocalConfig `yaml:"local"`
	S3      S3Config    `yaml:"s3"`
}

// LocalConfig is the filesystem backend.
type LocalConfig struct {
	Path string `yaml:"path"`
}

// S3Config is any S3-compatible object store (AWS, MinIO, Ceph RGW, ...).
type S3Config struct {
	Endpoint       string `yaml:"endpoint"`
	Bucket         string `yaml:"bucket"`
	Region         string `yaml:"region"`
	AccessKey      string `yaml:"access_key"`
	SecretKey      string `yaml:"secret_key"`
	Insecure       bool   `yaml:"insecure"`
	ForcePathStyle bool   `yaml:"forcepathstyle"`
	CAFile         string `yaml:"tls_ca_path"`
}

// RegisterFlags registers the flags under prefix (e.g. "storage.trace.") with defaults.
func (c *Config) RegisterFlags(prefix string, f *flag.FlagSet) {
	f.StringVar(&c.Backend, prefix+"backend", Local, "Object store: local, s3 or memory.")
	f.StringVar(&c.Local.Path, prefix+"local.path", "./pace-data/blocks", "Directory of the local object store.")
	f.StringVar(&c.S3.Endpoint, prefix+"s3.endpoint", "", "S3 endpoint, host:port without scheme.")
	f.StringVar(&c.S3.Bucket, prefix+"s3.bucket", "", "S3 bucket (must exist).")
	f.StringVar(&c.S3.Region, prefix+"s3.region", "", "S3 region.")
	f.StringVar(&c.S3.AccessKey, prefix+"s3.access-key", "", "S3 access key.")
	f.StringVar(&c.S3.SecretKey, prefix+"s3.secret-key", "", "S3 secret key.")
	f.BoolVar(&c.S3.Insecure, prefix+"s3.insecure", false, "Use plain http to reach S3.")
	f.BoolVar(&c.S3.ForcePathStyle, prefix+"s3.forcepathstyle", true, "Path-style bucket addressing (needed by MinIO and most self-hosted S3).")
	f.StringVar(&c.S3.CAFile, prefix+"s3.ca-file", "", "CA bundle that signed the S3 server's certificate.")
}

// Validate checks the settings without contacting the store.
func (c *Config) Validate() error {
	switch c.Backend {
	case Local:
		if c.Local.Path == "" {
			return errors.New("storage.trace.local.path is empty")
		}
	case Memory:
	case S3:
		var missing []string
		if c.S3.Endpoint == "" {
			missing = append(missing, "endpoint")
		}
		if c.S3.Bucket == "" {
			missing = append(missing, "bucket")
		}
		if len(missing) > 0 {
			return fmt.Errorf("storage.trace.s3: missing %s", strings.Join(missing, ", "))
		}
		if strings.Contains(c.S3.Endpoint, "://") {
			return fmt.Errorf("storage.trace.s3.endpoint %q must be host:port without a scheme (use insecure for http)", c.S3.Endpoint)
		}
		if c.S3.CAFile != "" {
			if _, err := os.Stat(c.S3.CAFile); err != nil {
				return fmt.Errorf("storage.trace.s3.tls_ca_path: %w", err)
			}
		}
	default:
		return fmt.Errorf("storage.trace.backend %q is not one of local, s3, memory", c.Backend)
	}
	return nil
}

// New opens the bucket. For S3 it also checks that the bucket exists and is
// reachable, so a misconfiguration fails at start, not at the first flush.
func New(ctx context.Context, c Config, log *slog.Logger) (objstore.Bucket, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Backend {
	case Memory:
		return NewInMemory(), nil
	case Local:
		if err := os.MkdirAll(c.Local.Path, 0o755); err != nil {
			return nil, fmt.Errorf("local object store: %w", err)
		}
		return filesystem.NewBucket(c.Local.Path)
	}
	cfg := s3.DefaultConfig
	cfg.Endpoint = c.S3.Endpoint
	cfg.Bucket = c.S3.Bucket
	cfg.Region = c.S3.Region
	cfg.AccessKey = c.S3.AccessKey
	cfg.SecretKey = c.S3.SecretKey
	cfg.Insecure = c.S3.Insecure
	if c.S3.ForcePathStyle {
		cfg.BucketLookupType = s3.PathLookup
	}
	if c.S3.CAFile != "" {
		cfg.HTTPConfig.TLSConfig = exthttp.TLSConfig{CAFile: c.S3.CAFile}
	}
	bkt, err := s3.NewBucketWithConfig(slogkit.New(log), cfg, "pace", nil)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	if _, err := bkt.Exists(ctx, "pace-probe-does-not-exist"); err != nil {
		return nil, fmt.Errorf("s3 bucket %q at %s is not reachable: %w", c.S3.Bucket, c.S3.Endpoint, err)
	}
	return bkt, nil
}
