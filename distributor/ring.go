package distributor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/grafana/dskit/ring"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pace-tracing/pace/cluster"
	"github.com/pace-tracing/pace/ingester"
	"github.com/pace-tracing/pace/pacepb"
	"github.com/pace-tracing/pace/wal"
)

// pushTimeout bounds one push to one ingester. The pushes that finish after
// the quorum answered the client keep running until then.
const pushTimeout = 10 * time.Second

// RingPusher sends each trace to the ingesters that own its token (as many
// as the ring's replication factor) and succeeds once a quorum of them
// stored it. Pushes to this process's own ingester skip the network.
type RingPusher struct {
	Ring  *ring.Ring
	Pool  *cluster.Pool
	Self  string // this process's ring address
	Local Pusher // the in-process ingester, or nil
}

// Push implements Pusher.
func (p *RingPusher) Push(ctx context.Context, tenant string, entries []wal.Entry) error {
	keys := traceTokens(tenant, entries)
	// Replicas still writing after the quorum must not be cancelled with the request.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushTimeout)
	err := ring.DoBatchWithOptions(bctx, ring.WriteNoExtend, p.Ring, keys, func(inst ring.InstanceDesc, idx []int) error {
		sub := make([]wal.Entry, len(idx))
		for j, k := range idx {
			sub[j] = entries[k]
		}
		if inst.Addr == p.Self && p.Local != nil {
			return p.Local.Push(bctx, tenant, sub)
		}
		conn, err := p.Pool.Conn(inst.Addr)
		if err != nil {
			return err
		}
		_, err = pacepb.NewIngesterClient(conn).Push(bctx, &pacepb.PushRequest{Tenant: tenant, Entries: ingester.EntriesToProto(sub)})
		return err
	}, ring.DoBatchOptions{
		Cleanup: cancel,
		IsClientError: func(err error) bool {
			c := status.Code(err)
			return c == codes.InvalidArgument || c == codes.ResourceExhausted
		},
	})
	if err == nil {
		return nil
	}
	rf := p.Ring.ReplicationFactor()
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		if st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded {
			return status.Errorf(codes.Unavailable, "too few ingesters stored the spans: replication factor %d needs %d, last error: %s", rf, rf/2+1, st.Message())
		}
		return err
	}
	msg := err.Error()
	if strings.Contains(msg, "InstancesCount <= 0") {
		msg = "no ingester is in the ring"
	}
	return status.Errorf(codes.Unavailable, "not enough healthy ingesters to store the spans with replication factor %d: %s", rf, msg)
}

// traceTokens are the ring tokens of entries, in order.
func traceTokens(tenant string, entries []wal.Entry) []uint32 {
	keys := make([]uint32, len(entries))
	for i, e := range entries {
		keys[i] = cluster.Token(tenant, e.ID)
	}
	return keys
}

// GeneratorForwarder hands spans to the metrics-generators that own their
// trace, in the background: a slow or absent generator never slows or fails
// ingestion, and what cannot be forwarded is counted.
type GeneratorForwarder struct {
	ring *ring.Ring
	pool *cluster.Pool
	// Self and Local: pushes to this process's own generator skip gRPC.
	Self  string
	Local pacepb.MetricsGeneratorServer
	queue chan forward
	log   *slog.Logger

	forwarded *prometheus.CounterVec
	failed    *prometheus.CounterVec
}

type forward struct {
	tenant  string
	entries []wal.Entry
}

// NewGeneratorForwarder starts workers that forward to the generator ring.
func NewGeneratorForwarder(r *ring.Ring, pool *cluster.Pool, log *slog.Logger, reg prometheus.Registerer) *GeneratorForwarder {
	f := promauto.With(reg)
	g := &GeneratorForwarder{
		ring: r, pool: pool, log: log, queue: make(chan forward, 1000),
		forwarded: f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_generator_forwarded_traces_total", Help: "Traces forwarded to metrics-generators, by tenant."}, []string{"tenant"}),
		failed:    f.NewCounterVec(prometheus.CounterOpts{Name: "pace_distributor_generator_forward_failures_total", Help: "Traces not forwarded to metrics-generators, by reason."}, []string{"reason"}),
	}
	for range 2 {
		go g.work()
	}
	return g
}

// Forward queues entries for the generators (it never blocks).
func (g *GeneratorForwarder) Forward(tenant string, entries []wal.Entry) {
	select {
	case g.queue <- forward{tenant, entries}:
	default:
		g.failed.WithLabelValues("queue_full").Add(float64(len(entries)))
	}
}

// Stop ends the workers.
func (g *GeneratorForwarder) Stop() { close(g.queue) }

func (g *GeneratorForwarder) work() {
	for f := range g.queue {
		if err := g.send(f); err != nil {
			g.failed.WithLabelValues("push_failed").Add(float64(len(f.entries)))
			g.log.Debug("forwarding to metrics-generators failed", "err", err)
			continue
		}
		g.forwarded.WithLabelValues(f.tenant).Add(float64(len(f.entries)))
	}
}

func (g *GeneratorForwarder) send(f forward) error {
	if g.ring.InstancesCount() == 0 {
		return errors.New("no metrics-generator in the ring")
	}
	keys := traceTokens(f.tenant, f.entries)
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	return ring.DoBatchWithOptions(ctx, ring.WriteNoExtend, g.ring, keys, func(inst ring.InstanceDesc, idx []int) error {
		sub := make([]*pacepb.TraceEntry, len(idx))
		for j, k := range idx {
			sub[j] = &pacepb.TraceEntry{TraceId: f.entries[k].ID[:], Data: f.entries[k].Data}
		}
		req := &pacepb.PushRequest{Tenant: f.tenant, Entries: sub}
		if inst.Addr == g.Self && g.Local != nil {
			_, err := g.Local.PushSpans(ctx, req)
			return err
		}
		conn, err := g.pool.Conn(inst.Addr)
		if err != nil {
			return err
		}
		_, err = pacepb.NewMetricsGeneratorClient(conn).PushSpans(ctx, req)
		if err != nil {
			return fmt.Errorf("generator %s: %w", inst.Addr, err)
		}
		return nil
	}, ring.DoBatchOptions{Cleanup: cancel})
}
