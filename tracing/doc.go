// Package tracing is the client side of the coordinator's receivers API
// ("receivers for clients"): an application, or one of pace's own
// processes, asks a pace coordinator for the tracing protocols it wants to
// use, gets back an endpoint, decides whether tracing is on, and builds an
// OpenTelemetry tracer provider that sends its spans there.
//
// The decision follows the rules of Canonical's charm_tracing_config
// (charms/tempo_coordinator_k8s/v0/charm_tracing.py), see [Decide]:
// a coordinator that cannot be reached, that is not ready, or that offers no
// endpoint for the protocol means tracing is off; an http:// endpoint means
// on; an https:// endpoint means on with the given CA file, and off (with a
// log line saying why) while that CA file is missing.
//
// Tracing being off is not an error the caller has to handle: [Configure]
// always returns [Settings], and [NewTracerProvider] always returns a usable
// provider, one that exports nothing when the settings say off.
//
// # Usage
//
//	client := &tracing.Client{Coordinator: "http://coordinator:3200", Name: "checkout"}
//	s := tracing.Configure(ctx, client, tracing.OTLPHTTP, "/etc/pace/ca.pem", slog.Default())
//	tp, err := tracing.NewTracerProvider(ctx, s, "checkout")
//	if err != nil {
//		slog.Warn("tracing off", "err", err) // tp is still usable
//	}
//	defer tp.Shutdown(context.Background())
//	otel.SetTracerProvider(tp)
//
// [Configure] asks once. A coordinator answers ready=false until its cluster
// is coherent, and a CA file may appear later (certificates being issued), so
// a long-running process that started with tracing off may call Configure
// again later and swap in a new provider.
//
// The HTTP contract (GET and POST /api/v1/receivers) is described in
// coordinator/README.md of this repository.
package tracing
