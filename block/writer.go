package block

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/thanos-io/objstore"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"
)

// TraceIterator yields traces in strictly ascending ID order; Next returns
// io.EOF at the end.
type TraceIterator interface {
	Next(ctx context.Context) (model.TraceID, ptrace.Traces, error)
}

// WriteOptions tune WriteBlock; zero values mean the defaults.
type WriteOptions struct {
	// BlockID names the block; zero means a new random ID. The ingester
	// passes its WAL segment's ID so that a block rebuilt after a crash
	// does not duplicate one already written: if a complete block (meta.json
	// present) with this ID exists, WriteBlock returns its meta without
	// reading the iterator; a half-written one is overwritten.
	BlockID         uuid.UUID
	CompactionLevel int
	// RowGroupSpans ends a row group once it holds at least this many spans
	// (default DefaultRowGroupSpans).
	RowGroupSpans int
	// PageSize is the uncompressed size of a data page (default DefaultPageSize).
	PageSize int
	// DictionaryMaxBytes caps a column chunk's dictionary; past it the
	// column falls back to plain encoding (default DefaultDictionaryMaxBytes).
	// Large dictionaries make every lookup slow: each lookup reads the whole
	// dictionary page of every column.
	DictionaryMaxBytes int
	// BloomFP is the bloom filter's false-positive rate (default 0.01).
	BloomFP float64
}

// Defaults of WriteOptions.
const (
	DefaultRowGroupSpans      = 50_000
	DefaultPageSize           = 32 << 10
	DefaultBloomFP            = 0.01
	DefaultDictionaryMaxBytes = 64 << 10
	writeBatch                = 64 // rows handed to the parquet writer at once
)

// ErrEmptyBlock is returned by WriteBlock when the iterator yields no trace.
var ErrEmptyBlock = errors.New("block: no traces to write")

// ErrOutOfOrder is returned by WriteBlock when trace IDs are not strictly ascending.
var ErrOutOfOrder = errors.New("block: trace IDs not in strictly ascending order")

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writerOptions(opts WriteOptions) []parquet.WriterOption {
	page := opts.PageSize
	if page <= 0 {
		page = DefaultPageSize
	}
	dict := opts.DictionaryMaxBytes
	if dict <= 0 {
		dict = DefaultDictionaryMaxBytes
	}
	return []parquet.WriterOption{
		parquet.DictionaryMaxBytes(int64(dict)),
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.PageBufferSize(page),
		parquet.DataPageStatistics(true),
		parquet.DataPageVersion(1),
		parquet.CreatedBy("pace", FormatVersion, ""),
		// Trace IDs are the only column whose page bounds matter (lookups).
		parquet.ColumnIndexSizeLimit(func(path []string) int { return 16 }),
	}
}

// WriteBlock streams the traces of it into a new block of tenant and returns
// its meta. data.parquet is streamed to the bucket as it is produced, then
// the bloom filter, then meta.json, which makes the block visible. On any
// error the objects already uploaded are deleted and the error returned.
func WriteBlock(ctx context.Context, bkt objstore.Bucket, tenant string, it TraceIterator, opts WriteOptions) (*Meta, error) {
	if err := model.ValidateTenant(tenant); err != nil {
		return nil, err
	}
	blockID := opts.BlockID
	if blockID == uuid.Nil {
		blockID = uuid.New()
	} else {
		// A block with this ID is already complete (e.g. written before a
		// crash and now rebuilt from the same WAL segment): keep it rather
		// than rewrite it under readers, or delete it if the rewrite fails.
		m, err := ReadMeta(ctx, bkt, tenant, blockID)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, ErrBlockNotFound) {
			return nil, err
		}
	}
	meta := &Meta{
		Version:         FormatVersion,
		BlockID:         blockID,
		TenantID:        tenant,
		CompactionLevel: opts.CompactionLevel,
	}
	m, err := writeBlock(ctx, bkt, meta, it, opts)
	if err != nil {
		// Best effort, with a context that survives the caller's cancellation.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = DeleteBlock(cctx, bkt, tenant, meta.BlockID)
		return nil, err
	}
	return m, nil
}

func writeBlock(ctx context.Context, bkt objstore.Bucket, meta *Meta, it TraceIterator, opts WriteOptions) (_ *Meta, err error) {
	rgSpans := opts.RowGroupSpans
	if rgSpans <= 0 {
		rgSpans = DefaultRowGroupSpans
	}
	fp := opts.BloomFP
	if fp <= 0 || fp >= 1 {
		fp = DefaultBloomFP
	}
	dir := meta.Dir()

	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	uploadDone := make(chan error, 1)
	go func() {
		err := bkt.Upload(uctx, dir+DataFile, pr)
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(io.ErrClosedPipe) // no writes after the upload ended
		}
		uploadDone <- err
	}()
	uploading := true
	defer func() {
		if uploading {
			cause := err
			if cause == nil {
				cause = errors.New("block: write aborted")
			}
			pw.CloseWithError(cause)
			cancel()
			<-uploadDone
		}
	}()

	cw := &countingWriter{w: pw}
	w := parquet.NewGenericWriter[pqTrace](cw, writerOptions(opts)...)
	conv := newConverter()
	tags := newTagBuilder()
	batch := make([]pqTrace, 0, writeBatch)
	var (
		ids      []model.TraceID
		prev     model.TraceID
		rgSpansN int
		start    uint64
		end      uint64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := w.Write(batch); err != nil {
			return fmt.Errorf("write rows: %w", err)
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, td, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 && id.Compare(prev) <= 0 {
			return nil, fmt.Errorf("%w: %s after %s", ErrOutOfOrder, id, prev)
		}
		prev = id
		ids = append(ids, id)
		batch = append(batch, conv.toRow(id, td))
		row := &batch[len(batch)-1]
		tags.addRow(row)
		meta.TotalSpans += int64(row.SpanCount)
		rgSpansN += int(row.SpanCount)
		if row.SpanCount > 0 {
			if start == 0 || row.StartTimeUnixNano < start {
				start = row.StartTimeUnixNano
			}
			if row.EndTimeUnixNano > end {
				end = row.EndTimeUnixNano
			}
		}
		if len(batch) == cap(batch) || rgSpansN >= rgSpans {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		if rgSpansN >= rgSpans {
			if err := w.Flush(); err != nil {
				return nil, fmt.Errorf("flush row group: %w", err)
			}
			rgSpansN = 0
		}
	}
	if len(ids) == 0 {
		return nil, ErrEmptyBlock
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("close parquet writer: %w", err)
	}
	meta.RowGroups = len(w.File().RowGroups())
	if err := pw.Close(); err != nil {
		return nil, err
	}
	uploading = false
	if err := <-uploadDone; err != nil {
		return nil, fmt.Errorf("upload %s: %w", DataFile, err)
	}
	meta.Size = cw.n

	bf := bloom.NewWithEstimates(uint(len(ids)), fp)
	for i := range ids {
		bf.Add(ids[i][:])
	}
	var bb bytes.Buffer
	if _, err := bf.WriteTo(&bb); err != nil {
		return nil, err
	}
	meta.BloomSize = int64(bb.Len())
	if err := bkt.Upload(ctx, dir+BloomFile, &bb); err != nil {
		return nil, fmt.Errorf("upload %s: %w", BloomFile, err)
	}

	tb, err := encodeTags(tags.summary())
	if err != nil {
		return nil, err
	}
	meta.TagsSize = int64(tb.Len())
	if err := bkt.Upload(ctx, dir+TagsFile, tb); err != nil {
		return nil, fmt.Errorf("upload %s: %w", TagsFile, err)
	}

	meta.TotalObjects = int64(len(ids))
	meta.MinID = ids[0].String()
	meta.MaxID = ids[len(ids)-1].String()
	meta.StartTime = time.Unix(0, int64(start)).UTC()
	meta.EndTime = time.Unix(0, int64(end)).UTC()
	meta.CreatedAt = time.Now().UTC()
	if err := writeMeta(ctx, bkt, meta); err != nil {
		return nil, fmt.Errorf("upload %s: %w", MetaFile, err)
	}
	return meta, nil
}
