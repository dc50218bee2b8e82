package cluster

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/grafana/dskit/ring"
	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func member(t *testing.T, id string, gossipPort int, join []string) *Cluster {
	t.Helper()
	var cfg Config
	cfg.RegisterFlags(flag.NewFlagSet(id, flag.PanicOnError))
	cfg.InstanceID = id
	cfg.HeartbeatTimeout = 10 * time.Second
	cfg.Memberlist.TCPTransport.BindAddrs = []string{"127.0.0.1"}
	cfg.Memberlist.TCPTransport.BindPort = gossipPort
	cfg.Memberlist.JoinMembers = join
	cfg.Memberlist.GossipInterval = 50 * time.Millisecond
	cfg.Memberlist.PushPullInterval = time.Second
	c, err := New(cfg, true, fmt.Sprintf("127.0.0.1:%d", freePort(t)), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := services.StartAndAwaitRunning(context.Background(), c.Service()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = services.StopAndAwaitTerminated(context.Background(), c.Service()) })
	return c
}

func run(t *testing.T, s services.Service) {
	t.Helper()
	if err := services.StartAndAwaitRunning(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = services.StopAndAwaitTerminated(context.Background(), s) })
}

func TestIngestersGossipedFromTwoProcessesFormOneRing(t *testing.T) {
	p1 := freePort(t)
	a := member(t, "a", p1, nil)
	b := member(t, "b", freePort(t), []string{fmt.Sprintf("127.0.0.1:%d", p1)})
	for _, c := range []*Cluster{a, b} {
		l, err := c.Lifecycler(IngesterRing, 16, nil)
		if err != nil {
			t.Fatal(err)
		}
		run(t, l)
	}
	r, err := a.Ring(IngesterRing, 2)
	if err != nil {
		t.Fatal(err)
	}
	run(t, r)
	deadline := time.Now().Add(15 * time.Second)
	for healthy(r) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("ring on a sees %d healthy ingesters, want 2", healthy(r))
		}
		time.Sleep(100 * time.Millisecond)
	}
	rs, err := r.Get(12345, ring.Write, nil, nil, nil)
	if err != nil || len(rs.Instances) != 2 {
		t.Fatalf("replication set %v, err %v; want both instances at RF 2", rs.Instances, err)
	}
}

func TestLoneProcessKeepsItsRingInMemory(t *testing.T) {
	var cfg Config
	cfg.RegisterFlags(flag.NewFlagSet("x", flag.PanicOnError))
	c, err := New(cfg, false, "127.0.0.1:9095", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil || c.Service() != nil {
		t.Fatalf("lone process: err %v, gossip service %v", err, c.Service())
	}
	l, _ := c.Lifecycler(IngesterRing, 8, nil)
	run(t, l)
	r, _ := c.Ring(IngesterRing, 1)
	run(t, r)
	deadline := time.Now().Add(5 * time.Second)
	for healthy(r) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("lone ingester never appeared in its in-memory ring")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func healthy(r *ring.Ring) int {
	rs, err := r.GetAllHealthy(ring.Read)
	if err != nil {
		return 0
	}
	return len(rs.Instances)
}
