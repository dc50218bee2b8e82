package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Names of the Kubernetes objects.
const (
	coordinatorName     = "pace-coordinator"
	coordinatorHeadless = "pace-coordinator-headless"
	workersHeadless     = "pace-workers"
	s3SecretName        = "pace-s3"
	minioName           = "pace-minio"
	configPath          = "/etc/pace/coordinator.yaml"
	// workerGrace is long enough for an ingester to drain and flush.
	workerGrace = 60
)

func labels(component string, extra ...kv) m {
	ls := m{
		{k: "app.kubernetes.io/name", v: "pace"},
		{k: "app.kubernetes.io/component", v: component},
	}
	return append(ls, extra...)
}

// withVersion adds the version label to a workload's own labels.
func withVersion(o Options, ls m) m {
	return append(ls[:len(ls):len(ls)], kv{k: "app.kubernetes.io/version", v: o.Version})
}

func meta(o Options, name string, ls m) m {
	return m{{k: "name", v: name}, {k: "namespace", v: o.Namespace}, {k: "labels", v: ls}}
}

func object(apiVersion, kind string, metadata m, rest ...kv) m {
	return append(m{{k: "apiVersion", v: apiVersion}, {k: "kind", v: kind}, {k: "metadata", v: metadata}}, rest...)
}

func renderKubernetes(o Options, groups []Group) []File {
	doc := func(comment string, v m) []byte { return marshal(comment, v) }
	join := func(docs ...[]byte) []byte { return Join(filesOf(docs)) }

	var files []File
	files = append(files, File{"00-namespace.yaml", doc(
		fmt.Sprintf("pace %s, mode %s: kubectl apply -f <this file or directory>", o.Version, o.Mode),
		m{{k: "apiVersion", v: "v1"}, {k: "kind", v: "Namespace"}, {k: "metadata", v: m{
			{k: "name", v: o.Namespace}, {k: "labels", v: m{{k: "app.kubernetes.io/name", v: "pace"}}},
		}}},
	)})
	if o.MinIO {
		files = append(files, File{"10-minio.yaml", join(minioDocs(o)...)})
	}
	files = append(files, File{"20-coordinator.yaml", join(coordinatorDocs(o)...)})
	files = append(files, File{"30-workers.yaml", doc("Gives the worker pods DNS names (the StatefulSets' governing Service).",
		headlessService(o, workersHeadless, "names for pods that are not ready yet too", labels("worker")))})
	for i, g := range groups {
		files = append(files, File{fmt.Sprintf("%d-worker-%s.yaml", 31+i, g.Name()), doc("", workerWorkload(o, g))})
	}
	return files
}

func filesOf(docs [][]byte) []File {
	fs := make([]File, len(docs))
	for i, d := range docs {
		fs[i] = File{Data: d}
	}
	return fs
}

func headlessService(o Options, name, why string, selector m) m {
	return object("v1", "Service", meta(o, name, selector), kv{k: "spec", v: m{
		{k: "clusterIP", v: "None"},
		{k: "publishNotReadyAddresses", v: true, c: why},
		{k: "selector", v: selector},
		{k: "ports", v: l{m{{k: "name", v: "http"}, {k: "port", v: 3200}, {k: "targetPort", v: 3200}}}},
	}})
}

// coordinatorURLs are every coordinator replica, by its stable name: a
// worker must heartbeat to each, since replicas share nothing.
func coordinatorURLs(o Options) string {
	urls := make([]string, o.CoordinatorReplicas)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://%s-%d.%s.%s.svc:3200", coordinatorName, i, coordinatorHeadless, o.Namespace)
	}
	return strings.Join(urls, ",")
}

func coordinatorDocs(o Options) [][]byte {
	ls := labels("coordinator")
	cfg := coordinatorConfig(o, o.storage().Endpoint, coordinatorName+"."+o.Namespace+".svc")
	sum := sha256.Sum256([]byte(cfg))
	var docs [][]byte

	if o.hasKeys() {
		s := o.storage()
		comment := "The S3 keys, expanded into coordinator.yaml from the environment."
		if o.MinIO {
			comment += "\nDEMO CREDENTIALS: the bundled MinIO's fixed, public root user and password."
		}
		docs = append(docs, marshal(comment, object("v1", "Secret", meta(o, s3SecretName, ls),
			kv{k: "type", v: "Opaque"},
			kv{k: "stringData", v: m{{k: "S3_ACCESS_KEY", v: s.AccessKey}, {k: "S3_SECRET_KEY", v: s.SecretKey}}},
		)))
	}
	docs = append(docs, marshal("", object("v1", "ConfigMap", meta(o, coordinatorName, ls),
		kv{k: "data", v: m{{k: "coordinator.yaml", v: literal(cfg)}}},
	)))

	var ports l
	for _, p := range coordinatorPorts {
		ports = append(ports, m{{k: "name", v: p.name}, {k: "port", v: p.number}, {k: "targetPort", v: p.number}, {k: "protocol", v: p.protocol}})
	}
	docs = append(docs, marshal("The cluster's one address: query API (3200, 9096) and every receiver.",
		object("v1", "Service", meta(o, coordinatorName, ls), kv{k: "spec", v: m{
			{k: "selector", v: ls},
			{k: "ports", v: ports},
		}})))
	docs = append(docs, marshal("Each coordinator replica by name, for the workers' heartbeats.", headlessService(o, coordinatorHeadless, "workers register with a replica before it is ready", ls)))

	container := m{
		{k: "name", v: "coordinator"},
		{k: "image", v: o.Image},
		{k: "command", v: []string{"pace"}},
		{k: "args", v: []string{"coordinator", "-config.file", configPath, "-config.expand-env"}},
	}
	if o.hasKeys() {
		container = append(container, kv{k: "envFrom", v: l{m{{k: "secretRef", v: m{{k: "name", v: s3SecretName}}}}}})
	}
	container = append(container,
		kv{k: "ports", v: containerPorts(coordinatorPorts)},
		kv{k: "readinessProbe", v: readyProbe()},
		kv{k: "volumeMounts", v: l{m{{k: "name", v: "config"}, {k: "mountPath", v: "/etc/pace"}, {k: "readOnly", v: true}}}},
	)
	docs = append(docs, marshal(
		"Coordinator replicas share nothing: each hears every worker (the workers\nheartbeat to each by name) and they decide alike.",
		object("apps/v1", "StatefulSet", meta(o, coordinatorName, withVersion(o, ls)), kv{k: "spec", v: m{
			{k: "serviceName", v: coordinatorHeadless},
			{k: "replicas", v: o.CoordinatorReplicas},
			{k: "podManagementPolicy", v: "Parallel"},
			{k: "selector", v: m{{k: "matchLabels", v: ls}}},
			{k: "template", v: m{
				{k: "metadata", v: m{
					{k: "labels", v: withVersion(o, ls)},
					{k: "annotations", v: m{{k: "pace.dev/config-sha256", v: hex.EncodeToString(sum[:]), c: "a new configuration rolls the replicas"}}},
				}},
				{k: "spec", v: m{
					{k: "affinity", v: spreadAffinity(ls)},
					{k: "containers", v: l{container}},
					{k: "volumes", v: l{m{{k: "name", v: "config"}, {k: "configMap", v: m{{k: "name", v: coordinatorName}}}}}},
				}},
			}},
		}})))
	return docs
}

func containerPorts(ps []port) l {
	var out l
	for _, p := range ps {
		out = append(out, m{{k: "name", v: p.name}, {k: "containerPort", v: p.number}, {k: "protocol", v: p.protocol}})
	}
	return out
}

func readyProbe() m {
	return m{
		{k: "httpGet", v: m{{k: "path", v: "/ready"}, {k: "port", v: 3200}}},
		{k: "periodSeconds", v: 5},
		{k: "failureThreshold", v: 2},
	}
}

// spreadAffinity prefers one pod of a kind per node (a preference, so a
// one-node cluster still schedules them).
func spreadAffinity(selector m) m {
	return m{{k: "podAntiAffinity", v: m{{k: "preferredDuringSchedulingIgnoredDuringExecution", v: l{m{
		{k: "weight", v: 100},
		{k: "podAffinityTerm", v: m{
			{k: "topologyKey", v: "kubernetes.io/hostname"},
			{k: "labelSelector", v: m{{k: "matchLabels", v: selector}}},
		}},
	}}}}}}
}

func workerWorkload(o Options, g Group) m {
	name := "pace-" + g.Name()
	ls := labels("worker", kv{k: "pace.dev/roles", v: g.Name()})
	ports := []port{{"http", 3200, "TCP"}, {"grpc", 9095, "TCP"}, {"gossip-tcp", 7946, "TCP"}, {"gossip-udp", 7946, "UDP"}}
	if g.Receives() {
		ports = append(ports, receiverPorts...)
	}
	fieldEnv := func(name, path string) m {
		return m{{k: "name", v: name}, {k: "valueFrom", v: m{{k: "fieldRef", v: m{{k: "fieldPath", v: path}}}}}}
	}
	container := m{
		{k: "name", v: "worker"},
		{k: "image", v: o.Image},
		{k: "command", v: []string{"pace"}},
		{k: "args", v: []string{"worker", "--coordinator", coordinatorURLs(o), "--role", strings.Join(g.Roles, ","),
			"--name", "$(POD_NAME)", "--address", "$(POD_IP)", "--data", "/data"}},
		{k: "env", v: l{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_IP", "status.podIP")}},
		{k: "ports", v: containerPorts(ports)},
		{k: "readinessProbe", v: readyProbe()},
		{k: "volumeMounts", v: l{m{{k: "name", v: "data"}, {k: "mountPath", v: "/data"}}}},
	}
	grace := "time to drain (the worker fails /ready first) before it stops"
	if g.Stateful() {
		grace = "time to drain and to flush the ingester's data before it stops"
	}
	pod := m{
		{k: "terminationGracePeriodSeconds", v: workerGrace, c: grace},
		{k: "affinity", v: spreadAffinity(ls)},
		{k: "containers", v: l{container}},
	}
	if !g.Stateful() {
		pod = append(pod, kv{k: "volumes", v: l{m{{k: "name", v: "data"}, {k: "emptyDir", v: m{}}}}})
	}
	template := m{{k: "metadata", v: m{{k: "labels", v: withVersion(o, ls)}}}, {k: "spec", v: pod}}
	selector := m{{k: "matchLabels", v: ls}}

	if !g.Stateful() {
		return object("apps/v1", "Deployment", meta(o, name, withVersion(o, ls)), kv{k: "spec", v: m{
			{k: "replicas", v: g.Replicas},
			{k: "selector", v: selector},
			{k: "template", v: template},
		}})
	}
	return object("apps/v1", "StatefulSet", meta(o, name, withVersion(o, ls)), kv{k: "spec", v: m{
		{k: "serviceName", v: workersHeadless},
		{k: "replicas", v: g.Replicas},
		{k: "podManagementPolicy", v: "Parallel", c: "start together; updates still go one pod at a time"},
		{k: "selector", v: selector},
		{k: "template", v: template},
		{k: "volumeClaimTemplates", v: l{m{
			{k: "metadata", v: m{{k: "name", v: "data"}, {k: "labels", v: ls}}},
			{k: "spec", v: m{
				{k: "accessModes", v: []string{"ReadWriteOnce"}},
				{k: "resources", v: m{{k: "requests", v: m{{k: "storage", v: o.VolumeSize}}}}},
			}},
		}}, c: "the ingester's WAL: what was acknowledged and not yet flushed"},
	}})
}

func minioDocs(o Options) [][]byte {
	ls := labels("minio")
	secretRef := kv{k: "envFrom", v: l{m{{k: "secretRef", v: m{{k: "name", v: minioName}}}}}}
	var docs [][]byte
	docs = append(docs, marshal(
		"A single-node MinIO for trying pace out: not for production data.\nDEMO CREDENTIALS: fixed and public; change them here and in the pace-s3 Secret\n(or use --s3-* with your own object store).",
		object("v1", "Secret", meta(o, minioName, ls),
			kv{k: "type", v: "Opaque"},
			kv{k: "stringData", v: m{{k: "MINIO_ROOT_USER", v: minioUser}, {k: "MINIO_ROOT_PASSWORD", v: minioPassword}}},
		)))
	docs = append(docs, marshal("", object("v1", "PersistentVolumeClaim", meta(o, minioName, ls), kv{k: "spec", v: m{
		{k: "accessModes", v: []string{"ReadWriteOnce"}},
		{k: "resources", v: m{{k: "requests", v: m{{k: "storage", v: o.VolumeSize}}}}},
	}})))
	docs = append(docs, marshal("", object("apps/v1", "Deployment", meta(o, minioName, ls), kv{k: "spec", v: m{
		{k: "replicas", v: 1},
		{k: "strategy", v: m{{k: "type", v: "Recreate"}}, c: "one pod at a time on the ReadWriteOnce volume"},
		{k: "selector", v: m{{k: "matchLabels", v: ls}}},
		{k: "template", v: m{
			{k: "metadata", v: m{{k: "labels", v: ls}}},
			{k: "spec", v: m{
				{k: "containers", v: l{m{
					{k: "name", v: "minio"},
					{k: "image", v: o.MinIOImage},
					{k: "args", v: []string{"server", "/data"}},
					secretRef,
					{k: "ports", v: l{m{{k: "name", v: "s3"}, {k: "containerPort", v: 9000}, {k: "protocol", v: "TCP"}}}},
					{k: "readinessProbe", v: m{{k: "httpGet", v: m{{k: "path", v: "/minio/health/ready"}, {k: "port", v: 9000}}}, {k: "periodSeconds", v: 5}}},
					{k: "volumeMounts", v: l{m{{k: "name", v: "data"}, {k: "mountPath", v: "/data"}}}},
				}}},
				{k: "volumes", v: l{m{{k: "name", v: "data"}, {k: "persistentVolumeClaim", v: m{{k: "claimName", v: minioName}}}}}},
			}},
		}},
	}})))
	docs = append(docs, marshal("", object("v1", "Service", meta(o, minioName, ls), kv{k: "spec", v: m{
		{k: "selector", v: ls},
		{k: "ports", v: l{m{{k: "name", v: "s3"}, {k: "port", v: 9000}, {k: "targetPort", v: 9000}, {k: "protocol", v: "TCP"}}}},
	}})))
	script := fmt.Sprintf(`until mc alias set pace http://%s:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"; do
  echo waiting for MinIO; sleep 2
done
mc mb --ignore-existing pace/%s
`, minioName, MinIOBucket)
	docs = append(docs, marshal("pace does not create buckets: this Job creates the demo bucket once MinIO answers.",
		object("batch/v1", "Job", meta(o, minioName+"-bucket", ls), kv{k: "spec", v: m{
			{k: "backoffLimit", v: 10},
			{k: "template", v: m{
				{k: "metadata", v: m{{k: "labels", v: ls}}},
				{k: "spec", v: m{
					{k: "restartPolicy", v: "OnFailure"},
					{k: "containers", v: l{m{
						{k: "name", v: "create-bucket"},
						{k: "image", v: o.MCImage},
						{k: "command", v: []string{"/bin/sh", "-c"}},
						{k: "args", v: l{literal(script)}},
						secretRef,
					}}},
				}},
			}},
		}})))
	return docs
}
