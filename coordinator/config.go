package coordinator

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/backend"
	"github.com/pace-tracing/pace/internal/cfgload"
)

// Config is the coordinator's configuration file (pace coordinator
// -config.file F). Everything a worker runs is rendered from it and the
// registry, so replicas given the same file behave the same.
type Config struct {
	// BindAddress is where the coordinator listens (access point and API).
	BindAddress string `yaml:"bind_address"`
	// PublicAddress is the host clients reach the access point at, used in
	// the receiver URLs it hands out.
	PublicAddress string `yaml:"public_address"`
	// PortOffset is added to every default port (3200, 9096, 4317, ...), so
	// several clusters, or a cluster and its workers, share one machine.
	PortOffset int `yaml:"port_offset"`
	// Storage is the object store every worker uses. An empty backend is a
	// missing integration: the cluster is blocked until one is set.
	Storage backend.Config `yaml:"storage"`
	// Receivers are always enabled, whatever clients ask for (otlp_http is
	// always enabled anyway).
	Receivers []string `yaml:"receivers"`
	// RetentionPeriod is how long blocks are kept, in hours.
	RetentionPeriod int `yaml:"retention_period"`
	// RemoteWrite is where metrics-generators send what they derive.
	RemoteWrite []app.RemoteWriteConfig `yaml:"remote_write"`
	// SelfTracingEndpoint is where the workers send their own spans (an
	// OTLP HTTP URL); it must be the same for every replica.
	SelfTracingEndpoint string `yaml:"self_tracing_endpoint"`
	// WorkerTimeout: a worker silent this long leaves the registry.
	WorkerTimeout time.Duration `yaml:"worker_timeout"`
	// HeartbeatInterval is how often workers are asked to heartbeat.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// HealthCheckInterval is how often the access point checks /ready.
	HealthCheckInterval time.Duration `yaml:"health_check_interval"`
	// StorageCheckInterval is how often the object store is checked.
	StorageCheckInterval time.Duration `yaml:"storage_check_interval"`
	LogLevel             string        `yaml:"log_level"`
}

// Default ports of the access point, before PortOffset.
var defaultPorts = map[string]int{
	PortHTTP:            3200,
	PortGRPC:            9096,
	OTLPGRPC:            4317,
	OTLPHTTP:            4318,
	Zipkin:              9411,
	JaegerThriftHTTP:    14268,
	JaegerGRPC:          14250,
	JaegerThriftCompact: 6831,
	JaegerThriftBinary:  6832,
}

// WorkerPorts are a worker's default ports before its offset: Tempo's
// (HTTP 3200, gRPC 9095, gossip 7946) and the receivers'.
func WorkerPorts(offset int) map[string]int {
	p := map[string]int{PortGossip: 7946 + offset}
	for k, v := range defaultPorts {
		p[k] = v + offset
	}
	p[PortGRPC] = 9095 + offset
	return p
}

// RegisterFlags registers the flags with their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.BindAddress, "bind-address", "0.0.0.0", "Address the coordinator listens on.")
	f.StringVar(&c.PublicAddress, "public-address", "", "Host clients reach the access point at (default: the bind address, or this host's name).")
	f.IntVar(&c.PortOffset, "port-offset", 0, "Added to every default port of the access point.")
	c.Storage.RegisterFlags("storage.", f)
	c.Storage.Backend = ""
	f.IntVar(&c.RetentionPeriod, "retention-period", 720, "Hours blocks are kept.")
	f.StringVar(&c.SelfTracingEndpoint, "self-tracing-endpoint", "", "OTLP HTTP endpoint for the workers' own spans.")
	f.DurationVar(&c.WorkerTimeout, "worker-timeout", 15*time.Second, "A worker silent this long leaves the registry.")
	f.DurationVar(&c.HeartbeatInterval, "heartbeat-interval", time.Second, "How often workers heartbeat.")
	f.DurationVar(&c.HealthCheckInterval, "health-check-interval", time.Second, "How often the access point checks each worker's /ready.")
	f.DurationVar(&c.StorageCheckInterval, "storage-check-interval", 10*time.Second, "How often the object store is checked.")
	f.StringVar(&c.LogLevel, "log.level", "info", "Log level: debug, info, warn, error.")
}

// Validate checks the settings; the object store itself is checked at run
// time, and reported in the status.
func (c *Config) Validate() error {
	var errs []error
	for _, p := range c.Receivers {
		if !slices.Contains(Protocols(), p) {
			errs = append(errs, fmt.Errorf("receivers: unknown protocol %q; valid protocols: %s", p, strings.Join(Protocols(), ", ")))
		}
	}
	if c.RetentionPeriod <= 0 {
		errs = append(errs, errors.New("retention_period must be a positive number of hours"))
	}
	if c.PortOffset < 0 || c.PortOffset+14268 > 65535 {
		errs = append(errs, fmt.Errorf("port_offset %d puts ports out of range", c.PortOffset))
	}
	if c.WorkerTimeout <= c.HeartbeatInterval {
		errs = append(errs, errors.New("worker_timeout must exceed heartbeat_interval"))
	}
	if c.HealthCheckInterval <= 0 || c.StorageCheckInterval <= 0 || c.HeartbeatInterval <= 0 {
		errs = append(errs, errors.New("intervals must be positive"))
	}
	if c.Storage.Backend == backend.Local && c.Storage.Local.Path != "" {
		// Workers run in their own directories: hand them an absolute path.
		if abs, err := filepath.Abs(c.Storage.Local.Path); err == nil {
			c.Storage.Local.Path = abs
		}
	}
	c.PublicAddress = AdvertiseHost(c.PublicAddress, c.BindAddress)
	return errors.Join(errs...)
}

// Load reads the configuration from args (-config.file F and flags).
func Load(args []string) (*Config, error) {
	cfg := &Config{}
	if err := cfgload.Load("pace coordinator", args, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// port is the access point's port for name.
func (c *Config) port(name string) int { return defaultPorts[name] + c.PortOffset }
