package main

import (
	_ "github.com/bits-and-blooms/bloom/v3"
	_ "github.com/google/uuid"
	_ "github.com/grafana/dskit/modules"
	_ "github.com/grafana/dskit/services"
	_ "github.com/klauspost/compress/s2"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/parquet-go/parquet-go"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/thanos-io/objstore"
	_ "github.com/thanos-io/objstore/providers/filesystem"
	_ "github.com/thanos-io/objstore/providers/s3"
	_ "go.opentelemetry.io/collector/pdata/ptrace"
	_ "go.opentelemetry.io/collector/receiver/otlpreceiver"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	_ "go.opentelemetry.io/otel/sdk/trace"
	_ "go.opentelemetry.io/proto/otlp/trace/v1"
	_ "go.uber.org/goleak"
	_ "google.golang.org/grpc"
	_ "gopkg.in/yaml.v3"
)

func main() {}
