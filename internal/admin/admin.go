// Package admin is The Eye's admin web UI, served by the API server at
// /admin/: a dashboard, the events explorer, session timelines, the errors
// inbox, the event types with their schemas, the applications with their
// keys, the users, and the audit log. Every action done in it is recorded
// in the audit log.
//
// Pages are rendered on the server with html/template; the templates, the
// style sheet and a little JavaScript are embedded in the binary. The UI
// uses the service's own pieces: the store, the replayer, the schema
// registry, the keyring and the pipeline's status.
//
// A login is a session key: an API key of the user with scope admin that
// expires, whose secret the session cookie holds. The cookie authorizes
// the UI's pages and the UI's own requests to the API alike (such as the
// live stream); every unsafe request also carries the session's CSRF
// token.
package admin

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/replay"
)

//go:embed templates/*.html static/*
var files embed.FS

// Config holds what the UI needs.
type Config struct {
	Store   eye.Store
	Keys    *api.Keyring     // refreshed after every change of keys
	Replay  *replay.Replayer // replays error records
	Schemas api.Refresher    // the schema registry, refreshed after a schema change; nil: none
	// Status returns the pipeline's health, as GET /status reports it.
	Status func(context.Context) api.PipelineStatus
	Logger *slog.Logger

	// SessionLifetime is how long a login lasts (default 12 hours).
	SessionLifetime time.Duration
	// LoginBurst is how many logins one client address may try at once
	// (default 10); after that, one every LoginInterval (default 30s).
	LoginBurst    int
	LoginInterval time.Duration
}

// Handler serves the admin UI.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	pages  pages
	assets assets
	logins *api.AttemptLimiter
}

// New returns the UI's handler, for api.Server.HandleAdmin.
func New(cfg Config) *Handler {
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.LoginBurst == 0 {
		cfg.LoginBurst = 10
	}
	if cfg.LoginInterval == 0 {
		cfg.LoginInterval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), assets: loadAssets(),
		logins: api.NewAttemptLimiter(cfg.LoginBurst, cfg.LoginInterval)}
	h.pages = parsePages(h.funcs())
	h.routes()
	return h
}

// routes registers every page. Paths are written without their trailing
// slash: requests are normalized to that form.
func (h *Handler) routes() {
	// Public.
	h.mux.HandleFunc("GET /admin/login", h.loginPage)
	h.mux.HandleFunc("POST /admin/login", h.login)
	h.mux.HandleFunc("GET /admin/static/{file}", h.static)
	h.mux.HandleFunc("/admin/", h.notFound)

	// Logged in.
	h.mux.Handle("POST /admin/logout", h.authed(h.logout))
	h.mux.Handle("GET /admin", h.authed(h.dashboard))
	h.mux.Handle("GET /admin/events", h.authed(h.events))
	h.mux.Handle("GET /admin/events/{id}", h.authed(h.event))
	h.mux.Handle("GET /admin/sessions", h.authed(h.sessions))
	h.mux.Handle("GET /admin/sessions/{id}", h.authed(h.timeline))
	h.mux.Handle("GET /admin/errors", h.authed(h.errors))
	h.mux.Handle("GET /admin/errors/{id}", h.authed(h.errorRecord))
	h.mux.Handle("POST /admin/errors/{id}/replay", h.authed(h.replayOne))
	h.mux.Handle("POST /admin/errors/{id}/discard", h.authed(h.discardOne))
	h.mux.Handle("POST /admin/errors/replay", h.authed(h.replayAll))
	h.mux.Handle("POST /admin/errors/discard", h.authed(h.discardAll))
	h.mux.Handle("GET /admin/jobs/{id}", h.authed(h.job))
	h.mux.Handle("GET /admin/types", h.authed(h.types))
	h.mux.Handle("GET /admin/types/{category}/{name}", h.authed(h.eventType))
	h.mux.Handle("POST /admin/types/{category}/{name}", h.authed(h.putSchema))
	h.mux.Handle("GET /admin/applications", h.authed(h.applications))
	h.mux.Handle("POST /admin/applications", h.authed(h.createApplication))
	h.mux.Handle("GET /admin/applications/{id}", h.authed(h.application))
	h.mux.Handle("POST /admin/applications/{id}/keys", h.authed(h.createKey))
	h.mux.Handle("POST /admin/applications/{id}/origins", h.authed(h.setOrigins))
	h.mux.Handle("POST /admin/applications/{id}/keys/{key}/revoke", h.authed(h.revokeKey))
	h.mux.Handle("GET /admin/users", h.authed(h.users))
	h.mux.Handle("POST /admin/users", h.authed(h.createUser))
	h.mux.Handle("POST /admin/users/{id}/password", h.authed(h.resetPassword))
	h.mux.Handle("POST /admin/users/{id}/delete", h.authed(h.deleteUser))
	h.mux.Handle("GET /admin/audit", h.authed(h.audit))
}

// policy is the content security policy of every page: nothing from
// elsewhere, no inline script or style, no framing.
const policy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP sets the security headers of every answer, normalizes the
// path (no trailing slash) and routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", policy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	r.URL.Path = path.Clean("/" + r.URL.Path)
	if r.URL.RawPath != "" {
		r.URL.RawPath = path.Clean("/" + r.URL.RawPath)
	}
	h.mux.ServeHTTP(w, r)
}

// session is the login a request comes with.
type session struct {
	key  eye.Key
	user eye.User
	csrf string // the token its forms carry
}

// authed lets a request through with a valid login session: a session
// key of a user, with scope admin, in the session cookie; an unsafe
// request must carry the session's CSRF token. Without a session, the
// browser is sent to the login page, which brings it back.
func (h *Handler) authed(next func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.session(r)
		if !ok {
			clearCookie(w, r, api.SessionCookie, "/")
			target := "/admin/login"
			if r.Method == http.MethodGet && r.URL.Path != "/admin" {
				target += "?" + url.Values{"next": {r.URL.RequestURI()}}.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		user, err := h.cfg.Store.User(r.Context(), s.key.UserID)
		if err != nil {
			if eye.ErrorCode(err) == eye.ENOTFOUND {
				clearCookie(w, r, api.SessionCookie, "/")
				http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
				return
			}
			h.fail(w, r, nil, err)
			return
		}
		s.user = user
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				h.errorPage(w, r, s, http.StatusBadRequest, "Invalid form", "The form could not be read: it is too large, or malformed.")
				return
			}
			if !api.CheckCSRF(r, cookieValue(r, api.SessionCookie)) {
				h.errorPage(w, r, s, http.StatusForbidden, "This form has expired",
					"The page was older than your login, or came from elsewhere. Reload the page and try again.")
				return
			}
		}
		next(w, r, s)
	})
}

// maxFormBytes bounds the body of a form (a schema is at most 256 KiB).
const maxFormBytes = 1 << 20

// session returns the valid login session of a request's cookie.
func (h *Handler) session(r *http.Request) (*session, bool) {
	secret := cookieValue(r, api.SessionCookie)
	if secret == "" {
		return nil, false
	}
	key, ok := h.cfg.Keys.Lookup(secret)
	if !ok || key.UserID == "" || !eye.Allows(key.Scopes, eye.ScopeAdmin) {
		return nil, false
	}
	return &session{key: key, csrf: api.CSRFToken(secret)}, true
}

// cookieValue returns the value of a request's cookie, "" when it has none.
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// setCookie sets an HttpOnly cookie, Secure when the client came over TLS
// (directly, or through a trusted proxy that says so).
func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: api.Secure(r), SameSite: sameSite})
}

// clearCookie deletes a cookie the browser may hold.
func clearCookie(w http.ResponseWriter, r *http.Request, name, path string) {
	if cookieValue(r, name) == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1,
		HttpOnly: true, Secure: api.Secure(r), SameSite: http.SameSiteLaxMode})
}

// view is what every page's template gets.
type view struct {
	Title   string
	Nav     string   // the menu entry to highlight
	User    string   // the logged-in user; "" on the login page
	CSRF    string   // the token of the page's forms
	Outcome *outcome // what the last action did
	Data    any      // the page's own
}

// outcome is the result of an action, shown at the top of the page it
// leads to.
type outcome struct {
	Kind string // ok, warn or error
	Text string
	Link string // a page to follow, when there is one
	What string // the link's text
}

// newView starts the view of a logged-in page.
func newView(s *session, title, nav string, data any) view {
	return view{Title: title, Nav: nav, User: s.user.Name, CSRF: s.csrf, Data: data}
}

// render writes a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	h.pages.render(w, r, h.log, status, page, v)
}

// fail answers an error of the store or of the replayer with a page that
// says what happened; errors that are not the domain's are logged and not
// shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if r.Context().Err() != nil {
		return // the browser went away
	}
	switch eye.ErrorCode(err) {
	case eye.ENOTFOUND:
		h.errorPage(w, r, s, http.StatusNotFound, "Not found", eye.ErrorMessage(err))
	case eye.EINVALID:
		h.errorPage(w, r, s, http.StatusBadRequest, "Invalid request", eye.ErrorMessage(err))
	case eye.EUNPROCESSABLE:
		h.errorPage(w, r, s, http.StatusUnprocessableEntity, "Invalid request", eye.ErrorMessage(err))
	case eye.ECONFLICT:
		h.errorPage(w, r, s, http.StatusConflict, "Conflict", eye.ErrorMessage(err))
	case eye.EUNAVAILABLE:
		h.log.Warn("admin: unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		h.errorPage(w, r, s, http.StatusServiceUnavailable, "The store is unreachable",
			"The Eye cannot reach its store right now. Try again in a moment.")
	default:
		h.log.Error("admin: internal error", "method", r.Method, "path", r.URL.Path, "error", err)
		h.errorPage(w, r, s, http.StatusInternalServerError, "Something went wrong",
			"The error was logged with the request id below.")
	}
}

// problemData is the content of an error page.
type problemData struct {
	Status    int
	Message   string
	RequestID string
}

// errorPage answers with a friendly error page.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, title, message string) {
	v := view{Title: title, Data: problemData{Status: status, Message: message, RequestID: w.Header().Get("X-Request-Id")}}
	if s != nil && s.user.Name != "" {
		v.User, v.CSRF = s.user.Name, s.csrf
	}
	h.render(w, r, status, "error", v)
}

// notFound answers a path under /admin that is no page.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	s, ok := h.session(r)
	if ok {
		u, err := h.cfg.Store.User(r.Context(), s.key.UserID)
		if err != nil {
			s = nil
		} else {
			s.user = u
		}
	}
	h.errorPage(w, r, s, http.StatusNotFound, "Not found", "There is no page at "+r.URL.Path+".")
}

// redirect sends the browser to a page with a GET (after a form).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// withQuery returns p with the query parameters of pairs (name, value, …)
// whose value is not empty.
func withQuery(p string, pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Add(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}

// localPage returns the admin page a login should lead to: next when it
// is a path of the UI, the dashboard otherwise (never another site).
func localPage(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/admin"
	}
	p := path.Clean("/" + u.Path)
	if (p != "/admin" && !strings.HasPrefix(p, "/admin/")) || p == "/admin/login" {
		return "/admin"
	}
	u.Path, u.RawPath = p, ""
	return u.RequestURI()
}
