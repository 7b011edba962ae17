package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/lifecycle"
	"github.com/theeye/eye/internal/metric"
	"github.com/theeye/eye/internal/natsq"
	"github.com/theeye/eye/internal/replay"
	"github.com/theeye/eye/internal/schema"
	"github.com/theeye/eye/internal/sqlite"
	"github.com/theeye/eye/internal/worker"
)

const adminKey = "eye_test-admin-key"

// env is the real handler stack over a real embedded queue, a real SQLite
// store and a running worker, in a temporary directory.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	queue   *natsq.Queue
	store   *sqlite.Store
	worker  *worker.Worker
	keys    *api.Keyring
	metrics *metric.Metrics
	api     *api.Server // the handler itself, without the conformance check
}

// newEnv starts the stack; opts may change the API's configuration.
func newEnv(t testing.TB, opts ...func(*api.Config)) *env {
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
	rules := eye.Rules{FutureTolerance: time.Minute, Schemas: registry}
	keys := api.NewKeyring(store, nil, api.StaticKey(adminKey, "test", eye.ScopeAdmin))
	e := &env{t: t, queue: queue, store: store, keys: keys}
	e.metrics = metric.New()
	e.worker = worker.New(worker.Config{Queue: queue, Store: store, Rules: rules, StopTimeout: 100 * time.Millisecond,
		Metrics: e.metrics, Notify: queue.Notify})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.worker.Run(wctx); close(done) }()
	replayer := replay.New(wctx, store, rules, nil, e.metrics)
	deleter := lifecycle.NewDeleter(wctx, store, nil, lifecycle.Pace{Batch: 100, Pause: time.Millisecond})
	cfg := api.Config{Queue: queue, Store: store, Keys: keys, Rules: rules, Schemas: registry, Replay: replayer, Metrics: e.metrics,
		Deleter: deleter}
	for _, opt := range opts {
		opt(&cfg)
	}
	// Every request and answer is checked against the OpenAPI document.
	e.api = api.New(cfg)
	e.srv = httptest.NewServer(newConformance(t, e.api, keys))
	t.Cleanup(func() {
		e.srv.Close()
		cancel()
		<-done
		replayer.Wait()
		deleter.Wait()
		queue.Close()
		store.Close()
	})
	return e
}

// response is an answer, its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// do sends a request with the admin key (key "" sends none) and a JSON
// body (a string sent as it is; nil sends none).
func (e *env) do(method, path, key string, body any, header ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	ctx := context.Background()
	if strings.HasPrefix(path, "/events/stream") {
		// The stream never ends: take what it sends in a moment.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil && ctx.Err() == nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// admin sends a request with the admin key.
func (e *env) admin(method, path string, body any, header ...string) response {
	e.t.Helper()
	return e.do(method, path, adminKey, body, header...)
}

// wait polls path until ok says the answer is as expected.
func (e *env) wait(path string, ok func(response) bool) response {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second) // generous: the race detector on a busy machine is slow
	for {
		res := e.admin("GET", path, nil)
		if ok(res) {
			return res
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("GET %s: still %d %s", path, res.status, res.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) waitFound(path string) map[string]any {
	e.t.Helper()
	return e.wait(path, func(r response) bool { return r.status == 200 }).json(e.t)
}

// pageview returns a valid event of session.
func pageview(session string) map[string]any {
	return map[string]any{
		"session_id": session,
		"category":   "page interaction",
		"name":       "pageview",
		"data":       map[string]any{"host": "www.example.com", "path": "/"},
		"timestamp":  "2021-01-01 09:15:27.243860",
	}
}

func wantProblem(t testing.TB, res response, status int, code string) map[string]any {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d: %s", res.status, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	p := res.json(t)
	if p["status"] != float64(status) || p["code"] != code || p["title"] == "" || p["detail"] == "" {
		t.Errorf("problem %v, want status %d code %s", p, status, code)
	}
	return p
}

func TestPublicAndProtected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if res := e.do("GET", "/healthz", "", nil); res.status != 200 {
		t.Errorf("healthz: %d", res.status)
	}
	if res := e.do("GET", "/readyz", "", nil); res.status != 200 || res.json(t)["status"] != "ready" {
		t.Errorf("readyz: %d %s", res.status, res.body)
	}
	paths := []struct{ method, path string }{
		{"POST", "/events/"}, {"POST", "/events/batch/"}, {"POST", "/sessions/"},
		{"GET", "/events/"}, {"GET", "/events/" + eye.NewID() + "/"}, {"PUT", "/events/" + eye.NewID() + "/"},
		{"PATCH", "/events/" + eye.NewID() + "/"}, {"DELETE", "/events/" + eye.NewID() + "/"},
		{"GET", "/sessions/"}, {"GET", "/sessions/" + eye.NewID() + "/"}, {"GET", "/sessions/" + eye.NewID() + "/events/"},
		{"GET", "/errors/"}, {"GET", "/errors/" + eye.NewID() + "/"},
	}
	for _, p := range paths {
		res := e.do(p.method, p.path, "", nil)
		wantProblem(t, res, 401, "unauthorized")
		if res.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", p.method, p.path)
		}
		wantProblem(t, e.do(p.method, p.path, "eye_wrong", nil), 401, "unauthorized")
	}
	// Other schemes are refused.
	wantProblem(t, e.do("GET", "/events/", "", nil, "Authorization", "Basic "+adminKey), 401, "unauthorized")
}

func TestScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	secret, key := api.NewSecret()
	key.Scopes = []string{eye.ScopeIngest}
	if err := e.store.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if res := e.do("POST", "/events/", secret, pageview(eye.NewID())); res.status != 202 {
		t.Errorf("ingest key, POST /events/: %d %s", res.status, res.body)
	}
	wantProblem(t, e.do("GET", "/events/", secret, nil), 403, "forbidden")
	wantProblem(t, e.do("DELETE", "/events/"+eye.NewID()+"/", secret, nil), 403, "forbidden")
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Every path, with or without its trailing slash, for every method:
	// never a redirect.
	for _, path := range []string{"/events", "/events/", "//events//", "/events/./"} {
		res := e.admin("POST", path, pageview(eye.NewID()))
		if res.status != 202 {
			t.Errorf("POST %s: %d %s", path, res.status, res.body)
		}
	}
	for _, path := range []string{"/sessions", "/sessions/", "/errors", "/events", "/events/?limit=1"} {
		if res := e.admin("GET", path, nil); res.status != 200 {
			t.Errorf("GET %s: %d", path, res.status)
		}
	}
	wantProblem(t, e.admin("GET", "/nothing/", nil), 404, "not_found")
	res := e.admin("DELETE", "/sessions/", nil)
	wantProblem(t, res, 405, "method_not_allowed")
	if allow := res.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow: %q", allow)
	}
	res = e.admin("POST", "/events/"+eye.NewID(), pageview(eye.NewID()))
	wantProblem(t, res, 405, "method_not_allowed")
	if allow := res.header.Get("Allow"); !strings.Contains(allow, "PATCH") || !strings.Contains(allow, "DELETE") {
		t.Errorf("Allow: %q", allow)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := `{"session_id":"` + eye.NewID() + `","data":{"x":"` + strings.Repeat("a", 33<<10) + `"}}`
	hugeBatch := "[" + strings.Repeat(`{"a":"`+strings.Repeat("b", 1000)+`"},`, 1100) + "{}]"
	tooMany := "[" + strings.Repeat("{},", 1000) + "{}]"
	tests := []struct {
		name          string
		method, path  string
		body          string
		contentType   string
		status        int
		code, param   string
		keepsErrorRec bool
	}{
		{"not JSON", "POST", "/events/", `{"session_id": `, "application/json", 400, "malformed_json", "", true},
		{"array", "POST", "/events/", `[1, 2]`, "application/json", 400, "malformed_json", "", true},
		{"string", "POST", "/events/", `"hello"`, "application/json", 400, "malformed_json", "", true},
		{"empty", "POST", "/events/", ``, "application/json", 400, "malformed_json", "", true},
		{"two objects", "POST", "/events/", `{} {}`, "application/json", 400, "malformed_json", "", true},
		{"too large", "POST", "/events/", big, "application/json", 413, "too_large", "", false},
		{"batch too large", "POST", "/events/batch/", hugeBatch, "application/json", 413, "too_large", "", false},
		{"batch too many", "POST", "/events/batch/", tooMany, "application/json", 413, "too_large", "", false},
		{"batch not array", "POST", "/events/batch/", `{"a": 1}`, "application/json", 400, "malformed_json", "", true},
		{"batch broken", "POST", "/events/batch/", `[{"a": 1}, {"b": `, "application/json", 400, "malformed_json", "", true},
		{"text/plain", "POST", "/events/", `{"a": 1}`, "text/plain", 415, "unsupported_media_type", "", false},
		{"no type", "POST", "/events/", `{"a": 1}`, "", 415, "unsupported_media_type", "", false},
		{"form", "POST", "/sessions/", `a=1`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", "", false},
		{"ndjson single", "POST", "/events/", `{"a": 1}`, "application/x-ndjson", 415, "unsupported_media_type", "", false},
		{"session body", "POST", "/sessions/", `[1]`, "application/json", 400, "malformed_json", "", false},
		{"unknown param", "GET", "/events/?categroy=x", "", "", 400, "invalid_parameter", "categroy", false},
		{"repeated param", "GET", "/events/?category=a&category=b", "", "", 400, "invalid_parameter", "category", false},
		{"bad limit", "GET", "/events/?limit=0", "", "", 400, "invalid_parameter", "limit", false},
		{"big limit", "GET", "/events/?limit=1001", "", "", 400, "invalid_parameter", "limit", false},
		{"bad order", "GET", "/events/?order=up", "", "", 400, "invalid_parameter", "order", false},
		{"bad session", "GET", "/events/?session=abc", "", "", 400, "invalid_parameter", "session", false},
		{"bad time", "GET", "/events/?timestamp__gte=yesterday", "", "", 400, "invalid_parameter", "timestamp__gte", false},
		{"bad cursor", "GET", "/events/?cursor=AAAA", "", "", 400, "invalid_parameter", "cursor", false},
		{"cursor garbage", "GET", "/events/?cursor=%FF%00", "", "", 400, "invalid_parameter", "cursor", false},
		{"sessions param", "GET", "/sessions/?session=" + eye.NewID(), "", "", 400, "invalid_parameter", "session", false},
		{"errors time", "GET", "/errors/?received__lte=1", "", "", 400, "invalid_parameter", "received__lte", false},
		{"unknown event", "GET", "/events/" + eye.NewID() + "/", "", "", 404, "not_found", "", false},
		{"not a uuid", "GET", "/events/batch/", "", "", 404, "not_found", "", false},
		{"unknown session", "GET", "/sessions/" + eye.NewID() + "/", "", "", 404, "not_found", "", false},
		{"unknown session events", "GET", "/sessions/" + eye.NewID() + "/events/", "", "", 404, "not_found", "", false},
		{"unknown error", "GET", "/errors/" + eye.NewID() + "/", "", "", 404, "not_found", "", false},
		{"delete unknown", "DELETE", "/events/" + eye.NewID() + "/", "", "", 404, "not_found", "", false},
		{"patch unknown", "PATCH", "/events/" + eye.NewID() + "/", `{"name": "x"}`, "application/merge-patch+json", 404, "not_found", "", false},
		{"put not object", "PUT", "/events/" + eye.NewID() + "/", `[]`, "application/json", 400, "malformed_json", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method != "GET" && tt.method != "DELETE" {
				body = tt.body
			}
			res := e.admin(tt.method, tt.path, body, "Content-Type", tt.contentType)
			p := wantProblem(t, res, tt.status, tt.code)
			if tt.param != "" && p["param"] != tt.param {
				t.Errorf("param %v, want %s", p["param"], tt.param)
			}
			if tt.status == 503 && res.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			id, _ := p["error_id"].(string)
			if tt.keepsErrorRec != (id != "") {
				t.Fatalf("error_id %q; want one: %v", id, tt.keepsErrorRec)
			}
			if id == "" {
				return
			}
			rec := e.waitFound("/errors/" + id + "/")
			reasons := rec["reasons"].([]any)
			if reasons[0].(map[string]any)["code"] != "malformed_json" {
				t.Errorf("error record %v", rec)
			}
			if rec["payload_encoding"] == "json" {
				var got any
				json.Unmarshal(mustJSON(t, rec["payload"]), &got)
				var want any
				json.Unmarshal([]byte(tt.body), &want)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("payload %v, want %s", got, tt.body)
				}
			} else if rec["payload"] != tt.body {
				t.Errorf("payload %q, want %q", rec["payload"], tt.body)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestQueueDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.queue.Close()
	for _, path := range []string{"/events/", "/events/batch/", "/sessions/"} {
		body := any(pageview(eye.NewID()))
		if path == "/events/batch/" {
			body = []any{body}
		}
		res := e.admin("POST", path, body)
		wantProblem(t, res, 503, "unavailable")
		if res.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
	}
	res := e.do("GET", "/readyz", "", nil)
	if res.status != 503 || res.json(t)["checks"].(map[string]any)["queue"] == "ok" {
		t.Errorf("readyz with the queue down: %d %s", res.status, res.body)
	}
}

func TestStoreDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.store.Close()
	wantProblem(t, e.admin("GET", "/events/", nil), 503, "unavailable")
	// Ingest does not need the store.
	if res := e.admin("POST", "/events/", pageview(eye.NewID())); res.status != 202 {
		t.Errorf("POST /events/ with the store down: %d %s", res.status, res.body)
	}
	if res := e.do("GET", "/readyz", "", nil); res.status != 503 {
		t.Errorf("readyz with the store down: %d %s", res.status, res.body)
	}
}
