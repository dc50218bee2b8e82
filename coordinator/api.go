package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/thanos-io/objstore"

	"github.com/pace-tracing/pace/app"
	"github.com/pace-tracing/pace/model"
)

func (c *Coordinator) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/workers/{name}", c.handleHeartbeat)
	mux.HandleFunc("DELETE /api/v1/workers/{name}", c.handleLeave)
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, c.Status()) })
	mux.HandleFunc("GET /api/v1/receivers", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, c.receivers()) })
	mux.HandleFunc("POST /api/v1/receivers", c.handleReceiverRequest)
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		checked := c.storageChecked
		c.mu.Unlock()
		if !checked {
			http.Error(w, "not ready: the object store has not been checked yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{Registry: c.reg}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON body of at most 1 MiB, refusing unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, "invalid JSON body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (c *Coordinator) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	var reg Registration
	if !decodeBody(w, r, &reg) {
		return
	}
	if reg.Name != r.PathValue("name") {
		http.Error(w, fmt.Sprintf("worker name %q in the body differs from %q in the path", reg.Name, r.PathValue("name")), http.StatusBadRequest)
		return
	}
	if err := ValidateRegistration(&reg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.registry.heartbeat(reg)
	writeJSON(w, http.StatusOK, c.assignment(reg.Name))
}

func (c *Coordinator) handleLeave(w http.ResponseWriter, r *http.Request) {
	if !c.registry.remove(r.PathValue("name")) {
		http.Error(w, fmt.Sprintf("worker %q is not registered", r.PathValue("name")), http.StatusNotFound)
		return
	}
	c.log.Info("worker left", "worker", r.PathValue("name"))
	w.WriteHeader(http.StatusNoContent)
}

// Status is the coordinator's view: coherence, workers, receivers.
func (c *Coordinator) Status() Status {
	workers, co := c.assessment()
	p := c.currentPlan(workers)
	s := Status{
		Status: co.status, Message: co.message, Messages: co.messages,
		MissingRoles: co.missing, Roles: co.roles, Storage: c.cfg().Storage.Backend,
		Receivers: c.receiverList(), Version: app.Version,
		Workers: []WorkerStatus{},
	}
	if s.Messages == nil {
		s.Messages = []string{}
	}
	if s.MissingRoles == nil {
		s.MissingRoles = []string{}
	}
	now := c.registry.now()
	for _, w := range workers {
		a := assign(w, workers, p, now, c.settle())
		s.Workers = append(s.Workers, WorkerStatus{Registration: w.reg, TargetConfigVersion: a.ConfigVersion, Hold: a.Hold, LastSeen: w.lastSeen})
	}
	return s
}

// assessment is the registry now and what the coordinator concludes from it.
func (c *Coordinator) assessment() ([]entry, coherence) {
	workers := c.registry.snapshot()
	c.mu.Lock()
	problem := c.storageProblem
	c.mu.Unlock()
	return workers, assess(workers, problem, len(c.cfg().RemoteWrite) > 0)
}

// receiverList is every enabled protocol with its access-point URL.
func (c *Coordinator) receiverList() []ReceiverStatus {
	out := []ReceiverStatus{}
	for _, p := range c.enabled() {
		out = append(out, ReceiverStatus{Protocol: p, URL: c.receiverURL(p)})
	}
	return out
}

// receivers is ready when the cluster is coherent and the access point has
// a distributor to send to.
func (c *Coordinator) receivers() Receivers {
	_, co := c.assessment()
	return Receivers{Receivers: c.receiverList(), Ready: co.coherent() && len(c.pools[OTLPHTTP].Healthy()) > 0}
}

var clientName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func (c *Coordinator) handleReceiverRequest(w http.ResponseWriter, r *http.Request) {
	var req ReceiverRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !clientName.MatchString(req.Client) {
		http.Error(w, fmt.Sprintf("client %q: give a name of letters, digits, '.', '_' or '-' (at most 128)", req.Client), http.StatusBadRequest)
		return
	}
	for _, p := range req.Protocols {
		if !slices.Contains(ClientProtocols(), p) {
			http.Error(w, fmt.Sprintf("unknown protocol %q; valid protocols: %s", p, strings.Join(ClientProtocols(), ", ")), http.StatusBadRequest)
			return
		}
	}
	c.mu.Lock()
	bkt := c.bucket
	c.mu.Unlock()
	if bkt == nil {
		http.Error(w, "the object store is not available, so the request cannot be kept: see /api/v1/status", http.StatusServiceUnavailable)
		return
	}
	// Kept in the object store: every coordinator replica reads it there.
	b, _ := json.Marshal(req)
	if err := bkt.Upload(r.Context(), requestPath(req.Client), bytes.NewReader(b)); err != nil {
		http.Error(w, "storing the request: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	c.mu.Lock()
	c.requests[req.Client] = req.Protocols
	c.mu.Unlock()
	// Not the request's context: a UDP forwarder opened here lives on.
	if err := c.openReceivers(c.runCtx); err != nil {
		c.log.Error("opening a receiver port of the access point", "err", err)
	}
	writeJSON(w, http.StatusOK, c.receivers())
}

func requestPath(client string) string {
	return path.Join(model.CoordinatorPrefix, "receivers", client+".json")
}

// loadRequests reads every client's receiver request.
func loadRequests(ctx context.Context, bkt objstore.Bucket) (map[string][]string, error) {
	out := map[string][]string{}
	err := bkt.Iter(ctx, path.Join(model.CoordinatorPrefix, "receivers")+"/", func(name string) error {
		rc, err := bkt.Get(ctx, name)
		if err != nil {
			if bkt.IsObjNotFoundErr(err) {
				return nil
			}
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		if err != nil {
			return err
		}
		var req ReceiverRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return nil // not one of ours: written by hand, skip it
		}
		var valid []string
		for _, p := range req.Protocols {
			if slices.Contains(ClientProtocols(), p) {
				valid = append(valid, p)
			}
		}
		out[req.Client] = valid
		return nil
	})
	return out, err
}
