package backend

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestLocalBackendCreatesItsDirectory(t *testing.T) {
	dir := t.TempDir() + "/nested/blocks"
	bkt, err := New(context.Background(), Config{Backend: Local, Local: LocalConfig{Path: dir}}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := bkt.Upload(context.Background(), "t/x", strings.NewReader("hi")); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableS3FailsAtStartNamingBucketAndEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = New(ctx, Config{Backend: S3, S3: S3Config{Endpoint: addr, Bucket: "traces", Insecure: true, AccessKey: "a", SecretKey: "b"}}, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "traces") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("got %v, want an error naming the bucket and %s", err, addr)
	}
}

func TestMissingCAFileIsAConfigError(t *testing.T) {
	err := (&Config{Backend: S3, S3: S3Config{Endpoint: "h:1", Bucket: "b", CAFile: "/nonexistent/ca.pem"}}).Validate()
	if err == nil || !strings.Contains(err.Error(), "tls_ca_path") {
		t.Fatalf("got %v", err)
	}
}
