package block

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/model"
)

// Object names inside <tenant>/<blockID>/ written by the compactor.
const (
	// CompactedFile marks a block whose data is in a newer block: it stays
	// readable (queries in flight) until the compactor deletes it, but new
	// queries must not use it.
	CompactedFile = "compacted.json"
	// SourcesFile lists the blocks a compacted block was made from. It is
	// written before the block's data, so once meta.json exists it tells
	// which inputs the block replaces even if the compactor died before
	// marking them compacted.
	SourcesFile = "sources.json"
)

// CompactedMeta is the content of compacted.json: the block's meta and when
// it was marked compacted.
type CompactedMeta struct {
	Meta
	CompactedTime time.Time `json:"compactedTime"`
}

// MarkCompacted writes meta's compacted.json. Marking twice is harmless (the
// later time wins).
func MarkCompacted(ctx context.Context, bkt objstore.Bucket, meta *Meta, at time.Time) error {
	if err := model.ValidateTenant(meta.TenantID); err != nil {
		return err
	}
	b, err := json.Marshal(&CompactedMeta{Meta: *meta, CompactedTime: at.UTC()})
	if err != nil {
		return err
	}
	return bkt.Upload(ctx, meta.Dir()+CompactedFile, bytes.NewReader(b))
}

// ReadCompactedMeta reads a block's compacted.json; ErrBlockNotFound if it has none.
func ReadCompactedMeta(ctx context.Context, bkt objstore.Bucket, tenant string, id uuid.UUID) (*CompactedMeta, error) {
	b, err := getObject(ctx, bkt, BlockDir(tenant, id)+CompactedFile)
	if err != nil {
		if bkt.IsObjNotFoundErr(err) {
			return nil, fmt.Errorf("%w: %s/%s (no %s)", ErrBlockNotFound, tenant, id, CompactedFile)
		}
		return nil, err
	}
	cm := new(CompactedMeta)
	if err := json.Unmarshal(b, cm); err != nil {
		return nil, fmt.Errorf("block %s/%s: bad %s: %w", tenant, id, CompactedFile, err)
	}
	return cm, nil
}

// Sources is the content of sources.json.
type Sources struct {
	Blocks    []uuid.UUID `json:"blocks"`
	CreatedAt time.Time   `json:"createdAt"`
}

// WriteSources writes sources.json into block id of tenant (which need not
// exist yet).
func WriteSources(ctx context.Context, bkt objstore.Bucket, tenant string, id uuid.UUID, s *Sources) error {
	if err := model.ValidateTenant(tenant); err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return bkt.Upload(ctx, BlockDir(tenant, id)+SourcesFile, bytes.NewReader(b))
}

// ReadSources reads a block's sources.json; (nil, nil) if it has none (the
// block was not written by the compactor).
func ReadSources(ctx context.Context, bkt objstore.Bucket, tenant string, id uuid.UUID) (*Sources, error) {
	b, err := getObject(ctx, bkt, BlockDir(tenant, id)+SourcesFile)
	if err != nil {
		if bkt.IsObjNotFoundErr(err) {
			return nil, nil
		}
		return nil, err
	}
	s := new(Sources)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("block %s/%s: bad %s: %w", tenant, id, SourcesFile, err)
	}
	return s, nil
}

func getObject(ctx context.Context, bkt objstore.Bucket, name string) ([]byte, error) {
	rc, err := bkt.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// ListBlocksAndCompacted lists the tenant's blocks in one recursive listing:
// live blocks (meta.json, no compacted.json) and compacted ones
// (compacted.json, with or without meta.json: a compacted block whose
// meta.json is gone is being deleted and is listed so that its deletion can
// be finished). Blocks being written (no meta.json) are skipped. Both lists
// are sorted by start time, then block ID.
func ListBlocksAndCompacted(ctx context.Context, bkt objstore.Bucket, tenant string) (live []*Meta, compacted []*CompactedMeta, err error) {
	return NewLister(bkt).List(ctx, tenant)
}

// Lister lists blocks like ListBlocksAndCompacted but keeps the metas it has
// read (meta.json and compacted.json do not change), so that listing again
// costs one recursive listing plus the reads of new objects. Safe for
// concurrent use.
type Lister struct {
	bkt       objstore.Bucket
	mu        sync.Mutex
	metas     map[string]*Meta          // key: <tenant>/<id>
	compacted map[string]*CompactedMeta // key: <tenant>/<id>
}

// NewLister returns a lister with an empty cache.
func NewLister(bkt objstore.Bucket) *Lister {
	return &Lister{bkt: bkt, metas: map[string]*Meta{}, compacted: map[string]*CompactedMeta{}}
}

type blockObjects struct {
	meta, compacted bool
}

// List lists the tenant's live and compacted blocks (see ListBlocksAndCompacted).
func (l *Lister) List(ctx context.Context, tenant string) (live []*Meta, compacted []*CompactedMeta, err error) {
	if err := model.ValidateTenant(tenant); err != nil {
		return nil, nil, err
	}
	prefix := tenant + "/"
	found := map[uuid.UUID]*blockObjects{}
	err = l.bkt.Iter(ctx, prefix, func(name string) error {
		rest := strings.TrimPrefix(name, prefix)
		dir, file, ok := strings.Cut(rest, "/")
		if !ok {
			return nil
		}
		id, err := uuid.Parse(dir)
		if err != nil {
			return nil
		}
		bo := found[id]
		if bo == nil {
			bo = &blockObjects{}
			found[id] = bo
		}
		switch file {
		case MetaFile:
			bo.meta = true
		case CompactedFile:
			bo.compacted = true
		}
		return nil
	}, objstore.WithRecursiveIter())
	if err != nil {
		return nil, nil, err
	}

	type job struct {
		id        uuid.UUID
		compacted bool
	}
	var jobs []job
	for id, bo := range found {
		switch {
		case bo.compacted:
			jobs = append(jobs, job{id, true})
		case bo.meta:
			jobs = append(jobs, job{id, false})
		}
	}
	metas := make([]*Meta, len(jobs))
	cms := make([]*CompactedMeta, len(jobs))
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, listConcurrency)
	var wg sync.WaitGroup
	for i, j := range jobs {
		key := prefix + j.id.String()
		l.mu.Lock()
		m, cm := l.metas[key], l.compacted[key]
		l.mu.Unlock()
		if j.compacted && cm != nil {
			cms[i] = cm
			continue
		}
		if !j.compacted && m != nil {
			metas[i] = m
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if j.compacted {
				cm, err := ReadCompactedMeta(ctx, l.bkt, tenant, j.id)
				if err != nil {
					if !errors.Is(err, ErrBlockNotFound) { // deleted since the listing
						errs[i] = err
					}
					return
				}
				cms[i] = cm
				l.mu.Lock()
				l.compacted[key] = cm
				l.mu.Unlock()
				return
			}
			m, err := ReadMeta(ctx, l.bkt, tenant, j.id)
			if err != nil {
				if !errors.Is(err, ErrBlockNotFound) {
					errs[i] = err
				}
				return
			}
			metas[i] = m
			l.mu.Lock()
			l.metas[key] = m
			l.mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	for i := range jobs {
		if metas[i] != nil {
			live = append(live, metas[i])
		}
		if cms[i] != nil {
			compacted = append(compacted, cms[i])
		}
	}
	// Forget the tenant's blocks that are gone.
	l.mu.Lock()
	for key := range l.metas {
		if id, ok := cacheKeyID(key, prefix); ok {
			if bo := found[id]; bo == nil || !bo.meta || bo.compacted {
				delete(l.metas, key)
			}
		}
	}
	for key := range l.compacted {
		if id, ok := cacheKeyID(key, prefix); ok {
			if bo := found[id]; bo == nil || !bo.compacted {
				delete(l.compacted, key)
			}
		}
	}
	l.mu.Unlock()
	SortMetas(live)
	sort.Slice(compacted, func(i, j int) bool { return metaLess(&compacted[i].Meta, &compacted[j].Meta) })
	return live, compacted, nil
}

func cacheKeyID(key, prefix string) (uuid.UUID, bool) {
	if !strings.HasPrefix(key, prefix) {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(key[len(prefix):])
	return id, err == nil
}

// SortMetas sorts metas by start time, then block ID (ListBlocks' order).
func SortMetas(metas []*Meta) {
	sort.Slice(metas, func(i, j int) bool { return metaLess(metas[i], metas[j]) })
}

func metaLess(a, b *Meta) bool {
	if !a.StartTime.Equal(b.StartTime) {
		return a.StartTime.Before(b.StartTime)
	}
	return a.BlockID.String() < b.BlockID.String()
}
