package coordinator

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// plan is the configuration of every registered worker.
type plan struct {
	key     string // inputs it was rendered from
	configs map[string]rendered
}

// planKey fingerprints what rendering reads: a heartbeat that changes only
// a worker's state reuses the plan.
func planKey(workers []entry, enabled []string) string {
	var b strings.Builder
	for _, w := range workers {
		r := w.reg
		fmt.Fprintf(&b, "%s|%v|%s|%s|%v|%s|%d;", r.Name, r.Roles, r.Address, r.BindAddress, r.Ports, r.DataDir, r.ReplicationFactor)
	}
	fmt.Fprintf(&b, "%v", enabled)
	return b.String()
}

// pendingUpdate: the worker runs a configuration, but not the current one.
func pendingUpdate(w entry, p *plan) bool {
	return w.reg.ConfigVersion != "" && w.reg.ConfigVersion != p.configs[w.reg.Name].version
}

// assign decides what worker self may run now. A worker with no
// configuration gets one at once (after the settle time, so that workers
// started together see each other). A worker with an older one waits
// until every other worker sharing a role with it is ready and it is
// the first such worker by name: one restart at a time per role (for
// ingesters this keeps a write quorum; for distributors and query-frontends
// the access point has somewhere to send traffic). The rule is a pure
// function of the registry, so coordinator replicas pick the same worker.
func assign(self entry, workers []entry, p *plan, now time.Time, settle time.Duration) Assignment {
	r := p.configs[self.reg.Name]
	a := Assignment{ConfigVersion: r.version, JoinMembers: r.join}
	if a.JoinMembers == nil {
		a.JoinMembers = []string{}
	}
	switch {
	case r.err != nil:
		a.Hold = r.err.Error()
		return a
	case self.reg.ConfigVersion == r.version:
		return a
	case self.reg.ConfigVersion == "":
		// Wait until no worker has joined for the settle time: workers
		// started together then see each other, and get the replication
		// factor of the whole group, not of the first to register.
		newest := self.firstSeen
		for _, w := range workers {
			if w.firstSeen.After(newest) {
				newest = w.firstSeen
			}
		}
		if now.Sub(newest) < settle {
			a.Hold = "waiting for the workers started with it to register"
			return a
		}
		a.Config = r.text
		return a
	}
	for _, w := range workers {
		if w.reg.Name == self.reg.Name || !shareRole(w.reg.Roles, self.reg.Roles) {
			continue
		}
		if pendingUpdate(w, p) && w.reg.Name < self.reg.Name && w.reg.State != StateFailed {
			a.Hold = fmt.Sprintf("waiting for %s to take the new configuration first (one restart at a time per role)", w.reg.Name)
			return a
		}
		if !slices.Contains([]string{StateReady, StateFailed, StateWaiting}, w.reg.State) {
			a.Hold = fmt.Sprintf("waiting for %s to be ready (it is %s)", w.reg.Name, w.reg.State)
			return a
		}
	}
	a.Config = r.text
	return a
}
