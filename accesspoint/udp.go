package accesspoint

import (
	"context"
	"net"
	"time"
)

// maxDatagram is the largest UDP payload; the Jaeger agent protocols fit a
// batch in one datagram (65000 bytes by default).
const maxDatagram = 64 << 10

// ForwardUDP reads datagrams from conn and sends each to a healthy backend
// of p, round robin per datagram, for the Jaeger agent ports (6831 compact,
// 6832 binary thrift). A datagram that finds no healthy backend, or whose
// send fails, is dropped and counted: UDP senders expect loss and never
// learn of it.
//
// It returns nil when ctx is done and the read error otherwise. It does not
// close conn, which belongs to the caller.
func ForwardUDP(ctx context.Context, conn net.PacketConn, p *Pool) error {
	// One unconnected socket sends to every backend: datagrams carry no
	// session, so nothing needs a socket per backend.
	out, err := net.ListenUDP("udp", nil)
	if err != nil {
		return err
	}
	defer out.Close()
	// Unblock ReadFrom on cancellation without closing the caller's conn.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	forwarded := p.m.udp.WithLabelValues("forwarded")
	dropped := p.m.udp.WithLabelValues("dropped")
	buf := make([]byte, maxDatagram)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		m := p.pick(nil)
		if m == nil {
			dropped.Inc()
			continue
		}
		to, err := m.resolveUDP()
		if err == nil {
			_, err = out.WriteToUDPAddrPort(buf[:n], to)
		}
		if err != nil {
			dropped.Inc()
			continue
		}
		forwarded.Inc()
	}
}
