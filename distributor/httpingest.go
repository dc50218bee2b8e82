package distributor

import (
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/model"
)

// errBodyTooLarge is the cause of a 413.
var errBodyTooLarge = errors.New("request body too large")

// readBody reads an ingest request body, undoing Content-Encoding, and
// refuses one larger than limit (after decompression) instead of cutting it.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		defer zr.Close()
		body = zr
	case "deflate":
		fr := flate.NewReader(r.Body)
		defer fr.Close()
		body = fr
	case "zlib":
		zr, err := zlib.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("zlib body: %w", err)
		}
		defer zr.Close()
		body = zr
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q (use gzip, deflate or none)", enc)
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", errBodyTooLarge, limit)
	}
	return b, nil
}

// httpTenant is the tenant of an HTTP ingest request.
func httpTenant(r *http.Request) (string, error) {
	t, err := model.Tenant(r.Header.Get(model.TenantHeader))
	if err != nil {
		return "", status.Error(codes.InvalidArgument, err.Error())
	}
	return t, nil
}

// writeIngestError answers an ingest request that failed: the status follows
// the gRPC code (as OTLP/HTTP maps them), the body names the problem.
func writeIngestError(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		msg = st.Message()
		switch st.Code() {
		case codes.InvalidArgument:
			code = http.StatusBadRequest
		case codes.ResourceExhausted:
			code = http.StatusTooManyRequests
		case codes.Unavailable:
			code = http.StatusServiceUnavailable
		default:
			code = http.StatusInternalServerError
		}
	} else if errors.Is(err, errBodyTooLarge) {
		code = http.StatusRequestEntityTooLarge
	}
	http.Error(w, msg, code)
}

// invalid wraps a decode error as InvalidArgument, naming the protocol.
func invalid(protocol string, err error) error {
	return status.Errorf(codes.InvalidArgument, "%s: %v", protocol, err)
}

// httpIngest is one HTTP ingest listener (Jaeger thrift, Zipkin).
type httpIngest struct {
	srv *http.Server
	ln  net.Listener
}

func startHTTPIngest(endpoint string, h http.Handler) (*httpIngest, error) {
	ln, err := net.Listen("tcp", endpoint)
	if err != nil {
		return nil, err
	}
	s := &httpIngest{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *httpIngest) stop(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// decodeFunc decodes an ingest body of the given media type. An error
// wrapping errUnsupportedMediaType answers 415, any other 400.
type decodeFunc func(mediaType string, body []byte) (ptrace.Traces, error)

// ingestHandler is the HTTP ingest endpoint shared by Jaeger thrift and
// Zipkin: POST only, tenant from the header, body within limit, decode,
// store, 202.
func (d *Distributor) ingestHandler(protocol, name string, limit int64, decode decodeFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		tenant, err := httpTenant(r)
		if err != nil {
			writeIngestError(w, err)
			return
		}
		ct := mediaType(r.Header.Get("Content-Type"))
		// Check the media type before reading a body we could not decode.
		if _, err := decode(ct, nil); errors.Is(err, errUnsupportedMediaType) {
			http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
			return
		}
		body, err := readBody(r, limit)
		if err != nil {
			writeIngestError(w, err)
			return
		}
		td, err := decode(ct, body)
		if err != nil {
			writeIngestError(w, invalid(name, err))
			return
		}
		if err := d.PushTraces(r.Context(), tenant, protocol, td); err != nil {
			writeIngestError(w, err)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

func mediaType(ct string) string {
	return strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
}

func quoteOrEmpty(s string) string {
	if s == "" {
		return "(none)"
	}
	return `"` + s + `"`
}
