package block

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/model"
)

// IndexFile is the per-tenant block index, <tenant>/index.json.gz.
const IndexFile = "index.json.gz"

// ErrIndexNotFound is returned by ReadIndex when the tenant has no index.
var ErrIndexNotFound = errors.New("block index not found")

// Index is the tenant's block list as the compactor that owns the tenant saw
// it at CreatedAt. Readers use it instead of listing the bucket; they must
// still expect a listed block to be gone (deleted since) and blocks newer
// than the index (flushed since).
type Index struct {
	CreatedAt time.Time        `json:"createdAt"`
	Metas     []*Meta          `json:"metas"`     // live blocks
	Compacted []*CompactedMeta `json:"compacted"` // compacted, not yet deleted
}

// IndexPath is the object name of the tenant's index.
func IndexPath(tenant string) string { return tenant + "/" + IndexFile }

// WriteIndex uploads idx as gzip JSON in a single Upload to its final name,
// so a reader sees the old index or the new one, never a mix.
func WriteIndex(ctx context.Context, bkt objstore.Bucket, tenant string, idx *Index) error {
	if err := model.ValidateTenant(tenant); err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(idx); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bkt.Upload(ctx, IndexPath(tenant), &buf)
}

// ReadIndex reads the tenant's index; ErrIndexNotFound when there is none.
func ReadIndex(ctx context.Context, bkt objstore.Bucket, tenant string) (*Index, error) {
	if err := model.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	rc, err := bkt.Get(ctx, IndexPath(tenant))
	if err != nil {
		if bkt.IsObjNotFoundErr(err) {
			return nil, fmt.Errorf("%w: %s", ErrIndexNotFound, tenant)
		}
		return nil, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("index of %s: %w", tenant, err)
	}
	defer zr.Close()
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("index of %s: %w", tenant, err)
	}
	idx := new(Index)
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("index of %s: %w", tenant, err)
	}
	return idx, nil
}
