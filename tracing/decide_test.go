package tracing_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pace-tracing/pace/tracing"
)

// captureLog returns a logger writing every level to the returned buffer.
func captureLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func TestDecide(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("not checked by Decide"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent.pem")
	ready := &tracing.Endpoints{Ready: true, URLs: map[tracing.Protocol]string{
		tracing.OTLPHTTP: "http://10.0.0.5:4318",
		tracing.OTLPGRPC: "https://10.0.0.5:4317",
		tracing.Zipkin:   "grpc://10.0.0.5:9411",
	}}
	notReady := &tracing.Endpoints{Ready: false, URLs: ready.URLs}

	for _, tc := range []struct {
		name     string
		e        *tracing.Endpoints
		p        tracing.Protocol
		caFile   string
		want     tracing.Settings
		reason   string // a part of the reason, when off
		errorLog bool   // whether an ERROR line is logged
	}{
		{name: "http", e: ready, p: tracing.OTLPHTTP,
			want: tracing.Settings{Enabled: true, Endpoint: "http://10.0.0.5:4318", Protocol: tracing.OTLPHTTP}},
		{name: "http ignores the CA", e: ready, p: tracing.OTLPHTTP, caFile: ca,
			want: tracing.Settings{Enabled: true, Endpoint: "http://10.0.0.5:4318", Protocol: tracing.OTLPHTTP}},
		{name: "empty protocol is otlp_http", e: ready,
			want: tracing.Settings{Enabled: true, Endpoint: "http://10.0.0.5:4318", Protocol: tracing.OTLPHTTP}},
		{name: "https with the CA present", e: ready, p: tracing.OTLPGRPC, caFile: ca,
			want: tracing.Settings{Enabled: true, Endpoint: "https://10.0.0.5:4317", CAFile: ca, Protocol: tracing.OTLPGRPC}},
		{name: "https without a CA file", e: ready, p: tracing.OTLPGRPC,
			want: tracing.Settings{Protocol: tracing.OTLPGRPC}, reason: "no CA file was given", errorLog: true},
		{name: "https with the CA file absent", e: ready, p: tracing.OTLPGRPC, caFile: missing,
			want: tracing.Settings{Protocol: tracing.OTLPGRPC}, reason: missing + " does not exist", errorLog: true},
		{name: "https with a directory as CA file", e: ready, p: tracing.OTLPGRPC, caFile: dir,
			want: tracing.Settings{Protocol: tracing.OTLPGRPC}, reason: "is a directory", errorLog: true},
		{name: "not ready", e: notReady, p: tracing.OTLPHTTP, caFile: ca,
			want: tracing.Settings{Protocol: tracing.OTLPHTTP}, reason: "not ready"},
		{name: "no answer", e: nil, p: tracing.OTLPHTTP,
			want: tracing.Settings{Protocol: tracing.OTLPHTTP}, reason: "no answer"},
		{name: "no endpoint for the protocol", e: ready, p: tracing.JaegerGRPC,
			want: tracing.Settings{Protocol: tracing.JaegerGRPC}, reason: "offers no jaeger_grpc endpoint"},
		{name: "neither http nor https", e: ready, p: tracing.Zipkin,
			want: tracing.Settings{Protocol: tracing.Zipkin}, reason: "neither http:// nor https://"},
		{name: "unknown protocol", e: ready, p: "carrier_pigeon",
			want: tracing.Settings{Protocol: "carrier_pigeon"}, reason: `unknown protocol "carrier_pigeon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, buf := captureLog()
			got := tracing.Decide(tc.e, tc.p, tc.caFile, log)
			if tc.reason == "" && got.Reason != "" {
				t.Errorf("reason %q, want none", got.Reason)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", got.Reason, tc.reason)
			}
			got.Reason = ""
			if got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
			logged := buf.String()
			if hasError := strings.Contains(logged, "level=ERROR"); hasError != tc.errorLog {
				t.Errorf("error logged: %v, want %v; log:\n%s", hasError, tc.errorLog, logged)
			}
			if tc.errorLog {
				for _, s := range []string{`msg="tracing off: https endpoint without a CA file"`, "endpoint=https://10.0.0.5:4317", "ca_file=" + tc.caFile, tc.reason} {
					if !strings.Contains(logged, s) {
						t.Errorf("log line %q does not contain %q", logged, s)
					}
				}
				if n := strings.Count(logged, "\n"); n != 1 {
					t.Errorf("%d log lines, want 1", n)
				}
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	ctx := context.Background()
	co := newFakeCoordinator(t, true, map[string]string{"otlp_grpc": "http://10.0.0.5:4317"})

	log, buf := captureLog()
	s := tracing.Configure(ctx, &tracing.Client{Coordinator: co.URL, Name: "app"}, tracing.OTLPGRPC, "", log)
	if want := (tracing.Settings{Enabled: true, Endpoint: "http://10.0.0.5:4317", Protocol: tracing.OTLPGRPC}); s != want {
		t.Errorf("Configure = %+v, want %+v", s, want)
	}
	if got := string(co.lastBody()); got != `{"client":"app","protocols":["otlp_grpc"]}` {
		t.Errorf("body %s", got)
	}
	if buf.Len() != 0 {
		t.Errorf("logged when on: %s", buf)
	}

	// Not ready.
	nr := newFakeCoordinator(t, false, nil)
	if s := tracing.Configure(ctx, &tracing.Client{Coordinator: nr.URL}, "", "", log); s.Enabled || !strings.Contains(s.Reason, "not ready") || s.Protocol != tracing.OTLPHTTP {
		t.Errorf("not ready: %+v", s)
	}

	// A 400 is off, with the coordinator's message as the reason.
	co.valid = []string{"otlp_http"}
	s = tracing.Configure(ctx, &tracing.Client{Coordinator: co.URL}, tracing.Zipkin, "", log)
	if s.Enabled || !strings.Contains(s.Reason, `unknown protocol "zipkin"; valid protocols: otlp_http`) {
		t.Errorf("400: %+v", s)
	}

	// Unreachable: off, and a warning.
	buf.Reset()
	gone := newFakeCoordinator(t, true, nil)
	gone.Close()
	s = tracing.Configure(ctx, &tracing.Client{Coordinator: gone.URL}, tracing.OTLPHTTP, "", log)
	if s.Enabled || s.Endpoint != "" || s.Reason == "" {
		t.Errorf("unreachable: %+v", s)
	}
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("no warning for an unreachable coordinator: %s", buf)
	}

	// No coordinator at all.
	for _, c := range []*tracing.Client{nil, {}} {
		if s := tracing.Configure(ctx, c, tracing.OTLPHTTP, "", nil); s.Enabled || s.Reason != "no coordinator configured" {
			t.Errorf("%+v: %+v", c, s)
		}
	}
}

// slog0 is a logger that drops everything.
func slog0() *slog.Logger { return slog.New(slog.DiscardHandler) }
