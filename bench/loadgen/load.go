package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/pace-tracing/pace/bench/internal/stats"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pace-tracing/pace/bench/gen"
)

// Config is what one load run does.
type Config struct {
	Protocol         Protocol // OTLPGRPC if empty
	Endpoint         string
	MaxDatagram      int // largest UDP datagram (jaeger-udp-compact)
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
	Rate             float64       // spans per second over all clients; 0: as fast as answered

	// onSend, if set, is called with every request's patched trace IDs
	// (in trace order) before it is sent. Tests use it.
	onSend func(client int, ids [][16]byte)
}

// Result is what a run measured.
type Result struct {
	Protocol         string    `json:"protocol"`
	Endpoint         string    `json:"endpoint"`
	Clients          int       `json:"clients"`
	TracesPerRequest int       `json:"traces_per_request"`
	SpansPerTrace    int       `json:"spans_per_trace"`
	DurationSeconds  float64   `json:"duration_seconds"`
	RequestsOK       int64     `json:"requests_ok"`
	RequestsFailed   int64     `json:"requests_failed"`
	Errors           []string  `json:"errors,omitempty"`
	DatagramsSent    int64     `json:"datagrams_sent,omitempty"`
	RateLimit        float64   `json:"rate_limit,omitempty"`
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
				r, err := buildRequest(cfg.Protocol, g, cfg.TracesPerRequest, cfg.SpansPerTrace, cfg.MaxDatagram)
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
	if cfg.Protocol == "" {
		cfg.Protocol = OTLPGRPC
	}
	if !cfg.Protocol.valid() {
		return nil, fmt.Errorf("unknown protocol %q", cfg.Protocol)
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = cfg.Protocol.DefaultEndpoint()
	}
	if cfg.MaxDatagram <= 0 {
		cfg.MaxDatagram = 65000
	}
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

	senders := make([]sender, cfg.Clients)
	defer func() {
		for _, s := range senders {
			if s != nil {
				s.close()
			}
		}
	}()
	for i := range senders {
		s, err := newSender(ctx, cfg)
		if err != nil {
			return nil, err
		}
		senders[i] = s
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
			pace := pacer{perSpan: time.Duration(float64(time.Second) * float64(cfg.Clients) / cfg.Rate), next: time.Now()}
			for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
				r := &pool[i%len(pool)]
				ids = r.patch(rng, ids)
				if cfg.onSend != nil {
					cfg.onSend(c, ids)
				}
				clean, failed := true, false // every message accepted whole; one failed
				for m := range r.msgs {
					msg := &r.msgs[m]
					if cfg.Rate > 0 && !pace.wait(ctx, msg.spans, deadline) {
						clean = false // not all of it went out
						break
					}
					rctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
					t0 := time.Now()
					rej, text, err := senders[c].send(rctx, msg.body)
					st.lat = append(st.lat, time.Since(t0))
					cancel()
					st.spansSent += int64(msg.spans)
					st.bytesSent += int64(len(msg.body))
					if err != nil {
						clean, failed = false, true
						st.failed++
						st.failedSpans += int64(msg.spans)
						if len(st.errs) < maxErrors {
							st.errs = append(st.errs, err.Error())
						}
						continue
					}
					st.ok++
					if rej > 0 {
						clean = false
						st.rejected += rej
						if len(st.errs) < maxErrors {
							st.errs = append(st.errs, fmt.Sprintf("partial success: %d spans rejected: %s", rej, text))
						}
					}
				}
				if clean {
					// Only IDs of requests accepted whole are sampled.
					smp.offer(ids[rng.IntN(len(ids))])
				} else if failed && cfg.FailBackoff > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(min(cfg.FailBackoff, time.Until(deadline))):
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := &Result{
		Protocol:         string(cfg.Protocol),
		Endpoint:         cfg.Endpoint,
		Clients:          cfg.Clients,
		TracesPerRequest: cfg.TracesPerRequest,
		SpansPerTrace:    cfg.SpansPerTrace,
		RateLimit:        cfg.Rate,
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
	if cfg.Protocol == JaegerUDPCompact {
		res.DatagramsSent = res.RequestsOK
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

// pacer spaces one client's messages to its share of the span rate.
type pacer struct {
	perSpan time.Duration
	next    time.Time
}

// wait sleeps until the next message of spans spans is due, and reports
// false if ctx ends or the message would be due after the deadline.
func (p *pacer) wait(ctx context.Context, spans int, deadline time.Time) bool {
	now := time.Now()
	if behind := now.Sub(p.next); behind > 100*time.Millisecond {
		p.next = now // fell behind: don't burst to catch up
	}
	due := p.next
	p.next = p.next.Add(time.Duration(spans) * p.perSpan)
	if due.After(deadline) {
		return false
	}
	if d := time.Until(due); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
