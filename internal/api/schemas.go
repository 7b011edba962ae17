package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/schema"
)

// maxSchemaBytes bounds a schema's size.
const maxSchemaBytes = 256 << 10

// schemaJSON is one version of an event type's schema.
type schemaJSON struct {
	Category  string          `json:"category"`
	Name      string          `json:"name"`
	Version   int             `json:"version"`
	Active    bool            `json:"active"`
	CreatedAt string          `json:"created_at"`
	Schema    json.RawMessage `json:"schema,omitempty"`
}

func schemaToJSON(s eye.Schema) schemaJSON {
	return schemaJSON{Category: s.Category, Name: s.Name, Version: s.Version, Active: s.Active,
		CreatedAt: eye.FormatTime(s.CreatedAt), Schema: s.Body}
}

// schemaWithVersions is a type's latest schema with the list of its
// versions.
type schemaWithVersions struct {
	schemaJSON
	Versions []schemaJSON `json:"versions"`
}

// eventTypeJSON is an event type: the tracking plan against reality.
type eventTypeJSON struct {
	Category      string  `json:"category"`
	Name          string  `json:"name"`
	Events        int64   `json:"events"`
	Errors        int64   `json:"errors"`
	FirstSeen     *string `json:"first_seen"`
	LastSeen      *string `json:"last_seen"`
	SchemaVersion *int    `json:"schema_version"`
}

// schemaPath is the path of a type's schema, its segments escaped.
func schemaPath(category, name string) string {
	return "/schemas/" + url.PathEscape(category) + "/" + url.PathEscape(name) + "/"
}

// listSchemas answers GET /schemas/: the latest schema of every type that
// has one, without bodies.
func (s *Server) listSchemas(w http.ResponseWriter, r *http.Request) {
	if p := parseParams(r); p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	list, err := s.cfg.Store.Schemas(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listJSON[schemaJSON]{Results: make([]schemaJSON, len(list))}
	for i, sc := range list {
		out.Results[i] = schemaToJSON(sc)
		out.Results[i].Schema = nil
	}
	writeJSON(w, http.StatusOK, out)
}

// putSchema answers PUT /schemas/{category}/{name}: the body is a JSON
// Schema, stored as the type's next version once it compiles.
func (s *Server) putSchema(w http.ResponseWriter, r *http.Request) {
	category, name := r.PathValue("category"), r.PathValue("name")
	if err := schema.CheckType(category, name); err != nil {
		s.fail(w, r, err)
		return
	}
	body, _, ok := readBody(w, r, maxSchemaBytes, false)
	if !ok {
		return
	}
	if _, err := schema.Compile(body); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "invalid_schema", "The schema does not compile: "+err.Error(), nil)
		return
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "invalid_schema", "The schema is not valid JSON.", nil)
		return
	}
	sc, err := s.cfg.Store.PutSchema(r.Context(), eye.Schema{Category: category, Name: name, Body: buf.Bytes(),
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionSchemaPut, category+"/"+name, map[string]any{"category": category, "name": name, "version": sc.Version})
	s.refreshSchemas(r)
	w.Header().Set("Location", schemaPath(category, name)+"versions/"+strconv.Itoa(sc.Version)+"/")
	writeJSON(w, http.StatusCreated, schemaToJSON(sc))
}

// getSchema answers GET /schemas/{category}/{name}: the latest version and
// the list of versions.
func (s *Server) getSchema(w http.ResponseWriter, r *http.Request) {
	category, name := r.PathValue("category"), r.PathValue("name")
	sc, err := s.cfg.Store.Schema(r.Context(), category, name, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	versions, err := s.cfg.Store.SchemaVersions(r.Context(), category, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := schemaWithVersions{schemaJSON: schemaToJSON(sc), Versions: make([]schemaJSON, len(versions))}
	for i, v := range versions {
		out.Versions[i] = schemaToJSON(v)
	}
	writeJSON(w, http.StatusOK, out)
}

// getSchemaVersion answers GET /schemas/{category}/{name}/versions/{n}.
func (s *Server) getSchemaVersion(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 {
		s.fail(w, r, eye.Errorf(eye.ENOTFOUND, "No schema version %q: versions are 1, 2, …", r.PathValue("version")))
		return
	}
	sc, err := s.cfg.Store.Schema(r.Context(), r.PathValue("category"), r.PathValue("name"), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, schemaToJSON(sc))
}

// deleteSchema stops checking a type; its versions are kept.
func (s *Server) deleteSchema(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Store.DeleteSchema(r.Context(), r.PathValue("category"), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionSchemaDelete, r.PathValue("category")+"/"+r.PathValue("name"),
		map[string]any{"category": r.PathValue("category"), "name": r.PathValue("name")})
	s.refreshSchemas(r)
	w.WriteHeader(http.StatusNoContent)
}

// refreshSchemas makes a schema change effective on this instance at once
// (the others refresh on their own within seconds).
func (s *Server) refreshSchemas(r *http.Request) {
	if s.cfg.Schemas == nil {
		return
	}
	if err := s.cfg.Schemas.Refresh(r.Context()); err != nil {
		s.log.Warn("refresh schemas after a change", "error", err)
	}
}

// listEventTypes answers GET /event-types/: every type seen or planned,
// with its counts and its schema.
func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request) {
	if p := parseParams(r); p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	types, err := s.cfg.Store.EventTypes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listJSON[eventTypeJSON]{Results: make([]eventTypeJSON, len(types))}
	for i, t := range types {
		out.Results[i] = eventTypeJSON{Category: t.Category, Name: t.Name, Events: t.Events, Errors: t.Errors,
			FirstSeen: optionalTime(t.FirstSeen), LastSeen: optionalTime(t.LastSeen)}
		if t.SchemaVersion > 0 {
			v := t.SchemaVersion
			out.Results[i].SchemaVersion = &v
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// jobJSON is a background job: a replay (replayed, still_invalid) or a
// deletion (matched, deleted).
type jobJSON struct {
	ID           string            `json:"id"`
	Kind         string            `json:"kind"`
	Status       string            `json:"status"`
	Filter       map[string]string `json:"filter"`
	Replayed     *int64            `json:"replayed,omitempty"`
	StillInvalid *int64            `json:"still_invalid,omitempty"`
	Matched      *int64            `json:"matched,omitempty"`
	Deleted      *int64            `json:"deleted,omitempty"`
	Error        *string           `json:"error"`
	CreatedAt    string            `json:"created_at"`
	UpdatedAt    string            `json:"updated_at"`
}

func jobToJSON(j eye.Job) jobJSON {
	if j.Kind == eye.JobDelete {
		return jobJSON{ID: j.ID, Kind: j.Kind, Status: j.Status, Filter: filterParams(j.EventFilter), Matched: &j.Matched,
			Deleted: &j.Deleted, Error: optional(j.Error), CreatedAt: eye.FormatTime(j.CreatedAt), UpdatedAt: eye.FormatTime(j.UpdatedAt)}
	}
	f := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set("application", j.Filter.ApplicationID)
	set("status", j.Filter.Status)
	set("code", j.Filter.Code)
	set("category", j.Filter.Category)
	set("name", j.Filter.Name)
	set("session", j.Filter.SessionID)
	if !j.Filter.From.IsZero() {
		set("received__gte", eye.FormatTime(j.Filter.From))
	}
	if !j.Filter.To.IsZero() {
		set("received__lte", eye.FormatTime(j.Filter.To))
	}
	return jobJSON{ID: j.ID, Kind: j.Kind, Status: j.Status, Filter: f, Replayed: &j.Replayed,
		StillInvalid: &j.StillInvalid, Error: optional(j.Error), CreatedAt: eye.FormatTime(j.CreatedAt),
		UpdatedAt: eye.FormatTime(j.UpdatedAt)}
}

// getJob answers GET /jobs/{id}/: a job's progress and final counts.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.cfg.Store.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobToJSON(j))
}

// replayOne answers POST /errors/{id}/replay/: 200 with the event, or 422
// with the reasons it is still invalid.
func (s *Server) replayOne(w http.ResponseWriter, r *http.Request) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		s.fail(w, r, eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", r.PathValue("id")))
		return
	}
	ev, reasons, err := s.cfg.Replay.One(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	outcome := "stored"
	if len(reasons) > 0 {
		outcome = "still_invalid"
	}
	s.audit(r, eye.ActionErrorReplay, id, map[string]any{"outcome": outcome})
	if len(reasons) > 0 {
		s.fail(w, r, &eye.Error{Code: eye.EUNPROCESSABLE, Reasons: reasons,
			Message: fmt.Sprintf("The event is still invalid: %s.", eye.ErrorRecord{Reasons: reasons}.Message())})
		return
	}
	writeJSON(w, http.StatusOK, eventToJSON(ev))
}

// replayMany answers POST /errors/replay/: the filters of GET /errors/
// (status defaults to open) select the records a background job replays.
func (s *Server) replayMany(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r, errorParams()...)
	f := errorFilter(p)
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	if f.Status == "" {
		f.Status = eye.StatusOpen
	}
	j, err := s.cfg.Replay.Start(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionErrorsReplayJob, j.ID, map[string]any{"filter": jobToJSON(j).Filter})
	w.Header().Set("Location", "/jobs/"+j.ID+"/")
	writeJSON(w, http.StatusAccepted, jobToJSON(j))
}

// discardError answers DELETE /errors/{id}/: the record is kept, marked
// discarded, and bulk replays leave it alone.
func (s *Server) discardError(w http.ResponseWriter, r *http.Request) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		s.fail(w, r, eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", r.PathValue("id")))
		return
	}
	if err := s.cfg.Store.SetErrorStatus(r.Context(), id, eye.StatusDiscarded); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionErrorDiscard, id, nil)
	w.WriteHeader(http.StatusNoContent)
}
