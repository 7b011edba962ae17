package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/theeye/eye"
)

// eventFilter reads the filters of a list of events. session is fixed for
// the events of one session.
func eventFilter(p *params, session string, defaultAscending bool) eye.EventFilter {
	f := eye.EventFilter{
		ApplicationID: p.str("application"),
		SessionID:     session,
		Category:      p.str("category"),
		Name:          p.str("name"),
		From:          p.time("timestamp__gte"),
		To:            p.time("timestamp__lte"),
		Ascending:     p.ascending(defaultAscending),
		Limit:         p.limit(),
		Data:          p.data(),
	}
	if session == "" {
		f.SessionID = p.uuid("session")
	}
	f.After = p.cursor(cursorEvents, f.Ascending)
	return f
}

// eventParams are the query parameters of a list of events.
func eventParams() []string {
	return []string{"application", "session", "category", "name", "timestamp__gte", "timestamp__lte", "order", "limit", "cursor", "data.*"}
}

// listEvents answers GET /events/: newest first unless order=asc.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r, eventParams()...)
	f := eventFilter(p, "", false)
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	s.writeEvents(w, r, f)
}

// listSessionEvents answers GET /sessions/{id}/events/: the events of a
// session in the order they occurred.
func (s *Server) listSessionEvents(w http.ResponseWriter, r *http.Request) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		s.fail(w, r, eye.Errorf(eye.ENOTFOUND, "No session has the id %q.", r.PathValue("id")))
		return
	}
	p := parseParams(r, slices.DeleteFunc(eventParams(), func(s string) bool { return s == "session" })...)
	f := eventFilter(p, id, true)
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	if _, err := s.cfg.Store.Session(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeEvents(w, r, f)
}

func (s *Server) writeEvents(w http.ResponseWriter, r *http.Request, f eye.EventFilter) {
	page, err := s.cfg.Store.Events(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The largest answers: written without reflection.
	size := 64
	for _, ev := range page.Items {
		size += 400 + len(ev.Data)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"results":[`...)
	for i, ev := range page.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, ev)
	}
	b = append(b, `],"next":`...)
	b = appendOptional(b, deref(nextURL(r, cursorEvents, f.Ascending, page.Next)))
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// eventID reads the id of an event from the path; anything not a UUID is
// an unknown id.
func eventID(r *http.Request) (string, error) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		return "", eye.Errorf(eye.ENOTFOUND, "No event has the id %q.", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	id, err := eventID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ev, err := s.cfg.Store.Event(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eventToJSON(ev))
}

// mutableMembers are the members of an event a correction may change.
func mutableMembers() []string {
	return []string{"session_id", "category", "name", "data", "timestamp"}
}

// putEvent replaces the mutable members of an event (all of them must be
// given), checked with the rules of arriving events: 422 with every reason
// otherwise.
func (s *Server) putEvent(w http.ResponseWriter, r *http.Request) {
	id, err := eventID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fields, ok := s.readObject(w, r)
	if !ok {
		return
	}
	ev, err := s.cfg.Store.UpdateEvent(r.Context(), id, func(cur eye.Event) (eye.Event, []string, error) {
		next, reasons := s.cfg.Rules.Correct(cur, fields)
		if len(reasons) > 0 {
			return cur, nil, invalid(reasons)
		}
		return next, append(mutableMembers(), "schema_version"), nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionEventUpdate, id, map[string]any{"members": mutableMembers()})
	writeJSON(w, http.StatusOK, eventToJSON(ev))
}

// patchEvent applies an RFC 7396 JSON Merge Patch to the mutable members
// of an event (data is merged member by member). Only the members the
// patch names are written, so concurrent patches of different members
// both survive.
func (s *Server) patchEvent(w http.ResponseWriter, r *http.Request) {
	id, err := eventID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	patch, ok := s.readObject(w, r)
	if !ok {
		return
	}
	var members []string // the members the patch names, for the audit log
	ev, err := s.cfg.Store.UpdateEvent(r.Context(), id, func(cur eye.Event) (eye.Event, []string, error) {
		fields, err := currentFields(cur)
		if err != nil {
			return cur, nil, err
		}
		var named []string
		for k, v := range patch {
			column := k
			if k == "session" {
				// The reference's form of session_id.
				delete(fields, "session_id")
				column = "session_id"
			}
			if slices.Contains(mutableMembers(), column) && !slices.Contains(named, column) {
				named = append(named, column)
			}
			if string(v) == "null" {
				delete(fields, k)
				continue
			}
			if k == "data" {
				merged, err := mergePatch(fields["data"], v)
				if err != nil {
					return cur, nil, err
				}
				v = merged
			}
			fields[k] = v
		}
		next, reasons := s.cfg.Rules.Correct(cur, fields)
		if len(reasons) > 0 {
			return cur, nil, invalid(reasons)
		}
		members = slices.Sorted(slices.Values(named))
		if slices.ContainsFunc(named, func(m string) bool { return m == "category" || m == "name" || m == "data" }) {
			named = append(named, "schema_version") // checked anew against its type's schema
		}
		return next, named, nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionEventUpdate, id, map[string]any{"members": members})
	writeJSON(w, http.StatusOK, eventToJSON(ev))
}

func (s *Server) deleteEvent(w http.ResponseWriter, r *http.Request) {
	id, err := eventID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.cfg.Store.DeleteEvent(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionEventDelete, id, nil)
	w.WriteHeader(http.StatusNoContent)
}

// readObject reads a body that must be one JSON object.
func (s *Server) readObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	body, _, ok := readBody(w, r, s.cfg.MaxEventBytes, false)
	if !ok {
		return nil, false
	}
	fields, err := eye.DecodeObject(body)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, eye.CodeMalformedJSON, sentence(err.Error()), nil)
		return nil, false
	}
	return fields, true
}

// currentFields renders the mutable members of an event as JSON.
func currentFields(ev eye.Event) (map[string]json.RawMessage, error) {
	j := eventToJSON(ev)
	fields := map[string]json.RawMessage{"data": ev.Data}
	for k, v := range map[string]string{"session_id": j.SessionID, "category": j.Category, "name": j.Name, "timestamp": j.Timestamp} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		fields[k] = b
	}
	return fields, nil
}

// mergePatch applies an RFC 7396 merge patch to a JSON value.
func mergePatch(target, patch json.RawMessage) (json.RawMessage, error) {
	if len(patch) == 0 || patch[0] != '{' {
		return patch, nil
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, eye.Errorf(eye.EINVALID, "The patch is not valid JSON.")
	}
	t := map[string]json.RawMessage{}
	if len(target) > 0 && target[0] == '{' {
		if err := json.Unmarshal(target, &t); err != nil {
			return nil, err
		}
	}
	for k, v := range p {
		if string(v) == "null" {
			delete(t, k)
			continue
		}
		merged, err := mergePatch(t[k], v)
		if err != nil {
			return nil, err
		}
		t[k] = merged
	}
	return json.Marshal(t)
}

// invalid is the error of a correction that breaks the rules.
func invalid(reasons []eye.Reason) error {
	return &eye.Error{Code: eye.EUNPROCESSABLE, Message: "The event is not valid: " + eye.ErrorRecord{Reasons: reasons}.Message() + ".", Reasons: reasons}
}

// sentence makes a message start with a capital and end with a period.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
