package coordinator

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pace-tracing/pace/app"
)

// registry is the set of workers that heartbeat to this coordinator.
// Safe for concurrent use.
type registry struct {
	mu      sync.Mutex
	timeout time.Duration
	now     func() time.Time
	workers map[string]*entry
}

type entry struct {
	reg       Registration
	firstSeen time.Time
	lastSeen  time.Time
}

func newRegistry(timeout time.Duration) *registry {
	return &registry{timeout: timeout, now: time.Now, workers: map[string]*entry{}}
}

// ValidateRegistration checks what a worker sends; the error names the
// problem (and the valid roles when one is unknown).
func ValidateRegistration(r *Registration) error {
	if r.Name == "" || strings.ContainsAny(r.Name, "/ \t\n") {
		return fmt.Errorf("worker name %q is empty or has a slash or space", r.Name)
	}
	if len(r.Roles) == 0 {
		return fmt.Errorf("worker %s has no role; valid roles: %s", r.Name, strings.Join(app.Targets(), ", "))
	}
	roles, err := app.ParseTargets(strings.Join(r.Roles, ","))
	if err != nil {
		return fmt.Errorf("worker %s: %w", r.Name, err)
	}
	r.Roles = roles
	if r.Address == "" || net.ParseIP(r.Address) == nil && strings.ContainsAny(r.Address, ":/") {
		return fmt.Errorf("worker %s: address %q is not a host name or IP", r.Name, r.Address)
	}
	for _, p := range []string{PortHTTP, PortGRPC, PortGossip} {
		if r.Ports[p] <= 0 || r.Ports[p] > 65535 {
			return fmt.Errorf("worker %s: port %q missing or out of range", r.Name, p)
		}
	}
	if hasRole(r.Roles, app.Distributor) {
		for _, p := range Protocols() {
			if r.Ports[p] <= 0 || r.Ports[p] > 65535 {
				return fmt.Errorf("worker %s: distributor port %q missing or out of range", r.Name, p)
			}
		}
	}
	if !slices.Contains([]string{StateWaiting, StateStarting, StateReady, StateRestarting, StateFailed}, r.State) {
		return fmt.Errorf("worker %s: unknown state %q", r.Name, r.State)
	}
	if r.DataDir == "" {
		return fmt.Errorf("worker %s: data_dir is empty", r.Name)
	}
	return nil
}

// heartbeat records r (already validated).
func (g *registry) heartbeat(r Registration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	e, ok := g.workers[r.Name]
	if !ok {
		e = &entry{firstSeen: now}
		g.workers[r.Name] = e
	}
	e.reg, e.lastSeen = r, now
}

func (g *registry) remove(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.workers[name]
	delete(g.workers, name)
	return ok
}

// snapshot drops workers silent past the timeout and returns the rest,
// sorted by name (everything derived from it is then deterministic).
func (g *registry) snapshot() []entry {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	out := make([]entry, 0, len(g.workers))
	for name, e := range g.workers {
		if now.Sub(e.lastSeen) > g.timeout {
			delete(g.workers, name)
			continue
		}
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].reg.Name < out[j].reg.Name })
	return out
}

// hasRole reports whether roles include role, directly or through all.
func hasRole(roles []string, role string) bool {
	return slices.Contains(roles, role) || slices.Contains(roles, app.All)
}

// shareRole reports whether two role lists have a role in common.
func shareRole(a, b []string) bool {
	for _, r := range app.Roles() {
		if hasRole(a, r) && hasRole(b, r) {
			return true
		}
	}
	return false
}
