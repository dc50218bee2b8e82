// Package cluster is pace's membership: gossip (memberlist) on port 7946 and
// the consistent-hash rings of grafana/dskit that place traces on ingesters,
// tenants on metrics-generators and jobs on compactors. A lone `all`
// process with no peers to join keeps its rings in memory and opens no
// gossip port.
package cluster

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/grafana/dskit/dns"
	"github.com/grafana/dskit/kv"
	"github.com/grafana/dskit/kv/codec"
	"github.com/grafana/dskit/kv/memberlist"
	"github.com/grafana/dskit/ring"
	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pace-tracing/pace/internal/slogkit"
)

// Ring names (and their KV keys).
const (
	IngesterRing  = "ingester"
	GeneratorRing = "metrics-generator"
	CompactorRing = "compactor"
	QuerierRing   = "querier"
	// DistributorRing lists the distributors (for the status page and, later, global limits).
	DistributorRing = "distributor"
)

// Config of the process's place in the cluster.
type Config struct {
	// InstanceID names this process in every ring (default: hostname-port).
	InstanceID string `yaml:"instance_id"`
	// InstanceAddr is the host other processes reach this one's gRPC port at.
	InstanceAddr string `yaml:"instance_addr"`
	// Memberlist is the gossip configuration (join_members, bind_port, ...).
	Memberlist memberlist.KVConfig `yaml:"memberlist"`
	// HeartbeatTimeout: an instance silent this long is unhealthy.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
}

// RegisterFlags registers the flags with their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.InstanceID, "cluster.instance-id", "", "This process's name in the rings (default: hostname and gRPC port).")
	f.StringVar(&c.InstanceAddr, "cluster.instance-addr", "", "Address other processes reach this one at (default: the gRPC listen address, or 127.0.0.1).")
	f.DurationVar(&c.HeartbeatTimeout, "cluster.heartbeat-timeout", time.Minute, "An instance that has not heartbeated for this long is unhealthy.")
	c.Memberlist.RegisterFlags(f)
	c.Memberlist.TCPTransport.BindPort = 7946
	c.Memberlist.AdvertisePort = 0
}

// Cluster holds the KV stores and rings of one process.
type Cluster struct {
	cfg      Config
	log      log.Logger
	reg      prometheus.Registerer
	gossip   bool
	kvs      *memberlist.KVInitService
	mu       sync.Mutex
	clients  map[string]kv.Client
	selfAddr string
}

// New prepares the cluster. gossip is false for a lone process: its rings
// then live in memory. grpcAddr is this process's gRPC address as peers see it.
func New(cfg Config, gossip bool, grpcAddr string, logger *slog.Logger, reg prometheus.Registerer) (*Cluster, error) {
	c := &Cluster{cfg: cfg, log: slogkit.New(logger), reg: reg, gossip: gossip, clients: map[string]kv.Client{}}
	c.selfAddr = grpcAddr
	if c.cfg.InstanceID == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(grpcAddr)
		c.cfg.InstanceID = host + "-" + port
	}
	if gossip {
		c.cfg.Memberlist.Codecs = []codec.Codec{ring.GetCodec()}
		if c.cfg.Memberlist.NodeName == "" {
			c.cfg.Memberlist.NodeName = c.cfg.InstanceID
		}
		c.cfg.Memberlist.RandomizeNodeName = false
		c.kvs = memberlist.NewKVInitService(&c.cfg.Memberlist, c.log, dns.NewProvider(dns.GolangResolverType, 10, c.log, reg), reg)
	}
	return c, nil
}

// InstanceID is this process's name in the rings.
func (c *Cluster) InstanceID() string { return c.cfg.InstanceID }

// Addr is this process's gRPC address as the rings publish it.
func (c *Cluster) Addr() string { return c.selfAddr }

// Service is the memberlist service (nil for a lone process).
func (c *Cluster) Service() services.Service {
	if c.kvs == nil {
		return nil
	}
	return c.kvs
}

// kvConfig is the KV store configuration the rings share.
func (c *Cluster) kvConfig() kv.Config {
	if !c.gossip {
		return kv.Config{Store: "inmemory"}
	}
	return kv.Config{Store: "memberlist", StoreConfig: kv.StoreConfig{MemberlistKV: c.kvs.GetMemberlistKV}}
}

// client returns the one KV client of a ring: the lifecycler and the reader
// must share it (an in-memory store is per client).
func (c *Cluster) client(name string) (kv.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[name]; ok {
		return cl, nil
	}
	cl, err := kv.NewClient(c.kvConfig(), ring.GetCodec(), kv.RegistererWithKVName(c.reg, name), c.log)
	if err != nil {
		return nil, err
	}
	c.clients[name] = cl
	return cl, nil
}

// Ring returns a reader of the named ring with replication factor rf.
func (c *Cluster) Ring(name string, rf int) (*ring.Ring, error) {
	cl, err := c.client(name)
	if err != nil {
		return nil, err
	}
	cfg := ring.Config{KVStore: c.kvConfig(), HeartbeatTimeout: c.cfg.HeartbeatTimeout, ReplicationFactor: rf}
	return ring.NewWithStoreClientAndStrategy(cfg, name, name, cl, ring.NewDefaultReplicationStrategy(), prometheus.WrapRegistererWith(prometheus.Labels{"ring": name}, c.reg), c.log)
}

// Lifecycler registers this process in the named ring with numTokens
// tokens. onStopping runs while the instance is LEAVING, before it leaves
// the ring (the ingester flushes there).
func (c *Cluster) Lifecycler(name string, numTokens int, onStopping func()) (*ring.BasicLifecycler, error) {
	cl, err := c.client(name)
	if err != nil {
		return nil, err
	}
	var d ring.BasicLifecyclerDelegate = ring.NewInstanceRegisterDelegate(ring.ACTIVE, numTokens)
	if onStopping != nil {
		d = stoppingDelegate{d, onStopping}
	}
	d = ring.NewLeaveOnStoppingDelegate(d, c.log)
	d = ring.NewAutoForgetDelegate(2*c.cfg.HeartbeatTimeout, d, c.log)
	cfg := ring.BasicLifecyclerConfig{
		ID: c.cfg.InstanceID, Addr: c.selfAddr,
		HeartbeatPeriod:     c.cfg.HeartbeatTimeout / 12,
		HeartbeatTimeout:    c.cfg.HeartbeatTimeout,
		TokensObservePeriod: 0,
		NumTokens:           numTokens,
	}
	return ring.NewBasicLifecycler(cfg, name, name, cl, d, c.log, prometheus.WrapRegistererWith(prometheus.Labels{"ring": name}, c.reg))
}

type stoppingDelegate struct {
	ring.BasicLifecyclerDelegate
	f func()
}

func (s stoppingDelegate) OnRingInstanceStopping(l *ring.BasicLifecycler) {
	s.f()
	s.BasicLifecyclerDelegate.OnRingInstanceStopping(l)
}

// RegisterRoutes adds /memberlist (when gossiping).
func (c *Cluster) RegisterRoutes(mux *http.ServeMux) {
	if c.kvs != nil {
		mux.Handle("/memberlist", c.kvs)
	}
}

// ErrNoAddr is returned when no address can be advertised.
var ErrNoAddr = errors.New("cluster: no instance address")

// AdvertiseAddr picks the address peers use for a listener on listen.
func AdvertiseAddr(configured, listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoAddr, err)
	}
	switch {
	case configured != "":
		host = configured
	case host == "" || host == "0.0.0.0" || host == "::":
		host = "127.0.0.1"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("%w: port %q", ErrNoAddr, port)
	}
	return net.JoinHostPort(host, port), nil
}
