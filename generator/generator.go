// Package generator is the metrics-generator role. The distributors forward
// every stored trace to the generator that owns it on the generator ring;
// today it counts what it receives, span metrics and service graphs build
// on the same path.
package generator

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

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
	n := 0
	for _, e := range r.Entries {
		c, err := countSpans(e.Data)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "trace entry: %v", err)
		}
		n += c
	}
	g.spans.WithLabelValues(r.Tenant).Add(float64(n))
	return &pacepb.PushResponse{}, nil
}

var errBadTrace = errors.New("malformed OTLP TracesData")

// countSpans counts the spans of an OTLP TracesData message by walking its
// fields (resource_spans=1 → scope_spans=2 → spans=2) without decoding them.
func countSpans(b []byte) (int, error) {
	n := 0
	err := eachField(b, 1, func(rs []byte) error {
		return eachField(rs, 2, func(ss []byte) error {
			return eachField(ss, 2, func([]byte) error { n++; return nil })
		})
	})
	return n, err
}

// eachField calls fn with every length-delimited field num of message b.
func eachField(b []byte, num protowire.Number, fn func([]byte) error) error {
	for len(b) > 0 {
		f, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadTrace
		}
		b = b[n:]
		if f == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return errBadTrace
			}
			if err := fn(v); err != nil {
				return err
			}
			b = b[m:]
			continue
		}
		if n = protowire.ConsumeFieldValue(f, typ, b); n < 0 {
			return errBadTrace
		}
		b = b[n:]
	}
	return nil
}
