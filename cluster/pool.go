package cluster

import (
	"hash/fnv"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pace-tracing/pace/model"
)

// Token is the ring token of a trace: tenant and trace ID hashed together,
// so tenants spread over the ingesters independently.
func Token(tenant string, id model.TraceID) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tenant))
	_, _ = h.Write(id[:])
	return h.Sum32()
}

// TenantToken places a tenant (metrics-generators, compactor jobs).
func TenantToken(key string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return h.Sum32()
}

// Pool keeps one gRPC connection per peer address; gRPC reconnects by itself.
type Pool struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
	opts  []grpc.DialOption
}

// NewPool makes a pool; opts are added to every connection.
func NewPool(opts ...grpc.DialOption) *Pool {
	return &Pool{conns: map[string]*grpc.ClientConn{}, opts: append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
	}, opts...)}
}

// Conn returns the connection to addr.
func (p *Pool) Conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, p.opts...)
	if err != nil {
		return nil, err
	}
	p.conns[addr] = c
	return c, nil
}

// Close closes every connection.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.conns {
		_ = c.Close()
		delete(p.conns, a)
	}
}
