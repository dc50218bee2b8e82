package accesspoint

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Backend is one worker port a pool forwards to.
type Backend struct {
	ID       string // worker name, for messages and logs
	Addr     string // host:port to forward to
	ReadyURL string // the worker's readiness URL, e.g. http://host:3200/ready; required
}

// Pool is the set of backends behind one listening port (otlp_grpc,
// query_http, ...). Membership comes from Set; whether a member gets
// traffic comes from the shared Health and from passive ejection.
type Pool struct {
	name   string
	role   string
	health *Health
	m      *poolMetrics

	mu      sync.Mutex                // serialises Set
	members atomic.Pointer[[]*member] // read lock-free on every request
	next    atomic.Uint64             // round-robin cursor
}

// member is a Backend plus the state the request path keeps about it.
type member struct {
	b Backend
	t *target

	inflight  atomic.Int64 // requests sent and not finished, for least-outstanding
	ejectedAt atomic.Int64 // monotonic time of the last connection failure; 0 = never
	udpAddr   atomic.Pointer[netip.AddrPort]
}

// usable reports whether m may get traffic: its /ready passed, and if a
// connection to it failed since, a check started after that failure passed
// too. The second rule is the passive ejection: a dead worker leaves at the
// first refused dial instead of after its next failed check. Ejection is
// per pool member: the worker's other ports find out at their own dial or
// at the next check.
func (m *member) usable() bool {
	if !m.t.healthy.Load() {
		return false
	}
	e := m.ejectedAt.Load()
	return e == 0 || m.t.passAt.Load() > e
}

func (m *member) eject() { m.ejectedAt.Store(now()) }

func (m *member) String() string { return fmt.Sprintf("%s (%s)", m.b.ID, m.b.Addr) }

// resolveUDP returns m's address for datagrams, resolved once: a name
// lookup per datagram would cost more than the forwarding.
func (m *member) resolveUDP() (netip.AddrPort, error) {
	if ap := m.udpAddr.Load(); ap != nil {
		return *ap, nil
	}
	ap, err := netip.ParseAddrPort(m.b.Addr)
	if err != nil {
		ua, rerr := net.ResolveUDPAddr("udp", m.b.Addr)
		if rerr != nil {
			return netip.AddrPort{}, rerr
		}
		ap = ua.AddrPort()
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	m.udpAddr.Store(&ap)
	return ap, nil
}

// NewPool returns an empty pool. name is the port's protocol (otlp_http,
// query_grpc, ...) and role what its backends are (distributor,
// query-frontend); both appear in the error a client gets when no backend
// is healthy ("no healthy distributor for otlp_http") and name labels the
// metrics. Metrics are registered on reg if it is not nil; pool names must
// be unique per Registerer (NewPool panics otherwise, as promauto does).
func NewPool(name, role string, h *Health, reg prometheus.Registerer) *Pool {
	p := &Pool{name: name, role: role, health: h}
	p.members.Store(new([]*member))
	p.m = newPoolMetrics(p, reg)
	return p
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Set replaces the pool's membership. Backends already present (same ID,
// Addr and ReadyURL) keep their state; new ones start unhealthy until their
// /ready passes; a repeated Addr is kept once. Set(nil) empties the pool and
// stops its checks.
func (p *Pool) Set(backends []Backend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := make(map[Backend]*member)
	for _, m := range *p.members.Load() {
		old[m.b] = m
	}
	seen := make(map[string]bool, len(backends))
	ms := make([]*member, 0, len(backends))
	for _, b := range backends {
		if seen[b.Addr] {
			continue
		}
		seen[b.Addr] = true
		m := old[b]
		if m != nil {
			delete(old, b)
		} else {
			m = &member{b: b, t: p.health.acquire(b.ReadyURL)}
		}
		ms = append(ms, m)
	}
	p.members.Store(&ms)
	for _, m := range old {
		p.health.release(m.t)
	}
}

// Healthy returns the backends that currently get traffic.
func (p *Pool) Healthy() []Backend {
	var out []Backend
	for _, m := range *p.members.Load() {
		if m.usable() {
			out = append(out, m.b)
		}
	}
	return out
}

// pick returns the usable member, not in exclude, with the fewest requests
// in flight; ties (the usual case) go round robin, so sequential requests
// visit every backend in turn. nil means none is left.
func (p *Pool) pick(exclude []*member) *member {
	ms := *p.members.Load()
	var buf [16]*member
	cands := buf[:0]
	for _, m := range ms {
		if m.usable() && !contains(exclude, m) {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	// Round robin over the candidates, not over all members: indexing all
	// members would hand an unhealthy member's turn to its neighbour and
	// give that one twice the load. A retry does not advance the cursor,
	// so one failing backend does not shift everyone else's turns.
	cursor := p.next.Load()
	if len(exclude) == 0 {
		cursor = p.next.Add(1) - 1
	}
	start := int(cursor % uint64(len(cands)))
	best := cands[start]
	for i := 1; i < len(cands); i++ {
		m := cands[(start+i)%len(cands)]
		if m.inflight.Load() < best.inflight.Load() {
			best = m
		}
	}
	return best
}

// noBackendMsg is what a client reads when the pool is empty or all down.
func (p *Pool) noBackendMsg() string {
	return fmt.Sprintf("no healthy %s for %s", p.role, p.name)
}

func contains(ms []*member, m *member) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}
