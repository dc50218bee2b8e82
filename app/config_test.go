package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pace.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsNeedNoFile(t *testing.T) {
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Target != All || cfg.Server.HTTPListenPort != 3200 || cfg.Storage.Trace.Backend != "local" ||
		cfg.Distributor.Receivers.OTLP.Protocols.GRPC.Endpoint != "0.0.0.0:4317" ||
		cfg.Storage.Trace.Local.Path != "./pace-data/blocks" || cfg.Ingester.WALPath != "./pace-data/wal" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestFileOverridesDefaultsAndFlagsOverrideFile(t *testing.T) {
	f := writeFile(t, `
server:
  http_listen_port: 3300
ingester:
  max_block_duration: 90s
storage:
  trace:
    backend: s3
    s3:
      endpoint: 127.0.0.1:9000
      bucket: traces
      access_key: k
      secret_key: s
    wal:
      path: /tmp/x/wal
`)
	cfg, err := Load([]string{"-config.file", f, "-server.http-listen-port", "3400"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.HTTPListenPort != 3400 {
		t.Errorf("flag did not win over the file: port %d", cfg.Server.HTTPListenPort)
	}
	if cfg.Ingester.MaxBlockDuration != 90*time.Second || cfg.Storage.Trace.S3.Bucket != "traces" || cfg.Ingester.WALPath != "/tmp/x/wal" {
		t.Errorf("file values not applied: %+v", cfg)
	}
	if !cfg.Storage.Trace.S3.ForcePathStyle {
		t.Error("a default not in the file was lost")
	}
}

func TestConfigErrorsNameTheProblem(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		file string
		want string
	}{
		"unknown key":       {file: "ingestr:\n  x: 1\n", want: "ingestr"},
		"bad backend":       {args: []string{"-storage.trace.backend", "gcs2"}, want: "gcs2"},
		"s3 without bucket": {args: []string{"-storage.trace.backend", "s3", "-storage.trace.s3.endpoint", "h:1"}, want: "bucket"},
		"s3 with scheme":    {args: []string{"-storage.trace.backend", "s3", "-storage.trace.s3.endpoint", "http://h:1", "-storage.trace.s3.bucket", "b"}, want: "without a scheme"},
		"unknown target":    {args: []string{"-target", "ingestor"}, want: "valid targets"},
		"no receivers": {args: []string{"-distributor.otlp.grpc-endpoint=", "-distributor.otlp.http-endpoint=",
			"-distributor.jaeger.grpc-endpoint=", "-distributor.jaeger.thrift-http-endpoint=", "-distributor.jaeger.thrift-compact-endpoint=",
			"-distributor.jaeger.thrift-binary-endpoint=", "-distributor.zipkin.endpoint="}, want: "every receiver is disabled"},
		"bad duration": {file: "ingester:\n  max_block_duration: soon\n", want: "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			args := c.args
			if c.file != "" {
				args = append([]string{"-config.file", writeFile(t, c.file)}, args...)
			}
			_, err := Load(args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}

func TestExampleConfigIsValidAndComplete(t *testing.T) {
	cfg, err := Load([]string{"-config.file", "../examples/pace.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	def, _ := Load(nil)
	if cfg.Ingester != def.Ingester || cfg.Server != def.Server || cfg.Storage != def.Storage || cfg.Distributor != def.Distributor {
		t.Fatalf("examples/pace.yaml does not match the defaults:\nfile     %+v\ndefaults %+v", cfg, def)
	}
}
