package integration

import (
	"testing"
	"time"
)

// sendMixed sends a few traces by the SDK over gRPC and HTTP and by hand
// (JSON and protobuf) and returns what was acknowledged.
func sendMixed(t *testing.T, s *Server, tenant, label string) []ExpectedTrace {
	t.Helper()
	var out []ExpectedTrace
	out = append(out, sendWithSDK(t, s, grpcBatch, tenant, 2)...)
	out = append(out, sendWithSDK(t, s, httpGzip, tenant, 1)...)
	j := newRawTrace(label+"-json", 6)
	s.SendOTLPJSON(t, tenant, j.Data())
	p := newRawTrace(label+"-pb", 5)
	s.SendOTLPProtobuf(t, tenant, p.Data(), false)
	return append(out, j.Expected(), p.Expected())
}

func requireAll(t *testing.T, s *Server, tenant string, traces []ExpectedTrace, when string) {
	t.Helper()
	for _, want := range traces {
		s.RequireTrace(t, tenant, want, TraceForm{V2: true}, nil, when)
		s.RequireTrace(t, tenant, want, TraceForm{Proto: true}, nil, when)
	}
}

// TestAcknowledgedSpansSurviveKill9: every span the server acknowledged,
// whether already flushed to a block or only in the WAL, is there after
// kill -9 and a restart on the same directories.
func TestAcknowledgedSpansSurviveKill9(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		flushed := sendMixed(t, s, "", "flushed")
		s.Flush(t)
		live := sendMixed(t, s, "", "live")
		// One trace with spans both in a block and only in the WAL.
		split := newRawTrace("split", 8)
		s.SendOTLPProtobuf(t, "", split.Data(split.Spans[:4]...), false)
		s.Flush(t)
		s.SendOTLPProtobuf(t, "", split.Data(split.Spans[4:]...), true)

		all := append(append(append([]ExpectedTrace{}, flushed...), live...), split.Expected())
		requireAll(t, s, "", all, "before kill -9")

		s.Kill9()
		s.Restart()
		requireAll(t, s, "", all, "after kill -9 and restart")

		s.Flush(t)
		requireAll(t, s, "", all, "after kill -9, restart and POST /flush")

		// Still takes writes.
		more := sendMixed(t, s, "", "after-restart")
		requireAll(t, s, "", more, "sent after the restart")

		// And a second crash right after the flush loses nothing either.
		s.Kill9()
		s.Restart()
		requireAll(t, s, "", append(all, more...), "after a second kill -9")
	})
}

// TestSIGTERMShutsDownWithin10sAndRestartFindsEverything: SIGTERM makes
// the server exit cleanly (status 0) within 10 s, and after a restart every
// trace is there.
func TestSIGTERMShutsDownWithin10sAndRestartFindsEverything(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		flushed := sendMixed(t, s, "", "flushed")
		s.Flush(t)
		live := sendMixed(t, s, "", "live")
		all := append(append([]ExpectedTrace{}, flushed...), live...)

		took, exitErr, exited := s.Stop(15 * time.Second)
		switch {
		case !exited:
			t.Fatalf("SIGTERM: server still running after %v (want exit within 10s); killed it", took.Round(time.Millisecond))
		case took > 10*time.Second:
			t.Errorf("SIGTERM: server took %v to exit, want at most 10s", took.Round(time.Millisecond))
		case exitErr != nil:
			t.Errorf("SIGTERM: want exit status 0, got %v (after %v)", exitErr, took.Round(time.Millisecond))
		default:
			t.Logf("SIGTERM: exited cleanly in %v", took.Round(time.Millisecond))
		}

		s.Restart()
		requireAll(t, s, "", all, "after SIGTERM and restart")
		more := sendMixed(t, s, "", "after-restart")
		s.Flush(t)
		requireAll(t, s, "", append(all, more...), "after restart, more writes and POST /flush")
	})
}

// TestTraceSplitAcrossBlocksComesBackWhole: a trace whose spans arrive in
// several parts, some flushed into different blocks and some still live,
// reads back whole with every span once, even when a client resends a part.
func TestTraceSplitAcrossBlocksComesBackWhole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		tr := newRawTrace("split", 12)
		first, second, third := tr.Spans[:5], tr.Spans[5:9], tr.Spans[9:]
		want := tr.Expected()

		s.SendOTLPProtobuf(t, "", tr.Data(first...), false)
		s.Flush(t)
		s.SendOTLPJSON(t, "", tr.Data(second...))
		s.Flush(t)
		for _, f := range AllTraceForms {
			s.RequireTrace(t, "", ExpectedTrace{ID: want.ID, Spans: tr.resourceSpans(tr.Spans[:9]...)}, f, nil, "two parts in two blocks")
		}

		if _, err := s.GRPCExport(t, "", tr.Data(third...)); err != nil {
			t.Fatalf("gRPC Export of the third part: %v", err)
		}
		s.RequireTraceAllForms(t, "", want, "two parts in blocks, one live")

		// A client retry resends the first part (already in a block).
		s.SendOTLPProtobuf(t, "", tr.Data(first...), true)
		s.RequireTraceAllForms(t, "", want, "after a resend of the first part (live duplicate of block data)")

		s.Flush(t)
		s.RequireTraceAllForms(t, "", want, "everything flushed into three or more blocks")

		s.Kill9()
		s.Restart()
		s.RequireTraceAllForms(t, "", want, "after kill -9 and restart")

		s.Flush(t)
		s.RestartWithoutWAL()
		s.RequireTraceAllForms(t, "", want, "after flush, kill -9 and restart without the WAL (object store only)")
	})
}
