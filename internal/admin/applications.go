package admin

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// applicationsData is the content of the applications page.
type applicationsData struct {
	Applications []eye.Application
	Users        []eye.User
	Name         string // the name the form was sent with
	Problem      string
}

// applications answers GET /admin/applications: every application, the
// form to create one, and the users of the UI.
func (h *Handler) applications(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderApplications(w, r, s, http.StatusOK, applicationsData{})
}

func (h *Handler) renderApplications(w http.ResponseWriter, r *http.Request, s *session, status int, d applicationsData) {
	var err error
	if d.Applications, err = h.cfg.Store.Applications(r.Context()); err != nil {
		h.fail(w, r, s, err)
		return
	}
	if d.Users, err = h.cfg.Store.Users(r.Context()); err != nil {
		h.fail(w, r, s, err)
		return
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
	h.log.Info("admin: application created", "user", s.user.Name, "application", a.ID, "name", a.Name)
	redirect(w, r, "/admin/applications/"+a.ID+"?outcome=created")
}

// applicationData is the content of an application's page.
type applicationData struct {
	Application eye.Application
	Keys        []eye.Key
	NewKey      *newKey // the key just made, shown once
	Scopes      []string
	Label       string
	Problem     string
}

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
	}
	h.renderApplication(w, r, s, http.StatusOK, v, applicationData{})
}

func (h *Handler) renderApplication(w http.ResponseWriter, r *http.Request, s *session, status int, v view, d applicationData) {
	a, err := h.cfg.Store.Application(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if d.Keys, err = h.cfg.Store.ApplicationKeys(r.Context(), a.ID); err != nil {
		h.fail(w, r, s, err)
		return
	}
	slices.Reverse(d.Keys) // newest first
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
	d := applicationData{Label: strings.TrimSpace(r.PostFormValue("label"))}
	for _, sc := range r.PostForm["scope"] {
		if slices.Contains([]string{eye.ScopeIngest, eye.ScopeRead, eye.ScopeAdmin}, sc) && !slices.Contains(d.Scopes, sc) {
			d.Scopes = append(d.Scopes, sc)
		}
	}
	switch {
	case len(d.Scopes) == 0:
		d.Problem = "Choose one scope at least."
	case utf8.RuneCountInString(d.Label) > eye.MaxApplicationNameLen:
		d.Problem = "A label has 100 characters at most."
	case !a.Active:
		d.Problem = "The application is deactivated: it cannot have new keys."
	}
	if d.Problem != "" {
		h.renderApplication(w, r, s, http.StatusUnprocessableEntity, v, d)
		return
	}
	secret, key := api.NewSecret()
	key.Scopes, key.Label, key.ApplicationID = d.Scopes, d.Label, a.ID
	key.CreatedAt = key.CreatedAt.Truncate(time.Microsecond)
	if err := h.cfg.Store.CreateKey(r.Context(), key); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.refreshKeys(r)
	h.log.Info("admin: key created", "user", s.user.Name, "application", a.ID, "key", key.ID, "prefix", key.Prefix)
	d.NewKey, d.Label, d.Scopes = &newKey{Key: key, Secret: secret}, "", nil
	v.Outcome = &outcome{Kind: "ok", Text: "Key created. Copy it now: it is shown this once."}
	h.renderApplication(w, r, s, http.StatusOK, v, d)
}

// revokeKey answers POST /admin/applications/{id}/keys/{key}/revoke.
func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	app, key := r.PathValue("id"), r.PathValue("key")
	if err := h.cfg.Store.RevokeKey(r.Context(), app, key); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.refreshKeys(r)
	h.log.Info("admin: key revoked", "user", s.user.Name, "application", app, "key", key)
	redirect(w, r, "/admin/applications/"+app+"?outcome=revoked")
}
