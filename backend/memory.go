package backend

import (
	"bytes"
	"context"
	"io"

	"github.com/thanos-io/objstore"
)

// NewInMemory is the in-memory object store. objstore's InMemBucket holds
// its lock while it reads an upload's body; block writes stream their body
// (from a merge reading the same bucket, or an ingester's flush), which would
// stall every reader or deadlock, so uploads are read before they go in —
// into memory, where they end up anyway.
func NewInMemory() objstore.Bucket { return bufferedUploads{objstore.NewInMemBucket()} }

type bufferedUploads struct{ objstore.Bucket }

func (b bufferedUploads) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return b.Bucket.Upload(ctx, name, bytes.NewReader(body), opts...)
}
