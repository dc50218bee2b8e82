package coordinator

import (
	"fmt"
	"strings"

	"github.com/pace-tracing/pace/app"
)

// WorkerGroup is a number of workers holding the same roles.
type WorkerGroup struct {
	Roles    []string
	Replicas int
}

// Name is the group's roles joined with '-' ("all", "querier").
func (g WorkerGroup) Name() string { return strings.Join(g.Roles, "-") }

// Stateful reports whether the group runs an ingester, whose WAL must
// outlive the process (a volume, in Kubernetes).
func (g WorkerGroup) Stateful() bool { return hasRole(g.Roles, app.Ingester) }

// Receives reports whether the group runs a distributor, so has the
// receiver ports.
func (g WorkerGroup) Receives() bool { return hasRole(g.Roles, app.Distributor) }

// Mode names, as Canonical's bundle names its deployments.
const (
	ModeMonolithic  = "monolithic"
	ModeMinimal     = "minimal-microservices"
	ModeRecommended = "recommended-microservices"
)

// Modes lists the deployment modes.
func Modes() []string { return []string{ModeMonolithic, ModeMinimal, ModeRecommended} }

// ModeGroups is the worker groups of a mode: scaling monolithic is 3 ×
// all; minimal is one worker per role; recommended adds two ingesters.
func ModeGroups(mode string) ([]WorkerGroup, error) {
	one := func(role string, n int) WorkerGroup { return WorkerGroup{Roles: []string{role}, Replicas: n} }
	switch mode {
	case ModeMonolithic:
		return []WorkerGroup{one(app.All, 3)}, nil
	case ModeMinimal, ModeRecommended:
		ingesters := 1
		if mode == ModeRecommended {
			ingesters = 3
		}
		return []WorkerGroup{
			one(app.Distributor, 1), one(app.Ingester, ingesters), one(app.Querier, 1),
			one(app.QueryFrontend, 1), one(app.Compactor, 1), one(app.MetricsGenerator, 1),
		}, nil
	}
	return nil, fmt.Errorf("unknown mode %q; valid modes: %s", mode, strings.Join(Modes(), ", "))
}
