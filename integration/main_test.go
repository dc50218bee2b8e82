package integration

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pace-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, err := BuildPace(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: cannot build the pace binary:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	SetPaceBinary(bin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// forEachBackend runs fn as a subtest per storage backend; the s3 subtest
// runs against a real MinIO (the test fails if MinIO cannot be found).
func forEachBackend(t *testing.T, fn func(t *testing.T, start func(t *testing.T, opts ServerOptions) *Server)) {
	for _, backend := range Backends {
		t.Run(backend, func(t *testing.T) {
			fn(t, func(t *testing.T, opts ServerOptions) *Server {
				t.Helper()
				opts.Backend = backend
				if backend == "s3" && opts.MinIO == nil {
					opts.MinIO = StartMinIO(t)
				}
				return StartServer(t, opts)
			})
		})
	}
}
