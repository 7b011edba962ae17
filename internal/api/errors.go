package api

import (
	"net/http"

	"github.com/theeye/eye"
)

// errorParams are the query parameters of a list of error records.
func errorParams() []string {
	return []string{"application", "status", "code", "category", "name", "session", "received__gte", "received__lte", "limit", "cursor"}
}

// errorFilter reads the filters of a list of error records.
func errorFilter(p *params) eye.ErrorFilter {
	f := eye.ErrorFilter{
		ApplicationID: p.str("application"),
		Status:        p.str("status"),
		Code:          p.str("code"),
		Category:      p.str("category"),
		Name:          p.str("name"),
		SessionID:     p.uuid("session"),
		From:          p.time("received__gte"),
		To:            p.time("received__lte"),
		Limit:         p.limit(),
		After:         p.cursor(cursorErrors, false),
	}
	switch f.Status {
	case "", eye.StatusOpen, eye.StatusReplayed, eye.StatusDiscarded:
	default:
		p.fail("status", "The query parameter \"status\" must be open, replayed or discarded, not %q.", f.Status)
	}
	return f
}

// listErrors answers GET /errors/: newest first.
func (s *Server) listErrors(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r, errorParams()...)
	f := errorFilter(p)
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	page, err := s.cfg.Store.Errors(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listJSON[errorJSON]{Results: make([]errorJSON, len(page.Items))}
	for i, rec := range page.Items {
		out.Results[i] = errorToJSON(rec)
	}
	out.Next = nextURL(r, cursorErrors, false, page.Next)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getError(w http.ResponseWriter, r *http.Request) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		s.fail(w, r, eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", r.PathValue("id")))
		return
	}
	rec, err := s.cfg.Store.ErrorRecord(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, errorToJSON(rec))
}
