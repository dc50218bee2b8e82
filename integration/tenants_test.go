package integration

import (
	"testing"
)

// TestTenantsAreIsolated: a trace written for one tenant (X-Scope-OrgID)
// is visible to that tenant only, live and from blocks; the same trace ID
// written by two tenants reads back as each tenant's own spans.
func TestTenantsAreIsolated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, start func(*testing.T, ServerOptions) *Server) {
		s := start(t, ServerOptions{})
		const a, b = "tenant-a", "tenant-b"

		aSDK := sendWithSDK(t, s, grpcBatch, a, 1)[0]
		bSDK := sendWithSDK(t, s, httpProto, b, 1)[0]
		aRaw := newRawTrace("a-raw", 4)
		s.SendOTLPJSON(t, a, aRaw.Data())
		def := newRawTrace("default", 3)
		s.SendOTLPProtobuf(t, "", def.Data(), false)

		// The same trace ID with different spans for each tenant.
		shared := newRawTrace("shared-a", 3)
		sharedB := newRawTrace("shared-b", 2)
		for _, sp := range sharedB.Spans {
			sp.TraceId = shared.ID
		}
		sharedB.ID = shared.ID
		s.SendOTLPProtobuf(t, a, shared.Data(), false)
		if _, err := s.GRPCExport(t, b, sharedB.Data()); err != nil {
			t.Fatalf("gRPC Export for %s: %v", b, err)
		}

		check := func(when string) {
			t.Helper()
			for _, f := range AllTraceForms {
				s.RequireTrace(t, a, aSDK, f, nil, when)
				s.RequireTrace(t, a, aRaw.Expected(), f, nil, when)
				s.RequireTrace(t, b, bSDK, f, nil, when)
				s.RequireTrace(t, "", def.Expected(), f, nil, when)
				s.RequireTrace(t, DefaultTenant, def.Expected(), f, nil, when+" (explicit single-tenant)")
				s.RequireTrace(t, a, shared.Expected(), f, nil, when+" (shared ID, tenant a)")
				s.RequireTrace(t, b, sharedB.Expected(), f, nil, when+" (shared ID, tenant b)")

				for _, other := range []string{b, "", "tenant-c"} {
					s.RequireNotFound(t, other, aSDK.ID, f, nil, when+": tenant a's SDK trace asked by another tenant")
					s.RequireNotFound(t, other, aRaw.Hex(), f, nil, when+": tenant a's trace asked by another tenant")
				}
				for _, other := range []string{a, "", "tenant-c"} {
					s.RequireNotFound(t, other, bSDK.ID, f, nil, when+": tenant b's trace asked by another tenant")
				}
				for _, other := range []string{a, b} {
					s.RequireNotFound(t, other, def.Hex(), f, nil, when+": default tenant's trace asked by another tenant")
				}
				s.RequireNotFound(t, "", shared.Hex(), f, nil, when+": shared ID asked by the default tenant")
			}
		}
		check("live")
		s.Flush(t)
		check("after POST /flush")
	})
}
