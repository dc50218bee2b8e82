package distributor

import (
	"errors"
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
		return ptrace.Traces{}, fmt.Errorf("%w %s: use %s", errUnsupportedMediaType, quoteOrEmpty(ct), want)
	}
	return u.UnmarshalTraces(body)
}

// zipkinHandler serves Zipkin's POST /api/v2/spans and /api/v1/spans.
func (d *Distributor) zipkinHandler(limit int64) http.Handler {
	mux := http.NewServeMux()
	for path, v1 := range map[string]bool{"/api/v2/spans": false, "/api/v1/spans": true} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "use POST", http.StatusMethodNotAllowed)
				return
			}
			tenant, err := httpTenant(r)
			if err != nil {
				writeIngestError(w, err)
				return
			}
			body, err := readBody(r, limit)
			if err != nil {
				writeIngestError(w, err)
				return
			}
			td, err := decodeZipkin(v1, r.Header.Get("Content-Type"), body)
			if err != nil {
				if errors.Is(err, errUnsupportedMediaType) {
					http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
					return
				}
				writeIngestError(w, invalid("zipkin", err))
				return
			}
			if err := d.PushTraces(r.Context(), tenant, protoZipkin, td); err != nil {
				writeIngestError(w, err)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		})
	}
	return mux
}
