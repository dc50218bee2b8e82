// Package wal is the ingester's write-ahead log. Every push is appended to
// the segment of the tenant's head block before it is acknowledged, so a span
// that a client saw accepted survives kill -9: the write(2) has reached the
// kernel, and the next start replays the segment. A segment is deleted only
// after its block is in the object store.
//
// Record layout: uint32 length | uint32 CRC-32C of payload | payload, where
// payload is an S2-compressed sequence of (16-byte trace ID, uvarint length,
// OTLP TracesData protobuf of that trace's spans). A record cut short by a
// crash fails its length or CRC check and ends the replay there; it was never
// acknowledged.
package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/s2"

	"github.com/pace-tracing/pace/model"
)

const (
	headerSize = 8
	// maxRecord bounds a record so a corrupt length cannot make replay allocate gigabytes.
	maxRecord = 256 << 20
	// Ext is the file extension of a segment.
	Ext = ".wal"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry is one trace's part of a push.
type Entry struct {
	ID   model.TraceID
	Data []byte // OTLP TracesData protobuf
}

// Segment is an append-only WAL file. Append is safe for concurrent use.
type Segment struct {
	mu   sync.Mutex
	f    *os.File
	path string
	size int64
}

// Create makes a new, empty segment at path (it must not exist).
func Create(path string) (*Segment, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &Segment{f: f, path: path}, nil
}

// Path is the segment's file name.
func (s *Segment) Path() string { return s.path }

// Size is the number of bytes appended so far.
func (s *Segment) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Record is an encoded WAL record, ready to append. Encoding is the costly
// part (S2 compression), so callers do it before taking their own locks.
type Record []byte

// EncodeRecord encodes entries as one record.
func EncodeRecord(entries []Entry) (Record, error) {
	size := 0
	for _, e := range entries {
		size += len(e.ID) + binary.MaxVarintLen64 + len(e.Data)
	}
	raw := make([]byte, 0, size)
	for _, e := range entries {
		raw = append(raw, e.ID[:]...)
		raw = binary.AppendUvarint(raw, uint64(len(e.Data)))
		raw = append(raw, e.Data...)
	}
	rec := make([]byte, headerSize+s2.MaxEncodedLen(len(raw)))
	payload := s2.Encode(rec[headerSize:], raw)
	if len(payload) > maxRecord {
		return nil, fmt.Errorf("wal: record of %d bytes exceeds the %d byte limit", len(payload), maxRecord)
	}
	rec = rec[:headerSize+len(payload)]
	binary.LittleEndian.PutUint32(rec[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:8], crc32.Checksum(payload, castagnoli))
	return rec, nil
}

// Append encodes and writes entries as one record.
func (s *Segment) Append(entries []Entry) error {
	rec, err := EncodeRecord(entries)
	if err != nil {
		return err
	}
	return s.Write(rec)
}

// Write appends a record with a single write(2). When it returns nil the
// record survives the death of this process.
func (s *Segment) Write(rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("wal: segment is closed")
	}
	n, err := s.f.Write(rec)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("wal: append to %s: %w", s.path, err)
	}
	return nil
}

// Sync flushes the segment to stable storage (power loss, not just process death).
func (s *Segment) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	return s.f.Sync()
}

// Close syncs and closes the file; the data stays on disk.
func (s *Segment) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// Remove closes and deletes the segment. Call it only once the segment's
// block is safely in the object store.
func (s *Segment) Remove() error {
	s.mu.Lock()
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	s.mu.Unlock()
	if err := os.Remove(s.path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// ErrCorrupt marks a segment whose tail could not be read (a torn write).
var ErrCorrupt = errors.New("wal: corrupt or torn record")

// Replay reads every complete record of the segment at path and calls fn for
// each entry, in write order. The Data slice is only valid during the call.
// If the tail is torn or corrupt, Replay stops there and returns the number
// of good bytes together with an error wrapping ErrCorrupt; entries before
// that point have all been delivered.
func Replay(path string, fn func(Entry) error) (good int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [headerSize]byte
	var payload, raw []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return good, nil
			}
			return good, fmt.Errorf("%w: header at offset %d: %v", ErrCorrupt, good, err)
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n == 0 || n > maxRecord {
			return good, fmt.Errorf("%w: bad length %d at offset %d", ErrCorrupt, n, good)
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return good, fmt.Errorf("%w: record at offset %d cut short", ErrCorrupt, good)
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return good, fmt.Errorf("%w: checksum mismatch at offset %d", ErrCorrupt, good)
		}
		raw, err = s2.Decode(raw[:cap(raw)], payload)
		if err != nil {
			return good, fmt.Errorf("%w: record at offset %d: %v", ErrCorrupt, good, err)
		}
		if err := decodeEntries(raw, fn); err != nil {
			return good, err
		}
		good += headerSize + int64(n)
	}
}

func decodeEntries(raw []byte, fn func(Entry) error) error {
	for len(raw) > 0 {
		if len(raw) < 16 {
			return fmt.Errorf("%w: short entry", ErrCorrupt)
		}
		var e Entry
		copy(e.ID[:], raw[:16])
		raw = raw[16:]
		l, n := binary.Uvarint(raw)
		if n <= 0 || uint64(len(raw)-n) < l {
			return fmt.Errorf("%w: bad entry length", ErrCorrupt)
		}
		e.Data = raw[n : n+int(l)]
		raw = raw[n+int(l):]
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Open opens an existing segment for removal after replay; it is not appended to.
func Open(path string) (*Segment, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return &Segment{path: path, size: fi.Size()}, nil
}
