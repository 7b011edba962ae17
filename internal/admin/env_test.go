package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/admin"
	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/natsq"
	"github.com/theeye/eye/internal/replay"
	"github.com/theeye/eye/internal/schema"
	"github.com/theeye/eye/internal/sqlite"
	"github.com/theeye/eye/internal/worker"
)

// adminKey is the test service's static admin API key.
const adminKey = "eye_test-admin-key"

// The user the tests log in as.
const (
	userName = "ada"
	password = "correct horse battery"
)

// env is The Eye running in-process as eye serve runs it: a SQLite store
// and the embedded queue in a temporary directory, a worker, the API with
// the admin UI mounted at /admin/.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	store   *sqlite.Store
	keys    *api.Keyring
	schemas *schema.Registry
	api     *api.Server
}

// newEnv starts the service; opts may change the UI's configuration.
// tls serves it over HTTPS.
func newEnv(t testing.TB, tls bool, opts ...func(*admin.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, "eye.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	queue, err := natsq.Open(ctx, natsq.Options{Dir: filepath.Join(dir, "nats"), MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	registry := schema.NewRegistry(store, nil)
	if err := registry.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	rules := eye.Rules{FutureTolerance: time.Minute, Schemas: registry}
	keys := api.NewKeyring(store, nil, api.StaticKey(adminKey, "test", eye.ScopeAdmin))
	w := worker.New(worker.Config{Queue: queue, Store: store, Rules: rules, StopTimeout: 100 * time.Millisecond, Notify: queue.Notify})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = w.Run(wctx); close(done) }()
	replayer := replay.New(wctx, store, rules, nil, nil)
	srv := api.New(api.Config{Queue: queue, Store: store, Keys: keys, Rules: rules, Schemas: registry, Replay: replayer})
	cfg := admin.Config{Store: store, Keys: keys, Replay: replayer, Schemas: registry, Status: srv.PipelineStatus}
	for _, opt := range opts {
		opt(&cfg)
	}
	srv.HandleAdmin(admin.New(cfg))
	e := &env{t: t, store: store, keys: keys, schemas: registry, api: srv}
	if tls {
		e.srv = httptest.NewTLSServer(srv)
	} else {
		e.srv = httptest.NewServer(srv)
	}
	t.Cleanup(func() {
		srv.Shutdown() // ends the live streams
		e.srv.Close()
		cancel()
		<-done
		replayer.Wait()
		queue.Close()
		store.Close()
	})
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateUser(ctx, eye.User{ID: eye.NewID(), Name: userName, PasswordHash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	return e
}

// browser is an HTTP client with its cookies, which does not follow
// redirects (tests look at them).
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	client := new(http.Client)
	*client = *e.srv.Client() // a copy: each browser has its own cookies
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{e: e, client: client}
}

// answer is an answer, its body read.
type answer struct {
	status int
	header http.Header
	body   string
}

// location is the path a redirect leads to.
func (p answer) location() string { return p.header.Get("Location") }

// csrf is the CSRF token of the page's first form.
func (p answer) csrf(t testing.TB) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	return html.UnescapeString(m[1])
}

// do sends a request; body is a form (url.Values), a JSON value, or nil.
func (b *browser) do(method, path string, body any, header ...string) answer {
	b.e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch v := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(v)
		if err != nil {
			b.e.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	ctx := context.Background()
	if strings.HasPrefix(path, "/events/stream") {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, b.e.srv.URL+path, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil && ctx.Err() == nil {
		b.e.t.Fatal(err)
	}
	return answer{status: res.StatusCode, header: res.Header, body: string(out)}
}

func (b *browser) get(path string) answer {
	b.e.t.Helper()
	return b.do("GET", path, nil)
}

// post sends a form with the CSRF token given.
func (b *browser) post(path, csrf string, form url.Values) answer {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if csrf != "" {
		form.Set("csrf_token", csrf)
	}
	return b.do("POST", path, form)
}

// login logs in with the password given and returns the answer.
func (b *browser) login(name, pass string) answer {
	b.e.t.Helper()
	form := b.get("/admin/login")
	return b.post("/admin/login", form.csrf(b.e.t), url.Values{"name": {name}, "password": {pass}})
}

// loggedIn logs in and returns the CSRF token of the session.
func (b *browser) loggedIn() string {
	b.e.t.Helper()
	if res := b.login(userName, password); res.status != http.StatusSeeOther {
		b.e.t.Fatalf("login: %d\n%s", res.status, res.body)
	}
	return b.get("/admin").csrf(b.e.t)
}

// cookie returns the browser's cookie of that name for the server.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL + "/admin")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie finds the Set-Cookie of that name in an answer.
func setCookie(t testing.TB, p answer, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no Set-Cookie %s in %v", name, p.header)
	return nil
}

// send posts an event to the API with the admin key and returns its id.
func (e *env) send(ev map[string]any) string {
	e.t.Helper()
	b, _ := json.Marshal(ev)
	req, _ := http.NewRequest("POST", e.srv.URL+"/events/", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 202 {
		e.t.Fatalf("POST /events/: %d %v", res.StatusCode, err)
	}
	return out.ID
}

// waitFor polls until ok, or fails the test after a while.
func (e *env) waitFor(what string, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitError waits for the error record of an id.
func (e *env) waitError(id string) eye.ErrorRecord {
	e.t.Helper()
	var rec eye.ErrorRecord
	e.waitFor("error record "+id, func() bool {
		var err error
		rec, err = e.store.ErrorRecord(context.Background(), id)
		return err == nil
	})
	return rec
}

// waitEvent waits for the event of an id.
func (e *env) waitEvent(id string) eye.Event {
	e.t.Helper()
	var ev eye.Event
	e.waitFor("event "+id, func() bool {
		var err error
		ev, err = e.store.Event(context.Background(), id)
		return err == nil
	})
	return ev
}

// pageview is a valid event of a session.
func pageview(session string) map[string]any {
	return map[string]any{"session_id": session, "category": "page interaction", "name": "pageview",
		"data": map[string]any{"host": "www.example.com", "path": "/"}, "timestamp": eye.FormatTime(time.Now().Add(-time.Minute))}
}
