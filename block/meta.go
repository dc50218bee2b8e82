package block

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/model"
)

// Object names inside <tenant>/<blockID>/.
const (
	DataFile  = "data.parquet"
	BloomFile = "bloom"
	MetaFile  = "meta.json"
)

// FormatVersion is the block format written by this package.
const FormatVersion = "pace-parquet-v1"

// ErrBlockNotFound is returned by ReadMeta when the block has no meta.json
// (it does not exist, is being written or is being deleted).
var ErrBlockNotFound = errors.New("block not found")

// Meta describes a complete block; it is stored as meta.json, written last.
type Meta struct {
	Version         string    `json:"format"`
	BlockID         uuid.UUID `json:"blockID"`
	TenantID        string    `json:"tenantID"`
	StartTime       time.Time `json:"startTime"`
	EndTime         time.Time `json:"endTime"`
	TotalObjects    int64     `json:"totalObjects"` // traces
	TotalSpans      int64     `json:"totalSpans"`
	Size            int64     `json:"size"`               // bytes of data.parquet
	BloomSize       int64     `json:"bloomSize"`          // bytes of bloom
	TagsSize        int64     `json:"tagsSize,omitempty"` // bytes of tags.json; 0 for blocks without one
	RowGroups       int       `json:"rowGroups"`
	MinID           string    `json:"minID"` // hex
	MaxID           string    `json:"maxID"` // hex
	CompactionLevel int       `json:"compactionLevel"`
	CreatedAt       time.Time `json:"createdAt"`
}

// Dir is the block's directory in the bucket, with a trailing slash.
func (m *Meta) Dir() string { return BlockDir(m.TenantID, m.BlockID) }

// BlockDir is <tenant>/<blockID>/.
func BlockDir(tenant string, id uuid.UUID) string { return tenant + "/" + id.String() + "/" }

// MinTraceID and MaxTraceID parse MinID and MaxID.
func (m *Meta) MinTraceID() model.TraceID { return parseHexID(m.MinID) }

// MaxTraceID is the largest trace ID in the block.
func (m *Meta) MaxTraceID() model.TraceID { return parseHexID(m.MaxID) }

// InRange reports whether id lies between the block's smallest and largest IDs.
func (m *Meta) InRange(id model.TraceID) bool {
	return id.Compare(m.MinTraceID()) >= 0 && id.Compare(m.MaxTraceID()) <= 0
}

// Overlaps reports whether the block holds data in [start, end].
func (m *Meta) Overlaps(start, end time.Time) bool {
	return !m.StartTime.After(end) && !m.EndTime.Before(start)
}

// TotalBytes is data + bloom, the block's size on the object store without meta.json.
func (m *Meta) TotalBytes() int64 { return m.Size + m.BloomSize }

func parseHexID(s string) model.TraceID {
	id, _ := model.ParseTraceID(s)
	return id
}

// ReadMeta reads a block's meta.json; ErrBlockNotFound if it has none.
func ReadMeta(ctx context.Context, bkt objstore.Bucket, tenant string, id uuid.UUID) (*Meta, error) {
	rc, err := bkt.Get(ctx, BlockDir(tenant, id)+MetaFile)
	if err != nil {
		if bkt.IsObjNotFoundErr(err) {
			return nil, fmt.Errorf("%w: %s/%s", ErrBlockNotFound, tenant, id)
		}
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	m := new(Meta)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("block %s/%s: bad meta.json: %w", tenant, id, err)
	}
	return m, nil
}

func writeMeta(ctx context.Context, bkt objstore.Bucket, m *Meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return bkt.Upload(ctx, m.Dir()+MetaFile, bytes.NewReader(b))
}

// listDirs lists the sub-directory names under dir ("" for the root).
func listDirs(ctx context.Context, bkt objstore.Bucket, dir string) ([]string, error) {
	var out []string
	err := bkt.Iter(ctx, dir, func(name string) error {
		if !strings.HasSuffix(name, "/") {
			return nil
		}
		out = append(out, path.Base(strings.TrimSuffix(name, "/")))
		return nil
	})
	return out, err
}

// ListTenants lists tenants that have at least one complete block, sorted.
func ListTenants(ctx context.Context, bkt objstore.Bucket) ([]string, error) {
	dirs, err := listDirs(ctx, bkt, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range dirs {
		if model.ValidateTenant(t) != nil {
			continue
		}
		ids, err := listDirs(ctx, bkt, t+"/")
		if err != nil {
			return nil, err
		}
		for _, s := range ids {
			id, err := uuid.Parse(s)
			if err != nil {
				continue
			}
			ok, err := bkt.Exists(ctx, BlockDir(t, id)+MetaFile)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, t)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// listConcurrency bounds the meta.json reads ListBlocks runs at once.
const listConcurrency = 16

// ListBlocks returns the metas of the tenant's complete blocks (meta.json
// present), sorted by start time then block ID. Blocks without meta.json
// (being written, half-written or being deleted) are skipped.
func ListBlocks(ctx context.Context, bkt objstore.Bucket, tenant string) ([]*Meta, error) {
	if err := model.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	dirs, err := listDirs(ctx, bkt, tenant+"/")
	if err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	for _, s := range dirs {
		if id, err := uuid.Parse(s); err == nil {
			ids = append(ids, id)
		}
	}
	metas := make([]*Meta, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, listConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := ReadMeta(ctx, bkt, tenant, id)
			if err != nil && !errors.Is(err, ErrBlockNotFound) {
				errs[i] = err
				return
			}
			metas[i] = m
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := metas[:0]
	for _, m := range metas {
		if m != nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartTime.Equal(out[j].StartTime) {
			return out[i].StartTime.Before(out[j].StartTime)
		}
		return out[i].BlockID.String() < out[j].BlockID.String()
	})
	return out, nil
}

// DeleteBlock deletes a block: meta.json first (so the block stops being
// visible at once), then its other objects. Objects already gone are not an
// error, so it also cleans up half-written blocks.
func DeleteBlock(ctx context.Context, bkt objstore.Bucket, tenant string, id uuid.UUID) error {
	dir := BlockDir(tenant, id)
	for _, name := range []string{MetaFile, BloomFile, TagsFile, DataFile} {
		if err := bkt.Delete(ctx, dir+name); err != nil && !bkt.IsObjNotFoundErr(err) {
			return fmt.Errorf("delete %s: %w", dir+name, err)
		}
	}
	// Anything else a future version may have put there.
	var rest []string
	if err := bkt.Iter(ctx, dir, func(name string) error {
		if !strings.HasSuffix(name, "/") {
			rest = append(rest, name)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, name := range rest {
		if err := bkt.Delete(ctx, name); err != nil && !bkt.IsObjNotFoundErr(err) {
			return fmt.Errorf("delete %s: %w", name, err)
		}
	}
	return nil
}
