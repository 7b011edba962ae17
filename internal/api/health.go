package api

import (
	"context"
	"net/http"
	"time"

	"github.com/theeye/eye"
)

// healthz answers 200 while the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when this process can do its job, by its roles: the
// queue accepts publishes (ingest, workers) and the store answers
// (workers, queries); 503 with the reason otherwise. An ingest process is
// ready while the store is down: it does not need it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	needed := map[string]func(context.Context) error{}
	if s.roles.Ingest || s.roles.Worker {
		needed["queue"] = s.cfg.Queue.Ready
	}
	if s.roles.Worker || s.roles.Query {
		needed["store"] = s.cfg.Store.Ping
	}
	for name, check := range needed {
		if err := check(ctx); err != nil {
			checks[name] = eye.ErrorMessage(err)
			ready = false
		} else {
			checks[name] = "ok"
		}
	}
	if !ready {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": checks})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
}
