package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// session stores a login session of the admin UI, a key of a user that
// expires at expires, and returns its secret.
func (e *env) session(expires time.Time) string {
	e.t.Helper()
	ctx := context.Background()
	secret, key := api.NewSecret()
	key.Scopes, key.Label, key.UserID, key.ExpiresAt = []string{eye.ScopeAdmin}, "admin UI session", eye.NewID(), expires
	if err := e.store.CreateKey(ctx, key); err != nil {
		e.t.Fatal(err)
	}
	if err := e.keys.Refresh(ctx); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// TestSessionCookie checks that the admin UI's session cookie authorizes
// API requests like a key, with the session's CSRF token on unsafe methods.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.FailedAuthBurst = 1000 })
	secret := e.session(time.Now().Add(time.Hour))
	cookie := api.SessionCookie + "=" + secret
	csrf := api.CSRFToken(secret)

	if res := e.do("GET", "/events/", "", nil, "Cookie", cookie); res.status != 200 {
		t.Errorf("GET /events/ with the cookie: %d %s", res.status, res.body)
	}
	res := e.do("GET", "/events/stream", "", nil, "Cookie", cookie)
	if res.status != 200 || res.header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("GET /events/stream with the cookie: %d %s", res.status, res.header.Get("Content-Type"))
	}

	// Unsafe methods need the token: none, or a wrong one, is a 403.
	wantProblem(t, e.do("POST", "/errors/replay/", "", nil, "Cookie", cookie), 403, "csrf_failed")
	wantProblem(t, e.do("POST", "/errors/replay/", "", nil, "Cookie", cookie, api.CSRFHeader, csrf[1:]+"x"), 403, "csrf_failed")
	wantProblem(t, e.do("POST", "/errors/replay/", "", nil, "Cookie", cookie, api.CSRFHeader, api.CSRFToken(secret+"x")), 403, "csrf_failed")
	wantProblem(t, e.do("POST", "/applications/", "", map[string]any{"name": "forged"}, "Cookie", cookie), 403, "csrf_failed")
	if res := e.do("POST", "/errors/replay/", "", nil, "Cookie", cookie, api.CSRFHeader, csrf); res.status != 202 {
		t.Errorf("POST /errors/replay/ with the cookie and the token: %d %s", res.status, res.body)
	}
	// The token in a form's field, as the UI's HTML forms send it.
	form := api.CSRFField + "=" + csrf
	if res := e.do("POST", "/errors/replay/", "", form, "Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded"); res.status != 202 {
		t.Errorf("POST /errors/replay/ with the token in a form: %d %s", res.status, res.body)
	}
	if res := e.do("POST", "/applications/", "", map[string]any{"name": "by cookie"}, "Cookie", cookie, api.CSRFHeader, csrf); res.status != 201 {
		t.Errorf("POST /applications/ with the cookie and the token: %d %s", res.status, res.body)
	}

	// A bearer key needs no token; the Authorization header wins over
	// the cookie, even a wrong one.
	if res := e.do("POST", "/errors/replay/", adminKey, nil, "Cookie", cookie); res.status != 202 {
		t.Errorf("POST with a bearer key and the cookie: %d %s", res.status, res.body)
	}
	wantProblem(t, e.do("GET", "/events/", "eye_wrong", nil, "Cookie", cookie), 401, "unauthorized")

	// Unknown and expired sessions are refused.
	wantProblem(t, e.do("GET", "/events/", "", nil, "Cookie", api.SessionCookie+"=eye_unknown"), 401, "unauthorized")
	expired := e.session(time.Now().Add(-time.Second))
	wantProblem(t, e.do("GET", "/events/", "", nil, "Cookie", api.SessionCookie+"="+expired), 401, "unauthorized")
}

// TestCSRFToken checks the token's derivation and where it is read.
func TestCSRFToken(t *testing.T) {
	t.Parallel()
	h := sha256.Sum256([]byte("eye-csrf:eye_secret"))
	if got, want := api.CSRFToken("eye_secret"), base64.RawURLEncoding.EncodeToString(h[:]); got != want {
		t.Errorf("CSRFToken = %q, want %q", got, want)
	}
	token := api.CSRFToken("eye_secret")
	for _, tt := range []struct {
		name        string
		contentType string
		body        string
		header      string
		ok          bool
	}{
		{"header", "application/json", "{}", token, true},
		{"form field", "application/x-www-form-urlencoded", "csrf_token=" + token, "", true},
		{"field of a JSON body", "application/json", `{"csrf_token":"` + token + `"}`, "", false},
		{"none", "application/x-www-form-urlencoded", "a=b", "", false},
		{"wrong", "application/x-www-form-urlencoded", "csrf_token=x", "", false},
	} {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(tt.body))
		r.Header.Set("Content-Type", tt.contentType)
		if tt.header != "" {
			r.Header.Set(api.CSRFHeader, tt.header)
		}
		if got := api.CheckCSRF(r, "eye_secret"); got != tt.ok {
			t.Errorf("%s: CheckCSRF = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// TestKeyringExpiry checks that the keyring refuses an expired key at
// lookup, before any refresh drops it.
func TestKeyringExpiry(t *testing.T) {
	t.Parallel()
	past := api.StaticKey("eye_expired-key", "past", eye.ScopeAdmin)
	past.ExpiresAt = time.Now().Add(-time.Millisecond)
	future := api.StaticKey("eye_future-key", "future", eye.ScopeAdmin)
	future.ExpiresAt = time.Now().Add(time.Hour)
	k := api.NewKeyring(nil, nil, past, future)
	if _, ok := k.Lookup("eye_expired-key"); ok {
		t.Error("an expired key was found")
	}
	if _, ok := k.Lookup("eye_future-key"); !ok {
		t.Error("a key that has not expired yet was refused")
	}
}

// TestAttemptLimiter checks the login limiter: a burst, then refusals
// with the time to wait; other addresses are not slowed down.
func TestAttemptLimiter(t *testing.T) {
	t.Parallel()
	l := api.NewAttemptLimiter(2, time.Hour)
	from := func(addr string) *http.Request {
		r := httptest.NewRequest("POST", "/admin/login", nil)
		r.RemoteAddr = addr
		return r
	}
	for i := range 2 {
		if _, ok := l.Attempt(from("192.0.2.1:1000")); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	if wait, ok := l.Attempt(from("192.0.2.1:2000")); ok || wait <= 0 {
		t.Errorf("third attempt: allowed %v, wait %v; want refused with a wait", ok, wait)
	}
	if _, ok := l.Attempt(from("192.0.2.2:1000")); !ok {
		t.Error("another address was refused")
	}
}
