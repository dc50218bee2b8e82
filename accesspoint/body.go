package accesspoint

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// DefaultMaxRetryBody is the largest request body kept in memory so the
// request can be sent again to another backend. It covers any sane ingest
// batch; a larger body is streamed once and not retried.
const DefaultMaxRetryBody = 64 << 20

// maxPooledBody bounds the buffers kept for reuse, so one huge push does
// not pin its buffer for the life of the process.
const maxPooledBody = 4 << 20

var bodyBufs sync.Pool // *[]byte

var errBodyClosed = errors.New("accesspoint: request body already closed")

// reqBody is a request's body as the attempts see it: nothing, a buffer
// each attempt reads afresh, or a stream that can be sent at most once.
type reqBody struct {
	buf    []byte // replayable content; nil when empty or streamed
	pooled *[]byte
	stream io.Reader // when the body is sent as it arrives
	length int64     // ContentLength for the outbound request

	mu       sync.Mutex
	readers  []*replayReader
	released bool
	last     *onceReader // the stream's reader of the latest attempt
}

// load reads r's body into memory if it fits in limit. A body of unknown
// length is read up to the limit; if it is longer, what was read is sent
// first and the rest streamed after it, without retry.
func (b *reqBody) load(r *http.Request, limit int64) error {
	b.length = r.ContentLength
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		b.length = 0
		return nil
	}
	if r.ContentLength > limit {
		b.stream = r.Body
		return nil
	}
	b.pooled, _ = bodyBufs.Get().(*[]byte)
	if b.pooled == nil {
		b.pooled = new([]byte)
	}
	buf := (*b.pooled)[:0]
	if r.ContentLength > 0 {
		// Known length (the server enforces it): one read to the end.
		if int64(cap(buf)) < r.ContentLength {
			buf = make([]byte, 0, r.ContentLength)
		}
		buf = buf[:r.ContentLength]
		*b.pooled = buf
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return err
		}
		b.buf = buf
		return nil
	}
	if cap(buf) < 32<<10 {
		buf = make([]byte, 0, 32<<10) // unknown length: skip the tiny first reads
	}
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			*b.pooled = buf
			b.buf = buf
			b.length = int64(len(buf))
			return nil
		}
		if err != nil {
			*b.pooled = buf
			return err
		}
	}
	// Longer than limit: send what was read, then the rest, once. The
	// buffer leaves the pool's care: the transport may read it after the
	// handler returns.
	b.pooled = nil
	b.stream = io.MultiReader(bytes.NewReader(buf), r.Body)
	b.length = -1
	return nil
}

// attempt returns the body and length for one attempt, and GetBody so the
// transport can rewind on its own (HTTP/2 GOAWAY, a stale idle
// connection). ok is false when the body was a stream and the previous
// attempt already consumed some of it: the request cannot be sent again.
func (b *reqBody) attempt() (body io.ReadCloser, getBody func() (io.ReadCloser, error), length int64, ok bool) {
	switch {
	case b.buf != nil:
		return b.replay(), b.getBody, b.length, true
	case b.stream != nil:
		if prev := b.last; prev != nil {
			// Order matters (see onceReader): close first, then look.
			prev.closed.Store(true)
			if prev.touched.Load() {
				return nil, nil, 0, false
			}
		}
		b.last = &onceReader{r: b.stream}
		return b.last, nil, b.length, true
	default:
		return nil, nil, 0, true
	}
}

func (b *reqBody) getBody() (io.ReadCloser, error) { return b.replay(), nil }

func (b *reqBody) replay() *replayReader {
	r := &replayReader{b: b.buf}
	b.mu.Lock()
	if b.released {
		r.closed = true
	} else {
		b.readers = append(b.readers, r)
	}
	b.mu.Unlock()
	return r
}

// release ends every reader handed out and recycles the buffer. A
// transport may still hold a reader after the response (it writes bodies
// from its own goroutine); closing under each reader's lock guarantees no
// read touches the buffer once it is reused.
func (b *reqBody) release() {
	if b.pooled == nil {
		return
	}
	b.mu.Lock()
	b.released = true
	for _, r := range b.readers {
		r.Close()
	}
	b.readers = nil
	b.mu.Unlock()
	if cap(*b.pooled) <= maxPooledBody {
		*b.pooled = (*b.pooled)[:0]
		bodyBufs.Put(b.pooled)
	}
	b.pooled, b.buf = nil, nil
}

// replayReader reads the buffered body for one attempt.
type replayReader struct {
	mu     sync.Mutex
	b      []byte
	off    int
	closed bool
}

func (r *replayReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errBodyClosed
	}
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *replayReader) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

// onceReader hands a stream to one attempt and records whether that
// attempt read from it. Close does not close the stream (the next attempt
// may still need it, and the server closes the inbound body).
//
// Read sets touched then checks closed; attempt sets closed then checks
// touched. With sequentially consistent atomics at least one side sees the
// other, so a stale attempt's late Read and a retry never both consume the
// stream.
type onceReader struct {
	r       io.Reader
	touched atomic.Bool
	closed  atomic.Bool
}

func (o *onceReader) Read(p []byte) (int, error) {
	o.touched.Store(true)
	if o.closed.Load() {
		return 0, errBodyClosed
	}
	return o.r.Read(p)
}

func (o *onceReader) Close() error {
	o.closed.Store(true)
	return nil
}
