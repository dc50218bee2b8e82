package app

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Build information, set with -ldflags "-X github.com/pace-tracing/pace/app.Version=...".
var (
	Version   = "dev"
	Revision  = ""
	Branch    = ""
	BuildUser = ""
	BuildDate = ""
)

// BuildInfo is Tempo's /api/status/buildinfo shape.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// GetBuildInfo fills gaps from the Go build's VCS stamp.
func GetBuildInfo() BuildInfo {
	bi := BuildInfo{Version: Version, Revision: Revision, Branch: Branch, BuildUser: BuildUser, BuildDate: BuildDate, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && bi.Revision == "":
				bi.Revision = s.Value
			case s.Key == "vcs.time" && bi.BuildDate == "":
				bi.BuildDate = s.Value
			}
		}
	}
	return bi
}

func (a *App) registerCommonRoutes() {
	a.mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.Ready() {
			http.Error(w, "not ready: modules are still starting or stopping", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	a.mux.HandleFunc("GET /api/echo", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("echo"))
	})
	a.mux.HandleFunc("GET /api/status/buildinfo", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(GetBuildInfo())
	})
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	a.mux.HandleFunc("/debug/pprof/", pprof.Index)
	a.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	a.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	a.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// flushHandler cuts every head block and answers 204 once all of them are
// in the object store (Tempo's /flush, made synchronous so callers can rely on it).
func (a *App) flushHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if err := a.ingester.Flush(r.Context()); err != nil {
		http.Error(w, "flush failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
