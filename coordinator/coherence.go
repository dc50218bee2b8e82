package coordinator

import (
	"fmt"
	"strings"

	"github.com/pace-tracing/pace/app"
)

// Status values, as Juju words them.
const (
	Active  = "active"
	Blocked = "blocked"
)

// Status lines, worded as Canonical's coordinator charm words them.
const (
	MsgNoWorkers         = "[consistency] Missing any worker relation."
	MsgInconsistent      = "[consistency] Cluster inconsistent."
	MsgDegraded          = "Degraded."
	MsgS3Missing         = "[s3] Missing S3 integration."
	MsgGeneratorDisabled = "metrics-generator disabled. No remote-write target configured (remote_write)."
)

// minimalRoles must each be held by at least one worker.
var minimalRoles = []string{app.Querier, app.QueryFrontend, app.Ingester, app.Distributor, app.Compactor}

// recommended is how many workers each role should have.
var recommended = map[string]int{app.Querier: 1, app.QueryFrontend: 1, app.Ingester: 3, app.Distributor: 1, app.Compactor: 1, app.MetricsGenerator: 1}

// coherence is what the coordinator concludes from the registry and its
// checks; a pure function, so replicas with the same inputs agree.
type coherence struct {
	status, message string
	messages        []string
	missing         []string // roles the minimal deployment lacks
	belowRecommend  []string // what the recommended deployment lacks
	roles           map[string]int
}

// assess applies the charm's rules: blocked findings first (no workers,
// missing roles, the object store), then active ones (degraded, no
// remote write for the metrics-generator).
func assess(workers []entry, storageProblem string, remoteWrite bool) coherence {
	c := coherence{roles: map[string]int{}}
	for _, role := range app.Roles() {
		c.roles[role] = 0
	}
	for _, w := range workers {
		for _, role := range app.Roles() {
			if hasRole(w.reg.Roles, role) {
				c.roles[role]++
			}
		}
	}
	var blocked, active []string
	if len(workers) == 0 {
		blocked = append(blocked, MsgNoWorkers)
	} else {
		for _, role := range minimalRoles {
			if c.roles[role] == 0 {
				c.missing = append(c.missing, role)
			}
		}
		if len(c.missing) > 0 {
			blocked = append(blocked, MsgInconsistent+" Missing roles: "+strings.Join(c.missing, ", ")+".")
		}
	}
	if storageProblem != "" {
		blocked = append(blocked, storageProblem)
	}
	if len(workers) > 0 && len(c.missing) == 0 {
		for _, role := range app.Roles() {
			if have, want := c.roles[role], recommended[role]; have < want {
				c.belowRecommend = append(c.belowRecommend, fmt.Sprintf("%s: %d of %d", role, have, want))
			}
		}
		if len(c.belowRecommend) > 0 {
			active = append(active, MsgDegraded)
		}
	}
	if c.roles[app.MetricsGenerator] > 0 && !remoteWrite {
		active = append(active, MsgGeneratorDisabled)
	}
	c.messages = append(blocked, active...)
	switch {
	case len(blocked) > 0:
		c.status, c.message = Blocked, blocked[0]
	case len(active) > 0:
		c.status, c.message = Active, active[0]
	default:
		c.status = Active
	}
	return c
}

// coherent reports whether the minimal deployment is there and storage
// works: the cluster can take and serve traces.
func (c coherence) coherent() bool { return c.status == Active }
