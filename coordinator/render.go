package coordinator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/backend"
)

// rendered is one worker's configuration.
type rendered struct {
	text    string   // YAML the worker runs (app.Config keys)
	version string   // hash of text without the join list
	join    []string // gossip join list
	err     error    // the rendered text did not validate
}

// replicationFactor is 3 with three or more ingesters, else 1 — but it
// is not lowered while workers run with 3: an ingester that crashed and
// timed out of the registry must not reconfigure (restart) every worker,
// nor leave its data with fewer copies. Workers report the factor they
// run, so replicas decide alike.
func replicationFactor(workers []entry) int {
	n := 0
	for _, w := range workers {
		if hasRole(w.reg.Roles, app.Ingester) {
			n++
		}
		if w.reg.ReplicationFactor >= 3 {
			return 3
		}
	}
	if n >= 3 {
		return 3
	}
	return 1
}

// joinMembers is every other worker's gossip address.
func joinMembers(self string, workers []entry) []string {
	var out []string
	for _, w := range workers {
		if w.reg.Name != self {
			out = append(out, net.JoinHostPort(w.reg.Address, strconv.Itoa(w.reg.Ports[PortGossip])))
		}
	}
	return out
}

// render builds w's configuration from the coordinator's settings and the
// registry. Only the sections w's roles read are written, so a change that
// concerns one role (retention: compactors) restarts only its workers.
func (c *Coordinator) render(w Registration, workers []entry, enabled []string) rendered {
	bind := w.BindAddress
	if bind == "" {
		bind = "0.0.0.0"
	}
	doc := map[string]any{
		"target": strings.Join(w.Roles, ","),
		"server": map[string]any{
			"http_listen_address": bind,
			"http_listen_port":    w.Ports[PortHTTP],
			"grpc_listen_address": bind,
			"grpc_listen_port":    w.Ports[PortGRPC],
			"log_level":           c.cfg().LogLevel,
		},
		"cluster": map[string]any{
			"instance_id":   w.Name,
			"instance_addr": w.Address,
			"memberlist": map[string]any{
				"bind_addr":      []string{bind},
				"bind_port":      w.Ports[PortGossip],
				"advertise_addr": w.Address,
				"advertise_port": w.Ports[PortGossip],
			},
		},
		"ingester": map[string]any{"replication_factor": replicationFactor(workers)},
		"storage":  map[string]any{"trace": storageSection(c.cfg().Storage, w.DataDir)},
	}
	if e := c.cfg().SelfTracingEndpoint; e != "" {
		doc["tracing"] = map[string]any{"endpoint": e}
	}
	if hasRole(w.Roles, app.Distributor) {
		doc["distributor"] = map[string]any{"receivers": receiversSection(bind, w.Ports, enabled)}
	}
	if hasRole(w.Roles, app.Compactor) {
		doc["compactor"] = map[string]any{"block_retention": fmt.Sprintf("%dh", c.cfg().RetentionPeriod)}
	}
	if hasRole(w.Roles, app.MetricsGenerator) && len(c.cfg().RemoteWrite) > 0 {
		var rw []map[string]any
		for _, r := range c.cfg().RemoteWrite {
			rw = append(rw, map[string]any{"url": r.URL})
		}
		doc["metrics_generator"] = map[string]any{"remote_write": rw}
	}
	// The version covers everything but the join list: members find each
	// other by gossip, so a worker joining is no reason to restart others.
	base, err := yaml.Marshal(doc)
	if err != nil {
		return rendered{err: err}
	}
	sum := sha256.Sum256(base)
	r := rendered{version: hex.EncodeToString(sum[:6]), join: joinMembers(w.Name, workers)}
	doc["cluster"].(map[string]any)["memberlist"].(map[string]any)["join_members"] = r.join
	text, err := yaml.Marshal(doc)
	if err != nil {
		return rendered{err: err}
	}
	r.text = string(text)
	// Validate exactly as the worker will read it.
	if _, err := app.ParseConfig(text); err != nil {
		r.err = fmt.Errorf("rendered configuration of %s does not validate: %w", w.Name, err)
	}
	return r
}

func storageSection(s backend.Config, dataDir string) map[string]any {
	out := map[string]any{
		"backend": s.Backend,
		"wal":     map[string]any{"path": filepath.Join(dataDir, "wal")},
	}
	switch s.Backend {
	case backend.Local:
		out["local"] = map[string]any{"path": s.Local.Path}
	case backend.S3:
		out["s3"] = map[string]any{
			"endpoint":       s.S3.Endpoint,
			"bucket":         s.S3.Bucket,
			"region":         s.S3.Region,
			"access_key":     s.S3.AccessKey,
			"secret_key":     s.S3.SecretKey,
			"insecure":       s.S3.Insecure,
			"forcepathstyle": s.S3.ForcePathStyle,
			"tls_ca_path":    s.S3.CAFile,
		}
	}
	return out
}

// receiversSection switches on exactly the enabled protocols, on the
// worker's own ports; the others get an empty endpoint and open no port.
func receiversSection(bind string, ports map[string]int, enabled []string) map[string]any {
	ep := func(p string) map[string]any {
		if !slices.Contains(enabled, p) {
			return map[string]any{"endpoint": ""}
		}
		return map[string]any{"endpoint": net.JoinHostPort(bind, strconv.Itoa(ports[p]))}
	}
	return map[string]any{
		"otlp": map[string]any{"protocols": map[string]any{"grpc": ep(OTLPGRPC), "http": ep(OTLPHTTP)}},
		"jaeger": map[string]any{"protocols": map[string]any{
			"grpc": ep(JaegerGRPC), "thrift_http": ep(JaegerThriftHTTP),
			"thrift_compact": ep(JaegerThriftCompact), "thrift_binary": ep(JaegerThriftBinary),
		}},
		"zipkin": ep(Zipkin),
	}
}
