package api

import (
	"net/http"

	"github.com/theeye/eye"
)

// listSessions answers GET /sessions/: most recent activity first.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r, "application", "limit", "cursor")
	f := eye.SessionFilter{ApplicationID: p.str("application"), Limit: p.limit(), After: p.cursor(cursorSessions, false)}
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	page, err := s.cfg.Store.Sessions(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listJSON[sessionJSON]{Results: make([]sessionJSON, len(page.Items))}
	for i, ss := range page.Items {
		out.Results[i] = sessionToJSON(ss)
	}
	out.Next = nextURL(r, cursorSessions, false, page.Next)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		s.fail(w, r, eye.Errorf(eye.ENOTFOUND, "No session has the id %q.", r.PathValue("id")))
		return
	}
	ss, err := s.cfg.Store.Session(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionToJSON(ss))
}
