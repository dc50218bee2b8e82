package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/deploy"
)

func renderCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = runRender(args, &o, &e)
	return code, o.String(), e.String()
}

func TestRenderPrints(t *testing.T) {
	code, out, errs := renderCmd("--mode", "recommended-microservices", "--minio", "--namespace", "tracing")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	files, err := deploy.Render(deploy.Options{Mode: deploy.RecommendedMicroservices, MinIO: true, Namespace: "tracing", Version: app.Version})
	if err != nil {
		t.Fatal(err)
	}
	if out != string(deploy.Join(files)) {
		t.Error("printed manifests differ from deploy.Render's")
	}
	// The default image is the running pace's version.
	if !strings.Contains(out, "image: pace-tracing/pace:"+app.Version+"\n") || !strings.Contains(out, "namespace: tracing\n") {
		t.Errorf("image or namespace missing:\n%s", out)
	}

	code, out, errs = renderCmd("--format=compose", "--s3-endpoint", "s3.example.com", "--s3-bucket", "b",
		"--s3-access-key", "a", "--s3-secret-key", "s", "--s3-insecure", "--image", "my/pace:x")
	if code != 0 || !strings.Contains(out, "services:\n") || !strings.Contains(out, "image: my/pace:x") ||
		!strings.Contains(out, "insecure: true") {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
}

func TestRenderOut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k8s")
	code, out, errs := renderCmd("--minio", "--out", dir, "--version", "2.0.0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(names) != 5 || !strings.Contains(out, "kubectl apply -f "+dir) {
		t.Errorf("files %v, output %s", names, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "20-coordinator.yaml"))
	if err != nil || !strings.Contains(string(b), "pace-tracing/pace:2.0.0") {
		t.Errorf("coordinator file: %v", err)
	}

	dir = filepath.Join(t.TempDir(), "compose")
	if code, out, errs := renderCmd("--format", "compose", "--minio", "--out", dir); code != 0 ||
		!strings.Contains(out, "docker compose -f "+filepath.Join(dir, "compose.yaml")+" up -d") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "compose.yaml")); err != nil {
		t.Error(err)
	}
}

func TestRenderErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no object store: give --s3-endpoint and --s3-bucket"},
		{[]string{"--minio", "--s3-endpoint", "s3:9000", "--s3-bucket", "b"}, "--minio and --s3-* exclude each other"},
		{[]string{"--minio", "--mode", "big"}, "valid modes: monolithic, minimal-microservices, recommended-microservices"},
		{[]string{"--minio", "--format", "helm"}, "valid formats: kubernetes, compose"},
		{[]string{"--minio", "--tls"}, "TLS is not implemented in pace yet"},
		{[]string{"--s3-bucket", "b", "--s3-endpoint"}, "flag needs an argument: -s3-endpoint"},
		{[]string{"--s3-endpoint", "--minio"}, "flag needs an argument: --s3-endpoint"},
		{[]string{"--s3-endpoint", "s3:9000"}, "--s3-bucket: missing"},
		{[]string{"--minio", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--minio", "extra"}, `unexpected argument "extra"`},
	} {
		code, out, errs := renderCmd(c.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, "pace render: ") || !strings.Contains(errs, c.want) ||
			strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want one line with %q", c.args, code, out, errs, c.want)
		}
	}
	if code, out, _ := renderCmd("-h"); code != 0 || !strings.Contains(out, "-s3-endpoint") {
		t.Errorf("-h: exit %d %s", code, out)
	}
}
