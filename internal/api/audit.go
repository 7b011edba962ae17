package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/audit"
)

// cursorAudit is the kind of the audit log's cursors.
const cursorAudit = 'a'

// auditJSON is an audit entry as the API shows it.
type auditJSON struct {
	ID        string          `json:"id"`
	At        string          `json:"at"`
	Actor     string          `json:"actor"`
	ActorName *string         `json:"actor_name"`
	Action    string          `json:"action"`
	Target    *string         `json:"target"`
	Details   json.RawMessage `json:"details"`
	Addr      *string         `json:"addr"`
}

func auditToJSON(e eye.AuditEntry) auditJSON {
	details := e.Details
	if !json.Valid(details) {
		details = json.RawMessage(`{}`)
	}
	return auditJSON{ID: e.ID, At: eye.FormatTime(e.At), Actor: e.Actor, ActorName: optional(e.ActorName), Action: e.Action,
		Target: optional(e.Target), Details: details, Addr: optional(e.Addr)}
}

// actor returns who made a request, as the audit log names them, with
// the client's address: the user of a login session of the admin UI
// (user:<id>, the user's name), or the key (key:<id>, its label).
func (s *Server) actor(r *http.Request) eye.AuditEntry {
	k := keyOf(r)
	e := eye.AuditEntry{Actor: "key:" + k.ID, ActorName: k.Label, Addr: clientAddr(r)}
	if k.UserID != "" {
		e.Actor, e.ActorName = "user:"+k.UserID, ""
		if u, err := s.cfg.Store.User(r.Context(), k.UserID); err == nil {
			e.ActorName = u.Name
		}
	}
	return e
}

// audit records an admin action the request did, once it succeeded: a
// failure to record is logged and does not undo it.
func (s *Server) audit(r *http.Request, action, target string, details any) {
	e := s.actor(r)
	e.Action, e.Target, e.Details = action, target, audit.Details(details)
	audit.Record(r.Context(), s.cfg.Store, s.log, e)
}

// listAudit answers GET /audit/: the audit log, newest first.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r, "action", "actor", "timestamp__gte", "timestamp__lte", "limit", "cursor")
	f := eye.AuditFilter{Action: p.str("action"), Actor: p.str("actor"), From: p.time("timestamp__gte"), To: p.time("timestamp__lte"),
		Limit: p.limit(), After: p.cursor(cursorAudit, false)}
	if f.Action != "" && !slices.Contains(eye.AuditActions(), f.Action) {
		p.fail("action", "The query parameter \"action\" must be an audited action (%s), not %q.",
			strings.Join(eye.AuditActions(), ", "), f.Action)
	}
	if f.Actor != "" && !validActor(f.Actor) {
		p.fail("actor", "The query parameter \"actor\" must be key:<id>, user:<id>, %s or %s, not %q.",
			eye.ActorCLI, eye.ActorRetention, f.Actor)
	}
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	page, err := s.cfg.Store.Audit(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listJSON[auditJSON]{Results: make([]auditJSON, len(page.Items))}
	for i, e := range page.Items {
		out.Results[i] = auditToJSON(e)
	}
	out.Next = nextURL(r, cursorAudit, false, page.Next)
	writeJSON(w, http.StatusOK, out)
}

// validActor reports whether an actor filter names an actor as entries do:
// key:<id>, user:<id>, cli or retention.
func validActor(a string) bool {
	if a == eye.ActorCLI || a == eye.ActorRetention {
		return true
	}
	kind, id, ok := strings.Cut(a, ":")
	return ok && (kind == "key" || kind == "user") && id != ""
}
