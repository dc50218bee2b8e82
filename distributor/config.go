package distributor

import (
	"errors"
	"flag"
	"fmt"
)

// Config of the distributor role. The YAML keys follow Tempo's
// distributor.receivers layout (itself the OpenTelemetry collector's).
type Config struct {
	Receivers ReceiversConfig `yaml:"receivers"`
}

// ReceiversConfig lists the ingest protocols. Every receiver is switched off
// by an empty endpoint, and then opens no port.
type ReceiversConfig struct {
	OTLP   OTLPConfig   `yaml:"otlp"`
	Jaeger JaegerConfig `yaml:"jaeger"`
	Zipkin HTTPServer   `yaml:"zipkin"`
}

// OTLPConfig is the OpenTelemetry protocol receiver.
type OTLPConfig struct {
	Protocols struct {
		GRPC GRPCServer `yaml:"grpc"`
		HTTP HTTPServer `yaml:"http"`
	} `yaml:"protocols"`
}

// JaegerConfig is the Jaeger collector (gRPC, thrift over HTTP) and agent
// (thrift over UDP) protocols.
type JaegerConfig struct {
	Protocols struct {
		GRPC          GRPCServer `yaml:"grpc"`
		ThriftHTTP    HTTPServer `yaml:"thrift_http"`
		ThriftCompact UDPServer  `yaml:"thrift_compact"`
		ThriftBinary  UDPServer  `yaml:"thrift_binary"`
	} `yaml:"protocols"`
}

// GRPCServer is a gRPC receiver endpoint.
type GRPCServer struct {
	Endpoint          string `yaml:"endpoint"`
	MaxRecvMsgSizeMiB int    `yaml:"max_recv_msg_size_mib"`
}

// HTTPServer is an HTTP receiver endpoint.
type HTTPServer struct {
	Endpoint           string `yaml:"endpoint"`
	MaxRequestBodySize int64  `yaml:"max_request_body_size"`
}

// UDPServer is a Jaeger agent endpoint: one thrift message per datagram.
type UDPServer struct {
	Endpoint      string `yaml:"endpoint"`
	MaxPacketSize int    `yaml:"max_packet_size"`
	Workers       int    `yaml:"workers"`
	QueueSize     int    `yaml:"queue_size"`
	// SocketBufferSize is the kernel receive buffer asked for (capped by
	// net.core.rmem_max): bursts wait there instead of being dropped.
	SocketBufferSize int `yaml:"socket_buffer_size"`
}

const (
	defaultMaxRecvMsgSizeMiB = 16
	defaultMaxBodySize       = 16 << 20
)

// register adds the flags prefix+"endpoint" etc.
func (g *GRPCServer) register(f *flag.FlagSet, name, endpoint string) {
	f.StringVar(&g.Endpoint, name+"endpoint", endpoint, "Listen address; empty disables this receiver.")
	f.IntVar(&g.MaxRecvMsgSizeMiB, name+"max-recv-msg-size-mib", defaultMaxRecvMsgSizeMiB, "Largest request, in MiB (bigger: RESOURCE_EXHAUSTED).")
}

func (h *HTTPServer) register(f *flag.FlagSet, name, endpoint string) {
	f.StringVar(&h.Endpoint, name+"endpoint", endpoint, "Listen address; empty disables this receiver.")
	f.Int64Var(&h.MaxRequestBodySize, name+"max-request-body-size", defaultMaxBodySize, "Largest request body in bytes, after decompression.")
}

func (u *UDPServer) register(f *flag.FlagSet, name, endpoint string) {
	f.StringVar(&u.Endpoint, name+"endpoint", endpoint, "UDP listen address; empty disables this receiver.")
	f.IntVar(&u.MaxPacketSize, name+"max-packet-size", 65000, "Largest datagram; bigger ones are dropped and counted.")
	f.IntVar(&u.Workers, name+"workers", 4, "Datagrams decoded at once.")
	f.IntVar(&u.QueueSize, name+"queue-size", 1000, "Datagrams waiting for a worker; beyond it they are dropped and counted.")
	f.IntVar(&u.SocketBufferSize, name+"socket-buffer-size", 8<<20, "Kernel receive buffer in bytes (capped by net.core.rmem_max).")
}

// RegisterFlags registers the distributor flags with their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	r := &c.Receivers
	r.OTLP.Protocols.GRPC.register(f, "distributor.otlp.grpc-", "0.0.0.0:4317")
	r.OTLP.Protocols.HTTP.register(f, "distributor.otlp.http-", "0.0.0.0:4318")
	r.Jaeger.Protocols.GRPC.register(f, "distributor.jaeger.grpc-", "0.0.0.0:14250")
	r.Jaeger.Protocols.ThriftHTTP.register(f, "distributor.jaeger.thrift-http-", "0.0.0.0:14268")
	r.Jaeger.Protocols.ThriftCompact.register(f, "distributor.jaeger.thrift-compact-", "0.0.0.0:6831")
	r.Jaeger.Protocols.ThriftBinary.register(f, "distributor.jaeger.thrift-binary-", "0.0.0.0:6832")
	r.Zipkin.register(f, "distributor.zipkin.", "0.0.0.0:9411")
}

// Validate checks the values.
func (c *Config) Validate() error {
	r := c.Receivers
	var errs []error
	any := false
	for name, g := range map[string]GRPCServer{"otlp grpc": r.OTLP.Protocols.GRPC, "jaeger grpc": r.Jaeger.Protocols.GRPC} {
		any = any || g.Endpoint != ""
		if g.Endpoint != "" && g.MaxRecvMsgSizeMiB <= 0 {
			errs = append(errs, fmt.Errorf("distributor: %s max_recv_msg_size_mib must be positive", name))
		}
	}
	for name, h := range map[string]HTTPServer{"otlp http": r.OTLP.Protocols.HTTP, "jaeger thrift_http": r.Jaeger.Protocols.ThriftHTTP, "zipkin": r.Zipkin} {
		any = any || h.Endpoint != ""
		if h.Endpoint != "" && h.MaxRequestBodySize <= 0 {
			errs = append(errs, fmt.Errorf("distributor: %s max_request_body_size must be positive", name))
		}
	}
	for name, u := range map[string]UDPServer{"jaeger thrift_compact": r.Jaeger.Protocols.ThriftCompact, "jaeger thrift_binary": r.Jaeger.Protocols.ThriftBinary} {
		any = any || u.Endpoint != ""
		if u.Endpoint != "" && (u.MaxPacketSize <= 0 || u.MaxPacketSize > 65507 || u.Workers <= 0 || u.QueueSize <= 0) {
			errs = append(errs, fmt.Errorf("distributor: %s needs max_packet_size in 1..65507 and positive workers and queue_size", name))
		}
	}
	if !any {
		errs = append(errs, errors.New("distributor: every receiver is disabled; give at least one an endpoint"))
	}
	return errors.Join(errs...)
}
