package compactor

import (
	"bytes"
	"context"
	"io"

	"github.com/thanos-io/objstore"
)

// writableBucket returns the bucket to compact in. objstore's InMemBucket
// holds its lock while it reads an upload's body, and WriteBlock streams the
// body from the merge, which reads the same bucket: that would deadlock, so
// uploads to an in-memory bucket are read into memory first (where they
// would end up anyway).
func writableBucket(b objstore.Bucket) objstore.Bucket {
	if _, ok := b.(*objstore.InMemBucket); ok {
		return bufferedUploads{b}
	}
	return b
}

type bufferedUploads struct{ objstore.Bucket }

func (b bufferedUploads) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return b.Bucket.Upload(ctx, name, bytes.NewReader(body), opts...)
}
