package distributor

import (
	"fmt"
	"net/http"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv1"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv2"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Zipkin decoders from the collector-contrib translator. String tags stay
// strings (parseStringTags off), so what was sent is what comes back.
var (
	zipkinV2JSON   = zipkinv2.NewJSONTracesUnmarshaler(false)
	zipkinV2Proto  = zipkinv2.NewProtobufTracesUnmarshaler(false, false)
	zipkinV1JSON   = zipkinv1.NewJSONTracesUnmarshaler(false)
	zipkinV1Thrift = zipkinv1.NewThriftTracesUnmarshaler()
)

// decodeZipkin decodes a Zipkin body of the given API version and media type.
func decodeZipkin(v1 bool, contentType string, body []byte) (ptrace.Traces, error) {
	u, err := zipkinDecoder(v1, contentType)
	if err != nil {
		return ptrace.Traces{}, err
	}
	return u.UnmarshalTraces(body)
}

// zipkinDecoder picks the translator for an API version and media type.
func zipkinDecoder(v1 bool, contentType string) (ptrace.Unmarshaler, error) {
	var u ptrace.Unmarshaler
	switch ct := mediaType(contentType); {
	case ct == "" || ct == "application/json" || ct == "text/plain":
		u = zipkinV2JSON
		if v1 {
			u = zipkinV1JSON
		}
	case ct == "application/x-protobuf" && !v1:
		u = zipkinV2Proto
	case ct == "application/x-thrift" && v1:
		u = zipkinV1Thrift
	default:
		want := "application/json or application/x-protobuf"
		if v1 {
			want = "application/json or application/x-thrift"
		}
		return nil, fmt.Errorf("%w %s: use %s", errUnsupportedMediaType, quoteOrEmpty(ct), want)
	}
	return u, nil
}

// zipkinHandler serves Zipkin's POST /api/v2/spans and /api/v1/spans.
func (d *Distributor) zipkinHandler(limit int64) http.Handler {
	mux := http.NewServeMux()
	for path, v1 := range map[string]bool{"/api/v2/spans": false, "/api/v1/spans": true} {
		mux.HandleFunc(path, d.ingestHandler(protoZipkin, "zipkin", limit, func(ct string, body []byte) (ptrace.Traces, error) {
			if body == nil { // media-type check only
				_, err := zipkinDecoder(v1, ct)
				return ptrace.Traces{}, err
			}
			return decodeZipkin(v1, ct, body)
		}))
	}
	return mux
}
