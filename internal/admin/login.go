package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// loginCookie holds the CSRF token of the login form, before there is a
// session to derive one from.
const loginCookie = "eye_login"

// sessionLabel labels the keys of login sessions.
const sessionLabel = "admin UI session"

// dummyHash is a bcrypt hash (of cost 12, like users' hashes) that no
// password matches: a login with an unknown name is checked against it,
// so that it takes as long as one with a wrong password.
const dummyHash = "$2a$12$k4M5TRDIa0U2lfI.6XZ7muXuE6MEh/iSfBaYmcYKu5whDuSD9Qvd."

// loginData is the content of the login page.
type loginData struct {
	Name    string
	Next    string
	Message string // why the last attempt failed
}

// loginPage answers GET /admin/login: the form, with a fresh CSRF token
// in its own cookie. A browser that is logged in already goes on.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPage(r.URL.Query().Get("next"))
	if _, ok := h.session(r); ok {
		redirect(w, r, next)
		return
	}
	v := view{Title: "Log in", Data: loginData{Next: next}}
	switch r.URL.Query().Get("outcome") {
	case "logged_out":
		v.Outcome = &outcome{Kind: "ok", Text: "You are logged out."}
	case "password":
		v.Outcome = &outcome{Kind: "ok", Text: "Your password was changed: log in with the new one."}
	}
	h.renderLogin(w, r, http.StatusOK, v)
}

// renderLogin writes the login page with the browser's form token, a new
// one when it has none (so that login pages open in several tabs all work).
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, v view) {
	v.CSRF = cookieValue(r, loginCookie)
	if len(v.CSRF) != 43 {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		v.CSRF = base64.RawURLEncoding.EncodeToString(b)
	}
	setCookie(w, r, loginCookie, v.CSRF, "/admin/login", time.Hour, http.SameSiteStrictMode)
	h.render(w, r, status, "login", v)
}

// login answers POST /admin/login: name and password, checked with
// bcrypt. Attempts are limited per client address. A good one makes a
// session key of the user and sets the session cookie.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if wait, ok := h.logins.Attempt(r); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		h.errorPage(w, r, nil, http.StatusTooManyRequests, "Too many login attempts",
			"Too many logins were tried from your address. Wait a minute, then try again.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	name := strings.TrimSpace(r.PostFormValue("name"))
	password := r.PostFormValue("password")
	data := loginData{Name: name, Next: localPage(r.PostFormValue("next"))}
	token, want := r.PostFormValue(api.CSRFField), cookieValue(r, loginCookie)
	if token == "" || want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		data.Message = "The login form had expired. Please try again."
		h.renderLogin(w, r, http.StatusForbidden, view{Title: "Log in", Data: data})
		return
	}
	user, err := h.cfg.Store.UserByName(r.Context(), name)
	switch {
	case eye.ErrorCode(err) == eye.ENOTFOUND || name == "":
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		err = bcrypt.ErrMismatchedHashAndPassword
	case err != nil:
		h.fail(w, r, nil, err)
		return
	default:
		err = bcrypt.CompareHashAndPassword(user.PasswordHash, []byte(password))
	}
	if err != nil {
		h.log.Warn("admin login failed", "user", name, "remote_addr", r.RemoteAddr)
		data.Message = "The name or the password is wrong."
		h.renderLogin(w, r, http.StatusUnauthorized, view{Title: "Log in", Data: data})
		return
	}

	secret, key := api.NewSecret()
	key.Scopes, key.Label, key.UserID = []string{eye.ScopeAdmin}, sessionLabel, user.ID
	key.CreatedAt = key.CreatedAt.Truncate(time.Microsecond)
	key.ExpiresAt = key.CreatedAt.Add(h.cfg.SessionLifetime)
	if err := h.cfg.Store.CreateKey(r.Context(), key); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.refreshKeys(r)
	h.log.Info("admin login", "user", user.Name, "session", key.ID, "remote_addr", r.RemoteAddr)
	clearCookie(w, r, loginCookie, "/admin/login")
	setCookie(w, r, api.SessionCookie, secret, "/", h.cfg.SessionLifetime, http.SameSiteLaxMode)
	redirect(w, r, data.Next)
}

// logout answers POST /admin/logout: the session's key is revoked, at
// once on this instance.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.cfg.Store.RevokeKey(r.Context(), "", s.key.ID); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.refreshKeys(r)
	h.log.Info("admin logout", "user", s.user.Name, "session", s.key.ID)
	clearCookie(w, r, api.SessionCookie, "/")
	redirect(w, r, "/admin/login?outcome=logged_out")
}

// refreshKeys makes a change of keys effective on this instance at once.
func (h *Handler) refreshKeys(r *http.Request) {
	if err := h.cfg.Keys.Refresh(r.Context()); err != nil {
		h.log.Warn("admin: refresh keys after a change", "error", err)
	}
}
