package coordinator

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pace-tracing/pace/app"
)

func worker(name string, roles ...string) entry {
	return entry{reg: Registration{Name: name, Address: "127.0.0.1", Roles: roles, Ports: WorkerPorts(100), DataDir: "/tmp/" + name, State: StateReady}}
}

func TestStatusFollowsTheCharmsRules(t *testing.T) {
	minimal := []entry{worker("a", app.Querier), worker("b", app.QueryFrontend), worker("c", app.Ingester), worker("d", app.Distributor), worker("e", app.Compactor)}
	recommendedSet := append(append([]entry{}, minimal...), worker("f", app.Ingester), worker("g", app.Ingester), worker("h", app.MetricsGenerator))
	for _, tc := range []struct {
		name        string
		workers     []entry
		storage     string
		remoteWrite bool
		status, msg string
	}{
		{"no workers", nil, "", true, Blocked, MsgNoWorkers},
		{"querier missing", minimal[1:], "", true, Blocked, MsgInconsistent + " Missing roles: querier."},
		{"two missing", minimal[2:], "", true, Blocked, MsgInconsistent + " Missing roles: querier, query-frontend."},
		{"storage missing", recommendedSet, MsgS3Missing, true, Blocked, MsgS3Missing},
		{"minimal is degraded", minimal, "", true, Active, MsgDegraded},
		{"three all", []entry{worker("a", app.All), worker("b", app.All), worker("c", app.All)}, "", true, Active, ""},
		{"one all is degraded", []entry{worker("a", app.All)}, "", true, Active, MsgDegraded},
		{"recommended", recommendedSet, "", true, Active, ""},
		{"generator without remote write", recommendedSet, "", false, Active, MsgGeneratorDisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := assess(tc.workers, tc.storage, tc.remoteWrite)
			if c.status != tc.status || c.message != tc.msg {
				t.Errorf("status %q %q, want %q %q (all: %q)", c.status, c.message, tc.status, tc.msg, c.messages)
			}
		})
	}
}

func TestInconsistentClusterWithBadStorageListsBoth(t *testing.T) {
	c := assess([]entry{worker("a", app.Querier)}, "[s3] Object store unreachable: boom", true)
	if len(c.messages) != 2 || !strings.HasPrefix(c.messages[0], MsgInconsistent) || !strings.HasPrefix(c.messages[1], "[s3]") {
		t.Errorf("messages %q", c.messages)
	}
}

func TestRegistrationRefusesUnknownAndEmptyRoles(t *testing.T) {
	r := worker("w", "ingestor").reg
	err := ValidateRegistration(&r)
	if err == nil || !strings.Contains(err.Error(), `unknown target "ingestor"`) || !strings.Contains(err.Error(), "query-frontend") {
		t.Errorf("unknown role: %v", err)
	}
	r = worker("w").reg
	err = ValidateRegistration(&r)
	if err == nil || !strings.Contains(err.Error(), "no role; valid roles: all, distributor") {
		t.Errorf("empty roles: %v", err)
	}
}

func testCoordinator(t *testing.T) *Coordinator {
	t.Helper()
	cfg, err := Load([]string{"-storage.backend=local", "-storage.local.path=" + t.TempDir(), "-bind-address=127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, slog.New(slog.DiscardHandler))
}

func TestRenderedConfigsValidateAndSetReplication(t *testing.T) {
	c := testCoordinator(t)
	ws := []entry{worker("a", app.All), worker("b", app.All)}
	p := c.currentPlan(ws)
	for _, w := range ws {
		r := p.configs[w.reg.Name]
		if r.err != nil {
			t.Fatal(r.err)
		}
		cfg, err := app.ParseConfig([]byte(r.text))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Ingester.ReplicationFactor != 1 || cfg.Compactor.BlockRetention != 720*time.Hour {
			t.Errorf("rf %d retention %s", cfg.Ingester.ReplicationFactor, cfg.Compactor.BlockRetention)
		}
		if cfg.Distributor.Receivers.OTLP.Protocols.HTTP.Endpoint == "" || cfg.Distributor.Receivers.Zipkin.Endpoint != "" {
			t.Errorf("receivers: otlp http %q zipkin %q", cfg.Distributor.Receivers.OTLP.Protocols.HTTP.Endpoint, cfg.Distributor.Receivers.Zipkin.Endpoint)
		}
	}
	before := p.configs["a"].version
	ws = append(ws, worker("c", app.All))
	p = c.currentPlan(ws)
	cfg, _ := app.ParseConfig([]byte(p.configs["a"].text))
	if cfg.Ingester.ReplicationFactor != 3 || p.configs["a"].version == before {
		t.Errorf("with 3 ingesters: rf %d, version changed %v", cfg.Ingester.ReplicationFactor, p.configs["a"].version != before)
	}
	if got := cfg.Cluster.Memberlist.JoinMembers; len(got) != 2 {
		t.Errorf("join list %v", got)
	}
}

func TestJoinListAloneIsNoNewVersion(t *testing.T) {
	c := testCoordinator(t)
	q := worker("q", app.Querier)
	v1 := c.currentPlan([]entry{q, worker("x", app.Distributor)}).configs["q"].version
	v2 := c.currentPlan([]entry{q, worker("x", app.Distributor), worker("y", app.Distributor)}).configs["q"].version
	if v1 != v2 {
		t.Error("a new worker changed another worker's configuration version")
	}
}

func TestIngestersTakeANewConfigurationOneAtATime(t *testing.T) {
	c := testCoordinator(t)
	ws := []entry{worker("i1", app.Ingester), worker("i2", app.Ingester), worker("i3", app.Ingester), worker("q", app.Querier)}
	p := c.currentPlan(ws)
	for i := range ws {
		ws[i].reg.ConfigVersion = "old"
	}
	now := time.Now()
	granted := func() []string {
		var out []string
		for _, w := range ws {
			if assign(w, ws, p, now, 0).Config != "" {
				out = append(out, w.reg.Name)
			}
		}
		return out
	}
	// The querier shares no role with the ingesters: it goes at once.
	if g := granted(); strings.Join(g, ",") != "i1,q" {
		t.Fatalf("granted %v, want i1,q", g)
	}
	ws[0].reg.State, ws[0].reg.ConfigVersion = StateStarting, p.configs["i1"].version
	if g := granted(); strings.Join(g, ",") != "q" {
		t.Fatalf("while i1 starts: granted %v", g)
	}
	if a := assign(ws[1], ws, p, now, 0); !strings.Contains(a.Hold, "i1 to be ready") {
		t.Errorf("i2 hold %q", a.Hold)
	}
	ws[0].reg.State = StateReady
	if g := granted(); strings.Join(g, ",") != "i2,q" {
		t.Fatalf("after i1 is ready: granted %v", g)
	}
}

func TestNewWorkerWaitsForItsPeersToRegister(t *testing.T) {
	c := testCoordinator(t)
	w := worker("a", app.All)
	w.firstSeen = time.Now()
	ws := []entry{w}
	p := c.currentPlan(ws)
	if a := assign(w, ws, p, w.firstSeen.Add(time.Second), 3*time.Second); a.Config != "" || a.Hold == "" {
		t.Errorf("config handed out before the settle time: %+v", a)
	}
	if a := assign(w, ws, p, w.firstSeen.Add(4*time.Second), 3*time.Second); a.Config == "" {
		t.Errorf("no config after the settle time: %+v", a)
	}
}

func TestReplicationFactorIsNotLoweredWhileWorkersRunWithThree(t *testing.T) {
	ws := []entry{worker("a", app.All), worker("b", app.All)}
	if rf := replicationFactor(ws); rf != 1 {
		t.Errorf("two fresh ingesters: rf %d", rf)
	}
	ws[0].reg.ReplicationFactor = 3 // the third ingester crashed and timed out
	if rf := replicationFactor(ws); rf != 3 {
		t.Errorf("after a crash: rf %d, want 3 kept", rf)
	}
}
