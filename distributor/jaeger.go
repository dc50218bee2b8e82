package distributor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"

	"github.com/apache/thrift/lib/go/thrift"
	jaegermodel "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	jaegertranslator "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/jaeger"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"

	"github.com/pace-tracing/pace/model"
)

// Protocol labels of pace_distributor_spans_received_total.
const (
	protoOTLP          = "otlp"
	protoJaegerGRPC    = "jaeger_grpc"
	protoJaegerHTTP    = "jaeger_thrift_http"
	protoJaegerCompact = "jaeger_thrift_compact"
	protoJaegerBinary  = "jaeger_thrift_binary"
	protoZipkin        = "zipkin"
)

// errUnsupportedMediaType is the cause of a 415.
var errUnsupportedMediaType = errors.New("unsupported Content-Type")

// decodeJaegerThrift decodes a thrift-binary jaeger.Batch (the body of the
// Jaeger collector's POST /api/traces) and translates it to OTLP with the
// collector-contrib translator.
func decodeJaegerThrift(body []byte) (ptrace.Traces, error) {
	batch := &jaegerthrift.Batch{}
	// The thrift decoder pre-allocates collections to their declared size and
	// only checks that size against MaxMessageSize: bounding it by the body
	// length stops a tiny body from asking for gigabytes.
	cfg := &thrift.TConfiguration{MaxMessageSize: int32(min(len(body), math.MaxInt32))}
	tr := thrift.NewTMemoryBufferLen(len(body))
	d := &thrift.TDeserializer{Transport: tr, Protocol: thrift.NewTBinaryProtocolConf(tr, cfg)}
	if err := d.Read(context.Background(), batch, body); err != nil {
		return ptrace.Traces{}, err
	}
	return jaegertranslator.ThriftToTraces(batch)
}

// jaegerHTTPHandler serves the Jaeger collector's POST /api/traces.
func (d *Distributor) jaegerHTTPHandler(limit int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/traces", d.ingestHandler(protoJaegerHTTP, "jaeger thrift", limit, func(ct string, body []byte) (ptrace.Traces, error) {
		if ct != "application/x-thrift" && ct != "application/vnd.apache.thrift.binary" {
			return ptrace.Traces{}, fmt.Errorf("%w %s: send a thrift-binary jaeger.Batch as application/x-thrift", errUnsupportedMediaType, quoteOrEmpty(ct))
		}
		if body == nil {
			return ptrace.Traces{}, nil
		}
		return decodeJaegerThrift(body)
	}))
	return mux
}

// jaegerGRPC is the Jaeger collector's gRPC api_v2 CollectorService.
type jaegerGRPC struct{ d *Distributor }

func (j jaegerGRPC) PostSpans(ctx context.Context, r *api_v2.PostSpansRequest) (*api_v2.PostSpansResponse, error) {
	tenant, err := model.GRPCTenant(ctx, "")
	if err != nil {
		return nil, err
	}
	b := r.GetBatch()
	td, err := jaegertranslator.ProtoToTraces([]*jaegermodel.Batch{&b})
	if err != nil {
		return nil, invalid("jaeger", err)
	}
	if err := j.d.PushTraces(ctx, tenant, protoJaegerGRPC, td); err != nil {
		return nil, err
	}
	return &api_v2.PostSpansResponse{}, nil
}

func startJaegerGRPC(d *Distributor, cfg GRPCServer) (stop func(), err error) {
	ln, err := net.Listen("tcp", cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	s := grpc.NewServer(grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSizeMiB << 20))
	api_v2.RegisterCollectorServiceServer(s, jaegerGRPC{d})
	go func() { _ = s.Serve(ln) }()
	return s.GracefulStop, nil
}
