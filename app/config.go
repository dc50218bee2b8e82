package app

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pace-tracing/pace/backend"
	"github.com/pace-tracing/pace/cluster"
	"github.com/pace-tracing/pace/compactor"
	"github.com/pace-tracing/pace/distributor"
	"github.com/pace-tracing/pace/ingester"
	"github.com/pace-tracing/pace/internal/cfgload"
	"github.com/pace-tracing/pace/querier"
)

// Config is the root of the configuration file. Keys follow Tempo's where
// Tempo has the same setting; every value is also a flag, and a flag given on
// the command line wins over the file.
type Config struct {
	Target        string              `yaml:"target"`
	Server        ServerConfig        `yaml:"server"`
	Cluster       cluster.Config      `yaml:"cluster"`
	Distributor   distributor.Config  `yaml:"distributor"`
	Ingester      ingester.Config     `yaml:"ingester"`
	QueryFrontend QueryFrontendConfig `yaml:"query_frontend"`
	Compactor     compactor.Config    `yaml:"compactor"`
	Generator     GeneratorConfig     `yaml:"metrics_generator"`
	Storage       StorageConfig       `yaml:"storage"`
	Tracing       TracingConfig       `yaml:"tracing"`
}

// GeneratorConfig is where the metrics-generator sends what it derives.
type GeneratorConfig struct {
	RemoteWrite []RemoteWriteConfig `yaml:"remote_write"`
}

// RemoteWriteConfig is one Prometheus remote-write target.
type RemoteWriteConfig struct {
	URL string `yaml:"url"`
}

// TracingConfig is where this process sends its own spans (self-tracing):
// an OTLP HTTP endpoint, and the CA that signed it when it is https.
type TracingConfig struct {
	Endpoint string `yaml:"endpoint"`
	CAFile   string `yaml:"ca_file"`
}

// QueryFrontendConfig is how the frontend splits queries.
type QueryFrontendConfig struct {
	// QueryShards is the number of block shards of a trace-by-ID request,
	// each a job for one querier (plus one job for the ingesters).
	QueryShards int `yaml:"query_shards"`
	// SearchConcurrency bounds the jobs of one search in flight; the rest
	// start only while the limit is not reached yet.
	SearchConcurrency int `yaml:"search_concurrency"`
}

// ServerConfig is the HTTP API server (port 3200) and logging.
type ServerConfig struct {
	HTTPListenAddress       string        `yaml:"http_listen_address"`
	HTTPListenPort          int           `yaml:"http_listen_port"`
	GRPCListenAddress       string        `yaml:"grpc_listen_address"`
	GRPCListenPort          int           `yaml:"grpc_listen_port"`
	LogLevel                string        `yaml:"log_level"`
	GracefulShutdownTimeout time.Duration `yaml:"graceful_shutdown_timeout"`
}

// StorageConfig holds storage.trace, as in Tempo.
type StorageConfig struct {
	Trace TraceStorageConfig `yaml:"trace"`
}

// TraceStorageConfig is the object store, the WAL and the block list.
type TraceStorageConfig struct {
	backend.Config      `yaml:",inline"`
	querier.StoreConfig `yaml:",inline"`
	WAL                 WALConfig `yaml:"wal"`
}

// WALConfig is the ingester's write-ahead log on local disk.
type WALConfig struct {
	Path string `yaml:"path"`
}

// RegisterFlags registers every flag with its default.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.Target, "target", All, "Comma-separated roles to run: "+strings.Join(Targets(), ", ")+".")
	f.StringVar(&c.Server.HTTPListenAddress, "server.http-listen-address", "", "HTTP API listen address (empty: all interfaces).")
	f.IntVar(&c.Server.HTTPListenPort, "server.http-listen-port", 3200, "HTTP API port.")
	f.StringVar(&c.Server.GRPCListenAddress, "server.grpc-listen-address", "", "gRPC address between roles (empty: all interfaces); opened only in a cluster.")
	f.IntVar(&c.Server.GRPCListenPort, "server.grpc-listen-port", 9095, "gRPC port between roles.")
	c.Cluster.RegisterFlags(f)
	f.IntVar(&c.QueryFrontend.QueryShards, "query-frontend.query-shards", 4, "Block shards of a trace-by-ID or search request, each a querier job.")
	f.IntVar(&c.QueryFrontend.SearchConcurrency, "query-frontend.search-concurrency", 0, "Jobs of one search in flight at once (0: all); later jobs start only while the search's limit is not reached.")
	c.Compactor.RegisterFlags(f)
	f.StringVar(&c.Server.LogLevel, "log.level", "info", "Log level: debug, info, warn, error.")
	f.DurationVar(&c.Server.GracefulShutdownTimeout, "server.graceful-shutdown-timeout", 10*time.Second, "Longest a clean shutdown may take.")
	c.Distributor.RegisterFlags(f)
	c.Ingester.RegisterFlags(f)
	c.Storage.Trace.Config.RegisterFlags("storage.trace.", f)
	c.Storage.Trace.StoreConfig.RegisterFlags(f)
	f.StringVar(&c.Storage.Trace.WAL.Path, "storage.trace.wal.path", "./pace-data/wal", "Directory of the write-ahead log.")
}

// Validate checks the whole configuration.
func (c *Config) Validate() error {
	if _, err := ParseTargets(c.Target); err != nil {
		return err
	}
	if c.Server.HTTPListenPort < 0 || c.Server.HTTPListenPort > 65535 {
		return fmt.Errorf("server.http_listen_port %d is out of range", c.Server.HTTPListenPort)
	}
	c.Ingester.WALPath = c.Storage.Trace.WAL.Path
	if c.QueryFrontend.SearchConcurrency < 0 {
		return errors.New("query_frontend.search_concurrency must not be negative")
	}
	if c.QueryFrontend.QueryShards < 1 {
		return errors.New("query_frontend.query_shards must be at least 1")
	}
	// A querier must see a block before its ingester stops answering for it
	// and before the blocks it replaced are deleted.
	stale := c.Storage.Trace.StoreConfig.Staleness()
	if c.Ingester.CompleteBlockTimeout <= stale {
		return fmt.Errorf("ingester.complete_block_timeout (%s) must exceed storage.trace.blocklist_poll + blocklist_index_max_age (%s): queriers could miss a block in between", c.Ingester.CompleteBlockTimeout, stale)
	}
	if c.Compactor.CompactedBlockRetention <= stale {
		return fmt.Errorf("compactor.compacted_block_retention (%s) must exceed storage.trace.blocklist_poll + blocklist_index_max_age (%s): queriers could still read a deleted block", c.Compactor.CompactedBlockRetention, stale)
	}
	targets, _ := ParseTargets(c.Target)
	var errs []error
	for i, rw := range c.Generator.RemoteWrite {
		if u, err := url.Parse(rw.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("metrics_generator.remote_write[%d].url %q is not an http(s) URL", i, rw.URL))
		}
	}
	if e := c.Tracing.Endpoint; e != "" && !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
		errs = append(errs, fmt.Errorf("tracing.endpoint %q must start with http:// or https://", e))
	}
	if runs(targets, Distributor) {
		errs = append(errs, c.Distributor.Validate())
	}
	return errors.Join(append(errs, c.Ingester.Validate(), c.Compactor.Validate(), c.Storage.Trace.Config.Validate())...)
}

// Load builds the configuration: flag defaults, then the file named by
// -config.file, then the flags given on the command line.
func Load(args []string) (*Config, error) {
	cfg := &Config{}
	if err := cfgload.Load("pace server", args, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseConfig builds a validated configuration from YAML text over the flag
// defaults: how a worker reads what its coordinator rendered.
func ParseConfig(text []byte) (*Config, error) {
	cfg := &Config{}
	if err := cfgload.Parse(text, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}
