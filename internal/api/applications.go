package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/theeye/eye"
)

// applicationJSON is an application as the API shows it.
type applicationJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Active    bool   `json:"active"`

	AllowedOrigins []string `json:"allowed_origins"`
}

func applicationToJSON(a eye.Application) applicationJSON {
	origins := a.AllowedOrigins
	if origins == nil {
		origins = []string{}
	}
	return applicationJSON{ID: a.ID, Name: a.Name, CreatedAt: eye.FormatTime(a.CreatedAt), Active: a.Active,
		AllowedOrigins: origins}
}

// keyJSON is an API key as lists show it: never its secret.
type keyJSON struct {
	ID            string   `json:"id"`
	Prefix        string   `json:"prefix"`
	Scopes        []string `json:"scopes"`
	Label         string   `json:"label"`
	ApplicationID string   `json:"application_id"`
	CreatedAt     string   `json:"created_at"`
	RevokedAt     *string  `json:"revoked_at"`
	ExpiresAt     *string  `json:"expires_at"`   // null: never
	LastUsedAt    *string  `json:"last_used_at"` // null: never used (recorded about every minute)
}

func keyToJSON(k eye.Key) keyJSON {
	return keyJSON{ID: k.ID, Prefix: k.Prefix, Scopes: k.Scopes, Label: k.Label, ApplicationID: k.ApplicationID,
		CreatedAt: eye.FormatTime(k.CreatedAt), RevokedAt: optionalTime(k.RevokedAt), ExpiresAt: optionalTime(k.ExpiresAt),
		LastUsedAt: optionalTime(k.LastUsedAt)}
}

// newKeyJSON is the answer to a key's creation, the one place its secret
// is ever shown.
type newKeyJSON struct {
	keyJSON
	Key string `json:"key"`
}

// body reads the members of a JSON object body, with the reasons for which
// it is invalid as they are found.
type body struct {
	fields  map[string]json.RawMessage
	reasons []eye.Reason
}

func (b *body) fail(code, field, format string, args ...any) {
	b.reasons = append(b.reasons, eye.Reason{Code: code, Field: field, Message: fmt.Sprintf(format, args...)})
}

// only refuses members other than those named.
func (b *body) only(names ...string) {
	for _, k := range slices.Sorted(maps.Keys(b.fields)) {
		if !slices.Contains(names, k) {
			b.fail(eye.CodeUnknownField, k, "%s is not a member here (known: %s)", k, strings.Join(names, ", "))
		}
	}
}

// name reads a required or optional name-like string.
func (b *body) name(field string, required bool) (string, bool) {
	raw, ok := b.fields[field]
	if !ok || string(raw) == "null" {
		if required {
			b.fail(eye.CodeMissingField, field, "%s is missing", field)
		}
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		b.fail(eye.CodeInvalidType, field, "%s must be a string", field)
		return "", false
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		b.fail(eye.CodeMissingField, field, "%s is empty", field)
		return "", false
	case utf8.RuneCountInString(s) > eye.MaxApplicationNameLen:
		b.fail(eye.CodeTooLong, field, "%s is longer than %d characters", field, eye.MaxApplicationNameLen)
		return "", false
	}
	return s, true
}

func (b *body) err() error {
	if len(b.reasons) == 0 {
		return nil
	}
	return invalid(b.reasons)
}

// createApplication answers POST /applications/ {"name": …,
// "allowed_origins": […]}.
func (s *Server) createApplication(w http.ResponseWriter, r *http.Request) {
	fields, ok := s.readObject(w, r)
	if !ok {
		return
	}
	b := &body{fields: fields}
	b.only("name", "allowed_origins")
	name, _ := b.name("name", true)
	origins, _ := b.readOrigins("allowed_origins")
	if err := b.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	a := eye.Application{ID: eye.NewID(), Name: name, CreatedAt: now(), Active: true, AllowedOrigins: origins}
	if err := s.cfg.Store.CreateApplication(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	details := map[string]any{"name": a.Name}
	if len(a.AllowedOrigins) > 0 {
		details["allowed_origins"] = a.AllowedOrigins
	}
	s.audit(r, eye.ActionApplicationCreate, a.ID, details)
	s.refreshKeys(r)
	w.Header().Set("Location", "/applications/"+a.ID+"/")
	writeJSON(w, http.StatusCreated, applicationToJSON(a))
}

// listApplications answers GET /applications/: every application, oldest
// first, in one page.
func (s *Server) listApplications(w http.ResponseWriter, r *http.Request) {
	if p := parseParams(r); p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	apps, err := s.cfg.Store.Applications(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listJSON[applicationJSON]{Results: make([]applicationJSON, len(apps))}
	for i, a := range apps {
		out.Results[i] = applicationToJSON(a)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getApplication(w http.ResponseWriter, r *http.Request) {
	a, err := s.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, applicationToJSON(a))
}

// patchApplication renames an application, (de)activates it or sets its
// allowed origins: {"name": …, "active": …, "allowed_origins": […]}, each
// optional.
func (s *Server) patchApplication(w http.ResponseWriter, r *http.Request) {
	a, err := s.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fields, ok := s.readObject(w, r)
	if !ok {
		return
	}
	b := &body{fields: fields}
	b.only("name", "active", "allowed_origins")
	if name, ok := b.name("name", false); ok {
		if name == "" {
			b.fail(eye.CodeMissingField, "name", "name is empty")
		}
		a.Name = name
	}
	if raw, ok := fields["active"]; ok {
		if err := json.Unmarshal(raw, &a.Active); err != nil || string(raw) == "null" {
			b.fail(eye.CodeInvalidType, "active", "active must be true or false")
		}
	}
	if origins, ok := b.readOrigins("allowed_origins"); ok {
		a.AllowedOrigins = origins
	}
	if err := b.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.cfg.Store.UpdateApplication(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	details := map[string]any{"name": a.Name, "active": a.Active}
	if _, ok := fields["allowed_origins"]; ok {
		details["allowed_origins"] = a.AllowedOrigins
	}
	s.audit(r, eye.ActionApplicationUpdate, a.ID, details)
	s.refreshKeys(r)
	writeJSON(w, http.StatusOK, applicationToJSON(a))
}

// deleteApplication deactivates an application: its keys stop working at
// once; its events stay.
func (s *Server) deleteApplication(w http.ResponseWriter, r *http.Request) {
	a, err := s.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a.Active = false
	if err := s.cfg.Store.UpdateApplication(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionApplicationDeactivate, a.ID, map[string]any{"name": a.Name})
	s.refreshKeys(r)
	w.WriteHeader(http.StatusNoContent)
}

// createKey answers POST /applications/{id}/keys/ {"scopes": […], "label": …,
// "expires_at": …}.
// The secret is in this answer only; the store keeps its hash.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	a, err := s.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fields, ok := s.readObject(w, r)
	if !ok {
		return
	}
	b := &body{fields: fields}
	b.only("scopes", "label", "expires_at")
	scopes := b.scopes()
	label, _ := b.name("label", false)
	expires := b.expiry("expires_at")
	if err := b.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	if !a.Active {
		s.fail(w, r, eye.Errorf(eye.ECONFLICT, "The application %q is deactivated: activate it first.", a.Name))
		return
	}
	secret, key := NewSecret()
	key.Scopes, key.Label, key.ApplicationID = scopes, label, a.ID
	key.CreatedAt = key.CreatedAt.Truncate(time.Microsecond)
	key.ExpiresAt = expires
	if err := s.cfg.Store.CreateKey(r.Context(), key); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionKeyCreate, key.ID, map[string]any{"application_id": a.ID, "scopes": key.Scopes, "label": key.Label,
		"prefix": key.Prefix, "expires_at": optionalTime(key.ExpiresAt)})
	s.refreshKeys(r)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, newKeyJSON{keyJSON: keyToJSON(key), Key: secret})
}

// expiry reads an optional expiry: a time (RFC 3339) in the future, or
// null for never. The zero time is never.
func (b *body) expiry(field string) time.Time {
	raw, ok := b.fields[field]
	if !ok || string(raw) == "null" {
		return time.Time{}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		b.fail(eye.CodeInvalidType, field, "%s must be a timestamp (RFC 3339, e.g. 2027-01-01T00:00:00Z) or null", field)
		return time.Time{}
	}
	t, err := eye.ParseTime(s)
	if err != nil {
		b.fail(eye.CodeInvalidValue, field, "%s is not a timestamp: %q (use RFC 3339, e.g. 2027-01-01T00:00:00Z)", field, s)
		return time.Time{}
	}
	if !t.After(time.Now()) {
		b.fail(eye.CodeInvalidValue, field, "%s is not in the future: %s", field, eye.FormatTime(t))
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// scopes reads a required, non-empty list of known scopes.
func (b *body) scopes() []string {
	raw, ok := b.fields["scopes"]
	if !ok || string(raw) == "null" {
		b.fail(eye.CodeMissingField, "scopes", "scopes is missing: give one or more of ingest, read, admin, or browser alone")
		return nil
	}
	var scopes []string
	if err := json.Unmarshal(raw, &scopes); err != nil {
		b.fail(eye.CodeInvalidType, "scopes", "scopes must be an array of strings")
		return nil
	}
	if len(scopes) == 0 {
		b.fail(eye.CodeMissingField, "scopes", "scopes is empty: give one or more of ingest, read, admin, or browser alone")
	}
	var out []string
	for _, sc := range scopes {
		switch sc {
		case eye.ScopeIngest, eye.ScopeRead, eye.ScopeAdmin, eye.ScopeBrowser:
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		default:
			b.fail(eye.CodeInvalidValue, "scopes", "%q is not a scope: use ingest, read, admin or browser", sc)
		}
	}
	if slices.Contains(out, eye.ScopeBrowser) && len(out) > 1 {
		b.fail(eye.CodeInvalidValue, "scopes", "browser keys are public: the browser scope cannot be combined with another")
	}
	return out
}

// listKeys answers GET /applications/{id}/keys/: prefixes and labels,
// revoked keys included, never a secret.
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	if p := parseParams(r); p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	a, err := s.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	keys, err := s.cfg.Store.ApplicationKeys(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listJSON[keyJSON]{Results: make([]keyJSON, len(keys))}
	for i, k := range keys {
		out.Results[i] = keyToJSON(k)
	}
	writeJSON(w, http.StatusOK, out)
}

// revokeKey revokes a key: at once on this instance, within the refresh
// interval on the others.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Store.RevokeKey(r.Context(), r.PathValue("id"), r.PathValue("key_id")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, eye.ActionKeyRevoke, r.PathValue("key_id"), map[string]any{"application_id": r.PathValue("id")})
	s.refreshKeys(r)
	w.WriteHeader(http.StatusNoContent)
}

// refreshKeys makes a change to keys or applications effective on this
// instance at once.
func (s *Server) refreshKeys(r *http.Request) {
	if err := s.cfg.Keys.Refresh(r.Context()); err != nil {
		s.log.Warn("refresh keys after a change", "error", err)
	}
}
