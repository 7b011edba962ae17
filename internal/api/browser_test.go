package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/theeye/eye"
)

// TestAllowedOrigins checks how applications take their allowed origins:
// normalized as browsers send them, refused when not an origin.
func TestAllowedOrigins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.admin("POST", "/applications/", map[string]any{"name": "site",
		"allowed_origins": []string{"HTTPS://Shop.Example:443/", "http://localhost:3000", "https://shop.example"}})
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	app := res.json(t)
	if got := fmt.Sprint(app["allowed_origins"]); got != "[https://shop.example http://localhost:3000]" {
		t.Errorf("allowed_origins %s", got)
	}
	id := app["id"].(string)
	for _, bad := range []any{"https://a.example", []string{"*"}, []string{"null"}, []string{"ftp://a.example"},
		[]string{"https://a.example/path"}, []string{"https://user@a.example"}, []string{"https://a.example?x=1"}, []string{"a.example"}} {
		res := e.admin("PATCH", "/applications/"+id+"/", map[string]any{"allowed_origins": bad})
		if res.status != 422 || !strings.Contains(string(res.body), `"allowed_origins"`) {
			t.Errorf("allowed_origins %v: %d %s", bad, res.status, res.body)
		}
	}
	res = e.admin("PATCH", "/applications/"+id+"/", map[string]any{"allowed_origins": []string{"http://127.0.0.1:8080"}})
	if res.status != 200 || fmt.Sprint(res.json(t)["allowed_origins"]) != "[http://127.0.0.1:8080]" {
		t.Errorf("patch: %d %s", res.status, res.body)
	}
	if got := e.admin("GET", "/applications/"+id+"/", nil).json(t)["allowed_origins"]; fmt.Sprint(got) != "[http://127.0.0.1:8080]" {
		t.Errorf("after patch: %v", got)
	}
	if got := e.admin("GET", "/applications/"+e.createApp("none")+"/", nil).json(t)["allowed_origins"]; fmt.Sprint(got) != "[]" {
		t.Errorf("an application without origins: %v", got)
	}

	// The browser scope stands alone.
	res = e.admin("POST", "/applications/"+id+"/keys/", map[string]any{"scopes": []string{"browser", "read"}})
	if res.status != 422 || !strings.Contains(string(res.body), "cannot be combined") {
		t.Errorf("browser and read: %d %s", res.status, res.body)
	}
}

// TestBrowserKeys checks what a browser key may do: send events from an
// allowed origin only, as ?key= or in the header, with text/plain bodies,
// answered with CORS headers; and that no other key may travel in a URL.
func TestBrowserKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const origin = "https://shop.example"
	res := e.admin("POST", "/applications/", map[string]any{"name": "shop", "allowed_origins": []string{origin}})
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	app := res.json(t)["id"].(string)
	browser, _ := e.createKey(app, eye.ScopeBrowser)
	server, _ := e.createKey(app, eye.ScopeIngest)
	session := eye.NewID()
	batch := func(name string) string {
		return fmt.Sprintf(`[{"session_id":%q,"category":"page interaction","name":%q,"data":{"host":"shop.example","path":"/"},"timestamp":"2021-01-01T09:00:00Z"}]`,
			session, name)
	}
	beacon := func(key, name string, header ...string) response {
		t.Helper()
		return e.do("POST", "/events/batch/?key="+key, "", batch(name), append([]string{"Content-Type", "text/plain;charset=UTF-8"}, header...)...)
	}

	// A beacon from the allowed origin: text/plain read as JSON, CORS answer.
	res = beacon(browser, "pageview", "Origin", origin)
	if res.status != 202 || res.header.Get("Access-Control-Allow-Origin") != origin || !slices.Contains(res.header.Values("Vary"), "Origin") {
		t.Fatalf("beacon: %d %v %s", res.status, res.header, res.body)
	}
	// The key in the header works as well, from the allowed origin.
	if res := e.do("POST", "/events/", browser, map[string]any{"session_id": session, "category": "page interaction",
		"name": "cta click", "data": map[string]any{"host": "shop.example", "path": "/"}, "timestamp": "2021-01-01T09:00:01Z"},
		"Origin", origin); res.status != 202 || res.header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("header key: %d %s", res.status, res.body)
	}
	if res := e.do("POST", "/sessions/?key="+browser, "", nil, "Origin", origin); res.status != 201 {
		t.Errorf("mint a session: %d %s", res.status, res.body)
	}
	got := e.waitEvents("/events/?order=asc&session="+session, 2)
	if got[0]["application_id"] != app || got[0]["name"] != "pageview" || got[1]["name"] != "cta click" {
		t.Errorf("stored %v", got)
	}

	// Refused: no Origin, Origin: null, another origin, other routes.
	wantProblem(t, beacon(browser, "x"), 403, "origin_required")
	wantProblem(t, beacon(browser, "x", "Origin", "null"), 403, "origin_required")
	res = beacon(browser, "x", "Origin", "https://evil.example")
	wantProblem(t, res, 403, "origin_not_allowed")
	if res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a refused origin is named in CORS: %v", res.header)
	}
	wantProblem(t, e.do("GET", "/events/", browser, nil, "Origin", origin), 403, "forbidden")
	wantProblem(t, e.do("GET", "/events/?key="+browser, "", nil, "Origin", origin), 403, "forbidden")

	// No other key in a URL; never two keys; text/plain only for beacons.
	wantProblem(t, beacon(server, "x", "Origin", origin), 401, "unauthorized")
	wantProblem(t, e.do("GET", "/events/?key="+adminKey, "", nil), 401, "unauthorized")
	wantProblem(t, e.do("POST", "/events/batch/?api_key="+browser, "", batch("x"), "Origin", origin), 401, "unauthorized")
	wantProblem(t, e.do("POST", "/events/batch/?key="+browser, server, batch("x"), "Origin", origin), 401, "unauthorized")
	wantProblem(t, e.do("POST", "/events/batch/", server, batch("x"), "Content-Type", "text/plain"), 415, "unsupported_media_type")
	if res := e.do("POST", "/events/batch/", server, batch("server"), "Origin", origin); res.status != 202 ||
		res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a server key from a page: %d %v", res.status, res.header)
	}

	// Preflights: CORS headers for an allowed origin only.
	pre := func(origin string) http.Header {
		t.Helper()
		res := e.do("OPTIONS", "/events/batch/", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type")
		if res.status != 204 {
			t.Errorf("preflight from %s: %d %s", origin, res.status, res.body)
		}
		return res.header
	}
	if h := pre(origin); h.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		h.Get("Access-Control-Allow-Methods") != "POST" {
		t.Errorf("preflight from the allowed origin: %v", h)
	}
	if h := pre("https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %v", h)
	}

	// Origins removed, or the application deactivated: refused at once.
	e.admin("PATCH", "/applications/"+app+"/", map[string]any{"allowed_origins": []string{}})
	wantProblem(t, beacon(browser, "x", "Origin", origin), 403, "origin_not_allowed")
	if h := pre(origin); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight after the origins were removed: %v", h)
	}
	e.admin("PATCH", "/applications/"+app+"/", map[string]any{"allowed_origins": []string{origin}})
	if res := beacon(browser, "again", "Origin", origin); res.status != 202 {
		t.Errorf("origin allowed again: %d %s", res.status, res.body)
	}
	e.admin("DELETE", "/applications/"+app+"/", nil)
	wantProblem(t, beacon(browser, "x", "Origin", origin), 401, "unauthorized")
}

// TestTrackerScript checks GET /eye.js: public, JavaScript, cached and
// revalidated.
func TestTrackerScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("GET", "/eye.js", "", nil)
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(string(res.body), "sendBeacon") || res.header.Get("ETag") == "" ||
		res.header.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("GET /eye.js: %d %v %.80s", res.status, res.header, res.body)
	}
	if again := e.do("GET", "/eye.js", "", nil, "If-None-Match", res.header.Get("ETag")); again.status != 304 {
		t.Errorf("revalidation: %d", again.status)
	}
}
