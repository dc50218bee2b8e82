package tracing

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/zipkin"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"google.golang.org/grpc/credentials"
)

// Paths appended to a receiver's URL, per protocol.
const (
	otlpHTTPPath = "/v1/traces"
	zipkinPath   = "/api/v2/spans"
)

// NewTracerProvider returns a tracer provider for s whose resource names
// serviceName as service.name (empty keeps OTEL_SERVICE_NAME or the SDK's
// default). opts are applied after this package's own options, so a
// caller's [sdktrace.WithResource] replaces the resource; further span
// processors and samplers can be added that way.
//
// When s is on, spans go through a batch span processor to an exporter for
// s.Protocol: OTLP HTTP (the default, to Endpoint + "/v1/traces"), OTLP gRPC
// for [OTLPGRPC], or Zipkin (to Endpoint + "/api/v2/spans"). An https
// Endpoint is reached over TLS trusting only the CA in s.CAFile (the
// system's roots when CAFile is empty).
//
// When s is off, the provider has no exporter: spans can be started and
// ended, and nothing is sent. The provider returned is never nil: when the
// exporter cannot be built (an unreadable CA file, a Jaeger protocol, a bad
// endpoint) the error is returned together with a provider that exports
// nothing, so a caller may log the error and carry on. Shut the provider
// down to flush what is buffered.
func NewTracerProvider(ctx context.Context, s Settings, serviceName string, opts ...sdktrace.TracerProviderOption) (*sdktrace.TracerProvider, error) {
	base := []sdktrace.TracerProviderOption{sdktrace.WithResource(newResource(serviceName))}
	build := func(extra ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
		all := append(append(base, extra...), opts...)
		return sdktrace.NewTracerProvider(all...)
	}
	if !s.Enabled {
		return build(), nil
	}
	exp, err := newExporter(ctx, s)
	if err != nil {
		return build(), err
	}
	return build(sdktrace.WithBatcher(exp)), nil
}

// newResource is the SDK's default resource (telemetry.sdk.*, the
// environment's OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME) with
// service.name set to serviceName when it is not empty.
func newResource(serviceName string) *resource.Resource {
	if serviceName == "" {
		return resource.Default()
	}
	// The schemaless resource cannot conflict with the default's schema
	// URL, so Merge cannot fail.
	r, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(serviceName)))
	if err != nil {
		return resource.NewSchemaless(semconv.ServiceName(serviceName))
	}
	return r
}

// newExporter builds the span exporter for s, which is on.
func newExporter(ctx context.Context, s Settings) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("tracing: endpoint %q is not a URL", s.Endpoint)
	}
	var tlsConfig *tls.Config
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		if tlsConfig, err = clientTLS(s.CAFile); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("tracing: endpoint %q is neither http:// nor https://", s.Endpoint)
	}

	p := s.Protocol
	if p == "" {
		p = OTLPHTTP
	}
	switch p {
	case OTLPHTTP:
		o := []otlptracehttp.Option{
			otlptracehttp.WithEndpoint(u.Host),
			otlptracehttp.WithURLPath(withPath(u.Path, otlpHTTPPath)),
		}
		if tlsConfig == nil {
			o = append(o, otlptracehttp.WithInsecure())
		} else {
			o = append(o, otlptracehttp.WithTLSClientConfig(tlsConfig))
		}
		exp, err := otlptracehttp.New(ctx, o...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP HTTP exporter: %w", err)
		}
		return exp, nil
	case OTLPGRPC:
		o := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(u.Host)}
		if tlsConfig == nil {
			o = append(o, otlptracegrpc.WithInsecure())
		} else {
			o = append(o, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsConfig)))
		}
		exp, err := otlptracegrpc.New(ctx, o...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP gRPC exporter: %w", err)
		}
		return exp, nil
	case Zipkin:
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = tlsConfig
		target := *u
		target.Path = withPath(u.Path, zipkinPath)
		exp, err := zipkin.New(target.String(), zipkin.WithClient(&http.Client{Transport: transport, Timeout: DefaultTimeout}))
		if err != nil {
			return nil, fmt.Errorf("tracing: Zipkin exporter: %w", err)
		}
		return exp, nil
	case JaegerThriftHTTP, JaegerGRPC:
		return nil, fmt.Errorf("tracing: no exporter for %s: use %s, %s or %s", p, OTLPHTTP, OTLPGRPC, Zipkin)
	default:
		return nil, p.check()
	}
}

// withPath appends suffix to path unless path already ends with it.
func withPath(path, suffix string) string {
	path = strings.TrimSuffix(path, "/")
	if strings.HasSuffix(path, suffix) {
		return path
	}
	return path + suffix
}

// clientTLS is the TLS configuration trusting only the CA in caFile, or the
// system's roots when caFile is empty.
func clientTLS(caFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tracing: reading the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("tracing: the CA file " + caFile + " holds no PEM certificate")
	}
	c.RootCAs = pool
	return c, nil
}
