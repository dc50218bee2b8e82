// Package integration holds end-to-end tests that run the real pace binary
// (and, for the S3 backend, a real MinIO) on 127.0.0.1 with free ports.
//
// The harness in this file is meant to be reused by later tests (Jaeger,
// Zipkin, coordinator, ...): StartServer / StartMinIO start processes whose
// output is captured to a file and printed (tail) when the test fails, and
// which are always killed in t.Cleanup.
package integration

import (
	"bytes"
	"context"
	"errors"
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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// DefaultTenant is the tenant of requests without X-Scope-OrgID.
const DefaultTenant = "single-tenant"

// ReadyTimeout bounds how long a started process may take to become ready.
var ReadyTimeout = 90 * time.Second

var (
	paceBinaryMu sync.Mutex
	paceBinary   string
)

// SetPaceBinary sets the pace binary used by StartServer (TestMain calls it).
func SetPaceBinary(path string) {
	paceBinaryMu.Lock()
	defer paceBinaryMu.Unlock()
	paceBinary = path
}

func paceBinaryPath() string {
	paceBinaryMu.Lock()
	defer paceBinaryMu.Unlock()
	return paceBinary
}

// BuildPace builds ./cmd/pace of the module that contains the working
// directory into dir and returns the binary's path. When PACE_BINARY is set,
// that binary is used instead and nothing is built.
func BuildPace(dir string) (string, error) {
	if p := os.Getenv("PACE_BINARY"); p != "" {
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "pace")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/pace")
	cmd.Dir = root
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/pace: %v\n%s", err, buf.String())
	}
	return out, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// Ports for test servers come from below the kernel's ephemeral range
// (32768+ here): a port picked there and released can be taken a moment
// later as the source port of any outgoing connection (gossip, gRPC, S3),
// and the server meant to bind it then fails to start.
const (
	portLow  = 20000
	portHigh = 32000
)

var (
	portMu sync.Mutex
	handed = map[int]bool{} // never hand the same port out twice in one run
)

// pickPort returns a port on 127.0.0.1, free a moment ago for TCP and/or UDP.
func pickPort(t testing.TB, tcp, udp bool) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 1000; i++ {
		port := portLow + rand.IntN(portHigh-portLow)
		if handed[port] {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if tcp {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				continue
			}
			l.Close()
		}
		if udp {
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				continue
			}
			c.Close()
		}
		handed[port] = true
		return port
	}
	t.Fatalf("no free port in %d-%d", portLow, portHigh)
	return 0
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int { return pickPort(t, true, false) }

// FreeTCPUDPPort returns a port on 127.0.0.1 that was free for both TCP
// and UDP a moment ago (memberlist binds both).
func FreeTCPUDPPort(t testing.TB) int { return pickPort(t, true, true) }

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort(t testing.TB) int { return pickPort(t, false, true) }

// ---------------------------------------------------------------------------
// Processes

// Process is a child process whose output goes to LogPath.
type Process struct {
	t       testing.TB
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	logFile *os.File
}

// startProcess starts bin with args and env (added to the test's
// environment), appending its output to logPath, and registers a cleanup
// that kills it.
func startProcess(t testing.TB, name, logPath, bin string, args, env []string) *Process {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("%s: open log: %v", name, err)
	}
	fmt.Fprintf(f, "=== %s start %s: %s %s\n", time.Now().Format(time.RFC3339Nano), name, bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = f
	cmd.Stderr = f
	// Own process group, and die with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("%s: start %s: %v", name, bin, err)
	}
	p := &Process{t: t, Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{}), logFile: f}
	go func() {
		p.waitErr = cmd.Wait()
		fmt.Fprintf(f, "=== %s %s exited: %v\n", time.Now().Format(time.RFC3339Nano), name, p.waitErr)
		f.Close()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process group and waits for the process.
func (p *Process) kill() {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("%s (pid %d) did not die after SIGKILL", p.Name, p.PID())
	}
}

// signal sends sig to the process and waits up to timeout for it to exit.
// It returns how long the exit took and the process's exit error.
func (p *Process) signal(sig syscall.Signal, timeout time.Duration) (time.Duration, error, bool) {
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil && !p.Exited() {
		p.t.Fatalf("%s: send %v: %v", p.Name, sig, err)
	}
	select {
	case <-p.done:
		return time.Since(start), p.waitErr, true
	case <-time.After(timeout):
		return time.Since(start), nil, false
	}
}

// LogTail returns the last n lines of the process log.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// printLogOnFailure registers a cleanup that prints the tail of logPath when
// the test failed. Register it before starting the process: cleanups run
// last-in first-out, so it then runs after the process was killed.
func printLogOnFailure(t testing.TB, name, logPath string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- last 80 lines of %s log (%s) ----\n%s\n---- end of %s log ----", name, logPath, LogTail(logPath, 80), name)
		}
	})
}

// ---------------------------------------------------------------------------
// pace server

// Backends over which storage-related tests run.
var Backends = []string{"local", "s3"}

// ServerOptions configures StartServer.
type ServerOptions struct {
	// Backend is the trace storage backend: "local" (default), "s3" or "memory".
	Backend string
	// MinIO is required for Backend "s3"; a fresh bucket is created in it
	// unless Bucket is set.
	MinIO  *MinIO
	Bucket string
	// Tenant-independent extra flags, appended last.
	ExtraArgs []string
	// ConfigFile, when set, is passed as -config.file.
	ConfigFile string
	// Env is added to the process environment.
	Env []string
	// Dir holds the server's data; a fresh temporary directory when empty.
	Dir string
	// NoWait skips waiting for /ready.
	NoWait bool
	// Target is the -target value ("all" when empty).
	Target string
	// Cluster, when set, makes the process a cluster member (StartCluster
	// fills it in).
	Cluster *ClusterMembership
}

// ClusterMembership is how a process joins a cluster.
type ClusterMembership struct {
	InstanceID        string
	Join              []string // memberlist addresses (host:port) of every member
	ReplicationFactor int
}

// Server is a running (or stopped) `pace server -target all`.
type Server struct {
	t    testing.TB
	opts ServerOptions
	proc *Process

	HTTPPort     int
	OTLPGRPCPort int
	OTLPHTTPPort int
	// HTTPURL is the query API base, e.g. http://127.0.0.1:3200.
	HTTPURL string
	// OTLPHTTPURL is the OTLP/HTTP base; traces go to OTLPHTTPURL+"/v1/traces".
	OTLPHTTPURL string
	// OTLPGRPCAddr is host:port of the OTLP gRPC receiver.
	OTLPGRPCAddr string
	// OTLPHTTPAddr is host:port of the OTLP HTTP receiver.
	OTLPHTTPAddr string
	// Jaeger and Zipkin receivers, host:port each (the thrift agents on UDP).
	JaegerGRPCAddr, JaegerHTTPAddr, JaegerCompactAddr, JaegerBinaryAddr, ZipkinAddr string

	// GRPCPort and MemberlistPort are used in a cluster only.
	GRPCPort       int
	MemberlistPort int

	Dir       string
	LocalPath string
	WALPath   string
	LogPath   string
	Bucket    string
	starts    int
}

// StartServer starts pace with the given options and waits until /ready
// answers 200.
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	s := newServer(t, opts)
	printLogOnFailure(t, "pace", s.LogPath)
	s.start()
	return s
}

// newServer picks the ports and directories of a server without starting it.
func newServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	bin := paceBinaryPath()
	if bin == "" {
		t.Fatal("pace binary not built (TestMain must call BuildPace and SetPaceBinary)")
	}
	if opts.Backend == "" {
		opts.Backend = "local"
	}
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	s := &Server{
		t:            t,
		opts:         opts,
		HTTPPort:     FreePort(t),
		OTLPGRPCPort: FreePort(t),
		OTLPHTTPPort: FreePort(t),
		Dir:          dir,
		LocalPath:    filepath.Join(dir, "blocks"),
		WALPath:      filepath.Join(dir, "wal"),
		LogPath:      filepath.Join(dir, "pace.log"),
	}
	if opts.Cluster != nil {
		s.GRPCPort = FreePort(t)
		s.MemberlistPort = FreeTCPUDPPort(t)
	}
	s.HTTPURL = fmt.Sprintf("http://127.0.0.1:%d", s.HTTPPort)
	s.OTLPGRPCAddr = fmt.Sprintf("127.0.0.1:%d", s.OTLPGRPCPort)
	s.OTLPHTTPAddr = fmt.Sprintf("127.0.0.1:%d", s.OTLPHTTPPort)
	s.OTLPHTTPURL = "http://" + s.OTLPHTTPAddr
	s.JaegerGRPCAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s.JaegerHTTPAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s.JaegerCompactAddr = fmt.Sprintf("127.0.0.1:%d", FreeUDPPort(t))
	s.JaegerBinaryAddr = fmt.Sprintf("127.0.0.1:%d", FreeUDPPort(t))
	s.ZipkinAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	if opts.Backend == "s3" {
		if opts.MinIO == nil {
			t.Fatal("StartServer: backend s3 needs a MinIO")
		}
		s.Bucket = opts.Bucket
		if s.Bucket == "" {
			s.Bucket = opts.MinIO.CreateBucket(t, "")
		}
	}
	return s
}

// Name is "pace", or the instance ID in a cluster.
func (s *Server) Name() string {
	if s.opts.Cluster != nil {
		return s.opts.Cluster.InstanceID
	}
	return "pace"
}

// Target is the process's -target value.
func (s *Server) Target() string {
	if s.opts.Target == "" {
		return "all"
	}
	return s.opts.Target
}

// Runs reports whether the process runs role (directly or through all).
func (s *Server) Runs(role string) bool {
	for _, r := range strings.Split(s.Target(), ",") {
		if r = strings.TrimSpace(r); r == role || r == "all" {
			return true
		}
	}
	return false
}

// MemberlistAddr is host:port of the process's gossip port (cluster only).
func (s *Server) MemberlistAddr() string {
	return fmt.Sprintf("127.0.0.1:%d", s.MemberlistPort)
}

// Args are the command-line arguments the server is started with.
func (s *Server) Args() []string {
	args := []string{"server", "-target", s.Target(),
		"-server.http-listen-address", "127.0.0.1",
		"-server.http-listen-port", strconv.Itoa(s.HTTPPort),
	}
	switch c := s.opts.Cluster; {
	case c == nil:
		args = append(args,
			"-distributor.otlp.grpc-endpoint", s.OTLPGRPCAddr,
			"-distributor.otlp.http-endpoint", s.OTLPHTTPAddr,
			"-distributor.jaeger.grpc-endpoint", s.JaegerGRPCAddr,
			"-distributor.jaeger.thrift-http-endpoint", s.JaegerHTTPAddr,
			"-distributor.jaeger.thrift-compact-endpoint", s.JaegerCompactAddr,
			"-distributor.jaeger.thrift-binary-endpoint", s.JaegerBinaryAddr,
			"-distributor.zipkin.endpoint", s.ZipkinAddr,
		)
	default:
		// In a cluster only OTLP is configured (receivers open only in
		// processes running the distributor). Every process gets the OTLP
		// endpoints: with all receivers empty, a non-distributor process
		// fails validation ("distributor: every receiver is disabled").
		otlpGRPC, otlpHTTP := s.OTLPGRPCAddr, s.OTLPHTTPAddr
		args = append(args,
			"-server.grpc-listen-address", "127.0.0.1",
			"-server.grpc-listen-port", strconv.Itoa(s.GRPCPort),
			"-memberlist.bind-addr", "127.0.0.1",
			"-memberlist.bind-port", strconv.Itoa(s.MemberlistPort),
			"-memberlist.join", strings.Join(c.Join, ","),
			"-cluster.instance-id", c.InstanceID,
			"-ingester.replication-factor", strconv.Itoa(c.ReplicationFactor),
			"-distributor.otlp.grpc-endpoint="+otlpGRPC,
			"-distributor.otlp.http-endpoint="+otlpHTTP,
			"-distributor.jaeger.grpc-endpoint=",
			"-distributor.jaeger.thrift-http-endpoint=",
			"-distributor.jaeger.thrift-compact-endpoint=",
			"-distributor.jaeger.thrift-binary-endpoint=",
			"-distributor.zipkin.endpoint=",
		)
	}
	args = append(args,
		"-storage.trace.backend", s.opts.Backend,
		"-storage.trace.wal.path", s.WALPath,
	)
	switch s.opts.Backend {
	case "local":
		args = append(args, "-storage.trace.local.path", s.LocalPath)
	case "s3":
		m := s.opts.MinIO
		args = append(args,
			"-storage.trace.s3.endpoint", m.Endpoint,
			"-storage.trace.s3.bucket", s.Bucket,
			"-storage.trace.s3.region", "us-east-1",
			"-storage.trace.s3.access-key", m.AccessKey,
			"-storage.trace.s3.secret-key", m.SecretKey,
			"-storage.trace.s3.insecure=true",
		)
	}
	if s.opts.ConfigFile != "" {
		args = append(args, "-config.file", s.opts.ConfigFile)
	}
	return append(args, s.opts.ExtraArgs...)
}

func (s *Server) start() {
	s.t.Helper()
	s.starts++
	s.proc = startProcess(s.t, fmt.Sprintf("%s#%d", s.Name(), s.starts), s.LogPath, paceBinaryPath(), s.Args(), s.opts.Env)
	if !s.opts.NoWait {
		s.WaitReady()
	}
}

// PID of the current server process.
func (s *Server) PID() int { return s.proc.PID() }

// WaitReady waits until GET /ready answers 200, failing the test when the
// process exits first or ReadyTimeout passes.
func (s *Server) WaitReady() {
	s.t.Helper()
	deadline := time.Now().Add(ReadyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		if s.proc.Exited() {
			s.t.Fatalf("%s exited before it was ready: %v; last lines of its log:\n%s", s.Name(), s.proc.waitErr, LogTail(s.LogPath, 8))
		}
		resp, err := client.Get(s.HTTPURL + "/ready")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("%s not ready after %v: last /ready answer: %s", s.Name(), ReadyTimeout, last)
}

// Kill9 kills the server with SIGKILL and waits for it to be gone.
func (s *Server) Kill9() {
	s.t.Helper()
	s.t.Logf("kill -9 %s (pid %d)", s.Name(), s.PID())
	s.proc.kill()
}

// Stop sends SIGTERM and waits up to timeout for the process to exit. It
// returns how long that took, the exit error (nil for exit status 0) and
// whether it exited in time; a process that did not exit is killed.
func (s *Server) Stop(timeout time.Duration) (time.Duration, error, bool) {
	s.t.Helper()
	s.t.Logf("SIGTERM %s (pid %d)", s.Name(), s.PID())
	d, err, ok := s.proc.signal(syscall.SIGTERM, timeout)
	if !ok {
		s.proc.kill()
	}
	return d, err, ok
}

// Restart starts the server again on the same ports and directories (it
// must have been stopped or killed; a live one is killed first).
func (s *Server) Restart() {
	s.t.Helper()
	if !s.proc.Exited() {
		s.proc.kill()
	}
	s.start()
}

// ---------------------------------------------------------------------------
// MinIO

// MinIO is a running MinIO server.
type MinIO struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Dir       string
	LogPath   string
	proc      *Process
	buckets   int
}

// MinIOBinary finds the MinIO binary: $PACE_MINIO, else
// $HOME/.cache/pace-tools/bin/minio. It fails the test when neither exists.
func MinIOBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PACE_MINIO"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PACE_MINIO=%s: %v (run scripts/install-test-deps.sh or `make test`)", p, err)
		}
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "pace-tools", "bin", "minio")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("MinIO binary not found: PACE_MINIO is unset and %s: %v (run scripts/install-test-deps.sh or `make test`)", p, err)
	}
	return p
}

// StartMinIO starts a MinIO server on a temporary directory and waits until
// it is live.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin := MinIOBinary(t)
	dir := t.TempDir()
	m := &MinIO{
		AccessKey: "pace-test",
		SecretKey: "pace-test-secret-key",
		Dir:       filepath.Join(dir, "data"),
		LogPath:   filepath.Join(dir, "minio.log"),
	}
	port, consolePort := FreePort(t), FreePort(t)
	m.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	printLogOnFailure(t, "minio", m.LogPath)
	m.proc = startProcess(t, "minio", m.LogPath, bin,
		[]string{"server", m.Dir,
			"--address", m.Endpoint,
			"--console-address", fmt.Sprintf("127.0.0.1:%d", consolePort),
			"--certs-dir", filepath.Join(dir, "certs"),
			"--quiet"},
		[]string{
			"MINIO_ROOT_USER=" + m.AccessKey,
			"MINIO_ROOT_PASSWORD=" + m.SecretKey,
			"MINIO_BROWSER=off",
			"MINIO_UPDATE=off",
		})
	deadline := time.Now().Add(ReadyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if m.proc.Exited() {
			t.Fatalf("minio exited before it was live: %v", m.proc.waitErr)
		}
		resp, err := client.Get("http://" + m.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio not live after %v (last error %v)", ReadyTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return m
}

// Client returns a minio-go client for this server.
func (m *MinIO) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(m.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""),
		Secure: false,
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatalf("minio client: %v", err)
	}
	return c
}

// CreateBucket creates a bucket (a fresh name when name is empty) and
// returns its name.
func (m *MinIO) CreateBucket(t testing.TB, name string) string {
	t.Helper()
	if name == "" {
		m.buckets++
		name = fmt.Sprintf("pace-test-%d", m.buckets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// MinIO may answer "server not initialized" for a moment after it is live.
	var err error
	for i := 0; i < 50; i++ {
		err = m.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"})
		if err == nil {
			return name
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("create bucket %s: %v", name, err)
	return ""
}

// ListObjects lists the object keys in a bucket (recursively).
func (m *MinIO) ListObjects(t testing.TB, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var keys []string
	for o := range m.Client(t).ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s: %v", bucket, o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// StoredObjects lists what the server has written to its object store: the
// keys in its bucket (s3) or the files under its local path (local).
func (s *Server) StoredObjects(t testing.TB) []string {
	t.Helper()
	switch s.opts.Backend {
	case "s3":
		return s.opts.MinIO.ListObjects(t, s.Bucket)
	case "local":
		var files []string
		err := filepath.WalkDir(s.LocalPath, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				rel, _ := filepath.Rel(s.LocalPath, p)
				files = append(files, rel)
			}
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("list %s: %v", s.LocalPath, err)
		}
		return files
	}
	return nil
}

// RestartWithoutWAL kills the server, deletes its WAL directory (as if the
// local disk were lost) and starts it again: only what is in the object
// store survives.
func (s *Server) RestartWithoutWAL() {
	s.t.Helper()
	s.Kill9()
	if err := os.RemoveAll(s.WALPath); err != nil {
		s.t.Fatalf("remove WAL: %v", err)
	}
	s.Restart()
}
