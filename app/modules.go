package app

import (
	"fmt"
	"slices"
	"strings"
)

// Targets (roles). "all" runs every role in one process.
const (
	All           = "all"
	Distributor   = "distributor"
	Ingester      = "ingester"
	Querier       = "querier"
	QueryFrontend = "query-frontend"

	// internal modules that roles depend on
	server = "server"
	store  = "store"
)

// Targets lists the roles a user can ask for.
func Targets() []string { return []string{All, Distributor, Ingester, Querier, QueryFrontend} }

// deps is the module graph that grafana/dskit's modules.Manager resolves.
var deps = map[string][]string{
	server:        nil,
	store:         nil,
	Ingester:      {server, store},
	Distributor:   {server, Ingester},
	Querier:       {server, store, Ingester},
	QueryFrontend: {server, Querier},
	All:           {Distributor, Ingester, Querier, QueryFrontend},
}

// ParseTargets validates a comma-separated target list.
func ParseTargets(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !slices.Contains(Targets(), t) {
			return nil, fmt.Errorf("unknown target %q; valid targets: %s", t, strings.Join(Targets(), ", "))
		}
		if t != All {
			// Roles in separate processes need the ingester ring; until then
			// a single process runs them all.
			return nil, fmt.Errorf("target %q on its own needs the distributed mode, which this build does not have yet; use -target=all", t)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty target; valid targets: %s", strings.Join(Targets(), ", "))
	}
	return out, nil
}
