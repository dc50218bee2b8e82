package deploy

import (
	"fmt"
	"strings"
)

// ComposeFile is the name of the compose file written with --out.
const ComposeFile = "compose.yaml"

// composeEscape keeps compose from interpolating: $ is written $$.
func composeEscape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func renderCompose(o Options, groups []Group) []File {
	endpoint := "minio:9000"
	if !o.MinIO {
		endpoint = o.S3.Endpoint
	}
	// Clients on this machine reach the published ports at localhost.
	cfg := coordinatorConfig(o, endpoint, "localhost")

	var services m
	var volumes m
	if o.MinIO {
		services = append(services,
			kv{k: "minio", c: "A single-node MinIO for trying pace out: not for production data.", v: m{
				{k: "image", v: o.MinIOImage},
				{k: "command", v: []string{"server", "/data"}},
				{k: "environment", c: "DEMO CREDENTIALS: fixed and public.", v: m{
					{k: "MINIO_ROOT_USER", v: minioUser},
					{k: "MINIO_ROOT_PASSWORD", v: minioPassword},
				}},
				{k: "volumes", v: []string{"minio-data:/data"}},
			}},
			kv{k: "minio-init", c: "pace does not create buckets: this creates the demo bucket once MinIO answers.", v: m{
				{k: "image", v: o.MCImage},
				{k: "entrypoint", v: []string{"/bin/sh", "-c"}},
				{k: "command", v: l{literal(fmt.Sprintf(`until mc alias set pace http://minio:9000 %s %s; do
  echo waiting for MinIO; sleep 2
done
mc mb --ignore-existing pace/%s
`, minioUser, minioPassword, MinIOBucket))}},
				{k: "depends_on", v: m{{k: "minio", v: m{{k: "condition", v: "service_started"}}}}},
			}},
		)
		volumes = append(volumes, kv{k: "minio-data", v: m{}})
	}

	var ports []string
	for _, p := range coordinatorPorts {
		s := fmt.Sprintf("%d:%d", p.number, p.number)
		if p.protocol == "UDP" {
			s += "/udp"
		}
		ports = append(ports, s)
	}
	coord := m{
		{k: "image", v: o.Image},
		{k: "entrypoint", v: []string{"pace"}},
		{k: "command", v: []string{"coordinator", "-config.file", configPath, "-config.expand-env"}},
		{k: "restart", v: "unless-stopped"},
	}
	if o.hasKeys() {
		s := o.storage()
		c := "The S3 keys, expanded into coordinator.yaml (-config.expand-env)."
		if o.MinIO {
			c += " DEMO CREDENTIALS."
		}
		coord = append(coord, kv{k: "environment", c: c, v: m{
			{k: "S3_ACCESS_KEY", v: composeEscape(s.AccessKey)},
			{k: "S3_SECRET_KEY", v: composeEscape(s.SecretKey)},
		}})
	}
	coord = append(coord,
		kv{k: "configs", v: l{m{{k: "source", v: "coordinator"}, {k: "target", v: configPath}}}},
		kv{k: "ports", v: ports, c: "the cluster's one address: query API (3200, 9096) and every receiver"},
	)
	if o.MinIO {
		coord = append(coord, kv{k: "depends_on", v: m{{k: "minio-init", v: m{{k: "condition", v: "service_completed_successfully"}}}}})
	}
	services = append(services, kv{k: "coordinator", v: coord})

	i := 0
	for _, g := range groups {
		for range g.Replicas {
			name := fmt.Sprintf("worker-%d", i)
			i++
			services = append(services, kv{k: name, v: m{
				{k: "image", v: o.Image},
				{k: "entrypoint", v: []string{"pace"}},
				{k: "command", v: []string{"worker", "--coordinator", "http://coordinator:3200", "--role", strings.Join(g.Roles, ","),
					"--name", name, "--address", name, "--data", "/data"}},
				{k: "restart", v: "unless-stopped"},
				{k: "stop_grace_period", v: fmt.Sprintf("%ds", workerGrace), c: "time to drain and to flush an ingester's data"},
				{k: "volumes", v: []string{name + "-data:/data"}},
				{k: "depends_on", v: m{{k: "coordinator", v: m{{k: "condition", v: "service_started"}}}}},
			}})
			volumes = append(volumes, kv{k: name + "-data", v: m{}})
		}
	}

	doc := m{
		{k: "name", v: "pace"},
		{k: "services", v: services},
		{k: "configs", v: m{{k: "coordinator", v: m{{k: "content", v: literal(composeEscape(cfg))}}}}},
		{k: "volumes", v: volumes},
	}
	head := fmt.Sprintf("pace %s, mode %s: docker compose -f <this file> up -d\n(configs.content needs Docker Compose 2.23.1 or newer)", o.Version, o.Mode)
	return []File{{ComposeFile, marshal(head, doc)}}
}
