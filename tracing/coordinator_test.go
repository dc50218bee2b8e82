package tracing_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeCoordinator implements the receivers API of coordinator/README.md:
// GET and POST /api/v1/receivers, answering {"receivers": [...], "ready"}
// with every enabled protocol (the union of every client's request, its
// configured receivers and otlp_http), and a 400 naming an unknown protocol
// and listing the valid ones.
type fakeCoordinator struct {
	*httptest.Server

	mu       sync.Mutex
	ready    bool
	valid    []string          // the protocols this coordinator knows
	urls     map[string]string // the URL handed out per protocol
	enabled  map[string]bool
	bodies   [][]byte // every POST body, as received
	requests int
}

var documentedProtocols = []string{"otlp_grpc", "otlp_http", "zipkin", "jaeger_thrift_http", "jaeger_grpc"}

// newFakeCoordinator starts a coordinator on 127.0.0.1 handing out urls
// (protocols missing there get http://127.0.0.1 and their default port).
func newFakeCoordinator(t testing.TB, ready bool, urls map[string]string) *fakeCoordinator {
	t.Helper()
	defaults := map[string]string{
		"otlp_grpc": "http://127.0.0.1:4317", "otlp_http": "http://127.0.0.1:4318",
		"zipkin": "http://127.0.0.1:9411", "jaeger_thrift_http": "http://127.0.0.1:14268",
		"jaeger_grpc": "http://127.0.0.1:14250",
	}
	for p, u := range urls {
		defaults[p] = u
	}
	f := &fakeCoordinator{
		ready:   ready,
		valid:   documentedProtocols,
		urls:    defaults,
		enabled: map[string]bool{"otlp_http": true},
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCoordinator) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if r.URL.Path != "/api/v1/receivers" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		f.bodies = append(f.bodies, body)
		var req struct {
			Client    string   `json:"client"`
			Protocols []string `json:"protocols"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		for _, p := range req.Protocols {
			if !contains(f.valid, p) {
				http.Error(w, fmt.Sprintf("unknown protocol %q; valid protocols: %s", p, strings.Join(f.valid, ", ")), http.StatusBadRequest)
				return
			}
		}
		for _, p := range req.Protocols {
			f.enabled[p] = true
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	type receiver struct {
		Protocol string `json:"protocol"`
		URL      string `json:"url"`
	}
	answer := struct {
		Receivers []receiver `json:"receivers"`
		Ready     bool       `json:"ready"`
	}{Receivers: []receiver{}, Ready: f.ready}
	for _, p := range documentedProtocols {
		if f.enabled[p] {
			answer.Receivers = append(answer.Receivers, receiver{p, f.urls[p]})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

func (f *fakeCoordinator) lastBody() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return nil
	}
	return f.bodies[len(f.bodies)-1]
}

func (f *fakeCoordinator) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
