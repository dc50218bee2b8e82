package accesspoint

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestUDPForwarding: datagrams sent to the access point reach the
// backends intact, one backend after another; with no healthy backend they
// are dropped and counted.
func TestUDPForwarding(t *testing.T) {
	h := startHealth(t, testInterval, testInterval)
	reg := prometheus.NewRegistry()
	p := NewPool("jaeger_thrift_compact", "distributor", h, reg)

	var readies []*httpBackend
	var socks []net.PacketConn
	var members []Backend
	for i := range 3 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r := newHTTPBackend(t, fmt.Sprintf("w%d", i))
		readies, socks = append(readies, r), append(socks, c)
		members = append(members, Backend{ID: r.name, Addr: c.LocalAddr().String(), ReadyURL: r.srv.URL + "/ready"})
	}
	p.Set(members)
	waitHealthy(t, p, 3)

	in, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ForwardUDP(ctx, in, p) }()

	sender, err := net.Dial("udp", in.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	const n = 12
	sent := map[string]bool{}
	for i := range n {
		msg := fmt.Sprintf("batch-%02d", i)
		sent[msg] = true
		if _, err := sender.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 1024)
	for i, c := range socks {
		got := 0
		for got < n/3 {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			k, _, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			if !sent[string(buf[:k])] {
				t.Errorf("backend %d got unexpected datagram %q", i, buf[:k])
			}
			delete(sent, string(buf[:k]))
			got++
		}
		if got != n/3 {
			t.Errorf("backend %d got %d datagrams, want %d", i, got, n/3)
		}
	}
	if len(sent) != 0 {
		t.Errorf("datagrams lost: %v", sent)
	}

	for _, r := range readies {
		r.ready.Store(false)
	}
	waitHealthy(t, p, 0)
	for range 5 {
		sender.Write([]byte("nobody home"))
	}
	waitFor(t, 2*time.Second, func() bool {
		return metricValue(t, reg, "pace_accesspoint_udp_datagrams_total", map[string]string{"result": "dropped"}) == 5
	})
	if v := metricValue(t, reg, "pace_accesspoint_udp_datagrams_total", map[string]string{"result": "forwarded"}); v != n {
		t.Errorf("forwarded = %v, want %d", v, n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ForwardUDP returned %v after cancel, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ForwardUDP did not return after cancel")
	}
}
