package distributor

import (
	"errors"
	"flag"
)

// Config of the distributor role. The YAML keys follow Tempo's
// distributor.receivers.otlp.protocols layout.
type Config struct {
	Receivers ReceiversConfig `yaml:"receivers"`
}

// ReceiversConfig lists the ingest protocols.
type ReceiversConfig struct {
	OTLP OTLPConfig `yaml:"otlp"`
}

// OTLPConfig is the OpenTelemetry protocol receiver.
type OTLPConfig struct {
	Protocols struct {
		GRPC OTLPGRPCConfig `yaml:"grpc"`
		HTTP OTLPHTTPConfig `yaml:"http"`
	} `yaml:"protocols"`
}

// OTLPGRPCConfig is OTLP over gRPC (port 4317). An empty endpoint disables it.
type OTLPGRPCConfig struct {
	Endpoint          string `yaml:"endpoint"`
	MaxRecvMsgSizeMiB int    `yaml:"max_recv_msg_size_mib"`
}

// OTLPHTTPConfig is OTLP over HTTP, protobuf or JSON (port 4318). An empty endpoint disables it.
type OTLPHTTPConfig struct {
	Endpoint           string `yaml:"endpoint"`
	MaxRequestBodySize int64  `yaml:"max_request_body_size"`
}

// RegisterFlags registers the distributor flags with their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	g, h := &c.Receivers.OTLP.Protocols.GRPC, &c.Receivers.OTLP.Protocols.HTTP
	f.StringVar(&g.Endpoint, "distributor.otlp.grpc-endpoint", "0.0.0.0:4317", "OTLP gRPC listen address; empty disables it.")
	f.IntVar(&g.MaxRecvMsgSizeMiB, "distributor.otlp.grpc-max-recv-msg-size-mib", 16, "Largest OTLP gRPC request, in MiB.")
	f.StringVar(&h.Endpoint, "distributor.otlp.http-endpoint", "0.0.0.0:4318", "OTLP HTTP listen address; empty disables it.")
	f.Int64Var(&h.MaxRequestBodySize, "distributor.otlp.http-max-request-body-size", 16<<20, "Largest OTLP HTTP request body, in bytes (after decompression).")
}

// Validate checks the values.
func (c *Config) Validate() error {
	p := c.Receivers.OTLP.Protocols
	if p.GRPC.Endpoint == "" && p.HTTP.Endpoint == "" {
		return errors.New("distributor: every receiver is disabled; set distributor.receivers.otlp.protocols.grpc or http endpoint")
	}
	if p.GRPC.MaxRecvMsgSizeMiB <= 0 || p.HTTP.MaxRequestBodySize <= 0 {
		return errors.New("distributor: receiver size limits must be positive")
	}
	return nil
}
