package coordinator

import "time"

// Worker states, as a worker reports them (the worker charm's statuses).
const (
	StateWaiting    = "waiting for config"
	StateStarting   = "starting"
	StateReady      = "ready"
	StateRestarting = "restarting"
	StateFailed     = "failed"
)

// Port names a worker reports in Registration.Ports: its own HTTP, gRPC
// and gossip ports, and one per receiver protocol.
const (
	PortHTTP   = "http"
	PortGRPC   = "grpc"
	PortGossip = "gossip"
)

// Receiver protocols. The first five are what clients ask for; the Jaeger
// agent's UDP protocols can only be switched on in the coordinator's config.
const (
	OTLPGRPC            = "otlp_grpc"
	OTLPHTTP            = "otlp_http"
	Zipkin              = "zipkin"
	JaegerThriftHTTP    = "jaeger_thrift_http"
	JaegerGRPC          = "jaeger_grpc"
	JaegerThriftCompact = "jaeger_thrift_compact"
	JaegerThriftBinary  = "jaeger_thrift_binary"
)

// Protocols lists every receiver protocol, in the order URLs are listed.
func Protocols() []string {
	return []string{OTLPGRPC, OTLPHTTP, Zipkin, JaegerThriftHTTP, JaegerGRPC, JaegerThriftCompact, JaegerThriftBinary}
}

// ClientProtocols are the protocols a client may ask for.
func ClientProtocols() []string { return Protocols()[:5] }

// Registration is what a worker sends on every heartbeat.
type Registration struct {
	Name    string `json:"name"`
	Address string `json:"address"` // host others reach it at
	// BindAddress is where its servers listen ("" = every interface).
	BindAddress string         `json:"bind_address,omitempty"`
	Roles       []string       `json:"roles"`
	Version     string         `json:"version"` // pace version of the worker
	Ports       map[string]int `json:"ports"`
	DataDir     string         `json:"data_dir"`
	State       string         `json:"state"`
	Reason      string         `json:"reason,omitempty"`
	// ConfigVersion is the version of the configuration it runs ("" before
	// it has one).
	ConfigVersion string `json:"config_version"`
	// ReplicationFactor is the one its configuration has (0 before).
	ReplicationFactor int `json:"replication_factor,omitempty"`
}

// Assignment answers a heartbeat: the configuration the worker should
// run. Config is set only when the worker may apply it now; Hold says why
// it must wait (another worker of its role is restarting).
type Assignment struct {
	ConfigVersion string `json:"config_version"`
	Config        string `json:"config,omitempty"`
	Hold          string `json:"hold,omitempty"`
	// JoinMembers is the current gossip join list; a change of it alone is
	// not a new configuration version (members find each other by gossip),
	// the worker uses it at its next start.
	JoinMembers []string `json:"join_members"`
	// HeartbeatInterval is how often the coordinator wants to hear from it.
	HeartbeatInterval Duration `json:"heartbeat_interval"`
}

// Status is GET /api/v1/status.
type Status struct {
	Status string `json:"status"` // "active" or "blocked"
	// Message is the charm-style status line ("" when all is well).
	Message string `json:"message"`
	// Messages lists every finding, most severe first.
	Messages     []string         `json:"messages"`
	MissingRoles []string         `json:"missing_roles"`
	Roles        map[string]int   `json:"roles"`
	Workers      []WorkerStatus   `json:"workers"`
	Storage      string           `json:"storage"`
	Receivers    []ReceiverStatus `json:"receivers"`
	Version      string           `json:"version"`
}

// Settled reports whether exactly n workers are registered and every one
// is ready on the configuration the coordinator wants it to run.
func (s Status) Settled(n int) bool {
	if len(s.Workers) != n {
		return false
	}
	for _, w := range s.Workers {
		if w.State != StateReady || w.ConfigVersion != w.TargetConfigVersion {
			return false
		}
	}
	return true
}

// WorkerStatus is one row of the workers table.
type WorkerStatus struct {
	Registration
	// TargetConfigVersion is what the coordinator wants it to run.
	TargetConfigVersion string    `json:"target_config_version"`
	Hold                string    `json:"hold,omitempty"`
	LastSeen            time.Time `json:"last_seen"`
}

// ReceiverStatus is one enabled protocol and its access-point URL.
type ReceiverStatus struct {
	Protocol string `json:"protocol"`
	URL      string `json:"url"`
}

// ReceiverRequest is POST /api/v1/receivers.
type ReceiverRequest struct {
	Client    string   `json:"client"`
	Protocols []string `json:"protocols"`
}

// Receivers answers GET and POST /api/v1/receivers.
type Receivers struct {
	Receivers []ReceiverStatus `json:"receivers"`
	Ready     bool             `json:"ready"`
}

// Duration is a time.Duration written as "1.5s" in JSON.
type Duration time.Duration

// MarshalText writes the duration as Go's String form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go's duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}
