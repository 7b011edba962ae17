package admin

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// applicationsData is the content of the applications page.
type applicationsData struct {
	Applications []applicationRow
	Name         string // the name the form was sent with
	Problem      string
}

// applicationRow is an application with the count of its working keys,
// and of those never used or unused for a while.
type applicationRow struct {
	eye.Application
	Keys, Idle int
}

// idleAfter is how long unused a key is shown as idle: an unused key is
// one to revoke.
const idleAfter = 30 * 24 * time.Hour

// keyRow is a key as the application's page shows it.
type keyRow struct {
	eye.Key
	Idle string // "never used", "unused for N days", or "" for a key in use (or revoked)
}

// idleness says whether a working key is never used, or unused for
// idleAfter or more, at now; "" otherwise.
func idleness(k eye.Key, now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero() || k.Expired(now):
		return ""
	case k.LastUsedAt.IsZero():
		return "never used"
	case now.Sub(k.LastUsedAt) >= idleAfter:
		return "unused for " + strconv.Itoa(int(now.Sub(k.LastUsedAt)/(24*time.Hour))) + " days"
	}
	return ""
}

// applications answers GET /admin/applications: every application, the
// form to create one, and the users of the UI.
func (h *Handler) applications(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderApplications(w, r, s, http.StatusOK, applicationsData{})
}

func (h *Handler) renderApplications(w http.ResponseWriter, r *http.Request, s *session, status int, d applicationsData) {
	h.flushUses(r)
	apps, err := h.cfg.Store.Applications(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	keys, err := h.cfg.Store.Keys(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	now := time.Now()
	for _, a := range apps {
		row := applicationRow{Application: a}
		for _, k := range keys {
			if k.ApplicationID == a.ID && k.UserID == "" {
				row.Keys++
				if idleness(k, now) != "" {
					row.Idle++
				}
			}
		}
		d.Applications = append(d.Applications, row)
	}
	h.render(w, r, status, "applications", newView(s, "Applications and keys", "applications", d))
}

// createApplication answers POST /admin/applications: name.
func (h *Handler) createApplication(w http.ResponseWriter, r *http.Request, s *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	d := applicationsData{Name: name}
	if name == "" || utf8.RuneCountInString(name) > eye.MaxApplicationNameLen {
		d.Problem = "An application's name has 1 to 100 characters."
		h.renderApplications(w, r, s, http.StatusUnprocessableEntity, d)
		return
	}
	a := eye.Application{ID: eye.NewID(), Name: name, CreatedAt: time.Now().UTC().Truncate(time.Microsecond), Active: true}
	if err := h.cfg.Store.CreateApplication(r.Context(), a); err != nil {
		if eye.ErrorCode(err) == eye.ECONFLICT {
			d.Problem = eye.ErrorMessage(err)
			h.renderApplications(w, r, s, http.StatusConflict, d)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	h.record(r, s, eye.ActionApplicationCreate, a.ID, map[string]any{"name": a.Name})
	h.log.Info("admin: application created", "user", s.user.Name, "application", a.ID, "name", a.Name)
	redirect(w, r, "/admin/applications/"+a.ID+"?outcome=created")
}

// applicationData is the content of an application's page.
type applicationData struct {
	Application    eye.Application
	Keys           []keyRow
	Idle           int     // working keys never used or unused for 30 days
	NewKey         *newKey // the key just made, shown once
	Scopes         []string
	Label          string
	Expires        string // the expiry chosen: "" (never) or a number of days
	Problem        string
	Origins        string // the allowed origins as sent, one a line, when refused
	OriginsProblem string
	Now            time.Time
}

// keyLifetimes returns the expiries the key form offers, in days.
func keyLifetimes() []string { return []string{"7", "30", "90", "365"} }

// newKey is a key just made, with its secret.
type newKey struct {
	Key    eye.Key
	Secret string
}

// application answers GET /admin/applications/{id}: its keys, revoked
// ones included (never a secret), and the form to make one.
func (h *Handler) application(w http.ResponseWriter, r *http.Request, s *session) {
	v := newView(s, "", "applications", nil)
	switch r.URL.Query().Get("outcome") {
	case "created":
		v.Outcome = &outcome{Kind: "ok", Text: "Application created. Give it a key below."}
	case "revoked":
		v.Outcome = &outcome{Kind: "ok", Text: "Key revoked: it stops working at once here, and within seconds everywhere."}
	case "origins":
		v.Outcome = &outcome{Kind: "ok", Text: "Allowed origins saved: browser keys follow them at once here, and within seconds everywhere."}
	}
	h.renderApplication(w, r, s, http.StatusOK, v, applicationData{})
}

func (h *Handler) renderApplication(w http.ResponseWriter, r *http.Request, s *session, status int, v view, d applicationData) {
	h.flushUses(r)
	a, err := h.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	keys, err := h.cfg.Store.ApplicationKeys(r.Context(), a.ID)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	slices.Reverse(keys) // newest first
	now := time.Now()
	d.Now = now
	for _, k := range keys {
		row := keyRow{Key: k, Idle: idleness(k, now)}
		if row.Idle != "" {
			d.Idle++
		}
		d.Keys = append(d.Keys, row)
	}
	d.Application = a
	if d.Scopes == nil {
		d.Scopes = []string{eye.ScopeIngest}
	}
	v.Title, v.Data = a.Name, d
	h.render(w, r, status, "application", v)
}

// createKey answers POST /admin/applications/{id}/keys: scope (repeated)
// and label. The page that answers shows the secret, once; the store
// keeps its hash.
func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := h.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	v := newView(s, "", "applications", nil)
	d := applicationData{Label: strings.TrimSpace(r.PostFormValue("label")), Expires: r.PostFormValue("expires")}
	for _, sc := range r.PostForm["scope"] {
		if slices.Contains([]string{eye.ScopeIngest, eye.ScopeRead, eye.ScopeAdmin, eye.ScopeBrowser}, sc) && !slices.Contains(d.Scopes, sc) {
			d.Scopes = append(d.Scopes, sc)
		}
	}
	switch {
	case len(d.Scopes) == 0:
		d.Problem = "Choose one scope at least."
	case slices.Contains(d.Scopes, eye.ScopeBrowser) && len(d.Scopes) > 1:
		d.Problem = "A browser key is public: the browser scope cannot be combined with another."
	case utf8.RuneCountInString(d.Label) > eye.MaxApplicationNameLen:
		d.Problem = "A label has 100 characters at most."
	case !a.Active:
		d.Problem = "The application is deactivated: it cannot have new keys."
	case d.Expires != "" && !slices.Contains(keyLifetimes(), d.Expires):
		d.Problem = "Choose an expiry among those offered."
	}
	if d.Problem != "" {
		h.renderApplication(w, r, s, http.StatusUnprocessableEntity, v, d)
		return
	}
	secret, key := api.NewSecret()
	key.Scopes, key.Label, key.ApplicationID = d.Scopes, d.Label, a.ID
	key.CreatedAt = key.CreatedAt.Truncate(time.Microsecond)
	if d.Expires != "" {
		days, _ := strconv.Atoi(d.Expires) // one of keyLifetimes()
		key.ExpiresAt = key.CreatedAt.Add(time.Duration(days) * 24 * time.Hour)
	}
	if err := h.cfg.Store.CreateKey(r.Context(), key); err != nil {
		h.fail(w, r, s, err)
		return
	}
	var expires any // null in the audit log: never
	if !key.ExpiresAt.IsZero() {
		expires = eye.FormatTime(key.ExpiresAt)
	}
	h.record(r, s, eye.ActionKeyCreate, key.ID, map[string]any{"application_id": a.ID, "scopes": key.Scopes,
		"label": key.Label, "prefix": key.Prefix, "expires_at": expires})
	h.refreshKeys(r)
	h.log.Info("admin: key created", "user", s.user.Name, "application", a.ID, "key", key.ID, "prefix", key.Prefix)
	d.NewKey, d.Label, d.Scopes, d.Expires = &newKey{Key: key, Secret: secret}, "", nil, ""
	v.Outcome = &outcome{Kind: "ok", Text: "Key created. Copy it now: it is shown this once."}
	h.renderApplication(w, r, s, http.StatusOK, v, d)
}

// setOrigins answers POST /admin/applications/{id}/origins: origins, one
// a line, the web origins whose pages may send with its browser keys.
func (h *Handler) setOrigins(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := h.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	v := newView(s, "", "applications", nil)
	d := applicationData{Origins: r.PostFormValue("origins")}
	origins, err := api.NormalizeOrigins(strings.Fields(d.Origins)) // one a line; an origin has no space
	if err != nil {
		d.OriginsProblem = err.Error() + "."
		h.renderApplication(w, r, s, http.StatusUnprocessableEntity, v, d)
		return
	}
	a.AllowedOrigins = origins
	if err := h.cfg.Store.UpdateApplication(r.Context(), a); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.refreshKeys(r)
	h.record(r, s, eye.ActionApplicationUpdate, a.ID, map[string]any{"name": a.Name, "active": a.Active, "allowed_origins": origins})
	h.log.Info("admin: allowed origins set", "user", s.user.Name, "application", a.ID, "origins", len(origins))
	redirect(w, r, "/admin/applications/"+a.ID+"?outcome=origins")
}

// revokeKey answers POST /admin/applications/{id}/keys/{key}/revoke.
func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	app, key := r.PathValue("id"), r.PathValue("key")
	if err := h.cfg.Store.RevokeKey(r.Context(), app, key); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.refreshKeys(r)
	h.record(r, s, eye.ActionKeyRevoke, key, map[string]any{"application_id": app})
	h.log.Info("admin: key revoked", "user", s.user.Name, "application", app, "key", key)
	redirect(w, r, "/admin/applications/"+app+"?outcome=revoked")
}
