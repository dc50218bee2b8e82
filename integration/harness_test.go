package integration

import (
	"bytes"
	"context"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestHarnessMinIOStartsAndStoresObjects checks the MinIO the S3 tests use.
func TestHarnessMinIOStartsAndStoresObjects(t *testing.T) {
	m := StartMinIO(t)
	bucket := m.CreateBucket(t, "")
	data := []byte("hello")
	if _, err := m.Client(t).PutObject(context.Background(), bucket, "a/b", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if keys := m.ListObjects(t, bucket); len(keys) != 1 || keys[0] != "a/b" {
		t.Fatalf("list: want [a/b], got %v", keys)
	}
}
