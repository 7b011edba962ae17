package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// keys of every kind, for the auth matrix.
type keyset struct {
	app, ingest, read, revoked, deactivated string
}

// createApp creates an application through the API and returns its id.
func (e *env) createApp(name string) string {
	e.t.Helper()
	res := e.admin("POST", "/applications/", map[string]any{"name": name})
	if res.status != 201 {
		e.t.Fatalf("create application: %d %s", res.status, res.body)
	}
	return res.json(e.t)["id"].(string)
}

// createKey creates a key through the API and returns its secret and id.
func (e *env) createKey(app string, scopes ...string) (string, string) {
	e.t.Helper()
	res := e.admin("POST", "/applications/"+app+"/keys/", map[string]any{"scopes": scopes, "label": "test"})
	if res.status != 201 {
		e.t.Fatalf("create key: %d %s", res.status, res.body)
	}
	m := res.json(e.t)
	return m["key"].(string), m["id"].(string)
}

func (e *env) keyset() keyset {
	e.t.Helper()
	var ks keyset
	ks.app = e.createApp("shop")
	ks.ingest, _ = e.createKey(ks.app, "ingest")
	ks.read, _ = e.createKey(ks.app, "read")
	var revokedID string
	ks.revoked, revokedID = e.createKey(ks.app, "ingest", "read", "admin")
	if res := e.admin("DELETE", "/applications/"+ks.app+"/keys/"+revokedID+"/", nil); res.status != 204 {
		e.t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	gone := e.createApp("gone")
	ks.deactivated, _ = e.createKey(gone, "ingest", "read", "admin")
	if res := e.admin("DELETE", "/applications/"+gone+"/", nil); res.status != 204 {
		e.t.Fatalf("deactivate: %d %s", res.status, res.body)
	}
	return ks
}

// TestAuthMatrix runs every endpoint with every kind of key.
func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.FailedAuthBurst = 1000 })
	ks := e.keyset()
	session := eye.NewID()
	event := e.accepted(pageview(session))
	e.waitFound("/events/" + event + "/")
	bad := e.admin("POST", "/events/", "[1]")
	errorID := bad.json(t)["error_id"].(string)
	e.waitFound("/errors/" + errorID + "/")

	type endpoint struct {
		method, path string
		body         any
		scope        string
		ok           int
	}
	// fresh makes a resource for a destructive endpoint, once per call.
	freshEvent := func() string {
		id := e.accepted(pageview(session))
		e.waitFound("/events/" + id + "/")
		return id
	}
	endpoints := []func() endpoint{
		func() endpoint { return endpoint{"POST", "/events/", pageview(session), "ingest", 202} },
		func() endpoint { return endpoint{"POST", "/events/batch/", []any{pageview(session)}, "ingest", 202} },
		func() endpoint { return endpoint{"POST", "/sessions/", nil, "ingest", 201} },
		func() endpoint { return endpoint{"GET", "/events/", nil, "read", 200} },
		func() endpoint { return endpoint{"GET", "/events/" + event + "/", nil, "read", 200} },
		func() endpoint { return endpoint{"GET", "/sessions/", nil, "read", 200} },
		func() endpoint { return endpoint{"GET", "/sessions/" + session + "/", nil, "read", 200} },
		func() endpoint { return endpoint{"GET", "/sessions/" + session + "/events/", nil, "read", 200} },
		func() endpoint { return endpoint{"GET", "/errors/", nil, "read", 200} },
		func() endpoint { return endpoint{"GET", "/errors/" + errorID + "/", nil, "read", 200} },
		func() endpoint {
			return endpoint{"PUT", "/events/" + freshEvent() + "/", pageview(session), "admin", 200}
		},
		func() endpoint {
			return endpoint{"PATCH", "/events/" + freshEvent() + "/", map[string]any{"name": "renamed"}, "admin", 200}
		},
		func() endpoint { return endpoint{"DELETE", "/events/" + freshEvent() + "/", nil, "admin", 204} },
		func() endpoint {
			return endpoint{"POST", "/applications/", map[string]any{"name": eye.NewID()}, "admin", 201}
		},
		func() endpoint { return endpoint{"GET", "/applications/", nil, "admin", 200} },
		func() endpoint { return endpoint{"GET", "/applications/" + ks.app + "/", nil, "admin", 200} },
		func() endpoint {
			return endpoint{"PATCH", "/applications/" + ks.app + "/", map[string]any{"name": "shop"}, "admin", 200}
		},
		func() endpoint {
			return endpoint{"DELETE", "/applications/" + e.createApp(eye.NewID()) + "/", nil, "admin", 204}
		},
		func() endpoint {
			return endpoint{"POST", "/applications/" + ks.app + "/keys/", map[string]any{"scopes": []string{"read"}}, "admin", 201}
		},
		func() endpoint { return endpoint{"GET", "/applications/" + ks.app + "/keys/", nil, "admin", 200} },
		func() endpoint {
			_, id := e.createKey(ks.app, "read")
			return endpoint{"DELETE", "/applications/" + ks.app + "/keys/" + id + "/", nil, "admin", 204}
		},
	}
	holders := []struct {
		name, key string
		scopes    []string
	}{
		{"no key", "", nil},
		{"bad key", "eye_" + strings.Repeat("x", 43), nil},
		{"ingest key", ks.ingest, []string{"ingest"}},
		{"read key", ks.read, []string{"read"}},
		{"admin key", adminKey, []string{"admin"}},
		{"revoked key", ks.revoked, nil},
		{"deactivated app key", ks.deactivated, nil},
	}
	for _, mk := range endpoints {
		for _, h := range holders {
			ep := mk()
			want := 401
			if h.scopes != nil {
				want = 403
				if eye.Allows(h.scopes, ep.scope) {
					want = ep.ok
				}
			}
			res := e.do(ep.method, ep.path, h.key, ep.body)
			if res.status != want {
				t.Errorf("%s %s with %s: %d, want %d: %s", ep.method, ep.path, h.name, res.status, want, res.body)
			}
		}
	}
}

func TestApplications(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.admin("POST", "/applications/", map[string]any{"name": "  web shop "})
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	app := res.json(t)
	id := app["id"].(string)
	if app["name"] != "web shop" || app["active"] != true || res.header.Get("Location") != "/applications/"+id+"/" {
		t.Errorf("created %v %v", app, res.header)
	}
	wantProblem(t, e.admin("POST", "/applications/", map[string]any{"name": "web shop"}), 409, "conflict")
	for _, body := range []string{`{}`, `{"name": ""}`, `{"name": 5}`, `{"name": "` + strings.Repeat("n", 101) + `"}`, `{"name": "x", "color": "red"}`} {
		wantProblem(t, e.admin("POST", "/applications/", body), 422, "unprocessable")
	}
	list := e.admin("GET", "/applications/", nil).json(t)["results"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != "default" {
		t.Errorf("applications %v", list)
	}
	res = e.admin("PATCH", "/applications/"+id+"/", map[string]any{"name": "shop"})
	if res.status != 200 || res.json(t)["name"] != "shop" {
		t.Errorf("rename: %d %s", res.status, res.body)
	}
	wantProblem(t, e.admin("PATCH", "/applications/"+id+"/", map[string]any{"active": "no"}), 422, "unprocessable")
	wantProblem(t, e.admin("GET", "/applications/nothing/", nil), 404, "not_found")
	wantProblem(t, e.admin("GET", "/applications/?limit=5", nil), 400, "invalid_parameter")

	// Keys: scopes checked; the secret shown once.
	for _, body := range []string{`{}`, `{"scopes": []}`, `{"scopes": ["write"]}`, `{"scopes": "read"}`} {
		wantProblem(t, e.admin("POST", "/applications/"+id+"/keys/", body), 422, "unprocessable")
	}
	wantProblem(t, e.admin("POST", "/applications/nothing/keys/", map[string]any{"scopes": []string{"read"}}), 404, "not_found")
	secret, keyID := e.createKey(id, "ingest", "read", "ingest")
	if !strings.HasPrefix(secret, api.KeyPrefix) || len(secret) != len(api.KeyPrefix)+43 {
		t.Errorf("secret %q", secret)
	}
	keys := e.admin("GET", "/applications/"+id+"/keys/", nil).json(t)["results"].([]any)
	k := keys[0].(map[string]any)
	if len(keys) != 1 || k["id"] != keyID || k["prefix"] != secret[:12] || k["revoked_at"] != nil ||
		k["key"] != nil || len(k["scopes"].([]any)) != 2 {
		t.Errorf("keys %v", keys)
	}

	// Events carry the application of their key, and lists filter by it.
	session := eye.NewID()
	if res := e.do("POST", "/events/", secret, pageview(session)); res.status != 202 {
		t.Fatalf("event with the app's key: %d %s", res.status, res.body)
	}
	e.accepted(pageview(session))
	mine := e.waitEvents("/events/?application="+id, 1)
	if len(mine) != 1 || mine[0]["application_id"] != id {
		t.Errorf("events of the application: %v", mine)
	}
	ss := e.wait("/sessions/"+session+"/", func(r response) bool { return r.status == 200 && r.json(t)["event_count"] == float64(2) }).json(t)
	if apps := ss["application_ids"].([]any); len(apps) != 2 {
		t.Errorf("application_ids %v", apps)
	}
	if list := e.admin("GET", "/sessions/?application="+id, nil).json(t)["results"].([]any); len(list) != 1 {
		t.Errorf("sessions of the application: %v", list)
	}
	bad := e.do("POST", "/events/", secret, "nope")
	errID := bad.json(t)["error_id"].(string)
	e.waitFound("/errors/" + errID + "/")
	if list := e.admin("GET", "/errors/?application="+id, nil).json(t)["results"].([]any); len(list) != 1 ||
		list[0].(map[string]any)["application_id"] != id {
		t.Errorf("errors of the application: %v", list)
	}

	// Revocation and deactivation take effect at once; reactivation too.
	if res := e.do("GET", "/events/", secret, nil); res.status != 200 {
		t.Fatalf("read with the key: %d", res.status)
	}
	e.admin("DELETE", "/applications/"+id+"/", nil)
	wantProblem(t, e.do("GET", "/events/", secret, nil), 401, "unauthorized")
	if got := e.admin("GET", "/applications/"+id+"/", nil).json(t); got["active"] != false {
		t.Errorf("after DELETE: %v", got)
	}
	wantProblem(t, e.admin("POST", "/applications/"+id+"/keys/", map[string]any{"scopes": []string{"read"}}), 409, "conflict")
	e.admin("PATCH", "/applications/"+id+"/", map[string]any{"active": true})
	if res := e.do("GET", "/events/", secret, nil); res.status != 200 {
		t.Errorf("after reactivation: %d", res.status)
	}
	if res := e.admin("DELETE", "/applications/"+id+"/keys/"+keyID+"/", nil); res.status != 204 {
		t.Fatalf("revoke: %d", res.status)
	}
	wantProblem(t, e.do("GET", "/events/", secret, nil), 401, "unauthorized")
	wantProblem(t, e.admin("DELETE", "/applications/default/keys/"+keyID+"/", nil), 404, "not_found")
	// Its events stay.
	if list := e.admin("GET", "/events/?application="+id, nil).json(t)["results"].([]any); len(list) != 1 {
		t.Errorf("events after revocation: %v", list)
	}
}

func TestKeyInURLRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, q := range []string{"?key=" + adminKey, "?api_key=x", "?access_token=" + adminKey, "?category=" + adminKey} {
		res := e.do("GET", "/events/"+q, "", nil)
		wantProblem(t, res, 401, "unauthorized")
		// Even with a valid header.
		wantProblem(t, e.admin("GET", "/events/"+q, nil), 401, "unauthorized")
	}
}

func TestFailedAuthRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.FailedAuthBurst, c.FailedAuthInterval = 5, time.Hour })
	for range 5 {
		wantProblem(t, e.do("GET", "/events/", "eye_wrong", nil), 401, "unauthorized")
	}
	res := e.do("GET", "/events/", "eye_wrong", nil)
	wantProblem(t, res, 429, "too_many_failures")
	if ra := res.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	// A valid key from the same address is not slowed down; a request
	// without a key guesses nothing and stays a 401.
	if res := e.admin("GET", "/events/", nil); res.status != 200 {
		t.Errorf("valid key after failures: %d", res.status)
	}
	wantProblem(t, e.do("GET", "/events/", "", nil), 401, "unauthorized")
}

// TestNoSecretLeaks creates a key, uses it, lists it, fails with wrong
// keys, and checks that the secret is in no log line and in no answer but
// the one that created it.
func TestNoSecretLeaks(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, func(c *api.Config) { c.Logger = logger })
	app := e.createApp("shop")
	res := e.admin("POST", "/applications/"+app+"/keys/", map[string]any{"scopes": []string{"ingest", "read", "admin"}})
	secret := res.json(t)["key"].(string)
	if res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the key's answer may be cached: %v", res.header)
	}

	var answers [][]byte
	record := func(r response) { answers = append(answers, r.body) }
	id := ""
	for _, r := range []response{
		e.do("POST", "/events/", secret, pageview(eye.NewID())),
		e.do("GET", "/applications/"+app+"/keys/", secret, nil),
		e.do("GET", "/applications/"+app+"/", secret, nil),
		e.do("GET", "/applications/", secret, nil),
		e.do("GET", "/events/?key="+secret, secret, nil),
		e.do("GET", "/events/", secret+"x", nil),
		e.do("GET", "/nothing/", secret, nil),
		e.do("POST", "/events/", secret, "not json "+secret),
	} {
		record(r)
		if r.status == 202 {
			id = r.json(t)["id"].(string)
		}
	}
	e.waitFound("/events/" + id + "/")
	record(e.admin("GET", "/events/"+id+"/", nil))
	for i, b := range answers {
		if bytes.Contains(b, []byte(secret)) && !strings.Contains(string(b), "not json") {
			t.Errorf("answer %d holds the secret: %s", i, b)
		}
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), secret[12:]) {
		t.Errorf("the logs hold the secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"path":"/events"`) {
		t.Errorf("the logs were not captured at all:\n%s", logs.String())
	}
	keys, err := e.store.ApplicationKeys(context.Background(), app)
	if err != nil || len(keys) != 1 || bytes.Contains(keys[0].Hash, []byte(secret)) || len(keys[0].Hash) != 32 {
		t.Errorf("stored key %+v, %v", keys, err)
	}
}

// lockedBuffer is a buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestKeyringSharedPrefix checks that keys sharing a prefix are told apart.
func TestKeyringSharedPrefix(t *testing.T) {
	a := api.StaticKey("eye_samepref-one", "a", "read")
	b := api.StaticKey("eye_samepref-two", "b", "admin")
	k := api.NewKeyring(nil, nil, a, b)
	if got, ok := k.Lookup("eye_samepref-two"); !ok || got.ID != "b" {
		t.Errorf("Lookup = %+v, %v", got, ok)
	}
	if _, ok := k.Lookup("eye_samepref-three"); ok {
		t.Error("Lookup found a key that does not exist")
	}
}

// TestRateLimit: each application gets its rate; over it, 429 with
// Retry-After; another application is not held back.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.RateLimit, c.RateBurst = 1, 20 })
	app := e.createApp("busy")
	busy, _ := e.createKey(app, "ingest")
	for i := range 20 {
		if res := e.do("POST", "/events/", busy, pageview(eye.NewID())); res.status != 202 {
			t.Fatalf("event %d within the burst: %d", i, res.status)
		}
	}
	res := e.do("POST", "/events/", busy, pageview(eye.NewID()))
	wantProblem(t, res, 429, "rate_limited")
	if ra := res.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	wantProblem(t, e.do("POST", "/events/batch/", busy, []any{pageview(eye.NewID())}), 429, "rate_limited")
	// The admin key's events belong to another application.
	if res := e.admin("POST", "/events/", pageview(eye.NewID())); res.status != 202 {
		t.Errorf("another application: %d", res.status)
	}
}

// TestClientWentAway: a client that went away before its events were
// queued leaves no error in the log: the request counts as 499, as proxies
// say, and is logged at debug level.
func TestClientWentAway(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, func(c *api.Config) { c.Logger = logger })
	session := eye.NewID()
	body, _ := json.Marshal([]any{pageview(session), pageview(session)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/events/batch/", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code != 499 {
		t.Errorf("status %d, want 499\n%s", rec.Code, rec.Body)
	}
	if out := logs.String(); strings.Contains(out, `"level":"ERROR"`) || strings.Contains(out, `"level":"WARN"`) ||
		!strings.Contains(out, "client went away") {
		t.Errorf("the log:\n%s", out)
	}
}
