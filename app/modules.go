package app

import (
	"fmt"
	"slices"
	"strings"
)

// Targets (roles). "all" runs every role in one process.
const (
	All              = "all"
	Distributor      = "distributor"
	Ingester         = "ingester"
	Querier          = "querier"
	QueryFrontend    = "query-frontend"
	Compactor        = "compactor"
	MetricsGenerator = "metrics-generator"

	// internal modules that roles depend on
	server     = "server"
	grpcServer = "grpc-server"
	clusterKV  = "cluster"
	rings      = "rings"
	store      = "store"
)

// Roles lists the roles a process can run, `all` aside.
func Roles() []string {
	return []string{Distributor, Ingester, Querier, QueryFrontend, Compactor, MetricsGenerator}
}

// Targets lists every valid -target value.
func Targets() []string { return append([]string{All}, Roles()...) }

// deps is the module graph that grafana/dskit's modules.Manager resolves.
var deps = map[string][]string{
	server:           nil,
	grpcServer:       nil,
	clusterKV:        nil,
	store:            nil,
	rings:            {server, clusterKV},
	Ingester:         {server, grpcServer, rings, store},
	Distributor:      {server, rings},
	Querier:          {server, grpcServer, rings, store},
	QueryFrontend:    {server, grpcServer, rings},
	Compactor:        {server, rings, store},
	MetricsGenerator: {server, grpcServer, rings},
	All:              {Distributor, Ingester, Querier, QueryFrontend, Compactor, MetricsGenerator},
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
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty target; valid targets: %s", strings.Join(Targets(), ", "))
	}
	return out, nil
}

// runs reports whether the targets include role (directly or through all).
func runs(targets []string, role string) bool {
	return slices.Contains(targets, role) || slices.Contains(targets, All)
}
