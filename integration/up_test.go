package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pace-tracing/pace/tracing"
)

// upProc is a running `pace up` with what it printed.
type upProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	upLine chan string
	done   chan error
}

func startUp(t *testing.T, args ...string) *upProc {
	t.Helper()
	cmd := exec.Command(paceBinaryPath(), append([]string{"up"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	u := &upProc{cmd: cmd, upLine: make(chan string, 1), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			u.mu.Lock()
			u.out.WriteString(sc.Text() + "\n")
			u.mu.Unlock()
			if strings.Contains(sc.Text(), " is up in ") {
				u.upLine <- sc.Text()
			}
		}
		u.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("pace up printed:\n%s", u.output())
		}
	})
	return u
}

func (u *upProc) output() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.String()
}

// waitUp waits for the "is up" line and returns the seconds it reports.
func (u *upProc) waitUp(t *testing.T) float64 {
	t.Helper()
	select {
	case line := <-u.upLine:
		m := regexp.MustCompile(`is up in ([0-9.]+)s`).FindStringSubmatch(line)
		secs, _ := strconv.ParseFloat(m[1], 64)
		time.Sleep(200 * time.Millisecond) // the rest of the table
		return secs
	case err := <-u.done:
		t.Fatalf("pace up exited before it was up: %v\n%s", err, u.output())
	case <-time.After(90 * time.Second):
		t.Fatalf("pace up not up within 90s:\n%s", u.output())
	}
	return 0
}

// interrupt is Ctrl-C: pace up must stop every child and exit 0.
func (u *upProc) interrupt(t *testing.T) {
	t.Helper()
	if err := u.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-u.done:
		if err != nil {
			t.Fatalf("pace up after Ctrl-C: %v\n%s", err, u.output())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("pace up did not stop within 2 minutes after Ctrl-C:\n%s", u.output())
	}
	for _, m := range regexp.MustCompile(`\(pid (\d+)\)`).FindAllStringSubmatch(u.output(), -1) {
		pid, _ := strconv.Atoi(m[1])
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("child pid %d outlived pace up", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// printed finds the URL pace up printed on the line starting with label.
func (u *upProc) printed(t *testing.T, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(label) + `\s+(\S+)`).FindStringSubmatch(u.output())
	if m == nil {
		t.Fatalf("pace up did not print %q:\n%s", label, u.output())
	}
	return m[1]
}

// `pace up` in each mode: ready quickly, traces sent with the
// OpenTelemetry SDK to the printed URLs read back through the printed
// query URL, and still there after Ctrl-C and a second `pace up`.
func TestPaceUpEachMode(t *testing.T) {
	for _, mode := range []string{"monolithic", "minimal-microservices", "recommended-microservices"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			off, base := upOffsets(t)
			args := []string{"--mode", mode, "--data", dir,
				"--port-offset", strconv.Itoa(off), "--worker-port-base", strconv.Itoa(base)}
			u := startUp(t, args...)
			secs := u.waitUp(t)
			t.Logf("%s: up in %.1fs", mode, secs)
			query := u.printed(t, "Grafana")
			var ids []string
			ctx := context.Background()
			for _, p := range []struct {
				label string
				proto tracing.Protocol
			}{{"OTLP gRPC", tracing.OTLPGRPC}, {"OTLP HTTP", tracing.OTLPHTTP}, {"Zipkin", tracing.Zipkin}} {
				endpoint := u.printed(t, p.label)
				tp, err := tracing.NewTracerProvider(ctx, tracing.Settings{Enabled: true, Endpoint: endpoint, Protocol: p.proto}, "pace-up-test")
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 5; i++ {
					_, span := tp.Tracer("up").Start(ctx, fmt.Sprintf("%s-%d", p.proto, i))
					ids = append(ids, span.SpanContext().TraceID().String())
					span.End()
				}
				if err := tp.Shutdown(ctx); err != nil {
					t.Fatalf("%s to %s: %v", p.label, endpoint, err)
				}
			}
			readIDs(t, query, ids, "first run", 15*time.Second)
			u.interrupt(t)

			u = startUp(t, args...)
			u.waitUp(t)
			readIDs(t, u.printed(t, "Grafana"), ids, "after Ctrl-C and a second pace up", 15*time.Second)
			u.interrupt(t)
		})
	}
}

// upOffsets picks the access point's port offset and the workers' port
// base so that no worker (base + 100*i, up to 8 workers) lands on the
// access point's offset.
func upOffsets(t *testing.T) (off, base int) {
	off = FreePortOffset(t)
	for {
		base = FreePortOffset(t)
		if off < base || off >= base+800 {
			return off, base
		}
	}
}

// readIDs waits up to wait for each trace to read back, with one span,
// through a query URL.
func readIDs(t *testing.T, query string, ids []string, when string, wait time.Duration) {
	t.Helper()
	for _, id := range ids {
		deadline := time.Now().Add(wait)
		for {
			status, td, body, err := FetchTrace(query, id)
			if err == nil && status == http.StatusOK && CountSpans(td) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: trace %s through %s: %d %v %.200s", when, id, query, status, err, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// A port already taken: one line saying what to do, and nothing left running.
func TestPaceUpPortTaken(t *testing.T) {
	off := FreePortOffset(t)
	srv := &http.Server{Handler: http.NotFoundHandler()}
	ln, err := listenLocal(4317 + off)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	out, code := PaceCLI(t, "up", "--data", t.TempDir(), "--port-offset", strconv.Itoa(off))
	if code != 1 || !strings.Contains(out, fmt.Sprintf("pace up: port %d (OTLP gRPC of the access point) is in use: stop what uses it, or run pace up --port-offset", 4317+off)) {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "started") {
		t.Errorf("processes were started before the port check:\n%s", out)
	}
	out, code = PaceCLI(t, "up", "--data", "/proc/pace-cannot-write-here")
	if code != 1 || !strings.Contains(out, "is not writable") || !strings.Contains(out, "--data") {
		t.Errorf("unwritable data dir (exit %d):\n%s", code, out)
	}
}

// A child that fails to start: a one-line error naming it and its log, and
// no process left behind.
func TestPaceUpChildFailsToStart(t *testing.T) {
	dir := t.TempDir()
	// all-1's data directory cannot be created: a file stands in its place.
	if err := os.WriteFile(filepath.Join(dir, "all-1"), []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	off, base := upOffsets(t)
	u := startUp(t, "--data", dir, "--port-offset", strconv.Itoa(off), "--worker-port-base", strconv.Itoa(base))
	select {
	case err := <-u.done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("pace up exited with %v, want exit status 1", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("pace up still runs 90 s after a worker failed:\n%s", u.output())
	}
	out := u.output()
	if !regexp.MustCompile(`pace up: all-1 exited \(exit status 1\); its log: \S+all-1\.log — .*not a directory`).MatchString(out) {
		t.Errorf("no one-line error naming the worker, its log and the cause:\n%s", out)
	}
	for _, m := range regexp.MustCompile(`\(pid (\d+)\)`).FindAllStringSubmatch(out, -1) {
		pid, _ := strconv.Atoi(m[1])
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("child pid %d outlived pace up", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
