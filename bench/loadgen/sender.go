package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

const (
	// otlpExportMethod is the OTLP/gRPC trace export method.
	otlpExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	// jaegerPostSpansMethod is the Jaeger api_v2 collector method.
	jaegerPostSpansMethod = "/jaeger.api_v2.CollectorService/PostSpans"
)

// sender delivers one client's messages over its own connection.
type sender interface {
	// send delivers one message body and returns the spans the receiver
	// reported rejected (OTLP partial success) with its message.
	send(ctx context.Context, body []byte) (rejected int64, msg string, err error)
	close()
}

func newSender(ctx context.Context, cfg Config) (sender, error) {
	switch cfg.Protocol {
	case OTLPGRPC, JaegerGRPC:
		return newGRPCSender(ctx, cfg)
	case OTLPHTTP:
		return newHTTPSender(cfg, "/v1/traces", "application/x-protobuf", true), nil
	case ZipkinJSON:
		return newHTTPSender(cfg, "/api/v2/spans", "application/json", false), nil
	case ZipkinProto:
		return newHTTPSender(cfg, "/api/v2/spans", "application/x-protobuf", false), nil
	case JaegerThriftHTTP:
		return newHTTPSender(cfg, "/api/traces", "application/x-thrift", false), nil
	case JaegerUDPCompact:
		c, err := net.Dial("udp", cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		return udpSender{c}, nil
	}
	return nil, fmt.Errorf("unknown protocol %q", cfg.Protocol)
}

// rawCodec passes []byte through unchanged, so pre-marshalled requests go
// on the wire without a protobuf round trip.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case []byte:
		return m, nil
	case *[]byte:
		return *m, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

type grpcSender struct {
	cc     *grpc.ClientConn
	method string
	otlp   bool
	md     metadata.MD
	resp   []byte
}

func newGRPCSender(ctx context.Context, cfg Config) (*grpcSender, error) {
	cc, err := grpc.NewClient(cfg.Endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
		grpc.WithInitialWindowSize(4<<20),
		grpc.WithInitialConnWindowSize(16<<20),
		grpc.WithReadBufferSize(256<<10),
		grpc.WithWriteBufferSize(256<<10),
	)
	if err != nil {
		return nil, err
	}
	waitReady(ctx, cc, 10*time.Second)
	s := &grpcSender{cc: cc, method: otlpExportMethod, otlp: true}
	if cfg.Protocol == JaegerGRPC {
		s.method, s.otlp = jaegerPostSpansMethod, false
	}
	if cfg.Tenant != "" {
		s.md = metadata.Pairs("x-scope-orgid", cfg.Tenant)
	}
	return s, nil
}

func (s *grpcSender) send(ctx context.Context, body []byte) (int64, string, error) {
	if s.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, s.md)
	}
	if err := s.cc.Invoke(ctx, s.method, body, &s.resp); err != nil {
		return 0, "", err
	}
	if !s.otlp {
		return 0, "", nil
	}
	return parseOTLPResponse(s.resp)
}

func (s *grpcSender) close() { s.cc.Close() }

func parseOTLPResponse(b []byte) (int64, string, error) {
	rej, msg, err := rejectedSpans(b)
	if err != nil {
		return 0, "", fmt.Errorf("bad response: %w", err)
	}
	return rej, msg, nil
}

func waitReady(ctx context.Context, cc *grpc.ClientConn, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cc.Connect()
	for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			return // the first requests will report the error
		}
	}
}

type httpSender struct {
	client      *http.Client
	url         string
	contentType string
	tenant      string
	otlp        bool
	resp        bytes.Buffer
}

func newHTTPSender(cfg Config, path, contentType string, otlp bool) *httpSender {
	// One transport per client: its own keep-alive connection.
	tr := &http.Transport{
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      64 << 10,
	}
	return &httpSender{
		client:      &http.Client{Transport: tr},
		url:         "http://" + cfg.Endpoint + path,
		contentType: contentType,
		tenant:      cfg.Tenant,
		otlp:        otlp,
	}
}

func (s *httpSender) send(ctx context.Context, body []byte) (int64, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", s.contentType)
	if s.tenant != "" {
		req.Header.Set("X-Scope-OrgID", s.tenant)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	s.resp.Reset()
	_, err = s.resp.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode/100 != 2 {
		msg := s.resp.Bytes()
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return 0, "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	if !s.otlp || s.resp.Len() == 0 {
		return 0, "", nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && ct != "application/x-protobuf" {
		return 0, "", nil // e.g. JSON; nothing to read rejections from
	}
	return parseOTLPResponse(s.resp.Bytes())
}

func (s *httpSender) close() { s.client.CloseIdleConnections() }

// udpSender writes each message as one datagram; nothing is acknowledged.
type udpSender struct{ c net.Conn }

func (s udpSender) send(_ context.Context, body []byte) (int64, string, error) {
	_, err := s.c.Write(body)
	return 0, "", err
}

func (s udpSender) close() { s.c.Close() }
