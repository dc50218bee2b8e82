package integration

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pace-tracing/pace/coordinator"
)

// Modes are the three deployment modes, as role lists of their workers.
var Modes = map[string][][]string{
	"monolithic":                {{"all"}, {"all"}, {"all"}},
	"minimal-microservices":     {{"querier"}, {"query-frontend"}, {"ingester"}, {"distributor"}, {"compactor"}, {"metrics-generator"}},
	"recommended-microservices": {{"querier"}, {"query-frontend"}, {"ingester"}, {"ingester"}, {"ingester"}, {"distributor"}, {"compactor"}, {"metrics-generator"}},
}

// offsetsHanded keeps port offsets unique within one test run.
var offsetsHanded = map[int]bool{}

// FreePortOffset returns a multiple of 100 such that every default port
// of pace (3200, 9095, 9096, 7946, 4317, 4318, 9411, 14250, 14268, and
// 6831/6832 over UDP) plus the offset is free on 127.0.0.1. The defaults
// differ from each other modulo 100, so offsets never collide with each
// other's ports, and the ports stay below pickPort's range.
func FreePortOffset(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	tcp := []int{3200, 9095, 9096, 7946, 4317, 4318, 9411, 14250, 14268}
	udp := []int{6831, 6832, 7946}
	for i := 0; i < 200; i++ {
		off := 100 * (10 + rand.IntN(45)) // 1000 .. 5400
		if offsetsHanded[off] {
			continue
		}
		free := true
		for _, p := range tcp {
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+off)); err != nil {
				free = false
			} else {
				l.Close()
			}
		}
		for _, p := range udp {
			if c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+off)); err != nil {
				free = false
			} else {
				c.Close()
			}
		}
		if free {
			offsetsHanded[off] = true
			return off
		}
	}
	t.Fatal("no free port offset")
	return 0
}

// CoordinatedSpec describes a cluster run by coordinators.
type CoordinatedSpec struct {
	Workers      [][]string // roles of each worker
	Coordinators int        // replicas (default 1)
	MinIO        *MinIO     // S3 storage; nil = local disk
	// WorkerTimeout: a silent worker leaves the registry (default 5s).
	WorkerTimeout time.Duration
	// ExtraConfig is appended to the coordinator's YAML file.
	ExtraConfig string
}

// Coordinated is a running coordinated cluster.
type Coordinated struct {
	t        testing.TB
	dir      string
	spec     CoordinatedSpec
	Coords   []*CoordinatorProc
	Workers  map[string]*WorkerProc
	confPath string
	base     string // YAML of the coordinators' config file
}

// CoordinatorProc is one `pace coordinator`.
type CoordinatorProc struct {
	*Process
	Offset int
}

// URL is the coordinator's HTTP address (API and query access point).
func (c *CoordinatorProc) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", 3200+c.Offset) }

// Addr is the access point's address for a protocol's default port.
func (c *CoordinatorProc) Addr(defaultPort int) string {
	return fmt.Sprintf("127.0.0.1:%d", defaultPort+c.Offset)
}

// WorkerProc is one `pace worker`.
type WorkerProc struct {
	*Process
	WorkerName string
	Roles      []string
	Offset     int
	DataDir    string
	args       []string
}

// URL is the worker's own HTTP address.
func (w *WorkerProc) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", 3200+w.Offset) }

// StartCoordinated starts the coordinators and then the workers.
func StartCoordinated(t testing.TB, spec CoordinatedSpec) *Coordinated {
	t.Helper()
	if spec.Coordinators == 0 {
		spec.Coordinators = 1
	}
	c := &Coordinated{t: t, dir: t.TempDir(), spec: spec, Workers: map[string]*WorkerProc{}}
	c.confPath = filepath.Join(c.dir, "coordinator.yaml")
	storage := fmt.Sprintf("storage:\n  backend: local\n  local:\n    path: %s\n", filepath.Join(c.dir, "blocks"))
	if m := spec.MinIO; m != nil {
		storage = fmt.Sprintf("storage:\n  backend: s3\n  s3:\n    endpoint: %s\n    bucket: %s\n    region: us-east-1\n    access_key: %s\n    secret_key: %s\n    insecure: true\n",
			m.Endpoint, m.CreateBucket(t, "coordinated"), m.AccessKey, m.SecretKey)
	}
	c.base = "bind_address: 127.0.0.1\npublic_address: 127.0.0.1\n" + storage +
		"receivers: [otlp_grpc, otlp_http, jaeger_grpc, jaeger_thrift_http]\n" +
		"heartbeat_interval: 500ms\nhealth_check_interval: 500ms\nstorage_check_interval: 2s\n" +
		fmt.Sprintf("worker_timeout: %s\n", cmp.Or(spec.WorkerTimeout, 5*time.Second))
	c.WriteConfig(spec.ExtraConfig)
	for i := 0; i < spec.Coordinators; i++ {
		off := FreePortOffset(t)
		name := fmt.Sprintf("coordinator-%d", i)
		p := startProcess(t, name, filepath.Join(c.dir, name+".log"), paceBinaryPath(),
			[]string{"coordinator", "-config.file", c.confPath, "-port-offset", strconv.Itoa(off)}, nil)
		t.Cleanup(func() { printLogOnFailure(t, name, p.LogPath) })
		c.Coords = append(c.Coords, &CoordinatorProc{Process: p, Offset: off})
	}
	for _, cp := range c.Coords {
		waitHTTP(t, cp.URL()+"/ready", 30*time.Second)
	}
	for i, roles := range spec.Workers {
		c.AddWorker(fmt.Sprintf("w%d-%s", i, strings.Join(roles, "+")), roles)
	}
	return c
}

// WriteConfig rewrites the coordinators' file with extra YAML appended.
func (c *Coordinated) WriteConfig(extra string) {
	if err := os.WriteFile(c.confPath, []byte(c.base+extra), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// Reload sends SIGHUP to every coordinator.
func (c *Coordinated) Reload() {
	for _, cp := range c.Coords {
		if err := cp.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			c.t.Fatal(err)
		}
	}
}

// AddWorker starts a worker registered with every coordinator.
func (c *Coordinated) AddWorker(name string, roles []string) *WorkerProc {
	t := c.t
	var urls []string
	for _, cp := range c.Coords {
		urls = append(urls, cp.URL())
	}
	w := &WorkerProc{WorkerName: name, Roles: roles, Offset: FreePortOffset(t), DataDir: filepath.Join(c.dir, name)}
	w.args = []string{"worker", "--coordinator", strings.Join(urls, ","), "--role", strings.Join(roles, ","),
		"--name", name, "--bind-address", "127.0.0.1", "--address", "127.0.0.1",
		"--port-offset", strconv.Itoa(w.Offset), "--data", w.DataDir, "--drain-delay", "1s"}
	w.start(t, c.dir)
	c.Workers[name] = w
	return w
}

func (w *WorkerProc) start(t testing.TB, dir string) {
	logPath := filepath.Join(dir, w.WorkerName+".log")
	w.Process = startProcess(t, w.WorkerName, logPath, paceBinaryPath(), w.args, nil)
	t.Cleanup(func() { printLogOnFailure(t, w.WorkerName, logPath) })
}

// Config is the configuration the worker runs ("" if unreachable).
func (w *WorkerProc) Config() string {
	resp, err := http.Get(w.URL() + "/api/v1/worker/config")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// StopWorker stops a worker with SIGTERM (it drains and leaves).
func (c *Coordinated) StopWorker(name string) {
	w := c.Workers[name]
	if _, err, ok := w.signal(syscall.SIGTERM, 60*time.Second); !ok {
		c.t.Fatalf("%s did not stop within 60s", name)
	} else if err != nil {
		c.t.Errorf("%s exited with %v", name, err)
	}
	delete(c.Workers, name)
}

// Kill9 kills a worker with SIGKILL; it stays in c.Workers, to be
// restarted (Restart) or forgotten (Forget).
func (c *Coordinated) Kill9(name string) {
	c.Workers[name].kill()
}

// Restart starts a stopped worker again, on the same name, ports and data.
func (c *Coordinated) Restart(name string) {
	c.Workers[name].start(c.t, c.dir)
}

// Forget drops a dead worker from c.Workers.
func (c *Coordinated) Forget(name string) { delete(c.Workers, name) }

// Status is GET /api/v1/status of coordinator i.
func (c *Coordinated) Status(i int) (coordinator.Status, error) {
	return coordinator.Client{URL: c.Coords[i].URL()}.Status(context.Background())
}

// WaitStatus waits until coordinator i's status satisfies ok, and returns it.
func (c *Coordinated) WaitStatus(i int, what string, timeout time.Duration, ok func(coordinator.Status) bool) coordinator.Status {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last coordinator.Status
	var err error
	for time.Now().Before(deadline) {
		last, err = c.Status(i)
		if err == nil && ok(last) {
			return last
		}
		time.Sleep(250 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	c.t.Fatalf("coordinator %d: %s not reached within %s (last error %v); status:\n%s", i, what, timeout, err, b)
	return last
}

// AllReady: every registered worker is ready on its target configuration
// and the registry holds exactly the workers started.
func (c *Coordinated) AllReady(s coordinator.Status) bool { return s.Settled(len(c.Workers)) }

// WaitCoherent waits until every coordinator reports the wanted status
// message with every worker ready.
func (c *Coordinated) WaitCoherent(message string, timeout time.Duration) {
	c.t.Helper()
	for i := range c.Coords {
		c.WaitStatus(i, fmt.Sprintf("active %q with every worker ready", message), timeout, func(s coordinator.Status) bool {
			return s.Status == coordinator.Active && s.Message == message && c.AllReady(s)
		})
	}
}

// PaceCLI runs the pace binary with args and returns its output and exit code.
func PaceCLI(t testing.TB, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(paceBinaryPath(), args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func waitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not 200 within %s", url, timeout)
}

func listenLocal(port int) (net.Listener, error) {
	return net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
}
