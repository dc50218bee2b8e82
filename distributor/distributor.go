// Package distributor is the distributor role: it runs the ingest receivers
// (OTLP through the OpenTelemetry collector's otlpreceiver), takes the
// tenant from X-Scope-OrgID, validates and groups spans by trace, and pushes
// them to the ingesters.
package distributor

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/grafana/dskit/services"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
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

	cfg       Config
	pusher    Pusher
	log       *slog.Logger
	receivers []component.Component

	spansReceived *prometheus.CounterVec
	spansRefused  *prometheus.CounterVec
	bytesReceived *prometheus.CounterVec
}

// New builds a distributor; its receivers open their ports when the service starts.
func New(cfg Config, pusher Pusher, log *slog.Logger, reg prometheus.Registerer) (*Distributor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := promauto.With(reg)
	d := &Distributor{
		cfg: cfg, pusher: pusher, log: log,
		spansReceived: f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_spans_received_total", Help: "Spans accepted, by tenant."}, []string{"tenant"}),
		spansRefused:  f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_spans_refused_total", Help: "Spans refused, by tenant and reason."}, []string{"tenant", "reason"}),
		bytesReceived: f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_bytes_received_total", Help: "OTLP protobuf bytes accepted, by tenant."}, []string{"tenant"}),
	}
	d.Service = services.NewIdleService(d.starting, d.stopping)
	return d, nil
}

// ConsumeTraces is the receivers' consumer: it returns only after the spans
// are durably stored, so an acknowledgement means the data is safe.
func (d *Distributor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	tenant := model.DefaultTenant
	if v := client.FromContext(ctx).Metadata.Get(model.TenantHeader); len(v) > 0 && v[0] != "" {
		tenant = v[0]
	}
	n := td.SpanCount()
	if err := model.ValidateTenant(tenant); err != nil {
		d.spansRefused.WithLabelValues("invalid", "bad_tenant").Add(float64(n))
		return status.Errorf(codes.InvalidArgument, "%s header: %v", model.TenantHeader, err)
	}
	return d.PushTraces(ctx, tenant, td)
}

// PushTraces validates and stores td for tenant.
func (d *Distributor) PushTraces(ctx context.Context, tenant string, td ptrace.Traces) error {
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
	size := 0
	for _, e := range entries {
		size += len(e.Data)
	}
	d.spansReceived.WithLabelValues(tenant).Add(float64(spans))
	d.bytesReceived.WithLabelValues(tenant).Add(float64(size))
	return nil
}

func (d *Distributor) starting(ctx context.Context) error {
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	p := d.cfg.Receivers.OTLP.Protocols
	if p.GRPC.Endpoint == "" {
		cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
	} else {
		g := cfg.Protocols.GRPC.GetOrInsertDefault()
		g.NetAddr.Endpoint = p.GRPC.Endpoint
		g.MaxRecvMsgSizeMiB = p.GRPC.MaxRecvMsgSizeMiB
		g.IncludeMetadata = true
	}
	if p.HTTP.Endpoint == "" {
		cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
	} else {
		h := cfg.Protocols.HTTP.GetOrInsertDefault()
		h.ServerConfig.NetAddr.Endpoint = p.HTTP.Endpoint
		h.ServerConfig.MaxRequestBodySize = p.HTTP.MaxRequestBodySize
		h.ServerConfig.IncludeMetadata = true
	}
	// splitByTrace moves spans out of the request instead of copying them.
	next, err := consumer.NewTraces(d.ConsumeTraces, consumer.WithCapabilities(consumer.Capabilities{MutatesData: true}))
	if err != nil {
		return err
	}
	zl, err := zap.NewProduction(zap.IncreaseLevel(zap.WarnLevel))
	if err != nil {
		return err
	}
	set := receiver.Settings{
		ID: component.NewID(component.MustNewType("otlp")),
		TelemetrySettings: component.TelemetrySettings{
			Logger:         zl,
			TracerProvider: nooptrace.NewTracerProvider(),
			MeterProvider:  noopmetric.NewMeterProvider(),
			Resource:       pcommon.NewResource(),
		},
		BuildInfo: component.BuildInfo{Command: "pace", Description: "pace distributor"},
	}
	r, err := factory.CreateTraces(ctx, set, cfg, next)
	if err != nil {
		return fmt.Errorf("otlp receiver: %w", err)
	}
	if err := r.Start(ctx, host{}); err != nil {
		return fmt.Errorf("otlp receiver: %w", err)
	}
	d.receivers = append(d.receivers, r)
	d.log.Info("OTLP receiver listening", "grpc", p.GRPC.Endpoint, "http", p.HTTP.Endpoint)
	return nil
}

func (d *Distributor) stopping(_ error) error {
	var first error
	for _, r := range d.receivers {
		if err := r.Shutdown(context.Background()); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// host is the minimal component.Host the collector's receivers need.
type host struct{}

func (host) GetExtensions() map[component.ID]component.Component { return nil }
