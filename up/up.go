// Package up is `pace up`: a whole coordinated cluster on this machine —
// a coordinator and the workers of a deployment mode as child processes
// of the same binary, the object store on the local disk (or an S3) —
// ready in seconds, with its endpoints printed, and stopped cleanly
// (ingesters flushing) on Ctrl-C.
package up

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/coordinator"
)

// Options is what `pace up` is asked.
type Options struct {
	Mode    string
	DataDir string
	// PortOffset shifts the access point's ports (3200, 4317, ...).
	PortOffset int
	// WorkerPortBase is the first worker's port offset; worker i gets
	// WorkerPortBase + 100*i.
	WorkerPortBase int
	S3             S3Options
	// Binary is the pace executable the children run (default: this one).
	Binary string
	// ReadyTimeout bounds the start.
	ReadyTimeout time.Duration
}

// S3Options points the cluster at an S3 store instead of the disk.
type S3Options struct {
	Endpoint, Bucket, Region, AccessKey, SecretKey string
	Insecure                                       bool
}

// child is one process of the cluster.
type child struct {
	name string
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Cluster is a running `pace up`.
type Cluster struct {
	opts    Options
	out     io.Writer
	coord   *child
	workers []*child
	started time.Time
}

// accessPorts are the access point's ports and what they are, in the order
// they are printed.
var accessPorts = []struct {
	name, proto string
	port        int
	udp         bool
	url         string
}{
	{"OTLP gRPC", coordinator.OTLPGRPC, 4317, false, "http://%s"},
	{"OTLP HTTP", coordinator.OTLPHTTP, 4318, false, "http://%s   (POST /v1/traces)"},
	{"Zipkin", coordinator.Zipkin, 9411, false, "http://%s/api/v2/spans"},
	{"Jaeger HTTP", coordinator.JaegerThriftHTTP, 14268, false, "http://%s/api/traces"},
	{"Jaeger gRPC", coordinator.JaegerGRPC, 14250, false, "%s"},
	{"Jaeger UDP", coordinator.JaegerThriftCompact, 6831, true, "%s (thrift compact)"},
	{"Jaeger UDP", coordinator.JaegerThriftBinary, 6832, true, "%s (thrift binary)"},
	{"Query gRPC", "", 9096, false, "%s"},
	{"Query API", "", 3200, false, "http://%s"},
}

// Start checks the machine, writes the coordinator's configuration and
// starts every process; Wait (or Stop) must follow.
func Start(opts Options, out io.Writer) (*Cluster, error) {
	groups, err := coordinator.ModeGroups(opts.Mode)
	if err != nil {
		return nil, err
	}
	if opts.Binary == "" {
		if opts.Binary, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = time.Minute
	}
	if opts.WorkerPortBase == 0 {
		opts.WorkerPortBase = 10000
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	opts.DataDir = dir
	if err := writable(dir); err != nil {
		return nil, fmt.Errorf("data directory %s is not writable (%v): choose another with --data", dir, err)
	}
	c := &Cluster{opts: opts, out: out, started: time.Now()}
	var names []string
	for _, g := range groups {
		for i := 0; i < g.Replicas; i++ {
			names = append(names, fmt.Sprintf("%s-%d", g.Name(), i))
		}
	}
	if err := c.checkPorts(len(names)); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "coordinator.yaml")
	if err := os.WriteFile(conf, []byte(c.coordinatorConfig()), 0o644); err != nil {
		return nil, err
	}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	c.coord = &child{name: "coordinator", log: filepath.Join(logs, "coordinator.log"),
		args: []string{"coordinator", "-config.file", conf, "-port-offset", strconv.Itoa(opts.PortOffset)}}
	if err := c.start(c.coord); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "  started  coordinator (pid %d)\n", c.coord.cmd.Process.Pid)
	// Workers register at once when the coordinator already listens.
	if err := c.waitCoordinator(); err != nil {
		c.Stop()
		return nil, err
	}
	i := 0
	for _, g := range groups {
		for r := 0; r < g.Replicas; r++ {
			name := names[i]
			w := &child{name: name, log: filepath.Join(logs, name+".log"), args: []string{"worker",
				"--coordinator", c.coordURL(), "--role", strings.Join(g.Roles, ","), "--name", name,
				"--bind-address", "127.0.0.1", "--address", "127.0.0.1",
				"--port-offset", strconv.Itoa(opts.WorkerPortBase + 100*i),
				"--data", filepath.Join(dir, name), "--drain-delay", "1s"}}
			if err := c.start(w); err != nil {
				c.Stop()
				return nil, err
			}
			c.workers = append(c.workers, w)
			fmt.Fprintf(out, "  started  worker %-20s roles %-18s (pid %d)\n", name, strings.Join(g.Roles, ","), w.cmd.Process.Pid)
			i++
		}
	}
	return c, nil
}

func (c *Cluster) waitCoordinator() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	for time.Now().Before(deadline) {
		if exited(c.coord) {
			return fmt.Errorf("the coordinator exited (%v); its log: %s — %s", c.coord.err, c.coord.log, lastLine(c.coord.log))
		}
		if resp, err := client.Get(c.coordURL() + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the coordinator was not ready within %s; its log: %s", c.opts.ReadyTimeout, c.coord.log)
}

func (c *Cluster) coordURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d", 3200+c.opts.PortOffset)
}

func (c *Cluster) coordinatorConfig() string {
	var b strings.Builder
	b.WriteString("# written by pace up\nbind_address: 127.0.0.1\npublic_address: localhost\n")
	if s := c.opts.S3; s.Endpoint != "" {
		fmt.Fprintf(&b, "storage:\n  backend: s3\n  s3:\n    endpoint: %q\n    bucket: %q\n    region: %q\n    access_key: %q\n    secret_key: %q\n    insecure: %v\n",
			s.Endpoint, s.Bucket, s.Region, s.AccessKey, s.SecretKey, s.Insecure)
	} else {
		fmt.Fprintf(&b, "storage:\n  backend: local\n  local:\n    path: %q\n", filepath.Join(c.opts.DataDir, "blocks"))
	}
	b.WriteString("receivers: [" + strings.Join(coordinator.Protocols(), ", ") + "]\n")
	// Quick heartbeats: one machine, and a first minute that matters.
	b.WriteString("heartbeat_interval: 250ms\nhealth_check_interval: 250ms\nstorage_check_interval: 5s\n")
	return b.String()
}

// checkPorts fails with what to do when a port the cluster needs is taken.
func (c *Cluster) checkPorts(workers int) error {
	planned := map[int]string{}
	for _, p := range accessPorts {
		planned[p.port+c.opts.PortOffset] = "the access point's " + p.name
	}
	for i := 0; i < workers; i++ {
		for name, port := range coordinator.WorkerPorts(c.opts.WorkerPortBase + 100*i) {
			if other, ok := planned[port]; ok && !strings.HasPrefix(other, "worker") {
				return fmt.Errorf("port %d would be both %s and worker %d's %s: choose a --worker-port-base that keeps the workers' ports apart from the access point's (--port-offset %d)", port, other, i, name, c.opts.PortOffset)
			}
			planned[port] = "worker"
		}
	}
	for _, p := range accessPorts {
		if err := free(p.port+c.opts.PortOffset, p.udp); err != nil {
			return fmt.Errorf("port %d (%s of the access point) is in use: stop what uses it, or run pace up --port-offset 1000", p.port+c.opts.PortOffset, p.name)
		}
	}
	for i := 0; i < workers; i++ {
		off := c.opts.WorkerPortBase + 100*i
		for name, port := range coordinator.WorkerPorts(off) {
			udp := name == coordinator.JaegerThriftCompact || name == coordinator.JaegerThriftBinary
			if err := free(port, udp); err != nil {
				return fmt.Errorf("port %d (a worker's %s) is in use: stop what uses it, or run pace up --worker-port-base %d", port, name, c.opts.WorkerPortBase+5000)
			}
			if name == coordinator.PortGossip {
				if err := free(port, true); err != nil {
					return fmt.Errorf("port %d/udp (a worker's gossip) is in use: stop what uses it, or run pace up --worker-port-base %d", port, c.opts.WorkerPortBase+5000)
				}
			}
		}
	}
	return nil
}

func free(port int, udp bool) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if udp {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".pace-up-probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// start runs a child in its own process group (Ctrl-C reaches only pace
// up, which stops the children in order), killed if pace up dies.
func (c *Cluster) start(ch *child) error {
	f, err := os.OpenFile(ch.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== %s pace up starts %s\n", time.Now().Format(time.RFC3339), ch.name)
	ch.cmd = exec.Command(c.opts.Binary, ch.args...)
	ch.cmd.Stdout, ch.cmd.Stderr = f, f
	ch.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := ch.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", ch.name, err)
	}
	ch.done = make(chan struct{})
	go func() {
		ch.err = ch.cmd.Wait()
		f.Close()
		close(ch.done)
	}()
	return nil
}

func exited(ch *child) bool {
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

// WaitReady follows the cluster until it is coherent, every worker is ready
// and the access point takes traffic, printing each change of a worker's
// state; it fails when a child dies or the timeout passes.
func (c *Cluster) WaitReady(ctx context.Context) error {
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	seen := map[string]string{}
	client := coordinator.Client{URL: c.coordURL(), HTTP: &http.Client{Timeout: time.Second}}
	for {
		for _, ch := range append([]*child{c.coord}, c.workers...) {
			if exited(ch) {
				return fmt.Errorf("%s exited (%v); its log: %s — %s", ch.name, ch.err, ch.log, lastLine(ch.log))
			}
		}
		if s, err := client.Status(ctx); err == nil {
			for _, w := range s.Workers {
				line := w.State
				if w.State != coordinator.StateReady && w.Hold != "" {
					line += " (" + w.Hold + ")"
				} else if w.Reason != "" {
					line += " (" + w.Reason + ")"
				}
				if seen[w.Name] != line {
					seen[w.Name] = line
					fmt.Fprintf(c.out, "  %5.1fs   %-27s %s\n", time.Since(c.started).Seconds(), w.Name, line)
				}
			}
			if s.Status == coordinator.Active && s.Settled(len(c.workers)) {
				if r, err := client.Receivers(ctx); err == nil && r.Ready {
					return nil
				}
			}
			if msg := "status " + s.Status + ": " + s.Message; seen[""] != msg {
				seen[""] = msg
				fmt.Fprintf(c.out, "  %5.1fs   %s\n", time.Since(c.started).Seconds(), msg)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the cluster was not ready within %s; see the logs in %s", c.opts.ReadyTimeout, filepath.Join(c.opts.DataDir, "logs"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PrintEndpoints writes the table a user needs: where to send traces,
// where Grafana points, where the status is.
func (c *Cluster) PrintEndpoints() {
	w := c.out
	groups, _ := coordinator.ModeGroups(c.opts.Mode)
	var desc []string
	for _, g := range groups {
		desc = append(desc, fmt.Sprintf("%d × %s", g.Replicas, g.Name()))
	}
	storage := "local disk, " + filepath.Join(c.opts.DataDir, "blocks")
	if c.opts.S3.Endpoint != "" {
		storage = "s3 " + c.opts.S3.Endpoint + "/" + c.opts.S3.Bucket
	}
	fmt.Fprintf(w, "\npace %s is up in %.1fs: %s (%s), storage %s\n\n", app.Version, time.Since(c.started).Seconds(), c.opts.Mode, strings.Join(desc, ", "), storage)
	for _, p := range accessPorts {
		if p.port == 3200 {
			continue // the Grafana line below
		}
		addr := fmt.Sprintf("localhost:%d", p.port+c.opts.PortOffset)
		fmt.Fprintf(w, "  %-12s "+p.url+"\n", p.name, addr)
	}
	fmt.Fprintf(w, "  %-12s http://localhost:%d   (Grafana: Tempo data source URL)\n", "Grafana", 3200+c.opts.PortOffset)
	fmt.Fprintf(w, "  %-12s http://localhost:%d/api/v1/status   (or: pace status --coordinator http://localhost:%d)\n", "Status", 3200+c.opts.PortOffset, 3200+c.opts.PortOffset)
	fmt.Fprintf(w, "\n  Logs in %s. Ctrl-C stops the cluster; the data stays for the next pace up.\n", filepath.Join(c.opts.DataDir, "logs"))
}

// Wait returns when ctx ends (then it stops the cluster) or a child dies.
func (c *Cluster) Wait(ctx context.Context) error {
	for {
		for _, ch := range append([]*child{c.coord}, c.workers...) {
			if exited(ch) {
				c.Stop()
				return fmt.Errorf("%s exited (%v); its log: %s — %s", ch.name, ch.err, ch.log, lastLine(ch.log))
			}
		}
		select {
		case <-ctx.Done():
			return c.Stop()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops the workers (each drains, and ingesters flush) and then the
// coordinator; a child that does not stop within a minute is killed.
func (c *Cluster) Stop() error {
	var errs []error
	stop := func(chs []*child) {
		for _, ch := range chs {
			if !exited(ch) {
				_ = ch.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		for _, ch := range chs {
			select {
			case <-ch.done:
			case <-time.After(time.Minute):
				_ = syscall.Kill(-ch.cmd.Process.Pid, syscall.SIGKILL)
				<-ch.done
				errs = append(errs, fmt.Errorf("%s did not stop within a minute and was killed", ch.name))
			}
		}
	}
	stop(c.workers)
	stop([]*child{c.coord})
	return errors.Join(errs...)
}

// lastLine is the last non-empty line of a log, for a one-line error.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "===") })
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
