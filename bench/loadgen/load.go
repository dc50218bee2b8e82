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
	"sync"
	"time"

	"github.com/pace-tracing/pace/bench/internal/stats"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pace-tracing/pace/bench/gen"
)

// exportMethod is the OTLP/gRPC trace export method.
const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// Config is what one load run does.
type Config struct {
	Endpoint         string
	Clients          int
	Duration         time.Duration
	TracesPerRequest int
	SpansPerTrace    int
	PoolSize         int // pre-generated requests per client
	Tenant           string
	SampleIDs        int // trace IDs to keep for IDsOut
	Seed             uint64
	RequestTimeout   time.Duration
	FailBackoff      time.Duration // pause of a client after a failed request

	// onSend, if set, is called with every request's patched trace IDs
	// (in trace order) before it is sent. Tests use it.
	onSend func(client int, ids [][16]byte)
}

// Result is what a run measured.
type Result struct {
	Endpoint         string    `json:"endpoint"`
	Clients          int       `json:"clients"`
	TracesPerRequest int       `json:"traces_per_request"`
	SpansPerTrace    int       `json:"spans_per_trace"`
	DurationSeconds  float64   `json:"duration_seconds"`
	RequestsOK       int64     `json:"requests_ok"`
	RequestsFailed   int64     `json:"requests_failed"`
	Errors           []string  `json:"errors,omitempty"`
	SpansSent        int64     `json:"spans_sent"`
	SpansRejected    int64     `json:"spans_rejected"`
	SpansAccepted    int64     `json:"spans_accepted"`
	BytesSent        int64     `json:"bytes_sent"`
	SpansPerSecond   float64   `json:"spans_per_second"`
	LatencyP50Ms     float64   `json:"latency_p50_ms"`
	LatencyP99Ms     float64   `json:"latency_p99_ms"`
	LatencyMaxMs     float64   `json:"latency_max_ms"`
	SampledTraceIDs  []string  `json:"-"`
	Started          time.Time `json:"started"`
}

// rawCodec passes []byte through unchanged, so pre-marshalled OTLP
// requests go on the wire without a protobuf round trip.
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

// request is one pre-marshalled export request and where its trace IDs sit.
type request struct {
	body    []byte
	offsets [][]int // per trace: byte offsets of every copy of its trace ID
	spans   int
}

// buildRequest generates one request and records its trace-ID offsets.
func buildRequest(g *gen.Generator, traces, spansPerTrace int) (request, error) {
	for attempt := 0; attempt < 3; attempt++ {
		td := g.Traces(traces, spansPerTrace)
		body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			return request{}, err
		}
		// Spans per trace ID, in first-seen order.
		var order [][16]byte
		count := map[[16]byte]int{}
		_ = model.ForEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, sp ptrace.Span) error {
			id := [16]byte(sp.TraceID())
			if count[id] == 0 {
				order = append(order, id)
			}
			count[id]++
			return nil
		})
		r := request{body: body, spans: td.SpanCount()}
		ok := len(order) == traces
		for _, id := range order {
			var offs []int
			for from := 0; ; {
				i := bytes.Index(body[from:], id[:])
				if i < 0 {
					break
				}
				offs = append(offs, from+i)
				from += i + len(id)
			}
			if len(offs) != count[id] {
				ok = false // an ID's bytes also occur elsewhere: regenerate
				break
			}
			r.offsets = append(r.offsets, offs)
		}
		if ok {
			return r, nil
		}
	}
	return request{}, errors.New("could not build a request with unambiguous trace-ID offsets")
}

// patch writes a fresh random trace ID over every copy of each trace's ID
// and returns the new IDs into ids.
func (r *request) patch(rng *rand.Rand, ids [][16]byte) [][16]byte {
	ids = ids[:0]
	for _, offs := range r.offsets {
		var id [16]byte
		for id == ([16]byte{}) {
			binary.BigEndian.PutUint64(id[:8], rng.Uint64())
			binary.BigEndian.PutUint64(id[8:], rng.Uint64())
		}
		for _, o := range offs {
			copy(r.body[o:o+16], id[:])
		}
		ids = append(ids, id)
	}
	return ids
}

// rejectedSpans reads partial_success.rejected_spans from an
// ExportTraceServiceResponse, and its error_message.
func rejectedSpans(b []byte) (int64, string, error) {
	var rejected int64
	var msg string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, "", protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			ps, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, "", protowire.ParseError(n)
			}
			b = b[n:]
			for len(ps) > 0 {
				num, typ, n := protowire.ConsumeTag(ps)
				if n < 0 {
					return 0, "", protowire.ParseError(n)
				}
				ps = ps[n:]
				switch {
				case num == 1 && typ == protowire.VarintType:
					v, n := protowire.ConsumeVarint(ps)
					if n < 0 {
						return 0, "", protowire.ParseError(n)
					}
					rejected += int64(v)
					ps = ps[n:]
				case num == 2 && typ == protowire.BytesType:
					v, n := protowire.ConsumeBytes(ps)
					if n < 0 {
						return 0, "", protowire.ParseError(n)
					}
					msg = string(v)
					ps = ps[n:]
				default:
					n := protowire.ConsumeFieldValue(num, typ, ps)
					if n < 0 {
						return 0, "", protowire.ParseError(n)
					}
					ps = ps[n:]
				}
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, "", protowire.ParseError(n)
		}
		b = b[n:]
	}
	return rejected, msg, nil
}

// buildPools generates every client's requests, clients in parallel.
func buildPools(cfg Config) ([][]request, error) {
	pools := make([][]request, cfg.Clients)
	errs := make([]error, cfg.Clients)
	var wg sync.WaitGroup
	for c := range pools {
		wg.Go(func() {
			g := gen.New(cfg.Seed + uint64(c)*7919)
			for range cfg.PoolSize {
				r, err := buildRequest(g, cfg.TracesPerRequest, cfg.SpansPerTrace)
				if err != nil {
					errs[c] = err
					return
				}
				pools[c] = append(pools[c], r)
			}
		})
	}
	wg.Wait()
	return pools, errors.Join(errs...)
}

// sampler keeps a uniform random sample of accepted trace IDs (reservoir
// sampling, one candidate per accepted request).
type sampler struct {
	mu   sync.Mutex
	k    int
	seen int64
	ids  [][16]byte
	rng  *rand.Rand
}

func (s *sampler) offer(id [16]byte) {
	if s.k <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen++
	if len(s.ids) < s.k {
		s.ids = append(s.ids, id)
		return
	}
	if j := s.rng.Int64N(s.seen); j < int64(s.k) {
		s.ids[j] = id
	}
}

type clientStats struct {
	ok, failed, spansSent, failedSpans, rejected, bytesSent int64
	lat                                                     []time.Duration
	errs                                                    []string
}

const maxErrors = 5

// Run sends load as configured until the duration passes or ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Clients < 1 || cfg.TracesPerRequest < 1 || cfg.SpansPerTrace < 1 || cfg.PoolSize < 1 {
		return nil, errors.New("clients, traces per request, spans per trace and pool size must be positive")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	pools, err := buildPools(cfg)
	if err != nil {
		return nil, err
	}

	conns := make([]*grpc.ClientConn, cfg.Clients)
	defer func() {
		for _, cc := range conns {
			if cc != nil {
				cc.Close()
			}
		}
	}()
	for i := range conns {
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
		conns[i] = cc
		waitReady(ctx, cc, 10*time.Second)
	}

	if cfg.Tenant != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-scope-orgid", cfg.Tenant)
	}
	smp := &sampler{k: cfg.SampleIDs, rng: rand.New(rand.NewPCG(cfg.Seed, 1))}
	perClient := make([]clientStats, cfg.Clients)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for c := range cfg.Clients {
		wg.Go(func() {
			st := &perClient[c]
			pool := pools[c]
			rng := rand.New(rand.NewPCG(cfg.Seed^uint64(time.Now().UnixNano()), uint64(c)+1))
			var ids [][16]byte
			var resp []byte
			for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
				r := &pool[i%len(pool)]
				ids = r.patch(rng, ids)
				if cfg.onSend != nil {
					cfg.onSend(c, ids)
				}
				rctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
				t0 := time.Now()
				err := conns[c].Invoke(rctx, exportMethod, r.body, &resp)
				st.lat = append(st.lat, time.Since(t0))
				cancel()
				st.spansSent += int64(r.spans)
				st.bytesSent += int64(len(r.body))
				if err != nil {
					st.failed++
					st.failedSpans += int64(r.spans)
					if len(st.errs) < maxErrors {
						st.errs = append(st.errs, err.Error())
					}
					if cfg.FailBackoff > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(min(cfg.FailBackoff, time.Until(deadline))):
						}
					}
					continue
				}
				st.ok++
				rej, msg, perr := rejectedSpans(resp)
				if perr != nil && len(st.errs) < maxErrors {
					st.errs = append(st.errs, "bad response: "+perr.Error())
				}
				if rej > 0 {
					st.rejected += rej
					if len(st.errs) < maxErrors {
						st.errs = append(st.errs, fmt.Sprintf("partial success: %d spans rejected: %s", rej, msg))
					}
					continue // don't sample IDs from a partly rejected request
				}
				smp.offer(ids[rng.IntN(len(ids))])
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := &Result{
		Endpoint:         cfg.Endpoint,
		Clients:          cfg.Clients,
		TracesPerRequest: cfg.TracesPerRequest,
		SpansPerTrace:    cfg.SpansPerTrace,
		DurationSeconds:  elapsed.Seconds(),
		Started:          start,
	}
	var lat []time.Duration
	var failedSpans int64 // sent but not accepted
	for _, st := range perClient {
		res.RequestsOK += st.ok
		res.RequestsFailed += st.failed
		res.SpansSent += st.spansSent
		res.SpansRejected += st.rejected
		res.BytesSent += st.bytesSent
		failedSpans += st.failedSpans
		lat = append(lat, st.lat...)
		for _, e := range st.errs {
			if len(res.Errors) < maxErrors {
				res.Errors = append(res.Errors, e)
			}
		}
	}
	res.SpansAccepted = res.SpansSent - res.SpansRejected - failedSpans
	if elapsed > 0 {
		res.SpansPerSecond = float64(res.SpansAccepted) / elapsed.Seconds()
	}
	slices.Sort(lat)
	res.LatencyP50Ms = stats.Ms(stats.Quantile(lat, 0.50))
	res.LatencyP99Ms = stats.Ms(stats.Quantile(lat, 0.99))
	if len(lat) > 0 {
		res.LatencyMaxMs = stats.Ms(lat[len(lat)-1])
	}
	for _, id := range smp.ids {
		res.SampledTraceIDs = append(res.SampledTraceIDs, hex.EncodeToString(id[:]))
	}
	return res, nil
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
