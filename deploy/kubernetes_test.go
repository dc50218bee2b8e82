package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/coordinator"
)

// manifests are rendered Kubernetes objects, decoded strictly by kind.
type manifests struct {
	namespaces   []corev1.Namespace
	services     []corev1.Service
	configMaps   []corev1.ConfigMap
	secrets      []corev1.Secret
	pvcs         []corev1.PersistentVolumeClaim
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
	jobs         []batchv1.Job
	metas        []metav1.ObjectMeta
}

var docSep = regexp.MustCompile(`(?m)^---\n`)

// decodeStrict decodes every document into its k8s.io/api type; a field the
// type does not have is an error.
func decodeStrict(text []byte) (*manifests, error) {
	var ms manifests
	for i, doc := range docSep.Split(string(text), -1) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var err error
		var om metav1.ObjectMeta
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			om, err = decodeInto(doc, &ms.namespaces)
		case "v1 Service":
			om, err = decodeInto(doc, &ms.services)
		case "v1 ConfigMap":
			om, err = decodeInto(doc, &ms.configMaps)
		case "v1 Secret":
			om, err = decodeInto(doc, &ms.secrets)
		case "v1 PersistentVolumeClaim":
			om, err = decodeInto(doc, &ms.pvcs)
		case "apps/v1 Deployment":
			om, err = decodeInto(doc, &ms.deployments)
		case "apps/v1 StatefulSet":
			om, err = decodeInto(doc, &ms.statefulSets)
		case "batch/v1 Job":
			om, err = decodeInto(doc, &ms.jobs)
		default:
			return nil, fmt.Errorf("document %d: unexpected %s %s", i, tm.APIVersion, tm.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, tm.Kind, err)
		}
		ms.metas = append(ms.metas, om)
	}
	return &ms, nil
}

// decodeInto decodes doc strictly into a new T appended to list.
func decodeInto[T any, PT interface {
	*T
	metav1.Object
}](doc string, list *[]T) (metav1.ObjectMeta, error) {
	var o T
	if err := yaml.UnmarshalStrict([]byte(doc), &o); err != nil {
		return metav1.ObjectMeta{}, err
	}
	*list = append(*list, o)
	p := PT(&o)
	return metav1.ObjectMeta{Name: p.GetName(), Namespace: p.GetNamespace(), Labels: p.GetLabels()}, nil
}

func testS3() *S3 {
	return &S3{Endpoint: "s3.example.com", Bucket: "pace-traces", Region: "eu-west-1", AccessKey: "AKIDEXAMPLE", SecretKey: "example-secret"}
}

func renderK8s(t *testing.T, o Options) (*manifests, []byte) {
	t.Helper()
	files, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	text := Join(files)
	ms, err := decodeStrict(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return ms, text
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	bad := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 3\n"
	if _, err := decodeStrict([]byte(bad)); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("a misspelt field decoded: %v", err)
	}
	bad = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: 1\n      protocl: UDP\n"
	if _, err := decodeStrict([]byte(bad)); err == nil {
		t.Fatal("a misspelt nested field decoded")
	}
}

// Every mode on S3 and on MinIO: what a user relies on.
func TestKubernetesManifests(t *testing.T) {
	for _, mode := range Modes() {
		for _, minio := range []bool{false, true} {
			name := mode
			if minio {
				name += "-minio"
			}
			t.Run(name, func(t *testing.T) {
				o := Options{Mode: mode, Format: Kubernetes, Version: "1.2.3", MinIO: minio, Namespace: "tracing"}
				if !minio {
					o.S3 = testS3()
				}
				ms, text := renderK8s(t, o)
				checkKubernetes(t, o, ms, text)
			})
		}
	}
}

func checkKubernetes(t *testing.T, o Options, ms *manifests, text []byte) {
	groups, _ := Groups(o.Mode)

	// Names, labels and ports that the API server would refuse.
	if len(ms.namespaces) != 1 || ms.namespaces[0].Name != o.Namespace {
		t.Errorf("namespaces %v", ms.namespaces)
	}
	for _, om := range ms.metas {
		if om.Namespace != o.Namespace && om.Name != o.Namespace {
			t.Errorf("%s in namespace %q", om.Name, om.Namespace)
		}
		if errs := validation.IsDNS1035Label(om.Name); len(errs) > 0 {
			t.Errorf("name %q: %v", om.Name, errs)
		}
		checkLabels(t, om.Labels)
	}

	// The coordinator: a Service with every access-point port.
	svc := find(t, ms.services, func(s corev1.Service) bool { return s.Name == "pace-coordinator" })
	want := map[int32]corev1.Protocol{3200: "TCP", 9096: "TCP", 4317: "TCP", 4318: "TCP", 9411: "TCP", 14268: "TCP", 14250: "TCP", 6831: "UDP", 6832: "UDP"}
	got := map[int32]corev1.Protocol{}
	for _, p := range svc.Spec.Ports {
		got[p.Port] = p.Protocol
		if p.TargetPort.IntValue() != int(p.Port) {
			t.Errorf("service port %d targets %v", p.Port, p.TargetPort)
		}
		if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
			t.Errorf("port name %q: %v", p.Name, errs)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("coordinator service ports %v, want %v", got, want)
	}
	coord := find(t, ms.statefulSets, func(s appsv1.StatefulSet) bool { return s.Name == "pace-coordinator" })
	if *coord.Spec.Replicas != 2 {
		t.Errorf("coordinator replicas %d", *coord.Spec.Replicas)
	}
	checkSelects(t, svc.Spec.Selector, coord.Spec.Template.Labels)
	checkSelects(t, coord.Spec.Selector.MatchLabels, coord.Spec.Template.Labels)
	find(t, ms.services, func(s corev1.Service) bool {
		return s.Name == coord.Spec.ServiceName && s.Spec.ClusterIP == "None"
	})
	c := coord.Spec.Template.Spec.Containers[0]
	if strings.Join(append(c.Command, c.Args...), " ") != "pace coordinator -config.file /etc/pace/coordinator.yaml -config.expand-env" {
		t.Errorf("coordinator runs %v %v", c.Command, c.Args)
	}
	checkReady(t, "coordinator", c)
	cports := map[int32]corev1.Protocol{}
	for _, p := range c.Ports {
		cports[p.ContainerPort] = p.Protocol
	}
	if !maps.Equal(cports, want) {
		t.Errorf("coordinator container ports %v", cports)
	}
	if c.Image != "pace-tracing/pace:1.2.3" {
		t.Errorf("image %q", c.Image)
	}

	// Its configuration loads as the coordinator loads it, keys from the Secret.
	cm := find(t, ms.configMaps, func(c corev1.ConfigMap) bool {
		return c.Name == coord.Spec.Template.Spec.Volumes[0].ConfigMap.Name
	})
	secret := find(t, ms.secrets, func(s corev1.Secret) bool { return s.Name == c.EnvFrom[0].SecretRef.Name })
	cfg := loadCoordinator(t, cm.Data["coordinator.yaml"], secret.StringData)
	wantS3 := *testS3()
	if o.MinIO {
		wantS3 = S3{Endpoint: "pace-minio:9000", Bucket: MinIOBucket, AccessKey: minioUser, SecretKey: minioPassword, Insecure: true}
	}
	s3 := cfg.Storage.S3
	if cfg.Storage.Backend != "s3" || s3.Endpoint != wantS3.Endpoint || s3.Bucket != wantS3.Bucket || s3.Region != wantS3.Region ||
		s3.AccessKey != wantS3.AccessKey || s3.SecretKey != wantS3.SecretKey || s3.Insecure != wantS3.Insecure || !s3.ForcePathStyle {
		t.Errorf("coordinator storage %+v, want %+v", cfg.Storage, wantS3)
	}
	if cfg.PublicAddress != "pace-coordinator."+o.Namespace+".svc" || !slices.Equal(cfg.Receivers, coordinator.Protocols()) {
		t.Errorf("public address %q, receivers %v", cfg.PublicAddress, cfg.Receivers)
	}

	// Workers: one workload per group, StatefulSets exactly for ingesters.
	roles := map[string]int{}
	type workload struct {
		kind     string
		labels   map[string]string
		replicas int32
		selector map[string]string
		pod      corev1.PodTemplateSpec
	}
	var workloads []workload
	for _, d := range ms.deployments {
		if d.Labels["app.kubernetes.io/component"] == "worker" {
			workloads = append(workloads, workload{"Deployment", d.Labels, *d.Spec.Replicas, d.Spec.Selector.MatchLabels, d.Spec.Template})
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == "data" && v.EmptyDir == nil {
					t.Errorf("%s: data is not an emptyDir", d.Name)
				}
			}
		}
	}
	for _, s := range ms.statefulSets {
		if s.Labels["app.kubernetes.io/component"] == "worker" {
			workloads = append(workloads, workload{"StatefulSet", s.Labels, *s.Spec.Replicas, s.Spec.Selector.MatchLabels, s.Spec.Template})
			if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Name != "data" ||
				s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "10Gi" {
				t.Errorf("%s: volume claims %+v", s.Name, s.Spec.VolumeClaimTemplates)
			}
			find(t, ms.services, func(svc corev1.Service) bool {
				return svc.Name == s.Spec.ServiceName && svc.Spec.ClusterIP == "None"
			})
		}
	}
	if len(workloads) != len(groups) {
		t.Fatalf("%d worker workloads for %d groups", len(workloads), len(groups))
	}
	for _, w := range workloads {
		name := w.labels["pace.dev/roles"]
		checkSelects(t, w.selector, w.pod.Labels)
		stateful := strings.Contains(name, app.Ingester) || name == app.All
		if (w.kind == "StatefulSet") != stateful {
			t.Errorf("group %s is a %s", name, w.kind)
		}
		spec := w.pod.Spec
		if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds < 30 {
			t.Errorf("group %s: grace period %v", name, spec.TerminationGracePeriodSeconds)
		}
		c := spec.Containers[0]
		checkReady(t, name, c)
		if c.VolumeMounts[0].Name != "data" || c.VolumeMounts[0].MountPath != "/data" {
			t.Errorf("group %s mounts %+v", name, c.VolumeMounts)
		}
		args := argMap(c.Args[1:])
		if c.Args[0] != "worker" || args["--name"] != "$(POD_NAME)" || args["--address"] != "$(POD_IP)" || args["--data"] != "/data" ||
			strings.ReplaceAll(args["--role"], ",", "-") != name {
			t.Errorf("group %s args %v", name, c.Args)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
		if env["POD_NAME"] != "metadata.name" || env["POD_IP"] != "status.podIP" {
			t.Errorf("group %s env %v", name, env)
		}
		// Every coordinator replica, by a name its headless Service gives it.
		urls := strings.Split(args["--coordinator"], ",")
		if len(urls) != int(*coord.Spec.Replicas) {
			t.Errorf("group %s: coordinators %v", name, urls)
		}
		for i, u := range urls {
			if want := fmt.Sprintf("http://pace-coordinator-%d.%s.%s.svc:3200", i, coord.Spec.ServiceName, o.Namespace); u != want {
				t.Errorf("coordinator URL %q, want %q", u, want)
			}
		}
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)] = true
		}
		for _, p := range []string{"3200/TCP", "9095/TCP", "7946/TCP", "7946/UDP"} {
			if !ports[p] {
				t.Errorf("group %s lacks port %s", name, p)
			}
		}
		if distributes := name == app.All || strings.Contains(name, app.Distributor); ports["4317/TCP"] != distributes || ports["6831/UDP"] != distributes {
			t.Errorf("group %s: receiver ports %v", name, ports)
		}
		for _, r := range strings.Split(args["--role"], ",") {
			roles[r] += int(w.replicas)
		}
	}
	wantRoles := map[string]int{app.Distributor: 1, app.Ingester: 1, app.Querier: 1, app.QueryFrontend: 1, app.Compactor: 1, app.MetricsGenerator: 1}
	switch o.Mode {
	case Monolithic:
		wantRoles = map[string]int{app.All: 3}
	case RecommendedMicroservices:
		wantRoles[app.Ingester] = 3
	}
	if !maps.Equal(roles, wantRoles) {
		t.Errorf("workers per role %v, want %v", roles, wantRoles)
	}

	// MinIO, and a job that creates the bucket.
	if o.MinIO {
		svc := find(t, ms.services, func(s corev1.Service) bool { return s.Name == "pace-minio" })
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 9000 {
			t.Errorf("minio service %+v", svc.Spec.Ports)
		}
		d := find(t, ms.deployments, func(d appsv1.Deployment) bool { return d.Name == "pace-minio" })
		checkSelects(t, svc.Spec.Selector, d.Spec.Template.Labels)
		find(t, ms.pvcs, func(p corev1.PersistentVolumeClaim) bool {
			return p.Name == d.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName
		})
		if c := d.Spec.Template.Spec.Containers[0]; c.Image != "minio/minio" || strings.Join(c.Args, " ") != "server /data" {
			t.Errorf("minio container %s %v", c.Image, c.Args)
		}
		job := find(t, ms.jobs, func(j batchv1.Job) bool { return j.Name == "pace-minio-bucket" })
		jc := job.Spec.Template.Spec.Containers[0]
		script := strings.Join(jc.Args, " ")
		if jc.Image != "minio/mc" || !strings.Contains(script, "mc mb --ignore-existing pace/"+MinIOBucket) ||
			!strings.Contains(script, "http://pace-minio:9000") {
			t.Errorf("bucket job %s %q", jc.Image, script)
		}
		find(t, ms.secrets, func(s corev1.Secret) bool {
			return s.Name == jc.EnvFrom[0].SecretRef.Name && s.StringData["MINIO_ROOT_USER"] == minioUser
		})
		if !strings.Contains(string(text), "DEMO CREDENTIALS") {
			t.Error("the demo credentials are not marked")
		}
	} else if len(ms.jobs)+len(ms.pvcs) > 0 || strings.Contains(string(text), "minio") {
		t.Error("MinIO objects without --minio")
	}

	// Images name no registry host.
	for _, img := range images(ms) {
		if first, _, ok := strings.Cut(img, "/"); ok && strings.ContainsAny(first, ".:") {
			t.Errorf("image %q names a registry", img)
		}
	}
}

func images(ms *manifests) []string {
	var out []string
	add := func(p corev1.PodSpec) {
		for _, c := range p.Containers {
			out = append(out, c.Image)
		}
	}
	for _, d := range ms.deployments {
		add(d.Spec.Template.Spec)
	}
	for _, s := range ms.statefulSets {
		add(s.Spec.Template.Spec)
	}
	for _, j := range ms.jobs {
		add(j.Spec.Template.Spec)
	}
	return out
}

func find[T any](t *testing.T, xs []T, ok func(T) bool) T {
	t.Helper()
	for _, x := range xs {
		if ok(x) {
			return x
		}
	}
	var zero T
	t.Fatalf("no matching %T", zero)
	return zero
}

func checkLabels(t *testing.T, ls map[string]string) {
	t.Helper()
	for k, v := range ls {
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			t.Errorf("label %s=%s: %v", k, v, errs)
		}
	}
}

// checkSelects: the selector picks the pods.
func checkSelects(t *testing.T, selector, pod map[string]string) {
	t.Helper()
	if len(selector) == 0 {
		t.Error("empty selector")
	}
	for k, v := range selector {
		if pod[k] != v {
			t.Errorf("selector %v does not select pod labels %v", selector, pod)
		}
	}
	checkLabels(t, pod)
}

func checkReady(t *testing.T, name string, c corev1.Container) {
	t.Helper()
	p := c.ReadinessProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/ready" || p.HTTPGet.Port.IntValue() != 3200 {
		t.Errorf("%s: readiness probe %+v", name, p)
	}
}

func argMap(args []string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		out[args[i]] = args[i+1]
	}
	return out
}

// loadCoordinator loads coordinator.yaml as `pace coordinator -config.file
// F -config.expand-env` does, with env set.
func loadCoordinator(t *testing.T, text string, env map[string]string) *coordinator.Config {
	t.Helper()
	f := filepath.Join(t.TempDir(), "coordinator.yaml")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := coordinator.Load([]string{"-config.file", f, "-config.expand-env"})
	if err != nil {
		t.Fatalf("coordinator.yaml does not load: %v\n%s", err, text)
	}
	return cfg
}

func TestKubernetesOptions(t *testing.T) {
	// No keys: no Secret, and the coordinator reads none from its environment.
	s3 := testS3()
	s3.AccessKey, s3.SecretKey = "", ""
	o := Options{Mode: Monolithic, Version: "v9", S3: s3, Image: "my/pace:x", VolumeSize: "50Gi", CoordinatorReplicas: 3}
	ms, _ := renderK8s(t, o)
	if len(ms.secrets) != 0 {
		t.Errorf("secrets without keys: %v", ms.secrets)
	}
	coord := find(t, ms.statefulSets, func(s appsv1.StatefulSet) bool { return s.Name == "pace-coordinator" })
	if len(coord.Spec.Template.Spec.Containers[0].EnvFrom) != 0 || *coord.Spec.Replicas != 3 {
		t.Errorf("coordinator %+v", coord.Spec)
	}
	cfg := loadCoordinator(t, ms.configMaps[0].Data["coordinator.yaml"], nil)
	if cfg.Storage.S3.AccessKey != "" || cfg.Storage.S3.SecretKey != "" || cfg.PublicAddress != "pace-coordinator.pace.svc" {
		t.Errorf("config %+v", cfg)
	}
	w := find(t, ms.statefulSets, func(s appsv1.StatefulSet) bool { return s.Name == "pace-all" })
	if got := w.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String(); got != "50Gi" {
		t.Errorf("volume %s", got)
	}
	if img := w.Spec.Template.Spec.Containers[0].Image; img != "my/pace:x" {
		t.Errorf("image %s", img)
	}
	if n := len(strings.Split(argMap(w.Spec.Template.Spec.Containers[0].Args[1:])["--coordinator"], ",")); n != 3 {
		t.Errorf("%d coordinator URLs", n)
	}
	if ms.metas[1].Namespace != DefaultNamespace {
		t.Errorf("namespace %q", ms.metas[1].Namespace)
	}
}

func TestKubernetesFilesApplyInOrder(t *testing.T) {
	files, err := Render(Options{Mode: RecommendedMicroservices, Version: "1", MinIO: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	// kubectl apply -f DIR applies in name order: the namespace first.
	if !slices.IsSorted(names) || names[0] != "00-namespace.yaml" || names[1] != "10-minio.yaml" || len(names) != 3+1+6 {
		t.Errorf("files %v", names)
	}
}

// The keys are expanded into coordinator.yaml: whatever they hold but a
// single quote, they stay one string.
func TestKeysSurviveExpansion(t *testing.T) {
	s3 := testS3()
	s3.AccessKey, s3.SecretKey = "*ak: x", `ex/ample+secret #$KEY: \"x`
	ms, _ := renderK8s(t, Options{Version: "1", S3: s3})
	cfg := loadCoordinator(t, ms.configMaps[0].Data["coordinator.yaml"], ms.secrets[0].StringData)
	if cfg.Storage.S3.AccessKey != s3.AccessKey || cfg.Storage.S3.SecretKey != s3.SecretKey {
		t.Errorf("keys %q %q", cfg.Storage.S3.AccessKey, cfg.Storage.S3.SecretKey)
	}
	files, err := Render(Options{Version: "1", S3: s3, Format: Compose})
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeCompose(files[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	coord := c.Services["coordinator"]
	env := map[string]string{}
	for k, v := range coord.Environment {
		env[k] = unescape(v)
	}
	cfg = loadCoordinator(t, unescape(c.Configs["coordinator"].Content), env)
	if cfg.Storage.S3.AccessKey != s3.AccessKey || cfg.Storage.S3.SecretKey != s3.SecretKey {
		t.Errorf("compose keys %q %q", cfg.Storage.S3.AccessKey, cfg.Storage.S3.SecretKey)
	}
}
