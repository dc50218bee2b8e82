package deploy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The golden files pin each mode's output: go test ./deploy/ -update after
// a deliberate change, and review the diff.
func TestGolden(t *testing.T) {
	registry := regexp.MustCompile(`(?i)\b(ghcr\.io|docker\.io|quay\.io|gcr\.io|registry\.|ecr\.)`)
	for _, format := range Formats() {
		for _, mode := range Modes() {
			for _, minio := range []bool{false, true} {
				name := mode + "-" + format
				if minio {
					name += "-minio"
				}
				t.Run(name, func(t *testing.T) {
					o := Options{Mode: mode, Format: format, Version: "1.2.3", MinIO: minio}
					if !minio {
						o.S3 = testS3()
					}
					files, err := Render(o)
					if err != nil {
						t.Fatal(err)
					}
					got := Join(files)
					if registry.Match(got) {
						t.Errorf("output names a registry host: %s", registry.Find(got))
					}
					path := filepath.Join("testdata", name+".yaml")
					if *update {
						if err := os.WriteFile(path, got, 0o644); err != nil {
							t.Fatal(err)
						}
						return
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (go test ./deploy/ -update writes it)", err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s differs from the rendering; if intended, run go test ./deploy/ -update and review the diff\n%s", path, firstDiff(string(want), string(got)))
					}
				})
			}
		}
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want " + a + "\n  got  " + b
		}
	}
	return ""
}

func TestOptionErrors(t *testing.T) {
	s3 := func(f func(*S3)) *S3 { s := testS3(); f(s); return s }
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"no store", Options{}, "no object store: give --s3-endpoint and --s3-bucket"},
		{"both stores", Options{S3: testS3(), MinIO: true}, "--minio and --s3-* exclude each other"},
		{"unknown mode", Options{Mode: "huge", MinIO: true}, `--mode: unknown mode "huge"; valid modes: monolithic, minimal-microservices, recommended-microservices`},
		{"unknown format", Options{Format: "helm", MinIO: true}, `--format "helm": unknown format; valid formats: kubernetes, compose`},
		{"tls", Options{TLS: true, MinIO: true}, "--tls: TLS is not implemented in pace yet"},
		{"no endpoint", Options{S3: s3(func(s *S3) { s.Endpoint = "" })}, "--s3-endpoint: missing"},
		{"scheme", Options{S3: s3(func(s *S3) { s.Endpoint = "https://s3" })}, "without a scheme"},
		{"no bucket", Options{S3: s3(func(s *S3) { s.Bucket = "" })}, "--s3-bucket: missing"},
		{"one key", Options{S3: s3(func(s *S3) { s.SecretKey = "" })}, "give both, or neither"},
		{"quote in key", Options{S3: s3(func(s *S3) { s.SecretKey = "a'b" })}, `--s3-secret-key: cannot hold "'"`},
		{"dollar in bucket", Options{S3: s3(func(s *S3) { s.Bucket = "a$b" })}, `--s3-bucket: cannot hold "$"`},
		{"namespace", Options{MinIO: true, Namespace: "Pace"}, `--namespace "Pace": not a valid namespace`},
		{"namespace with compose", Options{MinIO: true, Format: Compose, Namespace: "x"}, "--namespace: only for --format kubernetes"},
		{"version", Options{MinIO: true, Version: "1.0+x"}, `--version "1.0+x"`},
		{"volume", Options{MinIO: true, VolumeSize: "ten"}, `--volume-size "ten"`},
		{"replicas", Options{MinIO: true, CoordinatorReplicas: -1}, "--coordinator-replicas -1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.o.Version == "" {
				c.o.Version = "1"
			}
			_, err := Render(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, c.want)
			}
		})
	}
}

// Compose interpolates $: values are written $$ and come back unchanged.
func TestComposeEscapesDollars(t *testing.T) {
	s := testS3()
	s.AccessKey = "a$b${C}"
	files, err := Render(Options{Format: Compose, Version: "1", S3: s})
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeCompose(files[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Services["coordinator"].Environment["S3_ACCESS_KEY"]; got != "a$$b$${C}" || unescape(got) != s.AccessKey {
		t.Errorf("access key written %q", got)
	}
	if content := c.Configs["coordinator"].Content; !strings.Contains(content, "'$${S3_ACCESS_KEY}'") {
		t.Errorf("config content %s", content)
	}
}
