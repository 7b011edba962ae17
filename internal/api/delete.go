package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/audit"
)

// sessionDeletedJSON is the answer to a session's erasure: what went.
type sessionDeletedJSON struct {
	SessionID     string `json:"session_id"`
	EventsDeleted int64  `json:"events_deleted"`
	ErrorsDeleted int64  `json:"errors_deleted"`
}

// deleteSession answers DELETE /sessions/{id}/: the session is erased with
// all its events and all its error records (they hold the same person's
// data), in one transaction; 200 with what went.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if p := parseParams(r); p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		s.fail(w, r, eye.Errorf(eye.ENOTFOUND, "No session has the id %q.", r.PathValue("id")))
		return
	}
	res, err := s.cfg.Store.DeleteSession(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionSessionDelete, id, map[string]int64{"events": res.Events, "errors": res.Errors})
	writeJSON(w, http.StatusOK, sessionDeletedJSON{SessionID: id, EventsDeleted: res.Events, ErrorsDeleted: res.Errors})
}

// deleteEventsParams are the query parameters of POST /events/delete/: the
// filters of GET /events/, dry_run and all.
func deleteEventsParams() []string {
	filters := slices.DeleteFunc(eventParams(), func(p string) bool { return p == "order" || p == "limit" || p == "cursor" })
	return append(filters, "dry_run", "all")
}

// matchedJSON is the answer to a dry run: how many events match.
type matchedJSON struct {
	Matched int64 `json:"matched"`
}

// deleteEvents answers POST /events/delete/: the filters of GET /events/
// select events that a background job deletes, oldest first (202 with the
// job); with dry_run=true, 200 with how many match, and nothing deleted.
// A deletion without any filter needs all=true.
func (s *Server) deleteEvents(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r, deleteEventsParams()...)
	f := eventFilter(p, "", true)
	dryRun, all := p.boolean("dry_run"), p.boolean("all")
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	f.Limit, f.After = 0, nil
	if len(filterParams(f)) == 0 && !all && !dryRun {
		writeProblem(w, r, http.StatusBadRequest, "filter_required",
			"A deletion needs at least one filter (session, category, name, application, timestamp__gte, timestamp__lte, data.…); "+
				"to delete every event, give all=true.", nil)
		return
	}
	if dryRun {
		n, err := s.cfg.Store.CountEvents(r.Context(), f)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, matchedJSON{Matched: n})
		return
	}
	by := s.actor(r)
	by.Details = audit.Details(filterParams(f))
	j, err := s.cfg.Deleter.Start(r.Context(), f, by)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/jobs/"+j.ID+"/")
	writeJSON(w, http.StatusAccepted, jobToJSON(j))
}

// boolean reads a parameter that is true or false ("" is false).
func (p *params) boolean(name string) bool {
	switch s := p.v.Get(name); s {
	case "", "false":
		return false
	case "true":
		return true
	default:
		p.fail(name, "The query parameter %q must be true or false, not %q.", name, s)
		return false
	}
}

// filterParams writes an event filter as the query parameters of GET
// /events/ that make it (order and pages aside).
func filterParams(f eye.EventFilter) map[string]string {
	out := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("application", f.ApplicationID)
	set("session", f.SessionID)
	set("category", f.Category)
	set("name", f.Name)
	if !f.From.IsZero() {
		set("timestamp__gte", eye.FormatTime(f.From))
	}
	if !f.To.IsZero() {
		set("timestamp__lte", eye.FormatTime(f.To))
	}
	for _, d := range f.Data {
		out["data."+dataPathParam(d.Path)] = dataValueParam(d.Value)
	}
	return out
}

// dataPathParam writes the path of a data filter as dataPath reads it.
func dataPathParam(path []string) string {
	keys := make([]string, len(path))
	for i, k := range path {
		keys[i] = strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(k)
	}
	return strings.Join(keys, ".")
}

// dataValueParam writes the value of a data filter as dataValue reads it:
// a string as it is, unless it would read as something else (then in
// double quotes).
func dataValueParam(v any) string {
	switch v := v.(type) {
	case string:
		if got, err := dataValue(v); err == nil && got == v {
			return v
		}
		b, _ := json.Marshal(v) // a string always marshals
		return string(b)
	case json.Number:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return ""
}
