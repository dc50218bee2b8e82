// Package frontend is the query-frontend role: Tempo's HTTP query API on
// port 3200. Today it answers trace-by-ID from one querier; sharding over
// many queriers slots in behind the same handlers.
package frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/pace-tracing/pace/model"
	"github.com/pace-tracing/pace/querier"
)

// TraceFinder is the querier as the frontend sees it.
type TraceFinder interface {
	FindTraceByID(ctx context.Context, tenant string, id model.TraceID, start, end time.Time) (ptrace.Traces, error)
}

// Frontend serves the query API.
type Frontend struct {
	q   TraceFinder
	s   Searcher // nil: no search endpoints answer
	log *slog.Logger
}

// New makes a frontend over a querier; search is served when q is also a
// Searcher.
func New(q TraceFinder, log *slog.Logger) *Frontend {
	s, _ := q.(Searcher)
	return &Frontend{q: q, s: s, log: log}
}

// MIME types Tempo's clients send and expect.
const (
	mimeProtobuf = "application/protobuf"
	mimeJSON     = "application/json"
)

// RegisterRoutes adds the query endpoints to mux.
func (f *Frontend) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/traces/{id}", func(w http.ResponseWriter, r *http.Request) { f.traceByID(w, r, false) })
	mux.HandleFunc("GET /api/v2/traces/{id}", func(w http.ResponseWriter, r *http.Request) { f.traceByID(w, r, true) })
	f.registerSearchRoutes(mux)
}

// Tenant returns the request's tenant (X-Scope-OrgID, default single-tenant).
func Tenant(r *http.Request) (string, error) {
	return model.Tenant(r.Header.Get(model.TenantHeader))
}

func (f *Frontend) traceByID(w http.ResponseWriter, r *http.Request, v2 bool) {
	tenant, err := Tenant(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, err := model.ParseTraceID(r.PathValue("id"))
	if err != nil {
		http.Error(w, "invalid trace ID: "+err.Error(), http.StatusBadRequest)
		return
	}
	start, end, err := timeRange(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	td, err := f.q.FindTraceByID(r.Context(), tenant, id, start, end)
	if errors.Is(err, querier.ErrTraceNotFound) {
		http.Error(w, "trace not found", http.StatusNotFound)
		return
	}
	if err != nil {
		f.log.Error("trace by ID failed", "tenant", tenant, "trace", id, "err", err)
		http.Error(w, "finding trace: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var body []byte
	ct := mimeJSON
	switch {
	case acceptsProtobuf(r) && v2:
		body, err = v2Proto(td)
		ct = mimeProtobuf
	case acceptsProtobuf(r):
		body, err = traceProto(td)
		ct = mimeProtobuf
	case v2:
		body, err = v2JSON(td)
	default:
		body, err = v1JSON(td)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(body)
}

func acceptsProtobuf(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		for _, part := range strings.Split(a, ",") {
			mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
			if mt == mimeProtobuf || mt == "application/x-protobuf" {
				return true
			}
		}
	}
	return false
}

// timeRange parses Tempo's start/end (unix seconds). Zero means unbounded.
func timeRange(r *http.Request) (start, end time.Time, err error) {
	parse := func(name string) (time.Time, error) {
		v := r.URL.Query().Get(name)
		if v == "" {
			return time.Time{}, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("invalid %s %q: want unix epoch seconds", name, v)
		}
		return time.Unix(n, 0), nil
	}
	if start, err = parse("start"); err != nil {
		return
	}
	if end, err = parse("end"); err != nil {
		return
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		err = fmt.Errorf("invalid time range: end %d is before start %d", end.Unix(), start.Unix())
	}
	// end is inclusive to the second
	if !end.IsZero() {
		end = end.Add(time.Second - 1)
	}
	return
}
