// Package distributor is the distributor role: it runs the ingest receivers
// (OTLP through the OpenTelemetry collector's otlpreceiver), takes the
// tenant from X-Scope-OrgID, validates and groups spans by trace, and pushes
// them to the ingesters.
package distributor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/wal"
)

// Pusher is where the distributor sends each request's traces: the local
// ingester in a single process, the ingester ring when distributed.
type Pusher interface {
	Push(ctx context.Context, tenant string, entries []wal.Entry) error
}

// Distributor is safe for concurrent use.
type Distributor struct {
	services.Service

	cfg    Config
	pusher Pusher
	log    *slog.Logger
	// Generators, when set, gets every stored trace for the metrics-generators.
	Generators interface {
		Forward(tenant string, entries []wal.Entry)
	}
	// stops holds what starting opened, to be closed in reverse order.
	stops []func(context.Context) error

	spansReceived *prometheus.CounterVec
	spansRefused  *prometheus.CounterVec
	bytesReceived *prometheus.CounterVec
	udpDropped    *prometheus.CounterVec
}

// New builds a distributor; its receivers open their ports when the service starts.
func New(cfg Config, pusher Pusher, log *slog.Logger, reg prometheus.Registerer) (*Distributor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := promauto.With(reg)
	d := &Distributor{
		cfg: cfg, pusher: pusher, log: log,
		spansReceived: f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_spans_received_total", Help: "Spans accepted, by tenant and protocol."}, []string{"tenant", "protocol"}),
		spansRefused:  f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_spans_refused_total", Help: "Spans refused, by tenant and reason."}, []string{"tenant", "reason"}),
		udpDropped:    f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_udp_datagrams_dropped_total", Help: "Jaeger agent datagrams that could not be stored, by protocol and reason."}, []string{"protocol", "reason"}),
		bytesReceived: f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_bytes_received_total", Help: "OTLP protobuf bytes accepted, by tenant."}, []string{"tenant"}),
	}
	d.Service = services.NewIdleService(d.starting, d.stopping)
	return d, nil
}

// ConsumeTraces is the receivers' consumer: it returns only after the spans
// are durably stored, so an acknowledgement means the data is safe.
func (d *Distributor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	var value string
	if v := client.FromContext(ctx).Metadata.Get(model.TenantHeader); len(v) > 0 {
		value = v[0]
	}
	tenant, err := model.Tenant(value)
	if err != nil {
		d.spansRefused.WithLabelValues("invalid", "bad_tenant").Add(float64(td.SpanCount()))
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return d.PushTraces(ctx, tenant, protoOTLP, td)
}

// PushTraces validates and stores td for tenant; protocol labels the metrics.
// td is consumed.
func (d *Distributor) PushTraces(ctx context.Context, tenant, protocol string, td ptrace.Traces) error {
	entries, spans, err := splitByTrace(td)
	if err != nil {
		d.spansRefused.WithLabelValues(tenant, "invalid").Add(float64(td.SpanCount()))
		return err
	}
	if spans == 0 {
		return nil
	}
	if err := d.pusher.Push(ctx, tenant, entries); err != nil {
		reason := "unavailable"
		if status.Code(err) == codes.ResourceExhausted {
			reason = "limit"
		}
		d.spansRefused.WithLabelValues(tenant, reason).Add(float64(spans))
		if _, ok := status.FromError(err); ok {
			return err
		}
		return status.Error(codes.Unavailable, err.Error())
	}
	if d.Generators != nil {
		d.Generators.Forward(tenant, entries)
	}
	size := 0
	for _, e := range entries {
		size += len(e.Data)
	}
	d.spansReceived.WithLabelValues(tenant, protocol).Add(float64(spans))
	d.bytesReceived.WithLabelValues(tenant).Add(float64(size))
	return nil
}

// starting opens every enabled receiver; if one cannot listen, those
// already open are closed again and the error names the receiver.
func (d *Distributor) starting(ctx context.Context) error {
	r := d.cfg.Receivers
	type opener struct {
		name, endpoint string
		open           func() (func(context.Context) error, error)
	}
	openers := []opener{
		{"OTLP", strings.Trim(r.OTLP.Protocols.GRPC.Endpoint+","+r.OTLP.Protocols.HTTP.Endpoint, ","), func() (func(context.Context) error, error) {
			return startOTLP(ctx, d, r.OTLP)
		}},
		{"Jaeger gRPC", r.Jaeger.Protocols.GRPC.Endpoint, func() (func(context.Context) error, error) {
			stop, err := startJaegerGRPC(d, r.Jaeger.Protocols.GRPC)
			return func(context.Context) error { stop(); return nil }, err
		}},
		{"Jaeger thrift HTTP", r.Jaeger.Protocols.ThriftHTTP.Endpoint, func() (func(context.Context) error, error) {
			s, err := startHTTPIngest(r.Jaeger.Protocols.ThriftHTTP.Endpoint, d.jaegerHTTPHandler(r.Jaeger.Protocols.ThriftHTTP.MaxRequestBodySize))
			if err != nil {
				return nil, err
			}
			return s.stop, nil
		}},
		{"Jaeger thrift compact (UDP)", r.Jaeger.Protocols.ThriftCompact.Endpoint, func() (func(context.Context) error, error) {
			u, err := startUDPAgent(d, r.Jaeger.Protocols.ThriftCompact, protoJaegerCompact)
			if err != nil {
				return nil, err
			}
			return func(context.Context) error { u.stop(); return nil }, nil
		}},
		{"Jaeger thrift binary (UDP)", r.Jaeger.Protocols.ThriftBinary.Endpoint, func() (func(context.Context) error, error) {
			u, err := startUDPAgent(d, r.Jaeger.Protocols.ThriftBinary, protoJaegerBinary)
			if err != nil {
				return nil, err
			}
			return func(context.Context) error { u.stop(); return nil }, nil
		}},
		{"Zipkin", r.Zipkin.Endpoint, func() (func(context.Context) error, error) {
			s, err := startHTTPIngest(r.Zipkin.Endpoint, d.zipkinHandler(r.Zipkin.MaxRequestBodySize))
			if err != nil {
				return nil, err
			}
			return s.stop, nil
		}},
	}
	for _, o := range openers {
		if o.endpoint == "" {
			continue
		}
		stop, err := o.open()
		if err != nil {
			_ = d.stopping(nil)
			return fmt.Errorf("%s receiver: %w", o.name, err)
		}
		d.stops = append(d.stops, stop)
		d.log.Info("receiver listening", "receiver", o.name, "endpoint", o.endpoint)
	}
	return nil
}

func (d *Distributor) stopping(_ error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for i := len(d.stops) - 1; i >= 0; i-- {
		errs = append(errs, d.stops[i](ctx))
	}
	d.stops = nil
	return errors.Join(errs...)
}

// host is the minimal component.Host the collector's receivers need.
type host struct{}

func (host) GetExtensions() map[component.ID]component.Component { return nil }
