package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/apache/thrift/lib/go/thrift"
	jaegermodel "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	jaegertranslator "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/jaeger"
	thriftconv "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/jaeger/jaegerthriftcoverter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/pace-tracing/pace/bench/gen"
	"github.com/pace-tracing/pace/model"
)

// Protocol is a wire protocol the load generator speaks.
type Protocol string

const (
	OTLPGRPC         Protocol = "otlp-grpc"
	OTLPHTTP         Protocol = "otlp-http"
	ZipkinJSON       Protocol = "zipkin-json"
	ZipkinProto      Protocol = "zipkin-proto"
	JaegerThriftHTTP Protocol = "jaeger-thrift-http"
	JaegerGRPC       Protocol = "jaeger-grpc"
	JaegerUDPCompact Protocol = "jaeger-udp-compact"
)

// Protocols lists every supported protocol.
var Protocols = []Protocol{OTLPGRPC, OTLPHTTP, ZipkinJSON, ZipkinProto, JaegerThriftHTTP, JaegerGRPC, JaegerUDPCompact}

// DefaultEndpoint is the usual host:port of a protocol's receiver.
func (p Protocol) DefaultEndpoint() string {
	switch p {
	case OTLPHTTP:
		return "127.0.0.1:4318"
	case ZipkinJSON, ZipkinProto:
		return "127.0.0.1:9411"
	case JaegerThriftHTTP:
		return "127.0.0.1:14268"
	case JaegerGRPC:
		return "127.0.0.1:14250"
	case JaegerUDPCompact:
		return "127.0.0.1:6831"
	}
	return "127.0.0.1:4317"
}

func (p Protocol) valid() bool { return slices.Contains(Protocols, p) }

// multiMessage says whether one generated request goes out as several
// messages: Jaeger batches carry a single process (resource), so a request
// of spans from many services becomes one message per service, as a Jaeger
// client or the collector's Jaeger exporter would send them.
func (p Protocol) multiMessage() bool {
	return p == JaegerThriftHTTP || p == JaegerGRPC || p == JaegerUDPCompact
}

// idKind says how a trace ID (or half of it) is written at a location.
type idKind uint8

const (
	idRaw        idKind = iota // 16 bytes, big-endian (OTLP, Zipkin and Jaeger protobuf)
	idHex                      // 32 lowercase hex characters (Zipkin JSON)
	idHigh8                    // high half, 8 bytes big-endian (Thrift binary i64)
	idLow8                     // low half, 8 bytes big-endian
	idHighVarint               // high half as a 10-byte zigzag varint (Thrift compact i64)
	idLowVarint                // low half as a 10-byte zigzag varint
)

func (k idKind) pattern(id [16]byte) []byte {
	switch k {
	case idHex:
		return []byte(hex.EncodeToString(id[:]))
	case idHigh8:
		return id[:8]
	case idLow8:
		return id[8:]
	case idHighVarint:
		return binary.AppendUvarint(nil, zigzag(binary.BigEndian.Uint64(id[:8])))
	case idLowVarint:
		return binary.AppendUvarint(nil, zigzag(binary.BigEndian.Uint64(id[8:])))
	}
	return id[:]
}

func (k idKind) write(b []byte, id *[16]byte) {
	switch k {
	case idRaw:
		copy(b, id[:])
	case idHex:
		hex.Encode(b, id[:])
	case idHigh8:
		copy(b, id[:8])
	case idLow8:
		copy(b, id[8:])
	case idHighVarint:
		binary.PutUvarint(b, zigzag(binary.BigEndian.Uint64(id[:8])))
	case idLowVarint:
		binary.PutUvarint(b, zigzag(binary.BigEndian.Uint64(id[8:])))
	}
}

func zigzag(v uint64) uint64   { return v<<1 ^ uint64(int64(v)>>63) }
func unzigzag(z uint64) uint64 { return z>>1 ^ -(z & 1) }

// newID returns a random trace ID with both halves non-zero (a zero high
// half would make it a 64-bit ID for Zipkin and Jaeger). With fixedVarint
// each half's zigzag varint is 10 bytes long, so a patched ID takes exactly
// the room of the one it replaces in Thrift compact encoding.
func newID(rng *rand.Rand, fixedVarint bool) [16]byte {
	var id [16]byte
	for i := 0; i < 16; i += 8 {
		var v uint64
		for v == 0 {
			v = rng.Uint64()
			if fixedVarint {
				v = unzigzag(v | 1<<63)
			}
		}
		binary.BigEndian.PutUint64(id[i:], v)
	}
	return id
}

// idLoc is where one copy of a trace ID sits in a message body.
type idLoc struct {
	off   int32
	trace int32 // index into the request's traces
	kind  idKind
}

// message is one pre-encoded wire message (request body or datagram).
type message struct {
	body  []byte
	spans int
	locs  []idLoc
}

// request is what one send carries: one message, or for Jaeger one per
// process, sent one after another; its traces get fresh IDs per send.
type request struct {
	msgs        []message
	traces      int
	spans       int
	fixedVarint bool
}

// bytes is the request's size on the wire.
func (r *request) bytes() int {
	n := 0
	for i := range r.msgs {
		n += len(r.msgs[i].body)
	}
	return n
}

// patch writes a fresh random trace ID over every copy of each trace's ID
// and returns the new IDs into ids, in trace order.
func (r *request) patch(rng *rand.Rand, ids [][16]byte) [][16]byte {
	ids = ids[:0]
	for range r.traces {
		ids = append(ids, newID(rng, r.fixedVarint))
	}
	for i := range r.msgs {
		m := &r.msgs[i]
		for _, l := range m.locs {
			l.kind.write(m.body[l.off:], &ids[l.trace])
		}
	}
	return ids
}

// encoded is a message before its ID locations are known: the body, its
// span count, the ID encodings it uses and how often each trace ID occurs.
type encoded struct {
	body  []byte
	spans int
	kinds []idKind
	count map[[16]byte]int // occurrences of each trace ID (per kind)
}

// buildRequest generates one request in protocol p and records where its
// trace IDs sit.
func buildRequest(p Protocol, g *gen.Generator, traces, spansPerTrace, maxDatagram int) (request, error) {
	if !p.valid() {
		return request{}, fmt.Errorf("unknown protocol %q", p)
	}
	fixed := p == JaegerUDPCompact
	for attempt := 0; attempt < 3; attempt++ {
		td := g.Traces(traces, spansPerTrace)
		if fixed {
			remapIDs(td, g)
		}
		var order [][16]byte
		index := map[[16]byte]int32{}
		_ = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
			id := [16]byte(sp.TraceID())
			if _, ok := index[id]; !ok {
				index[id] = int32(len(order))
				order = append(order, id)
			}
			return nil
		})
		if len(order) != traces {
			continue
		}
		encs, err := encode(p, td, maxDatagram)
		if err != nil {
			return request{}, err
		}
		r := request{traces: traces, spans: td.SpanCount(), fixedVarint: fixed}
		ok := true
		for _, e := range encs {
			m := message{body: e.body, spans: e.spans}
			for id, want := range e.count {
				for _, k := range e.kinds {
					pat := k.pattern(id)
					n := 0
					for from := 0; ; {
						i := bytes.Index(e.body[from:], pat)
						if i < 0 {
							break
						}
						m.locs = append(m.locs, idLoc{off: int32(from + i), trace: index[id], kind: k})
						n++
						from += i + len(pat)
					}
					if n != want {
						ok = false // an ID's bytes also occur elsewhere, or are missing: regenerate
					}
				}
			}
			slices.SortFunc(m.locs, func(a, b idLoc) int { return int(a.off - b.off) })
			r.msgs = append(r.msgs, m)
		}
		if sum := sumSpans(r.msgs); sum != r.spans {
			return request{}, fmt.Errorf("%s: encoded %d spans of %d", p, sum, r.spans)
		}
		if ok {
			return r, nil
		}
	}
	return request{}, errors.New("could not build a request with unambiguous trace-ID offsets")
}

func sumSpans(msgs []message) int {
	n := 0
	for _, m := range msgs {
		n += m.spans
	}
	return n
}

// remapIDs gives every trace in td a new ID whose halves encode as 10-byte
// zigzag varints.
func remapIDs(td ptrace.Traces, g *gen.Generator) {
	seed := g.TraceID()
	rng := rand.New(rand.NewPCG(binary.BigEndian.Uint64(seed[:8]), binary.BigEndian.Uint64(seed[8:])))
	m := map[pcommon.TraceID]pcommon.TraceID{}
	_ = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
		id, ok := m[sp.TraceID()]
		if !ok {
			id = pcommon.TraceID(newID(rng, true))
			m[sp.TraceID()] = id
		}
		sp.SetTraceID(id)
		return nil
	})
}

// encode turns td into protocol p's messages.
func encode(p Protocol, td ptrace.Traces, maxDatagram int) ([]encoded, error) {
	spanCount := func() map[[16]byte]int {
		c := map[[16]byte]int{}
		_ = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
			c[[16]byte(sp.TraceID())]++
			return nil
		})
		return c
	}
	switch p {
	case OTLPGRPC, OTLPHTTP:
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		return []encoded{{body: b, spans: td.SpanCount(), kinds: []idKind{idRaw}, count: spanCount()}}, err
	case ZipkinJSON:
		b, err := zipkinv2.NewJSONTracesMarshaler().MarshalTraces(td)
		return []encoded{{body: b, spans: td.SpanCount(), kinds: []idKind{idHex}, count: spanCount()}}, err
	case ZipkinProto:
		b, err := zipkinv2.NewProtobufTracesMarshaler().MarshalTraces(td)
		return []encoded{{body: b, spans: td.SpanCount(), kinds: []idKind{idRaw}, count: spanCount()}}, err
	case JaegerGRPC:
		var out []encoded
		for _, b := range jaegertranslator.ProtoFromTraces(td) {
			body, err := (&api_v2.PostSpansRequest{Batch: *b}).Marshal()
			if err != nil {
				return nil, err
			}
			out = append(out, encoded{body: body, spans: len(b.Spans), kinds: []idKind{idRaw}, count: protoIDCount(b.Spans)})
		}
		return out, nil
	case JaegerThriftHTTP:
		var out []encoded
		ser := thrift.NewTSerializer()
		for _, b := range jaegertranslator.ProtoFromTraces(td) {
			tb := thriftBatch(b.Process, b.Spans)
			body, err := ser.Write(context.Background(), tb)
			if err != nil {
				return nil, err
			}
			out = append(out, encoded{body: slices.Clone(body), spans: len(tb.Spans), kinds: []idKind{idHigh8, idLow8}, count: thriftIDCount(tb.Spans)})
		}
		return out, nil
	case JaegerUDPCompact:
		var out []encoded
		for _, b := range jaegertranslator.ProtoFromTraces(td) {
			msgs, err := datagrams(b.Process, b.Spans, maxDatagram)
			if err != nil {
				return nil, err
			}
			out = append(out, msgs...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown protocol %q", p)
}

// datagrams encodes spans as Agent.emitBatch messages in Thrift compact,
// halving the span list until each message fits maxDatagram bytes.
func datagrams(proc *jaegermodel.Process, spans []*jaegermodel.Span, maxDatagram int) ([]encoded, error) {
	tb := thriftBatch(proc, spans)
	body, err := emitBatchCompact(tb)
	if err != nil {
		return nil, err
	}
	if len(body) > maxDatagram {
		if len(spans) == 1 {
			return nil, fmt.Errorf("one span encodes to %d bytes, more than a datagram's %d", len(body), maxDatagram)
		}
		a, err := datagrams(proc, spans[:len(spans)/2], maxDatagram)
		if err != nil {
			return nil, err
		}
		b, err := datagrams(proc, spans[len(spans)/2:], maxDatagram)
		return append(a, b...), err
	}
	return []encoded{{body: body, spans: len(spans), kinds: []idKind{idHighVarint, idLowVarint}, count: thriftIDCount(tb.Spans)}}, nil
}

// emitBatchCompact encodes a oneway Agent.emitBatch call in Thrift compact,
// as Jaeger clients send it to the agent's UDP port 6831.
func emitBatchCompact(b *jaegerthrift.Batch) ([]byte, error) {
	ctx := context.Background()
	buf := thrift.NewTMemoryBufferLen(64 << 10)
	pr := thrift.NewTCompactProtocolConf(buf, &thrift.TConfiguration{})
	if err := pr.WriteMessageBegin(ctx, "emitBatch", thrift.ONEWAY, 1); err != nil {
		return nil, err
	}
	if err := (&agent.AgentEmitBatchArgs{Batch: b}).Write(ctx, pr); err != nil {
		return nil, err
	}
	if err := pr.WriteMessageEnd(ctx); err != nil {
		return nil, err
	}
	if err := pr.Flush(ctx); err != nil {
		return nil, err
	}
	return slices.Clone(buf.Bytes()), nil
}

// thriftBatch converts a Jaeger model batch to Thrift.
func thriftBatch(proc *jaegermodel.Process, spans []*jaegermodel.Span) *jaegerthrift.Batch {
	// The converter has no exported process conversion; a span's tags
	// convert the same way.
	pt := thriftconv.FromDomainSpan(&jaegermodel.Span{Tags: proc.Tags})
	return &jaegerthrift.Batch{
		Process: &jaegerthrift.Process{ServiceName: proc.ServiceName, Tags: pt.Tags},
		Spans:   thriftconv.FromDomain(spans),
	}
}

func protoIDCount(spans []*jaegermodel.Span) map[[16]byte]int {
	c := map[[16]byte]int{}
	key := func(t jaegermodel.TraceID) [16]byte {
		var k [16]byte
		binary.BigEndian.PutUint64(k[:8], t.High)
		binary.BigEndian.PutUint64(k[8:], t.Low)
		return k
	}
	for _, s := range spans {
		c[key(s.TraceID)]++
		for _, r := range s.References {
			c[key(r.TraceID)]++
		}
	}
	return c
}

func thriftIDCount(spans []*jaegerthrift.Span) map[[16]byte]int {
	c := map[[16]byte]int{}
	key := func(hi, lo int64) [16]byte {
		var k [16]byte
		binary.BigEndian.PutUint64(k[:8], uint64(hi))
		binary.BigEndian.PutUint64(k[8:], uint64(lo))
		return k
	}
	for _, s := range spans {
		c[key(s.TraceIdHigh, s.TraceIdLow)]++
		for _, r := range s.References {
			c[key(r.TraceIdHigh, r.TraceIdLow)]++
		}
	}
	return c
}
