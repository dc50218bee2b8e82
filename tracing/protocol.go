package tracing

import (
	"errors"
	"fmt"
	"strings"
)

// Protocol is the name of a trace receiver protocol, as the coordinator's
// receivers API spells it.
type Protocol string

// The protocols a coordinator knows. Any other name is answered with a 400.
const (
	// OTLPGRPC is OTLP over gRPC (port 4317 by default).
	OTLPGRPC Protocol = "otlp_grpc"
	// OTLPHTTP is OTLP over HTTP (port 4318 by default); clients append
	// "/v1/traces" to its URL. The coordinator always enables it.
	OTLPHTTP Protocol = "otlp_http"
	// Zipkin is the Zipkin v2 JSON API; clients append "/api/v2/spans".
	Zipkin Protocol = "zipkin"
	// JaegerThriftHTTP is Jaeger thrift over HTTP; clients append
	// "/api/traces".
	JaegerThriftHTTP Protocol = "jaeger_thrift_http"
	// JaegerGRPC is Jaeger's gRPC collector API.
	JaegerGRPC Protocol = "jaeger_grpc"
)

// ErrUnknownProtocol is wrapped by the errors this package returns for a
// protocol name that is not one of [Protocols].
var ErrUnknownProtocol = errors.New("unknown protocol")

var validProtocols = []Protocol{OTLPGRPC, OTLPHTTP, Zipkin, JaegerThriftHTTP, JaegerGRPC}

// Protocols returns every valid protocol, in the coordinator's documented
// order. The slice is a fresh copy.
func Protocols() []Protocol {
	return append([]Protocol(nil), validProtocols...)
}

// Valid reports whether p is one of [Protocols].
func (p Protocol) Valid() bool {
	for _, v := range validProtocols {
		if p == v {
			return true
		}
	}
	return false
}

// String returns the protocol's name.
func (p Protocol) String() string { return string(p) }

// ParseProtocol returns s as a Protocol, or an error wrapping
// [ErrUnknownProtocol] that lists the valid names.
func ParseProtocol(s string) (Protocol, error) {
	p := Protocol(s)
	if err := p.check(); err != nil {
		return "", err
	}
	return p, nil
}

func (p Protocol) check() error {
	if p.Valid() {
		return nil
	}
	names := make([]string, len(validProtocols))
	for i, v := range validProtocols {
		names[i] = string(v)
	}
	return fmt.Errorf("tracing: %w %q (valid: %s)", ErrUnknownProtocol, string(p), strings.Join(names, ", "))
}
