package accesspoint

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultMaxAttempts bounds how many backends one request is tried on.
const DefaultMaxAttempts = 3

// Option configures NewHTTPProxy.
type Option func(*options)

type options struct {
	log         *slog.Logger
	maxBody     int64
	maxAttempts int
	dialTimeout time.Duration
	// TLS to backends (DESIGN.md §3 item 6) goes here: a *tls.Config for
	// both transports and https:// URLs in forward.prepare. Not built yet.
}

// WithLogger sets the logger for forwarding failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMaxRetryBody sets the largest request body buffered so the request
// can be retried on another backend (default DefaultMaxRetryBody). Larger
// bodies are streamed and retried only if the backend was never reached.
func WithMaxRetryBody(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithMaxAttempts sets how many backends one request may be tried on
// (default DefaultMaxAttempts; 1 disables retries).
func WithMaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = n } }

// WithDialTimeout bounds connecting to a backend (default 2s). A backend
// that does not accept in time counts as not reached: the request is
// retried elsewhere and the backend ejected.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// NewHTTPProxy returns the handler for one port of pool p. Served by a
// server from NewServer, it takes HTTP/1.1, cleartext HTTP/2 and gRPC on
// the same listener, and chooses a backend for every request, so the calls
// of one long-lived client connection spread over all healthy backends.
//
// Requests are forwarded unchanged (path, query, X-Scope-OrgID and every
// other end-to-end header) plus X-Forwarded-For/-Host/-Proto. gRPC goes to
// the backend over HTTP/2 with its trailers, so grpc-status and
// grpc-message reach the client as the backend sent them; other requests go
// over HTTP/1.1, which every receiver speaks.
//
// Failures the client does not see: a request whose backend cannot be
// reached (dial failure, or the connection broke before a response header)
// is sent to another backend, whatever its method, provided its body is
// buffered (see WithMaxRetryBody) or was not read yet; a GET or HEAD that
// fails in transport or gets 502/503 is retried too. gRPC calls are retried
// only when the dial failed, since their body is a live stream. A backend
// whose dial fails is ejected until its next passing /ready check.
//
// With no healthy backend the answer is 503 "no healthy <role> for <pool>",
// or for gRPC the status UNAVAILABLE with that message.
func NewHTTPProxy(p *Pool, opts ...Option) http.Handler {
	o := options{
		log:         slog.Default(),
		maxBody:     DefaultMaxRetryBody,
		maxAttempts: DefaultMaxAttempts,
		dialTimeout: 2 * time.Second,
	}
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.maxAttempts < 1 {
		o.maxAttempts = 1
	}
	dial := (&net.Dialer{Timeout: o.dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	h2 := new(http.Protocols)
	h2.SetUnencryptedHTTP2(true) // prior knowledge: every gRPC server speaks it
	px := &proxy{
		pool: p,
		o:    o,
		h1: &http.Transport{
			Proxy:               nil, // never an environment proxy between us and workers
			DialContext:         dial,
			MaxIdleConnsPerHost: 64, // keep connections warm under concurrent pushes
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true, // pass Accept-Encoding and bodies through untouched
			WriteBufferSize:     32 << 10,
			ReadBufferSize:      32 << 10,
		},
		h2: &http.Transport{
			Proxy:              nil,
			DialContext:        dial,
			Protocols:          h2,
			IdleConnTimeout:    90 * time.Second,
			DisableCompression: true,
			// No HTTP2.SendPingTimeout: gRPC servers answer pings sent
			// more often than every 5 minutes with GOAWAY too_many_pings.
		},
		errLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn),
	}
	return px
}

// NewServer returns an http.Server for h that accepts HTTP/1.1 and
// cleartext HTTP/2 with prior knowledge — how gRPC clients and h2c clients
// connect — on the same port. The caller may set more fields (ErrorLog,
// timeouts) before serving.
//
// This is net/http's own unencrypted HTTP/2 (Go 1.24+), not the deprecated
// x/net h2c handler: its connections are not hijacked, so Shutdown drains
// them with a GOAWAY like any other. The HTTP/1.1 "Upgrade: h2c" dance is
// not offered; such clients (curl --http2) carry on in HTTP/1.1.
func NewServer(h http.Handler) *http.Server {
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		Protocols:         protos,
		ReadHeaderTimeout: 10 * time.Second, // slow-header clients cannot hold connections open
		IdleTimeout:       2 * time.Minute,
	}
}

type proxy struct {
	pool   *Pool
	o      options
	h1, h2 http.RoundTripper
	errLog *log.Logger
}

func (px *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "PRI" && r.ProtoMajor == 2 {
		// The HTTP/2 preface reached a handler: the server was built
		// without unencrypted HTTP/2, and every gRPC client fails here.
		px.o.log.Error("HTTP/2 client on a server without cleartext HTTP/2; serve this handler with accesspoint.NewServer",
			"pool", px.pool.name)
		http.Error(w, "cleartext HTTP/2 is not enabled on this port", http.StatusHTTPVersionNotSupported)
		return
	}
	rec := &recorder{ResponseWriter: w}
	f := &forward{px: px, grpc: isGRPC(r), method: r.Method}
	f.tried = f.triedBuf[:0]
	defer func() {
		f.finish()
		canceled := f.canceled
		if e := recover(); e != nil {
			// The reverse proxy aborts (http.ErrAbortHandler) when the
			// backend's body breaks mid-answer: the client saw a reset.
			px.pool.m.requests.WithLabelValues("aborted").Inc()
			panic(e)
		}
		px.pool.m.requests.WithLabelValues(outcome(rec.code, rec.Header(), f.grpc, canceled)).Inc()
	}()

	if f.grpc {
		if r.Body != nil && r.Body != http.NoBody {
			f.body.stream = r.Body
			f.body.length = r.ContentLength
		}
	} else if err := f.body.load(r, px.o.maxBody); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			http.Error(rec, err.Error(), http.StatusRequestEntityTooLarge)
		case r.Context().Err() != nil:
			f.canceled = true
		default:
			http.Error(rec, "reading request body: "+err.Error(), http.StatusBadRequest)
		}
		return
	}

	rp := httputil.ReverseProxy{
		Rewrite:       rewrite,
		Transport:     f,
		FlushInterval: -1, // streamed answers (gRPC, search) go out as they come
		ErrorHandler:  f.fail,
		ErrorLog:      px.errLog,
		BufferPool:    copyBufs,
	}
	if f.grpc {
		rp.ModifyResponse = trailersOnly
	}
	rp.ServeHTTP(rec, r)
}

// rewrite prepares the outbound request; the backend's address is set per
// attempt. The path is left alone: workers serve the same API.
func rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.SetXForwarded()
}

var errNoBackend = errors.New("no healthy backend")

// forward is one client request: the ReverseProxy's transport, which picks
// backends and retries, and its error handler.
type forward struct {
	px       *proxy
	grpc     bool
	method   string
	body     reqBody
	tried    []*member
	triedBuf [DefaultMaxAttempts]*member
	cur      *member // the backend whose answer is being relayed
	canceled bool
}

// RoundTrip sends out to a backend, and to others while the failure is one
// the client must not see.
func (f *forward) RoundTrip(out *http.Request) (*http.Response, error) {
	p := f.px.pool
	m := p.pick(f.tried)
	if m == nil {
		return nil, errNoBackend
	}
	for n := 1; ; n++ {
		f.tried = append(f.tried, m)
		req := new(http.Request)
		*req = *out
		u := *out.URL
		u.Host = m.b.Addr
		req.URL = &u
		if out.Body != nil {
			body, getBody, length, ok := f.body.attempt()
			if !ok {
				// Cannot happen: retry refuses a consumed stream first.
				return nil, errors.New("request body already sent")
			}
			req.Body, req.GetBody, req.ContentLength = body, getBody, length
			if length >= 0 {
				req.TransferEncoding = nil
			}
		}

		m.inflight.Add(1)
		resp, err := f.transport().RoundTrip(req)
		if err == nil && !(n < f.px.o.maxAttempts && f.retryStatus(resp)) {
			f.cur = m
			return resp, nil
		}
		m.inflight.Add(-1)
		if err != nil && out.Context().Err() != nil {
			return nil, err
		}
		reached := true
		if err != nil {
			reached = !notReached(err)
			if !reached {
				m.eject()
				f.px.o.log.Warn("backend unreachable, ejected until its next passing /ready check",
					"pool", p.name, "backend", m.b.ID, "addr", m.b.Addr, "err", err)
			}
		}
		var next *member
		if n < f.px.o.maxAttempts && f.retry(resp, err, reached) {
			next = p.pick(f.tried)
		}
		if next == nil {
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", p.role, m, err)
			}
			f.cur = m
			m.inflight.Add(1)
			return resp, nil
		}
		if resp != nil {
			// Drain a little so a small error page does not cost the
			// connection; then let it go.
			_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
			resp.Body.Close()
		}
		p.m.retries.Inc()
		f.px.o.log.Debug("retrying on another backend", "pool", p.name, "from", m.b.ID, "to", next.b.ID,
			"status", statusOf(resp), "err", err)
		m = next
	}
}

// retryStatus reports whether a backend's answer is one to try elsewhere:
// 502/503 to a read, which is safe to repeat.
func (f *forward) retryStatus(resp *http.Response) bool {
	return !f.grpc && idempotent(f.method) &&
		(resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable)
}

// retry decides whether a failed attempt may be sent to another backend.
func (f *forward) retry(resp *http.Response, err error, reached bool) bool {
	if err == nil {
		return f.retryStatus(resp) && f.replayable()
	}
	switch {
	case !reached:
		// The backend never saw the request: safe for any method, and for
		// gRPC, as long as no byte of a streamed body went out.
		return f.replayable()
	case f.grpc:
		return false
	case connLost(err) || idempotent(f.method):
		return f.replayable()
	}
	return false
}

// replayable reports whether the body can go out again: it is buffered,
// absent, or a stream the failed attempt did not read.
func (f *forward) replayable() bool {
	b := &f.body
	if b.stream == nil {
		return true
	}
	if b.last == nil {
		return true
	}
	b.last.closed.Store(true)
	return !b.last.touched.Load()
}

func (f *forward) transport() http.RoundTripper {
	if f.grpc {
		return f.px.h2
	}
	return f.px.h1
}

// finish runs when the answer has been relayed (or failed).
func (f *forward) finish() {
	if f.cur != nil {
		f.cur.inflight.Add(-1)
		f.cur = nil
	}
	f.body.release()
}

// fail answers the client when no backend could: 503 when none is healthy,
// 502 when the last one tried failed; gRPC clients get the status
// UNAVAILABLE instead, which their retry policies understand.
func (f *forward) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		f.canceled = true
		return
	}
	p := f.px.pool
	code, msg := http.StatusBadGateway, fmt.Sprintf("%s: %v", p.name, err)
	if errors.Is(err, errNoBackend) {
		code, msg = http.StatusServiceUnavailable, p.noBackendMsg()
	} else {
		f.px.o.log.Warn("forwarding failed", "pool", p.name, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if f.grpc {
		writeGRPCStatus(w, 14 /* UNAVAILABLE */, msg)
		return
	}
	http.Error(w, msg, code)
}

// writeGRPCStatus sends a trailers-only gRPC answer: HTTP 200 with the
// status in the header block that ends the stream.
func writeGRPCStatus(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(code))
	h.Set("Grpc-Message", encodeGRPCMessage(msg))
	w.WriteHeader(http.StatusOK)
}

// encodeGRPCMessage percent-encodes as the gRPC HTTP/2 spec requires for
// grpc-message: everything outside printable ASCII, and '%'.
func encodeGRPCMessage(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// notReached reports whether err means the request never got to the
// backend: the dial failed. Only then is the backend ejected: a connection
// that breaks later is as often a worker closing an idle keep-alive as a
// dead worker, and the dead one is caught at its next dial or check.
func notReached(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// connLost reports whether the connection broke before a response header
// arrived: the backend may have died with the request, or closed an idle
// connection as we reused it.
func connLost(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "server closed idle connection")
}

func idempotent(method string) bool {
	return method == http.MethodGet || method == http.MethodHead
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// isGRPC reports whether r is a gRPC call (not gRPC-Web, which is HTTP/1
// and goes the HTTP/1 way).
// trailersOnly moves the status of a gRPC "trailers-only" answer (an
// error with no message: grpc-status in the response headers, which end
// the stream) into trailers. Relayed as headers, the headers frame could
// leave before the end of the stream, and a gRPC client only reads a
// status from headers that end the stream: it would see "server closed
// the stream without sending trailers" instead of the backend's status.
func trailersOnly(res *http.Response) error {
	if res.Header.Get("Grpc-Status") == "" {
		return nil
	}
	if res.Trailer == nil {
		res.Trailer = http.Header{}
	}
	for _, k := range []string{"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin"} {
		if v, ok := res.Header[k]; ok {
			res.Trailer[k] = v
			delete(res.Header, k)
		}
	}
	return nil
}

func isGRPC(r *http.Request) bool {
	if r.ProtoMajor != 2 {
		return false
	}
	ct := r.Header.Get("Content-Type")
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// recorder notes the final status code for the metrics, and unwraps for
// the reverse proxy's flushes, 1xx answers and upgrades.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// copyBufs recycles the reverse proxy's 32 KiB copy buffers.
var copyBufs = &bufPool{}

type bufPool struct{ p sync.Pool }

func (b *bufPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufPool) Put(buf []byte) { b.p.Put(&buf) }
