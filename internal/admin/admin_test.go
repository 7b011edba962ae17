package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/admin"
	"github.com/theeye/eye/internal/api"
)

// TestLogin logs in: the login page's form token, the session cookie's
// flags, and the session key behind it.
func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	b := e.browser()

	res := b.get("/admin/events?category=x")
	if res.status != http.StatusSeeOther || res.location() != "/admin/login?next=%2Fadmin%2Fevents%3Fcategory%3Dx" {
		t.Fatalf("a page without a session: %d to %q; want the login page, coming back", res.status, res.location())
	}
	form := b.get("/admin/login?next=%2Fadmin%2Fevents%3Fcategory%3Dx")
	if form.status != 200 || !strings.Contains(form.body, `name="password"`) {
		t.Fatalf("login page: %d\n%s", form.status, form.body)
	}
	c := setCookie(t, form, "eye_login")
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin/login" || c.Secure {
		t.Errorf("the login form's cookie: %+v", c)
	}

	// Wrong passwords and unknown names get the same answer.
	for _, try := range [][2]string{{userName, "wrong password"}, {"nobody", password}, {"", ""}} {
		res := b.post("/admin/login", b.get("/admin/login").csrf(t), url.Values{"name": {try[0]}, "password": {try[1]}})
		if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "The name or the password is wrong.") {
			t.Errorf("login as %q with %q: %d", try[0], try[1], res.status)
		}
		if b.cookie(api.SessionCookie) != "" {
			t.Fatal("a failed login set a session cookie")
		}
	}

	before := time.Now()
	res = b.post("/admin/login", form.csrf(t), url.Values{"name": {userName}, "password": {password},
		"next": {"/admin/events?category=x"}})
	if res.status != http.StatusSeeOther || res.location() != "/admin/events?category=x" {
		t.Fatalf("login: %d to %q\n%s", res.status, res.location(), res.body)
	}
	c = setCookie(t, res, api.SessionCookie)
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure || c.MaxAge != 12*3600 {
		t.Errorf("the session cookie: %+v; want HttpOnly, SameSite=Lax, Path=/, 12 hours, not Secure without TLS", c)
	}
	key, ok := e.keys.Lookup(c.Value)
	if !ok {
		t.Fatal("the session's key does not work")
	}
	user, err := e.store.UserByName(context.Background(), userName)
	if err != nil {
		t.Fatal(err)
	}
	if key.UserID != user.ID || key.Label != "admin UI session" || !slices.Equal(key.Scopes, []string{eye.ScopeAdmin}) ||
		key.ApplicationID != "" || key.ExpiresAt.Before(before.Add(12*time.Hour-time.Minute)) || key.ExpiresAt.After(time.Now().Add(12*time.Hour)) {
		t.Errorf("the session's key: %+v", key)
	}

	page := b.get("/admin")
	if page.status != 200 || !strings.Contains(page.body, userName) || !strings.Contains(page.body, "Dashboard") {
		t.Fatalf("dashboard: %d\n%s", page.status, page.body)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy: %q", csp)
	}
	if page.header.Get("Cache-Control") != "no-store" || page.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", page.header)
	}
	// Logged in, the login page moves on.
	if res := b.get("/admin/login"); res.status != http.StatusSeeOther || res.location() != "/admin" {
		t.Errorf("login page when logged in: %d %q", res.status, res.location())
	}
}

// TestLoginLeadsHome checks that a login goes back only to a page of the
// UI, never to another site.
func TestLoginLeadsHome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	for next, want := range map[string]string{
		"/admin/errors?code=empty_data": "/admin/errors?code=empty_data",
		"//evil.example/admin":          "/admin",
		"https://evil.example/admin":    "/admin",
		"/events/":                      "/admin",
		`/admin\@evil.example`:          "/admin",
		"/admin/login":                  "/admin",
		"":                              "/admin",
	} {
		b := e.browser()
		form := b.get("/admin/login")
		res := b.post("/admin/login", form.csrf(t), url.Values{"name": {userName}, "password": {password}, "next": {next}})
		if res.status != http.StatusSeeOther || res.location() != want {
			t.Errorf("next %q: %d to %q, want %q", next, res.status, res.location(), want)
		}
	}
}

// TestSecureCookies checks that cookies are Secure over TLS.
func TestSecureCookies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	b := e.browser()
	form := b.get("/admin/login")
	if c := setCookie(t, form, "eye_login"); !c.Secure {
		t.Errorf("the login form's cookie over TLS: %+v", c)
	}
	res := b.post("/admin/login", form.csrf(t), url.Values{"name": {userName}, "password": {password}})
	if c := setCookie(t, res, api.SessionCookie); !c.Secure || !c.HttpOnly {
		t.Errorf("the session cookie over TLS: %+v", c)
	}
}

// TestLoginCSRF checks that a login needs the form's token and cookie.
func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	b := e.browser()
	creds := url.Values{"name": {userName}, "password": {password}}
	if res := b.post("/admin/login", "", creds); res.status != http.StatusForbidden {
		t.Errorf("login without the form: %d", res.status)
	}
	token := b.get("/admin/login").csrf(t)
	other := e.browser() // has no form cookie
	if res := other.post("/admin/login", token, creds); res.status != http.StatusForbidden {
		t.Errorf("login with another browser's token: %d", res.status)
	}
	if res := b.post("/admin/login", token+"x", creds); res.status != http.StatusForbidden {
		t.Errorf("login with a wrong token: %d", res.status)
	}
	if b.cookie(api.SessionCookie) != "" || other.cookie(api.SessionCookie) != "" {
		t.Error("a session cookie was set")
	}
}

// TestLoginRateLimited checks that logins are limited per address, right
// password or not.
func TestLoginRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, func(c *admin.Config) { c.LoginBurst, c.LoginInterval = 3, time.Hour })
	b := e.browser()
	for range 3 {
		if res := b.login(userName, "wrong password"); res.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", res.status)
		}
	}
	res := b.login(userName, password)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" ||
		!strings.Contains(res.body, "Too many login attempts") {
		t.Errorf("fourth attempt: %d %v", res.status, res.header)
	}
	if b.cookie(api.SessionCookie) != "" {
		t.Error("a limited login set a session cookie")
	}
}

// TestCSRFRefused checks that the UI's forms need the session's token.
func TestCSRFRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	b := e.browser()
	token := b.loggedIn()
	if token != api.CSRFToken(b.cookie(api.SessionCookie)) {
		t.Errorf("the pages' token is not the session's")
	}
	for _, bad := range []string{"", "x", api.CSRFToken("eye_other")} {
		res := b.post("/admin/applications", bad, url.Values{"name": {"forged"}})
		if res.status != http.StatusForbidden || !strings.Contains(res.body, "This form has expired") {
			t.Errorf("create an application with token %q: %d", bad, res.status)
		}
	}
	if res := b.post("/admin/logout", "", nil); res.status != http.StatusForbidden {
		t.Errorf("logout without the token: %d", res.status)
	}
	apps, err := e.store.Applications(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(apps, func(a eye.Application) bool { return a.Name == "forged" }) {
		t.Error("a form without the token created an application")
	}
	if res := b.post("/admin/applications", token, url.Values{"name": {"real"}}); res.status != http.StatusSeeOther {
		t.Errorf("with the token: %d\n%s", res.status, res.body)
	}
}

// TestExpiredSession checks that a session stops working when it
// expires, in the UI and in the API, before any refresh of the keys.
func TestExpiredSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	user, err := e.store.UserByName(ctx, userName)
	if err != nil {
		t.Fatal(err)
	}
	secret, key := api.NewSecret()
	key.Scopes, key.UserID, key.Label = []string{eye.ScopeAdmin}, user.ID, "admin UI session"
	key.ExpiresAt = time.Now().Add(300 * time.Millisecond)
	if err := e.store.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	u, _ := url.Parse(e.srv.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: api.SessionCookie, Value: secret, Path: "/"}})
	if res := b.get("/admin"); res.status != 200 {
		t.Fatalf("before it expires: %d", res.status)
	}
	time.Sleep(time.Until(key.ExpiresAt) + 10*time.Millisecond)
	if res := b.get("/admin"); res.status != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/admin/login") {
		t.Errorf("after it expired: %d to %q", res.status, res.location())
	}
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: api.SessionCookie, Value: secret, Path: "/"}})
	if res := b.get("/events/"); res.status != http.StatusUnauthorized {
		t.Errorf("the API after it expired: %d", res.status)
	}
}

// TestLogoutRevokes checks that logging out revokes the session's key.
func TestLogoutRevokes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	b := e.browser()
	token := b.loggedIn()
	secret := b.cookie(api.SessionCookie)
	key, ok := e.keys.Lookup(secret)
	if !ok {
		t.Fatal("no session")
	}
	res := b.post("/admin/logout", token, nil)
	if res.status != http.StatusSeeOther || res.location() != "/admin/login?outcome=logged_out" {
		t.Fatalf("logout: %d %q", res.status, res.location())
	}
	if c := setCookie(t, res, api.SessionCookie); c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("the session cookie after logout: %+v", c)
	}
	if _, ok := e.keys.Lookup(secret); ok {
		t.Error("the session's key still works")
	}
	keys, err := e.store.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(keys, func(k eye.Key) bool { return k.ID == key.ID }) {
		t.Error("the store still lists the session's key as working")
	}
	// The old cookie, replayed, opens nothing.
	u, _ := url.Parse(e.srv.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: api.SessionCookie, Value: secret, Path: "/"}})
	if res := b.get("/admin"); res.status != http.StatusSeeOther {
		t.Errorf("the dashboard with the old cookie: %d", res.status)
	}
	if res := b.get("/events/"); res.status != http.StatusUnauthorized {
		t.Errorf("the API with the old cookie: %d", res.status)
	}
}

// TestCookieAuthorizesAPI checks the UI's own requests to the API: the
// cookie suffices to read (the live stream included), and unsafe methods
// need the token too.
func TestCookieAuthorizesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	b := e.browser()
	token := b.loggedIn()
	if res := b.get("/status"); res.status != 200 {
		t.Errorf("GET /status: %d %s", res.status, res.body)
	}
	if res := b.get("/events/stream?include=errors"); res.status != 200 || res.header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("GET /events/stream: %d %v", res.status, res.header)
	}
	if res := b.do("POST", "/errors/replay/", nil); res.status != http.StatusForbidden || !strings.Contains(res.body, "csrf_failed") {
		t.Errorf("POST /errors/replay/ without the token: %d %s", res.status, res.body)
	}
	if res := b.do("POST", "/errors/replay/", nil, api.CSRFHeader, token); res.status != http.StatusAccepted {
		t.Errorf("POST /errors/replay/ with the token: %d %s", res.status, res.body)
	}
}

// TestPages opens every page with data in the store: each answers 200,
// and none has inline script, inline style or event handler attributes
// (the content security policy would block them).
func TestPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	session := eye.NewID()
	evID := e.send(pageview(session))
	bad := pageview(session)
	bad["data"] = map[string]any{}
	errID := e.send(bad)
	e.waitEvent(evID)
	e.waitError(errID)
	app := eye.Application{ID: eye.NewID(), Name: "web shop", CreatedAt: time.Now().UTC(), Active: true}
	if err := e.store.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.PutSchema(ctx, eye.Schema{Category: "page interaction", Name: "pageview", Body: []byte(`{"type":"object"}`),
		CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	j, err := e.store.Errors(ctx, eye.ErrorFilter{Limit: 1})
	if err != nil || len(j.Items) != 1 {
		t.Fatal(err)
	}

	b := e.browser()
	b.loggedIn()
	csrf := b.get("/admin").csrf(t)
	job := b.post("/admin/errors/replay", csrf, url.Values{"code": {"empty_data"}})
	if job.status != http.StatusSeeOther || !strings.HasPrefix(job.location(), "/admin/jobs/") {
		t.Fatalf("replay all: %d %q", job.status, job.location())
	}
	inline := regexp.MustCompile(`(?i)<script>|<script[^>]*>[^<]|\sstyle=|\son[a-z]+=|javascript:`)
	for p, want := range map[string]string{
		"/admin":        "Events per minute, last hour",
		"/admin/":       "Top event types",
		"/admin/events": evID,
		"/admin/events?category=page+interaction":         evID,
		"/admin/events/" + evID:                           `&#34;host&#34;: &#34;www.example.com&#34;`,
		"/admin/sessions":                                 session,
		"/admin/sessions/" + session:                      "pageview",
		"/admin/errors":                                   "empty_data",
		"/admin/errors?status=any&code=empty_data":        errID,
		"/admin/errors/" + errID:                          "data is an empty object",
		job.location():                                    "Replay job",
		"/admin/types":                                    "pageview",
		"/admin/types/page%20interaction/pageview":        "version 1",
		"/admin/types/new%20category/new%20name":          `&#34;type&#34;: &#34;object&#34;`,
		"/admin/applications":                             "web shop",
		"/admin/applications/" + app.ID:                   "No key yet.",
		"/admin/users":                                    userName,
		"/admin/audit":                                    "errors.replay_job",
		"/admin/audit?action=errors.replay_job&actor=cli": "No entry matches.",
	} {
		res := b.get(p)
		if res.status != 200 {
			t.Errorf("GET %s: %d\n%s", p, res.status, res.body)
			continue
		}
		if !strings.Contains(res.body, want) {
			t.Errorf("GET %s: no %q in the page\n%s", p, want, res.body)
		}
		if m := inline.FindString(res.body); m != "" {
			t.Errorf("GET %s: inline script or style %q", p, m)
		}
		if ct := res.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
	}
	for p, status := range map[string]int{
		"/admin/nothing":                 404,
		"/admin/events/" + eye.NewID():   404,
		"/admin/events/not-a-uuid":       404,
		"/admin/errors/" + eye.NewID():   404,
		"/admin/jobs/" + eye.NewID():     404,
		"/admin/events?session=nope":     400,
		"/admin/events?from=yesterday":   400,
		"/admin/errors?status=lost":      400,
		"/admin/events?cursor=AAAA":      400,
		"/admin/types?category=x&name=+": 400,
		"/admin/audit?cursor=AAAA":       400,
		"/admin/audit?from=yesterday":    400,
	} {
		res := b.get(p)
		if res.status != status || !strings.Contains(res.body, "</html>") {
			t.Errorf("GET %s: %d, want %d with a page", p, res.status, status)
		}
	}
	// Static files are public and cached.
	anon := e.browser()
	for _, f := range []string{"admin.css", "admin.js", "favicon.svg"} {
		res := anon.get("/admin/static/" + f)
		if res.status != 200 || res.header.Get("Cache-Control") != "public, max-age=86400" || len(res.body) < 100 {
			t.Errorf("GET /admin/static/%s: %d %v", f, res.status, res.header)
		}
	}
}

// TestApplicationsAndKeys creates an application and a key through the
// forms: the secret is shown once, works at once, and stops at once when
// revoked.
func TestApplicationsAndKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	b := e.browser()
	token := b.loggedIn()
	res := b.post("/admin/applications", token, url.Values{"name": {"kiosk"}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("create application: %d\n%s", res.status, res.body)
	}
	appPath, _, _ := strings.Cut(res.location(), "?")
	if res := b.post("/admin/applications", token, url.Values{"name": {"kiosk"}}); res.status != http.StatusConflict {
		t.Errorf("the same name again: %d", res.status)
	}
	if res := b.post(appPath+"/keys", token, url.Values{"label": {"front"}}); res.status != http.StatusUnprocessableEntity {
		t.Errorf("a key without scopes: %d", res.status)
	}
	res = b.post(appPath+"/keys", token, url.Values{"scope": {"ingest", "read"}, "label": {"front"}})
	if res.status != 200 || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create key: %d %v", res.status, res.header)
	}
	m := regexp.MustCompile(`<code id="new-key">(eye_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("no secret in the page:\n%s", res.body)
	}
	secret := m[1]
	key, ok := e.keys.Lookup(secret)
	if !ok || !slices.Equal(key.Scopes, []string{"ingest", "read"}) || key.Label != "front" || key.UserID != "" {
		t.Fatalf("the new key: %+v, %v", key, ok)
	}
	again := b.get(appPath)
	if strings.Contains(again.body, secret) || !strings.Contains(again.body, key.Prefix) {
		t.Error("the application's page shows the secret again, or not the key's prefix")
	}
	res = b.post(appPath+"/keys/"+key.ID+"/revoke", token, nil)
	if res.status != http.StatusSeeOther || !strings.HasSuffix(res.location(), "?outcome=revoked") {
		t.Fatalf("revoke: %d %q", res.status, res.location())
	}
	if _, ok := e.keys.Lookup(secret); ok {
		t.Error("a revoked key works")
	}
	if page := b.get(res.location()); !strings.Contains(page.body, "Key revoked") || !strings.Contains(page.body, "revoked</span>") {
		t.Errorf("the page after revoking:\n%s", page.body)
	}
	// Login sessions are in no application's list.
	keys, err := e.store.ApplicationKeys(context.Background(), strings.TrimPrefix(appPath, "/admin/applications/"))
	if err != nil || len(keys) != 1 {
		t.Errorf("the application's keys: %+v, %v", keys, err)
	}
}

// TestSchemaEditor checks a draft schema, refuses one that does not
// compile, and saves one that does.
func TestSchemaEditor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	session := eye.NewID()
	e.waitEvent(e.send(pageview(session)))
	b := e.browser()
	token := b.loggedIn()
	const p = "/admin/types/page%20interaction/pageview"
	res := b.post(p, token, url.Values{"action": {"check"}, "schema": {`{"type": "object", "required": ["host", "referrer"]}`}})
	if res.status != 200 || !strings.Contains(res.body, "The schema compiles.") || !strings.Contains(res.body, "1 would fail") ||
		!strings.Contains(res.body, "missing property") {
		t.Errorf("check a schema that recent events break: %d\n%s", res.status, res.body)
	}
	res = b.post(p, token, url.Values{"action": {"check"}, "schema": {`{"type": "objet"}`}})
	if res.status != 200 || !strings.Contains(res.body, "does not compile") {
		t.Errorf("check a schema that does not compile: %d\n%s", res.status, res.body)
	}
	res = b.post(p, token, url.Values{"action": {"save"}, "schema": {`{"type": `}})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "does not compile") {
		t.Errorf("save a schema that is not JSON: %d", res.status)
	}
	res = b.post(p, token, url.Values{"action": {"save"}, "schema": {`{"type": "object", "required": ["host"]}`}})
	if res.status != http.StatusSeeOther || res.location() != p+"?outcome=saved" {
		t.Fatalf("save: %d %q\n%s", res.status, res.location(), res.body)
	}
	sc, err := e.store.Schema(context.Background(), "page interaction", "pageview", 0)
	if err != nil || sc.Version != 1 || !sc.Active || string(sc.Body) != `{"type":"object","required":["host"]}` {
		t.Errorf("the stored schema: %+v, %v", sc, err)
	}
	if page := b.get(res.location()); !strings.Contains(page.body, "Version 1 saved") {
		t.Errorf("the page after saving:\n%s", page.body)
	}
	// The worker checks events against it at once.
	bad := pageview(session)
	bad["data"] = map[string]any{"path": "/"}
	if rec := e.waitError(e.send(bad)); rec.Reasons[0].Code != eye.CodeSchemaViolation {
		t.Errorf("an event breaking the new schema: %+v", rec)
	}
}

// TestReplayAndDiscard replays and discards error records from the inbox.
func TestReplayAndDiscard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	if _, err := e.store.PutSchema(ctx, eye.Schema{Category: "page interaction", Name: "pageview",
		Body: []byte(`{"type":"object","required":["referrer"]}`), CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	token := b.loggedIn()
	// The schema reaches the worker through the registry: the UI's
	// refresh after a save does the same.
	if res := b.post("/admin/types/page%20interaction/pageview", token, url.Values{"action": {"save"},
		"schema": {`{"type":"object","required":["referrer"]}`}}); res.status != http.StatusSeeOther {
		t.Fatalf("save the schema: %d", res.status)
	}
	session := eye.NewID()
	var ids []string
	for range 4 {
		ids = append(ids, e.send(pageview(session)))
	}
	for _, id := range ids {
		e.waitError(id)
	}
	// Still invalid, then valid once the schema is fixed.
	res := b.post("/admin/errors/"+ids[0]+"/replay", token, nil)
	if res.status != http.StatusSeeOther || !strings.HasSuffix(res.location(), "?outcome=invalid") {
		t.Errorf("replay while the schema refuses it: %d %q", res.status, res.location())
	}
	if res := b.post("/admin/types/page%20interaction/pageview", token, url.Values{"action": {"save"},
		"schema": {`{"type":"object"}`}}); res.status != http.StatusSeeOther {
		t.Fatalf("fix the schema: %d", res.status)
	}
	res = b.post("/admin/errors/"+ids[0]+"/replay", token, nil)
	if res.status != http.StatusSeeOther || !strings.HasSuffix(res.location(), "?outcome=replayed") {
		t.Fatalf("replay: %d %q", res.status, res.location())
	}
	if page := b.get(res.location()); !strings.Contains(page.body, "Replayed: the record is now an event.") {
		t.Errorf("the page after the replay:\n%s", page.body)
	}
	e.waitEvent(ids[0])

	res = b.post("/admin/errors/"+ids[1]+"/discard", token, nil)
	if res.status != http.StatusSeeOther {
		t.Fatalf("discard: %d", res.status)
	}
	if rec, _ := e.store.ErrorRecord(ctx, ids[1]); rec.Status != eye.StatusDiscarded {
		t.Errorf("status after discard: %s", rec.Status)
	}
	// Discard all the open ones of the session: two are left.
	res = b.post("/admin/errors/discard", token, url.Values{"session": {session}, "code": {eye.CodeSchemaViolation}})
	if res.status != http.StatusSeeOther || !strings.Contains(res.location(), "n=2") {
		t.Fatalf("discard all: %d %q", res.status, res.location())
	}
	if page := b.get(res.location()); !strings.Contains(page.body, "2 open records discarded.") {
		t.Errorf("the page after discarding all:\n%s", page.body)
	}
	for _, id := range ids[2:] {
		if rec, _ := e.store.ErrorRecord(ctx, id); rec.Status != eye.StatusDiscarded {
			t.Errorf("%s: status %s after discard all", id, rec.Status)
		}
	}
	if rec, _ := e.store.ErrorRecord(ctx, ids[0]); rec.Status != eye.StatusReplayed {
		t.Errorf("the replayed record became %s", rec.Status)
	}
}

// TestBrowserKeysInUI sets an application's allowed origins (normalized,
// refused when not origins) and makes a browser key, which stands alone.
func TestBrowserKeysInUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	b := e.browser()
	token := b.loggedIn()
	res := b.post("/admin/applications", token, url.Values{"name": {"site"}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("create application: %d\n%s", res.status, res.body)
	}
	appPath, _, _ := strings.Cut(res.location(), "?")
	id := strings.TrimPrefix(appPath, "/admin/applications/")
	origins := func() []string {
		a, err := e.store.Application(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return a.AllowedOrigins
	}
	if res := b.post(appPath+"/origins", token, url.Values{"origins": {"https://ok.example\nhttps://bad.example/path"}}); res.status != http.StatusUnprocessableEntity ||
		!strings.Contains(res.body, "is not an origin") || !strings.Contains(res.body, "https://bad.example/path") {
		t.Errorf("a path in an origin: %d\n%s", res.status, res.body)
	}
	if got := origins(); len(got) != 0 {
		t.Errorf("origins after a refused form: %q", got)
	}
	res = b.post(appPath+"/origins", token, url.Values{"origins": {"HTTPS://WWW.Example.com:443/\r\n\r\nhttp://localhost:3000\n"}})
	if res.status != http.StatusSeeOther || !strings.HasSuffix(res.location(), "?outcome=origins") {
		t.Fatalf("save origins: %d %q\n%s", res.status, res.location(), res.body)
	}
	if got := origins(); !slices.Equal(got, []string{"https://www.example.com", "http://localhost:3000"}) {
		t.Errorf("origins saved: %q", got)
	}
	if page := b.get(res.location()); !strings.Contains(page.body, "https://www.example.com\nhttp://localhost:3000") {
		t.Errorf("the page does not show the origins:\n%s", page.body)
	}
	if res := b.post(appPath+"/keys", token, url.Values{"scope": {"browser", "read"}}); res.status != http.StatusUnprocessableEntity ||
		!strings.Contains(res.body, "cannot be combined") {
		t.Errorf("browser and read: %d", res.status)
	}
	res = b.post(appPath+"/keys", token, url.Values{"scope": {"browser"}, "label": {"website"}})
	m := regexp.MustCompile(`<code id="new-key">(eye_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(res.body)
	if res.status != 200 || m == nil {
		t.Fatalf("create a browser key: %d\n%s", res.status, res.body)
	}
	if key, ok := e.keys.Lookup(m[1]); !ok || !slices.Equal(key.Scopes, []string{eye.ScopeBrowser}) ||
		!e.keys.OriginAllowed(id, "https://www.example.com") {
		t.Errorf("the browser key %+v, %v; or its origin is not allowed", key, ok)
	}
}

// TestEventsDataFilter: the events explorer filters on members of data as
// GET /events/ does, keeps the filters in its links, and says what is wrong
// with one it cannot read.
func TestEventsDataFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	session := eye.NewID()
	checkout := pageview(session)
	checkout["data"] = map[string]any{"host": "www.example.com", "path": "/checkout", "form": map[string]any{"step": 2}}
	home, other := e.send(pageview(session)), e.send(checkout)
	e.waitEvent(home)
	e.waitEvent(other)

	b := e.browser()
	b.loggedIn()
	res := b.get("/admin/events?data=path%3D%2Fcheckout&data=form.step%3D2&data=")
	if res.status != 200 || !strings.Contains(res.body, other) || strings.Contains(res.body, home) {
		t.Fatalf("data filters: %d, the matching event %v, the other %v\n%s", res.status,
			strings.Contains(res.body, other), strings.Contains(res.body, home), res.body)
	}
	for _, want := range []string{`value="path=/checkout"`, `value="form.step=2"`,
		`/events/?data.form.step=2&amp;data.path=%2Fcheckout`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("no %q in the page", want)
		}
	}
	if res := b.get("/admin/events?data=host%3Dwww.example.com"); !strings.Contains(res.body, other) || !strings.Contains(res.body, home) {
		t.Errorf("data.host: not both events\n%s", res.body)
	}
	for q, want := range map[string]string{
		"data=a..b%3D1":                   "Data &#34;a..b=1&#34;: the path names no member of data",
		"data=path":                       "Data &#34;path&#34;",
		"data=form%3D%7B%7D":              "the value cannot match",
		strings.Repeat("data=a%3D1&", 11): "At most 10 data filters",
	} {
		res := b.get("/admin/events?" + q)
		if res.status != 400 || !strings.Contains(res.body, want) {
			t.Errorf("GET /admin/events?%s: %d, want 400 with %q", q, res.status, want)
		}
	}
}
