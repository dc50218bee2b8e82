// Package accesspoint is the forwarding machinery behind the coordinator's
// single cluster address: it takes requests on the Tempo ports and hands each
// one to a healthy worker — receiver ports to distributors, the query ports
// to query-frontends.
//
// Balancing is per request, not per connection: an OTLP exporter keeps one
// HTTP/2 connection open for hours, and balancing that connection would pin
// its whole load to one worker. [NewHTTPProxy] therefore terminates HTTP/1.1,
// cleartext HTTP/2 (h2c) and gRPC itself and picks a backend for every
// request or RPC; [ForwardUDP] does the same per datagram for the Jaeger
// agent ports. The handler needs a server with cleartext HTTP/2 enabled:
// [NewServer] builds one (wrapping it in x/net's h2c handler also works).
//
// A [Health] checker polls each worker's /ready and is shared by every
// [Pool] (one pool per port), because one worker serves several ports but
// has one /ready. The coordinator owns the listeners and feeds the pools
// from its worker registry with [Pool.Set].
package accesspoint
