// Package generator is the metrics-generator role. The distributors forward
// every stored trace to the generator that owns it on the generator ring;
// today it counts what it receives, span metrics and service graphs build
// on the same path.
package generator

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/pacepb"
)

// Generator receives spans from distributors. Safe for concurrent use.
type Generator struct {
	pacepb.UnimplementedMetricsGeneratorServer
	spans *prometheus.CounterVec
}

// New makes a generator.
func New(reg prometheus.Registerer) *Generator {
	return &Generator{spans: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "pace_metrics_generator_spans_received_total", Help: "Spans received from distributors, by tenant.",
	}, []string{"tenant"})}
}

// PushSpans counts the spans of a forwarded request.
func (g *Generator) PushSpans(_ context.Context, r *pacepb.PushRequest) (*pacepb.PushResponse, error) {
	if err := model.ValidateTenant(r.Tenant); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var u ptrace.ProtoUnmarshaler
	n := 0
	for _, e := range r.Entries {
		td, err := u.UnmarshalTraces(e.Data)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "trace entry: %v", err)
		}
		n += td.SpanCount()
	}
	g.spans.WithLabelValues(r.Tenant).Add(float64(n))
	return &pacepb.PushResponse{}, nil
}
