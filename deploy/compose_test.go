package deploy

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile holds exactly the fields pace render writes: decoding with
// KnownFields fails on any other.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Configs  map[string]struct {
		Content string `yaml:"content"`
	} `yaml:"configs"`
	Volumes map[string]struct{} `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Restart     string            `yaml:"restart"`
	StopGrace   string            `yaml:"stop_grace_period"`
	Environment map[string]string `yaml:"environment"`
	Configs     []struct{ Source, Target string }
	Ports       []string                              `yaml:"ports"`
	Volumes     []string                              `yaml:"volumes"`
	DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
}

func decodeCompose(text []byte) (*composeFile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	var c composeFile
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// unescape is compose's interpolation of a value with no variables.
func unescape(s string) string { return strings.ReplaceAll(s, "$$", "$") }

func TestComposeStrictDecodingRejectsUnknownFields(t *testing.T) {
	if _, err := decodeCompose([]byte("services:\n  a:\n    image: x\n    ports_: []\n")); err == nil {
		t.Fatal("an unknown field decoded")
	}
}

func TestCompose(t *testing.T) {
	for _, mode := range Modes() {
		for _, minio := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s-minio=%v", mode, minio), func(t *testing.T) {
				o := Options{Mode: mode, Format: Compose, Version: "1.2.3", MinIO: minio}
				if !minio {
					o.S3 = testS3()
				}
				files, err := Render(o)
				if err != nil {
					t.Fatal(err)
				}
				if len(files) != 1 || files[0].Name != ComposeFile {
					t.Fatalf("files %v", files)
				}
				c, err := decodeCompose(files[0].Data)
				if err != nil {
					t.Fatalf("%v\n%s", err, files[0].Data)
				}
				checkCompose(t, o, c)
			})
		}
	}
}

func checkCompose(t *testing.T, o Options, c *composeFile) {
	coord, ok := c.Services["coordinator"]
	if !ok {
		t.Fatal("no coordinator service")
	}
	wantPorts := []string{"3200:3200", "9096:9096", "4317:4317", "4318:4318", "9411:9411", "14268:14268", "14250:14250", "6831:6831/udp", "6832:6832/udp"}
	if !slices.Equal(coord.Ports, wantPorts) {
		t.Errorf("coordinator ports %v", coord.Ports)
	}
	if strings.Join(append(coord.Entrypoint, coord.Command...), " ") != "pace coordinator -config.file /etc/pace/coordinator.yaml -config.expand-env" ||
		coord.Image != "pace-tracing/pace:1.2.3" {
		t.Errorf("coordinator runs %s %v %v", coord.Image, coord.Entrypoint, coord.Command)
	}
	if len(coord.Configs) != 1 || coord.Configs[0].Target != configPath {
		t.Fatalf("coordinator configs %v", coord.Configs)
	}
	env := map[string]string{}
	for k, v := range coord.Environment {
		env[k] = unescape(v)
	}
	cfg := loadCoordinator(t, unescape(c.Configs[coord.Configs[0].Source].Content), env)
	want := *testS3()
	if o.MinIO {
		want = S3{Endpoint: "minio:9000", Bucket: MinIOBucket, AccessKey: minioUser, SecretKey: minioPassword, Insecure: true}
	}
	s3 := cfg.Storage.S3
	if cfg.Storage.Backend != "s3" || s3.Endpoint != want.Endpoint || s3.Bucket != want.Bucket || s3.AccessKey != want.AccessKey ||
		s3.SecretKey != want.SecretKey || s3.Insecure != want.Insecure {
		t.Errorf("storage %+v, want %+v", cfg.Storage, want)
	}

	groups, _ := Groups(o.Mode)
	roles := map[string]int{}
	workers := 0
	for _, g := range groups {
		workers += g.Replicas
	}
	for i := range workers {
		name := fmt.Sprintf("worker-%d", i)
		w, ok := c.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		args := argMap(w.Command[1:])
		if w.Command[0] != "worker" || args["--coordinator"] != "http://coordinator:3200" || args["--address"] != name ||
			args["--name"] != name || args["--data"] != "/data" {
			t.Errorf("%s runs %v", name, w.Command)
		}
		roles[args["--role"]]++
		vol, _, _ := strings.Cut(w.Volumes[0], ":")
		if _, ok := c.Volumes[vol]; !ok || w.Volumes[0] != vol+":/data" || vol != name+"-data" {
			t.Errorf("%s volumes %v", name, w.Volumes)
		}
		if _, ok := w.DependsOn["coordinator"]; !ok {
			t.Errorf("%s does not depend on the coordinator", name)
		}
	}
	wantServices := workers + 1
	if o.MinIO {
		wantServices += 2
		init := c.Services["minio-init"]
		script := strings.Join(init.Command, " ")
		if c.Services["minio"].Image != "minio/minio" || init.Image != "minio/mc" ||
			!strings.Contains(script, "mc mb --ignore-existing pace/"+MinIOBucket) ||
			coord.DependsOn["minio-init"].Condition != "service_completed_successfully" {
			t.Errorf("minio services %+v %+v", c.Services["minio"], init)
		}
	}
	if len(c.Services) != wantServices {
		t.Errorf("%d services, want %d", len(c.Services), wantServices)
	}
	wantRoles := map[string]int{"distributor": 1, "ingester": 1, "querier": 1, "query-frontend": 1, "compactor": 1, "metrics-generator": 1}
	switch o.Mode {
	case Monolithic:
		wantRoles = map[string]int{"all": 3}
	case RecommendedMicroservices:
		wantRoles["ingester"] = 3
	}
	if fmt.Sprint(roles) != fmt.Sprint(wantRoles) {
		t.Errorf("roles %v, want %v", roles, wantRoles)
	}
}
