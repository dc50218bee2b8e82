package distributor

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

// startOTLP runs the OpenTelemetry collector's otlpreceiver (gRPC and/or
// HTTP, protobuf and JSON, gzip) with the distributor as its consumer.
func startOTLP(ctx context.Context, d *Distributor, c OTLPConfig) (func(context.Context) error, error) {
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	p := c.Protocols
	if p.GRPC.Endpoint == "" {
		cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
	} else {
		g := cfg.Protocols.GRPC.GetOrInsertDefault()
		g.NetAddr.Endpoint = p.GRPC.Endpoint
		g.MaxRecvMsgSizeMiB = p.GRPC.MaxRecvMsgSizeMiB
		g.IncludeMetadata = true // carries X-Scope-OrgID to the consumer
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
		return nil, err
	}
	zl, err := zap.NewProduction(zap.IncreaseLevel(zap.WarnLevel))
	if err != nil {
		return nil, err
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
		return nil, err
	}
	if err := r.Start(ctx, host{}); err != nil {
		return nil, fmt.Errorf("%w (grpc %q, http %q)", err, p.GRPC.Endpoint, p.HTTP.Endpoint)
	}
	return r.Shutdown, nil
}
