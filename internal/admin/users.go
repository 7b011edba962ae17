package admin

import (
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/audit"
)

// record adds an action done in the UI to the audit log, with the user
// as its actor.
func (h *Handler) record(r *http.Request, s *session, action, target string, details any) {
	addr := r.RemoteAddr // the client's, set from a trusted proxy's headers
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	audit.Record(r.Context(), h.cfg.Store, h.log, eye.AuditEntry{Actor: "user:" + s.user.ID, ActorName: s.user.Name,
		Action: action, Target: target, Details: audit.Details(details), Addr: addr})
}

// flushUses records this process's noted key uses before a page shows
// them, so that a key used a moment ago here is not shown as never used.
// (Other processes record theirs within a minute.)
func (h *Handler) flushUses(r *http.Request) {
	if err := h.cfg.Keys.FlushUses(r.Context()); err != nil {
		h.log.Warn("admin: record the keys' last uses", "error", err)
	}
}

// usersData is the content of the users page.
type usersData struct {
	Users    []userRow
	Name     string // the name the creation form was sent with
	Problem  string
	Self     string            // the logged-in user's id
	Problems map[string]string // by user id: why a password reset failed
}

// userRow is a user with the user's logins.
type userRow struct {
	eye.User
	Logins    int       // login sessions that work
	LastLogin time.Time // the latest of them, zero when none
	LastSeen  time.Time // the last use of any of them
}

// users answers GET /admin/users: the users of the UI, a form to create
// one, and for each a form to reset the password and a button to delete it.
func (h *Handler) users(w http.ResponseWriter, r *http.Request, s *session) {
	v := newView(s, "Users", "users", nil)
	switch r.URL.Query().Get("outcome") {
	case "created":
		v.Outcome = &outcome{Kind: "ok", Text: "User created: they can log in now."}
	case "deleted":
		v.Outcome = &outcome{Kind: "ok", Text: "User deleted: their logins are ended."}
	case "password":
		v.Outcome = &outcome{Kind: "ok", Text: "Password reset: the user's logins are ended; give them the new password."}
	}
	h.renderUsers(w, r, s, http.StatusOK, v, usersData{})
}

func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, s *session, status int, v view, d usersData) {
	h.flushUses(r)
	list, err := h.cfg.Store.Users(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	keys, err := h.cfg.Store.Keys(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	byUser := map[string]*userRow{}
	for _, u := range list {
		d.Users = append(d.Users, userRow{User: u})
	}
	for i := range d.Users {
		byUser[d.Users[i].ID] = &d.Users[i]
	}
	for _, k := range keys {
		if u := byUser[k.UserID]; u != nil && k.UserID != "" {
			u.Logins++
			if k.CreatedAt.After(u.LastLogin) {
				u.LastLogin = k.CreatedAt
			}
			if k.LastUsedAt.After(u.LastSeen) {
				u.LastSeen = k.LastUsedAt
			}
		}
	}
	d.Self = s.user.ID
	v.Data = d
	h.render(w, r, status, "users", v)
}

// checkNewUser returns why a name and password cannot make a user, "" when
// they can.
func checkNewUser(name, password string) string {
	switch {
	case name == "" || utf8.RuneCountInString(name) > eye.MaxApplicationNameLen:
		return "A user's name has 1 to 100 characters."
	case len(password) < MinPasswordLen:
		return "A password has 10 characters at least."
	case len(password) > maxPasswordLen:
		return "A password has 72 bytes at most."
	}
	return ""
}

// createUser answers POST /admin/users: name, password.
func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, s *session) {
	name, password := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password")
	d := usersData{Name: name}
	if d.Problem = checkNewUser(name, password); d.Problem != "" {
		h.renderUsers(w, r, s, http.StatusUnprocessableEntity, newView(s, "Users", "users", nil), d)
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	u := eye.User{ID: eye.NewID(), Name: name, PasswordHash: hash, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := h.cfg.Store.CreateUser(r.Context(), u); err != nil {
		if eye.ErrorCode(err) == eye.ECONFLICT {
			d.Problem = eye.ErrorMessage(err)
			h.renderUsers(w, r, s, http.StatusConflict, newView(s, "Users", "users", nil), d)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	h.record(r, s, eye.ActionUserCreate, u.ID, map[string]any{"name": u.Name})
	h.log.Info("admin: user created", "user", s.user.Name, "created", u.Name)
	redirect(w, r, "/admin/users?outcome=created")
}

// resetPassword answers POST /admin/users/{id}/password: password. The
// user's logins end; resetting one's own password logs one out.
func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request, s *session) {
	u, err := h.cfg.Store.User(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	password := r.PostFormValue("password")
	if problem := checkNewUser(u.Name, password); problem != "" {
		h.renderUsers(w, r, s, http.StatusUnprocessableEntity, newView(s, "Users", "users", nil),
			usersData{Problems: map[string]string{u.ID: problem}})
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if err := h.cfg.Store.SetUserPassword(r.Context(), u.ID, hash); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.refreshKeys(r)
	h.record(r, s, eye.ActionUserPasswordReset, u.ID, map[string]any{"name": u.Name})
	h.log.Info("admin: password reset", "user", s.user.Name, "of", u.Name)
	if u.ID == s.user.ID {
		redirect(w, r, "/admin/login?outcome=password")
		return
	}
	redirect(w, r, "/admin/users?outcome=password")
}

// deleteUser answers POST /admin/users/{id}/delete. One cannot delete
// oneself (someone must be left to log in).
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, s *session) {
	u, err := h.cfg.Store.User(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if u.ID == s.user.ID {
		h.renderUsers(w, r, s, http.StatusConflict, newView(s, "Users", "users", nil),
			usersData{Problem: "You cannot delete yourself: ask another user, or use eye users delete on the server."})
		return
	}
	if err := h.cfg.Store.DeleteUser(r.Context(), u.ID); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.refreshKeys(r)
	h.record(r, s, eye.ActionUserDelete, u.ID, map[string]any{"name": u.Name})
	h.log.Info("admin: user deleted", "user", s.user.Name, "deleted", u.Name)
	redirect(w, r, "/admin/users?outcome=deleted")
}
