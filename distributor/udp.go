package distributor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/zipkincore"
	jaegertranslator "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/jaeger"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pace-tracing/pace/model"
)

// Reasons a datagram is dropped, the label of pace_distributor_udp_datagrams_dropped_total.
const (
	dropTooLarge    = "too_large"
	dropDecode      = "decode_error"
	dropQueueFull   = "queue_full"
	dropUnsupported = "unsupported"
	dropPush        = "push_failed"
)

// udpAgent is a Jaeger agent endpoint: each datagram is one thrift
// Agent.emitBatch call (compact or binary protocol). UDP has no answer, so
// every datagram that cannot be stored is counted and logged instead.
type udpAgent struct {
	d        *Distributor
	cfg      UDPServer
	protocol string // protoJaegerCompact or protoJaegerBinary
	conn     *net.UDPConn
	queue    chan []byte
	wg       sync.WaitGroup
	dropped  *prometheus.CounterVec
	log      *slog.Logger
	lastLog  atomic.Int64
}

func startUDPAgent(d *Distributor, cfg UDPServer, protocol string) (*udpAgent, error) {
	addr, err := net.ResolveUDPAddr("udp", cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, err
	}
	if cfg.SocketBufferSize > 0 {
		if err := conn.SetReadBuffer(cfg.SocketBufferSize); err != nil {
			d.log.Warn("could not size the UDP receive buffer", "endpoint", cfg.Endpoint, "err", err)
		}
	}
	u := &udpAgent{
		d: d, cfg: cfg, protocol: protocol, conn: conn,
		queue:   make(chan []byte, cfg.QueueSize),
		dropped: d.udpDropped,
		log:     d.log,
	}
	u.wg.Add(1 + cfg.Workers)
	go u.read()
	for i := 0; i < cfg.Workers; i++ {
		go u.work()
	}
	return u, nil
}

func (u *udpAgent) stop() {
	_ = u.conn.Close() // ends read(), which closes the queue, which ends the workers
	u.wg.Wait()
}

func (u *udpAgent) read() {
	defer u.wg.Done()
	defer close(u.queue)
	// One byte more than allowed tells an oversized datagram from a full one.
	buf := make([]byte, u.cfg.MaxPacketSize+1)
	for {
		n, from, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n > u.cfg.MaxPacketSize {
			u.drop(dropTooLarge, fmt.Errorf("datagram from %s is larger than max_packet_size %d", from, u.cfg.MaxPacketSize))
			continue
		}
		select {
		case u.queue <- append([]byte(nil), buf[:n]...):
		default:
			u.drop(dropQueueFull, fmt.Errorf("%d datagrams wait for a worker (queue_size)", u.cfg.QueueSize))
		}
	}
}

func (u *udpAgent) work() {
	defer u.wg.Done()
	h := &agentHandler{u: u}
	proc := agent.NewAgentProcessor(h)
	for dgram := range u.queue {
		if err := processAgentDatagram(proc, u.protocol, dgram); err != nil {
			reason := dropDecode
			var r reasonError
			if errors.As(err, &r) {
				reason = r.reason
			}
			u.drop(reason, err)
		}
	}
}

// processAgentDatagram decodes one datagram and calls the agent handler.
// It runs third-party decoding on bytes from anyone who can send a UDP
// packet, in a worker goroutine where a panic would end the process, so a
// panic becomes a decode error for that datagram.
func processAgentDatagram(proc *agent.AgentProcessor, protocol string, dgram []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding %s datagram: %w: %v", protocol, errDecoderPanic, r)
		}
	}()
	cfg := &thrift.TConfiguration{MaxMessageSize: int32(len(dgram))}
	tr := thrift.NewTMemoryBufferLen(len(dgram))
	_, _ = tr.Write(dgram)
	var p thrift.TProtocol
	if protocol == protoJaegerCompact {
		p = thrift.NewTCompactProtocolConf(tr, cfg)
	} else {
		p = thrift.NewTBinaryProtocolConf(tr, cfg)
	}
	ok, perr := proc.Process(context.Background(), p, p)
	if err = perr; err != nil {
		var r reasonError
		if errors.As(err, &r) {
			return r
		}
		return fmt.Errorf("decoding %s datagram: %w", protocol, err)
	}
	if !ok {
		return fmt.Errorf("decoding %s datagram: unknown thrift method", protocol)
	}
	return nil
}

// drop counts a lost datagram and logs it, at most once a second per agent
// so a flood does not flood the log too.
func (u *udpAgent) drop(reason string, err error) {
	u.dropped.WithLabelValues(u.protocol, reason).Inc()
	now := time.Now().UnixNano()
	if last := u.lastLog.Load(); now-last > int64(time.Second) && u.lastLog.CompareAndSwap(last, now) {
		u.log.Warn("dropped Jaeger agent datagram", "protocol", u.protocol, "reason", reason, "err", err)
	}
}

// errDecoderPanic marks a datagram whose decoding panicked (and was survived).
var errDecoderPanic = errors.New("decoder panicked")

// reasonError carries a drop reason out of the thrift processor.
type reasonError struct {
	reason string
	err    error
}

func (r reasonError) Error() string { return r.err.Error() }
func (r reasonError) Unwrap() error { return r.err }

// agentHandler is the thrift Agent service. Datagrams carry no headers, so
// their tenant is the default one.
type agentHandler struct{ u *udpAgent }

func (h *agentHandler) EmitBatch(ctx context.Context, batch *jaeger.Batch) error {
	if batch == nil { // an emitBatch call without its argument
		return reasonError{dropDecode, errors.New("emitBatch without a batch")}
	}
	td, err := jaegertranslator.ThriftToTraces(batch)
	if err != nil {
		return reasonError{dropDecode, err}
	}
	if err := h.u.d.PushTraces(ctx, model.DefaultTenant, h.u.protocol, td); err != nil {
		return reasonError{dropPush, err}
	}
	return nil
}

// EmitZipkinBatch is the agent's legacy Zipkin call; pace takes Zipkin on
// its own receiver. (The collector-contrib receiver panics here.)
func (h *agentHandler) EmitZipkinBatch(context.Context, []*zipkincore.Span) error {
	return reasonError{dropUnsupported, errors.New("emitZipkinBatch is not supported: send Zipkin spans to the Zipkin receiver (9411)")}
}
