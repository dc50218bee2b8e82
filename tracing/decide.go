package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
)

// Settings is the outcome of [Decide] or [Configure]: whether tracing is on
// and, when it is, where spans go and how. The zero value means off.
type Settings struct {
	// Enabled reports whether tracing is on.
	Enabled bool
	// Endpoint is the receiver's URL exactly as the coordinator gave it
	// (such as "http://10.0.0.5:4318"); empty when off. [NewTracerProvider]
	// appends the protocol's path ("/v1/traces" for OTLP HTTP).
	Endpoint string
	// CAFile is the PEM file of the CA that signed the receiver's
	// certificate; set only for an https Endpoint.
	CAFile string
	// Protocol is the protocol the endpoint speaks; empty means [OTLPHTTP].
	Protocol Protocol
	// Reason says why tracing is off; empty when on.
	Reason string
}

// Decide applies charm_tracing_config's rules to a coordinator's answer for
// protocol p (empty means [OTLPHTTP]) and the CA file caFile:
//
//   - e nil (no answer) or not ready: off;
//   - no endpoint for p: off;
//   - an http:// endpoint: on, without a CA;
//   - an https:// endpoint and caFile given and present on disk: on, with
//     that CA;
//   - an https:// endpoint and caFile empty or not on disk: off, and log
//     logs an error saying so (as charm_tracing_config does: tracing waits
//     for the certificate rather than failing TLS handshakes).
//
// An unknown protocol, or an endpoint that is not an http(s) URL, is off as
// well. Off settings carry the Reason; the other off cases are logged at
// debug level. A nil log means [slog.Default].
func Decide(e *Endpoints, p Protocol, caFile string, log *slog.Logger) Settings {
	if p == "" {
		p = OTLPHTTP
	}
	if log == nil {
		log = slog.Default()
	}
	s := Settings{Protocol: p}
	off := func(reason string) Settings {
		s.Reason = reason
		log.Debug("tracing off", "protocol", string(p), "reason", reason)
		return s
	}
	if err := p.check(); err != nil {
		return off(strings.TrimPrefix(err.Error(), "tracing: "))
	}
	if e == nil {
		return off("no answer from the coordinator")
	}
	if !e.Ready {
		return off("the coordinator is not ready")
	}
	endpoint := e.URL(p)
	if endpoint == "" {
		return off(fmt.Sprintf("the coordinator offers no %s endpoint", p))
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return off(fmt.Sprintf("the coordinator's %s endpoint %q is not a URL", p, endpoint))
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		s.Enabled, s.Endpoint = true, endpoint
		return s
	case "https":
		if missing := caMissing(caFile); missing != "" {
			s.Reason = fmt.Sprintf("the %s endpoint %s is https but %s; tracing stays off until it is there", p, endpoint, missing)
			log.Error("tracing off: https endpoint without a CA file",
				"protocol", string(p), "endpoint", endpoint, "ca_file", caFile, "reason", s.Reason)
			return s
		}
		s.Enabled, s.Endpoint, s.CAFile = true, endpoint, caFile
		return s
	default:
		return off(fmt.Sprintf("the coordinator's %s endpoint %q is neither http:// nor https://", p, endpoint))
	}
}

// caMissing says why caFile cannot be used, or "" when it is there.
func caMissing(caFile string) string {
	if caFile == "" {
		return "no CA file was given"
	}
	fi, err := os.Stat(caFile)
	switch {
	case err != nil:
		return fmt.Sprintf("the CA file %s does not exist", caFile)
	case fi.IsDir():
		return fmt.Sprintf("the CA file %s is a directory", caFile)
	}
	return ""
}

// Configure asks the coordinator c for protocol p (empty means [OTLPHTTP])
// with [Client.Request] and applies [Decide] to the answer. It never fails:
// a nil c or one without a Coordinator, an unreachable coordinator, an
// error answer (such as a 400 for an unknown protocol) all give off
// settings whose Reason holds the error; a failed request is logged at warn
// level. A nil log means [slog.Default].
func Configure(ctx context.Context, c *Client, p Protocol, caFile string, log *slog.Logger) Settings {
	if p == "" {
		p = OTLPHTTP
	}
	if log == nil {
		log = slog.Default()
	}
	if c == nil || strings.TrimSpace(c.Coordinator) == "" {
		s := Settings{Protocol: p, Reason: "no coordinator configured"}
		log.Debug("tracing off", "protocol", string(p), "reason", s.Reason)
		return s
	}
	e, err := c.Request(ctx, p)
	if err != nil {
		s := Settings{Protocol: p, Reason: strings.TrimPrefix(err.Error(), "tracing: ")}
		log.Warn("tracing off: asking the coordinator for receivers failed",
			"protocol", string(p), "coordinator", c.Coordinator, "err", err)
		return s
	}
	return Decide(e, p, caFile, log)
}
