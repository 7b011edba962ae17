package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/pgtest"
	"github.com/theeye/eye/internal/sqlite"
)

// TestMain lets the test binary run as the eye command, so that tests can
// start it as a process and signal it.
func TestMain(m *testing.M) {
	if os.Getenv("EYE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// service is The Eye started in-process on a free port.
type service struct {
	t    *testing.T
	app  *app
	url  string
	key  string
	dir  string
	http *http.Client
}

// startService starts The Eye on dir, as eye serve would, with the
// generated admin key.
func startService(t *testing.T, dir string) *service {
	t.Helper()
	return startServiceEnv(t, map[string]string{"EYE_DATA_DIR": dir})
}

// startServiceEnv starts The Eye with the given environment, on a free
// port.
func startServiceEnv(t *testing.T, env map[string]string) *service {
	t.Helper()
	env = maps.Clone(env)
	env["EYE_ADDR"] = "127.0.0.1:0"
	if env["EYE_LOG_LEVEL"] == "" {
		env["EYE_LOG_LEVEL"] = "warn"
	}
	dir := env["EYE_DATA_DIR"]
	var c config
	if err := c.parse("serve", nil, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a, err := start(context.Background(), c, &out, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte(env["EYE_ADMIN_KEY"])
	if len(key) == 0 {
		if key, err = os.ReadFile(filepath.Join(dir, "admin.key")); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), strings.TrimSpace(string(key))) {
		t.Error("the admin key was printed; only its file's path may be")
	}
	s := &service{t: t, app: a, url: "http://" + a.addr(), key: strings.TrimSpace(string(key)), dir: dir, http: &http.Client{Timeout: 30 * time.Second}}
	return s
}

func (s *service) stop() {
	s.t.Helper()
	if err := s.app.stop(); err != nil {
		s.t.Errorf("stop: %v", err)
	}
}

func (s *service) do(method, path string, body any, contentType string) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (s *service) get(path string) map[string]any {
	s.t.Helper()
	status, b := s.do("GET", path, nil, "")
	if status != 200 {
		s.t.Fatalf("GET %s: %d %s", path, status, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatal(err)
	}
	return m
}

// all walks every page of a list.
func (s *service) all(path string) []map[string]any {
	s.t.Helper()
	var out []map[string]any
	for path != "" {
		m := s.get(path)
		for _, r := range m["results"].([]any) {
			out = append(out, r.(map[string]any))
		}
		next, _ := m["next"].(string)
		path = strings.TrimPrefix(next, s.url)
	}
	return out
}

// waitStored waits until the stored events and error records number
// events and errs, failing if more appear.
func (s *service) waitStored(events, errs int) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		e, x := len(s.all("/events/?limit=1000")), len(s.all("/errors/?limit=1000"))
		if e == events && x == errs {
			return
		}
		if e > events || x > errs || time.Now().After(deadline) {
			s.t.Fatalf("stored %d events and %d error records, want %d and %d", e, x, events, errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func event(session, category, name, ts string, data any) map[string]any {
	return map[string]any{"session_id": session, "category": category, "name": name, "data": data, "timestamp": ts}
}

// TestEndToEnd boots the whole service, sends every kind of good and bad
// input, and checks events, sessions and errors as the API returns them.
// It runs on the embedded SQLite store, then on PostgreSQL.
func TestEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testEndToEnd(t, startService(t, t.TempDir()))
	})
	t.Run("postgres", func(t *testing.T) {
		testEndToEnd(t, startServiceEnv(t, map[string]string{"EYE_DATA_DIR": t.TempDir(), "EYE_DATABASE_URL": pgtest.Database(t)}))
	})
}

func testEndToEnd(t *testing.T, s *service) {
	defer s.stop()
	session := eye.NewID()
	future := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)

	good := []any{
		event(session, "page interaction", "pageview", "2021-01-01 09:15:27.243860",
			map[string]any{"host": "www.example.com", "path": "/"}),
		event(session, "page interaction", "cta click", "2021-01-01T09:15:28.5Z",
			map[string]any{"host": "www.example.com", "path": "/", "element": "chat bubble"}),
		event(session, "form interaction", "submit", "2021-01-01 09:15:26",
			map[string]any{"host": "www.example.com", "path": "/", "form": map[string]any{"first_name": "John", "last_name": "Doe"}}),
	}
	bad := map[string]any{
		"missing_field":      map[string]any{"category": "c", "name": "n", "data": map[string]any{"a": 1}, "timestamp": "2021-01-01 09:15:27"},
		"invalid_session_id": event("not-a-uuid", "c", "n", "2021-01-01 09:15:27", map[string]any{"a": 1}),
		"invalid_type":       event(session, "c", "n", "2021-01-01 09:15:27", map[string]any{"a": 1}),
		"too_long":           event(session, strings.Repeat("c", 51), "n", "2021-01-01 09:15:27", map[string]any{"a": 1}),
		"data_not_object":    event(session, "c", "n", "2021-01-01 09:15:27", "text"),
		"empty_data":         event(session, "c", "n", "2021-01-01 09:15:27", map[string]any{}),
		"invalid_timestamp":  event(session, "c", "n", "not a time", map[string]any{"a": 1}),
		"future_timestamp":   event(session, "c", "n", future, map[string]any{"a": 1}),
	}
	bad["invalid_type"].(map[string]any)["name"] = 12

	var ids []string
	for _, ev := range good[:2] {
		status, b := s.do("POST", "/events/", ev, "application/json")
		if status != 202 {
			t.Fatalf("POST good event: %d %s", status, b)
		}
		var m map[string]string
		json.Unmarshal(b, &m)
		ids = append(ids, m["id"])
	}
	status, b := s.do("POST", "/events/batch/", good[2:], "application/json")
	if status != 202 {
		t.Fatalf("POST batch: %d %s", status, b)
	}
	errorIDs := map[string]string{}
	for code, ev := range bad {
		status, b := s.do("POST", "/events", ev, "application/json")
		if status != 202 {
			t.Fatalf("POST %s event: %d %s", code, status, b)
		}
		var m map[string]string
		json.Unmarshal(b, &m)
		errorIDs[code] = m["id"]
	}
	status, b = s.do("POST", "/events/", `{"session_id": "`+session+`", `, "application/json")
	if status != 400 {
		t.Fatalf("POST malformed: %d %s", status, b)
	}
	var p map[string]any
	json.Unmarshal(b, &p)
	errorIDs["malformed_json"] = p["error_id"].(string)
	status, b = s.do("POST", "/sessions/", nil, "")
	if status != 201 {
		t.Fatalf("POST /sessions/: %d %s", status, b)
	}
	var minted map[string]any
	json.Unmarshal(b, &minted)

	s.waitStored(3, len(errorIDs))

	// Events of the session in the order they occurred.
	evs := s.all("/sessions/" + session + "/events/")
	var names []string
	for _, ev := range evs {
		names = append(names, ev["name"].(string))
	}
	if !slices.Equal(names, []string{"submit", "pageview", "cta click"}) {
		t.Errorf("session events in order: %v", names)
	}
	if evs[1]["id"] != ids[0] || evs[1]["timestamp"] != "2021-01-01T09:15:27.243860Z" {
		t.Errorf("first event as stored: %v", evs[1])
	}
	// Filters of the reference.
	for q, want := range map[string]int{
		"session=" + session:          3,
		"category=page%20interaction": 2,
		"name=submit":                 1,
		"timestamp__gte=2021-01-01T09:15:27Z&timestamp__lte=2021-01-01T09:15:28Z": 1,
		"timestamp__lte=2021-01-01T09:15:27.243860Z":                              2,
	} {
		if got := len(s.all("/events/?" + q)); got != want {
			t.Errorf("/events/?%s: %d events, want %d", q, got, want)
		}
	}
	ss := s.get("/sessions/" + session + "/")
	if ss["event_count"] != float64(3) || ss["first_seen"] != "2021-01-01T09:15:26.000000Z" || ss["last_seen"] != "2021-01-01T09:15:28.500000Z" {
		t.Errorf("session %v", ss)
	}
	sessions := s.all("/sessions/")
	if len(sessions) != 2 || sessions[0]["id"] != minted["id"] {
		t.Errorf("sessions, most recent activity first: %v", sessions)
	}
	// Every error record, with its code.
	for code, id := range errorIDs {
		rec := s.get("/errors/" + id + "/")
		reasons := rec["reasons"].([]any)
		if len(reasons) != 1 || reasons[0].(map[string]any)["code"] != code || rec["message"] == "" {
			t.Errorf("error record for %s: %v", code, rec)
		}
		if list := s.all("/errors/?code=" + code); len(list) != 1 || list[0]["id"] != id {
			t.Errorf("/errors/?code=%s: %v", code, list)
		}
	}
}

// TestRestart checks that every event acknowledged before a clean restart
// is stored after it, once.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	session := eye.NewID()
	const n = 300
	var batch []any
	for i := range n {
		ev := event(session, "c", "n", "2021-01-01T09:15:27Z", map[string]any{"i": i})
		if i%2 == 0 {
			ev["event_id"] = fmt.Sprintf("e-%d", i)
		}
		batch = append(batch, ev)
	}
	// Acked, then stop at once, before the worker may have stored them.
	status, b := s.do("POST", "/events/batch/", batch, "application/json")
	if status != 202 {
		t.Fatalf("batch: %d %s", status, b)
	}
	s.stop()

	s = startService(t, dir)
	defer s.stop()
	// Half of them sent again after the restart: no duplicates.
	status, _ = s.do("POST", "/events/batch/", batch[:n/2], "application/json")
	if status != 202 {
		t.Fatalf("batch again: %d", status)
	}
	s.waitStored(n+n/4, 0)
	if ss := s.get("/sessions/" + session + "/"); ss["event_count"] != float64(n+n/4) {
		t.Errorf("event_count %v, want %d", ss["event_count"], n+n/4)
	}
}

// TestConcurrentSession drives concurrent clients on one session, with
// retried events among them, and checks every count.
func TestConcurrentSession(t *testing.T) {
	s := startService(t, t.TempDir())
	defer s.stop()
	session := eye.NewID()
	const clients, each = 8, 100
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				ev := event(session, "c", "n", fmt.Sprintf("2021-01-01T%02d:%02d:00Z", c, i%60), map[string]any{"c": c, "i": i})
				ev["event_id"] = fmt.Sprintf("%d-%d", c, i)
				// Every fifth event is sent twice, as a retrying client would.
				for range 1 + btoi(i%5 == 0) {
					status, b := s.do("POST", "/events/", ev, "application/json")
					if status != 202 {
						t.Errorf("client %d: %d %s", c, status, b)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	s.waitStored(clients*each, 0)
	ss := s.get("/sessions/" + session + "/")
	if ss["event_count"] != float64(clients*each) || ss["first_seen"] != "2021-01-01T00:00:00.000000Z" ||
		ss["last_seen"] != "2021-01-01T07:59:00.000000Z" {
		t.Errorf("session %v", ss)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGracefulStop runs eye serve as a process, sends SIGTERM while
// clients are sending, and checks that it exits 0 and that every
// acknowledged event is stored.
func TestGracefulStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env = append(os.Environ(), "EYE_TEST_RUN_MAIN=1", "EYE_DATA_DIR="+dir, "EYE_ADDR=127.0.0.1:0", "EYE_LOG_FORMAT=json")
	var logs syncBuffer
	cmd.Stderr = &logs
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := waitListening(t, &logs)
	key, _ := os.ReadFile(filepath.Join(dir, "admin.key"))
	s := &service{t: t, url: "http://" + addr, key: strings.TrimSpace(string(key)), http: &http.Client{Timeout: 10 * time.Second}}

	session := eye.NewID()
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for c := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ev := event(session, "c", "n", "2021-01-01T09:15:27Z", map[string]any{"c": c, "i": i})
				j, _ := json.Marshal(ev)
				req, _ := http.NewRequest("POST", s.url+"/events/", bytes.NewReader(j))
				req.Header.Set("Authorization", "Bearer "+s.key)
				req.Header.Set("Content-Type", "application/json")
				res, err := s.http.Do(req)
				if err != nil {
					return // the server stopped listening
				}
				var m map[string]string
				json.NewDecoder(res.Body).Decode(&m)
				res.Body.Close()
				if res.StatusCode == 202 {
					mu.Lock()
					acked = append(acked, m["id"])
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("eye serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("eye serve did not stop within 40s\n%s", logs.String())
	}
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no event was acknowledged before the signal")
	}

	s2 := startService(t, dir)
	defer s2.stop()
	s2.waitStored(len(acked), 0)
	stored := map[string]bool{}
	for _, ev := range s2.all("/events/?limit=1000") {
		stored[ev["id"].(string)] = true
	}
	for _, id := range acked {
		if !stored[id] {
			t.Errorf("acknowledged event %s is not stored", id)
		}
	}
	t.Logf("%d events acknowledged before SIGTERM, all stored", len(acked))
}

// waitListening reads the address from the service's JSON log.
func waitListening(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" {
				return m["addr"].(string)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not listening after 30s:\n%s", logs.String())
	return ""
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test
// reading.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestCommands(t *testing.T) {
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"version"}, os.Getenv, nil, &out, &errs); err != nil || !strings.HasPrefix(out.String(), "eye ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	out.Reset()
	err := run(context.Background(), []string{"serve", "-h"}, func(string) string { return "" }, nil, &out, &errs)
	if err == nil {
		t.Error("serve -h: no error")
	}
	for _, env := range []string{"EYE_ADDR", "EYE_DATA_DIR", "EYE_DATABASE_URL", "EYE_NATS_URL", "EYE_ADMIN_KEY",
		"EYE_FUTURE_TOLERANCE", "EYE_LOG_LEVEL", "EYE_LOG_FORMAT", "127.0.0.1:8000", "./eye-data", "1m0s"} {
		if !strings.Contains(errs.String(), env) {
			t.Errorf("serve -h lacks %s:\n%s", env, errs.String())
		}
	}
	errs.Reset()
	bad := map[string]string{"EYE_FUTURE_TOLERANCE": "soon"}
	if err := run(context.Background(), []string{"serve"}, func(k string) string { return bad[k] }, nil, &out, &errs); err == nil ||
		!strings.Contains(err.Error(), "EYE_FUTURE_TOLERANCE") {
		t.Errorf("bad environment value: %v", err)
	}
	dir := t.TempDir()
	env := map[string]string{"EYE_DATA_DIR": dir}
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, nil, &out, io.Discard); err != nil {
		t.Errorf("migrate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "eye.db")); err != nil {
		t.Errorf("migrate made no database: %v", err)
	}
	if err := run(context.Background(), []string{"nonsense"}, os.Getenv, nil, &out, &errs); err == nil {
		t.Error("unknown command: no error")
	}
}

// TestAdminKeyFile checks the generated admin key: written once with mode
// 0600, kept across restarts, and a configured key works without it.
func TestAdminKeyFile(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	first := s.key
	s.stop()
	info, err := os.Stat(filepath.Join(dir, "admin.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin.key: %v %v", info.Mode(), err)
	}
	s = startService(t, dir)
	defer s.stop()
	if s.key != first {
		t.Error("the admin key changed on restart")
	}
	if status, _ := s.do("GET", "/events/", nil, ""); status != 200 {
		t.Errorf("generated key after restart: %d", status)
	}
}

// TestAdminCommands creates an application, a key and a user from the
// command line while the service runs on the same data, and checks that
// the service honours the key, then its revocation, within five seconds.
func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	defer s.stop()
	env := map[string]string{"EYE_DATA_DIR": dir, "EYE_PASSWORD": "correct horse battery"}
	getenv := func(k string) string { return env[k] }
	cli := func(args ...string) (string, string, error) {
		var out, errs bytes.Buffer
		err := run(context.Background(), args, getenv, nil, &out, &errs)
		return out.String(), errs.String(), err
	}
	if _, _, err := cli("apps", "create", "shop"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cli("apps", "create", "shop"); err == nil {
		t.Error("a second application named shop")
	}
	out, _, err := cli("apps", "list")
	if err != nil || !strings.Contains(out, "shop") || !strings.Contains(out, "default") {
		t.Errorf("apps list: %v\n%s", err, out)
	}
	secret, msg, err := cli("keys", "create", "--app", "shop", "--scope", "ingest,read", "--label", "web")
	secret = strings.TrimSpace(secret)
	if err != nil || !strings.HasPrefix(secret, "eye_") || strings.Contains(msg, secret) {
		t.Fatalf("keys create: %v %q %q", err, secret, msg)
	}
	if _, _, err := cli("keys", "create", "--app", "shop", "--scope", "write"); err == nil {
		t.Error("a key with an unknown scope")
	}
	out, _, err = cli("keys", "list", "--app", "shop")
	if err != nil || !strings.Contains(out, secret[:12]) || strings.Contains(out, secret) || !strings.Contains(out, "web") {
		t.Errorf("keys list: %v\n%s", err, out)
	}
	keyID := strings.Fields(strings.Split(out, "\n")[1])[0]
	if _, msg, err := cli("keys", "create", "--app", "shop", "--scope", "ingest", "--label", "temp", "--expires", "30d"); err != nil ||
		!strings.Contains(msg, "expires at "+time.Now().AddDate(0, 0, 30).UTC().Format("2006-01-02")) {
		t.Errorf("keys create --expires 30d: %v %q", err, msg)
	}
	if _, _, err := cli("keys", "create", "--app", "shop", "--scope", "ingest", "--expires", "2020-01-01T00:00:00Z"); err == nil ||
		!strings.Contains(err.Error(), "not in the future") {
		t.Errorf("keys create --expires in the past: %v", err)
	}
	if out, _, _ := cli("keys", "list", "--app", "shop"); !strings.Contains(out, "temp") ||
		strings.Fields(strings.Split(out, "\n")[2])[5] == "-" {
		t.Errorf("keys list: the key with --expires has no expiry:\n%s", out)
	}

	user := &service{t: t, url: s.url, key: secret, http: s.http}
	eventually := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			status, _ := user.do("GET", "/events/", nil, "")
			if status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET /events/ with the key: %d after 5s, want %d", status, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	eventually(200)
	if status, _ := user.do("POST", "/events/", event(eye.NewID(), "c", "n", "2021-01-01T00:00:00Z", map[string]any{"a": 1}), "application/json"); status != 202 {
		t.Errorf("ingest with the key: %d", status)
	}
	if _, _, err := cli("keys", "revoke", keyID); err != nil {
		t.Fatal(err)
	}
	eventually(401)

	if out, _, err := cli("users", "create", "ada"); err != nil || !strings.Contains(out, "ada") {
		t.Errorf("users create: %v %s", err, out)
	}
	if _, _, err := cli("users", "create", "ada"); err == nil {
		t.Error("a second user named ada")
	}
	env["EYE_PASSWORD"] = "short"
	if _, _, err := cli("users", "create", "bob"); err == nil {
		t.Error("a user with a short password")
	}
	delete(env, "EYE_PASSWORD")
	if _, _, err := cli("users", "create", "bob"); err == nil || !strings.Contains(err.Error(), "EYE_PASSWORD") {
		t.Errorf("no terminal, no EYE_PASSWORD: %v", err)
	}
}

// TestSchemasFolderAndResumedJob keeps a tracking plan in a folder, loaded
// at start; events fail against its strict first version; a replay job
// left running by a stopped service (as after a crash) resumes at the next
// start, with the fixed folder, and turns them into events.
func TestSchemasFolderAndResumedJob(t *testing.T) {
	dir, plan := t.TempDir(), t.TempDir()
	file := filepath.Join(plan, "page interaction", "pageview.json")
	os.MkdirAll(filepath.Dir(file), 0o755)
	os.WriteFile(file, []byte(`{"type": "object", "required": ["host", "path", "referrer"]}`), 0o644)

	env := map[string]string{"EYE_DATA_DIR": dir, "EYE_SCHEMAS_DIR": plan}
	getenv := func(k string) string { return env[k] }
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"schemas", "check", plan}, getenv, nil, &out, &errs); err != nil {
		t.Fatalf("schemas check: %v %s", err, errs.String())
	}
	bad := filepath.Join(t.TempDir(), "form interaction")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "submit.json"), []byte(`{"required": "form"}`), 0o644)
	errs.Reset()
	if err := run(context.Background(), []string{"schemas", "check", filepath.Dir(bad)}, getenv, nil, &out, &errs); err == nil ||
		!strings.Contains(errs.String(), "submit.json") {
		t.Errorf("schemas check of a bad folder: %v %q", err, errs.String())
	}

	s := startServiceEnv(t, env)
	session := eye.NewID()
	var ids []string
	for i := range 30 {
		ev := event(session, "page interaction", "pageview", "2021-01-01T09:15:27Z", map[string]any{"host": "www.example.com", "path": "/", "i": i})
		_, b := s.do("POST", "/events/", ev, "application/json")
		var m map[string]string
		json.Unmarshal(b, &m)
		ids = append(ids, m["id"])
	}
	s.waitStored(0, 30)
	s.stop()

	// A job left running, and a fixed plan.
	st, err := sqlite.Open(filepath.Join(dir, "eye.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	job := eye.Job{ID: eye.NewID(), Kind: "replay", Filter: eye.ErrorFilter{Status: eye.StatusOpen}, Status: eye.JobRunning,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateJob(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	st.Close()
	os.WriteFile(file, []byte(`{"type": "object", "required": ["host", "path"]}`), 0o644)

	s = startServiceEnv(t, env)
	defer s.stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j := s.get("/jobs/" + job.ID + "/")
		if j["status"] == "done" {
			if j["replayed"] != float64(30) || j["still_invalid"] != float64(0) {
				t.Errorf("resumed job %v", j)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not done: %v", j)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.waitStored(30, 30)
	if ev := s.get("/events/" + ids[0] + "/"); ev["schema_version"] != float64(2) {
		t.Errorf("replayed event %v", ev)
	}
	sc := s.get("/schemas/page%20interaction/pageview/")
	if sc["version"] != float64(2) || len(sc["versions"].([]any)) != 2 {
		t.Errorf("schema from the folder %v", sc)
	}
}

// TestTailAndStats runs eye tail and eye stats against a running service.
func TestTailAndStats(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	defer s.stop()
	env := map[string]string{"EYE_URL": s.url, "EYE_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"tail", "-errors"}, getenv, nil, &out, io.Discard) }()
	session := eye.NewID()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "rejected") && time.Now().Before(deadline) {
		// The stream may start after the first events: send until seen.
		s.do("POST", "/events/", event(session, "page interaction", "pageview", "2021-01-01T09:15:27Z", map[string]any{"a": 1}), "application/json")
		s.do("POST", "/events/", event(session, "page interaction", "pageview", "2021-01-01T09:15:27Z", map[string]any{}), "application/json")
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("tail: %v", err)
	}
	text := out.String()
	if !strings.Contains(text, "stored   page interaction / pageview  session="+session) ||
		!strings.Contains(text, "rejected page interaction / pageview") || !strings.Contains(text, "empty_data: data is an empty object") {
		t.Errorf("tail printed:\n%s", text)
	}

	var table bytes.Buffer
	err := run(context.Background(), []string{"stats", "-interval", "day", "-from", "2021-01-01T00:00:00Z", "-to", "2021-01-01T12:00:00Z"},
		getenv, nil, &table, io.Discard)
	if err != nil || !strings.Contains(table.String(), "2021-01-01T00:00:00.000000Z") {
		t.Errorf("stats: %v\n%s", err, table.String())
	}
	env["EYE_KEY"] = "eye_wrong"
	if err := run(context.Background(), []string{"stats"}, getenv, nil, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "401") {
		t.Errorf("stats with a wrong key: %v", err)
	}
}

// externalNATS returns the URL of the NATS server for tests of separate
// roles, or skips the test.
func externalNATS(t *testing.T) string {
	t.Helper()
	url := os.Getenv("EYE_TEST_NATS_URL")
	if url == "" {
		if os.Getenv("EYE_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("EYE_TEST_NATS_URL is unset, and EYE_TEST_REQUIRE_SERVICES=1 requires this test")
		}
		t.Skip("EYE_TEST_NATS_URL is unset: separate roles need an external NATS server")
	}
	return url
}

// TestRoles runs ingest, a worker and the query API as three services
// sharing an external NATS server and one store (SQLite, then PostgreSQL),
// and checks that each does its part only, and that a key revoked and a
// schema changed through the API reach the others within five seconds.
func TestRoles(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testRoles(t, "sqlite:"+filepath.Join(t.TempDir(), "eye.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		testRoles(t, pgtest.Database(t))
	})
}

func testRoles(t *testing.T, database string) {
	url := externalNATS(t)
	dir := t.TempDir()
	prefix := "eyeroles" + strings.ReplaceAll(eye.NewID(), "-", "")[:12]
	base := map[string]string{"EYE_NATS_URL": url, "EYE_NATS_PREFIX": prefix, "EYE_DATA_DIR": dir,
		"EYE_DATABASE_URL": database, "EYE_ADMIN_KEY": "eye_roles-admin-key"}
	with := func(role string) map[string]string {
		env := maps.Clone(base)
		env["EYE_ROLE"] = role
		return env
	}
	// The API first: it migrates the store.
	query := startServiceEnv(t, with("api"))
	defer query.stop()
	ingest := startServiceEnv(t, with("ingest"))
	defer ingest.stop()
	work := startServiceEnv(t, with("worker"))
	defer work.stop()
	t.Cleanup(func() { // after the services stopped
		nc, err := nats.Connect(url)
		if err == nil {
			js, _ := jetstream.New(nc)
			_ = js.DeleteStream(context.Background(), strings.ToUpper(prefix))
			nc.Close()
		}
	})

	session := eye.NewID()
	ev := event(session, "page interaction", "pageview", "2021-01-01T09:15:27Z", map[string]any{"host": "www.example.com", "path": "/"})
	if status, b := ingest.do("POST", "/events/", ev, "application/json"); status != 202 {
		t.Fatalf("ingest: %d %s", status, b)
	}
	if status, _ := ingest.do("GET", "/events/", nil, ""); status != 405 {
		t.Errorf("GET /events/ on ingest: %d, want 405 (ingest serves no queries)", status)
	}
	if status, _ := query.do("POST", "/events/", ev, "application/json"); status != 405 {
		t.Errorf("POST /events/ on the API: %d, want 405", status)
	}
	query.waitStored(1, 0)
	for _, s := range []*service{ingest, work, query} {
		if status, b := s.do("GET", "/readyz", nil, ""); status != 200 {
			t.Errorf("readyz: %d %s", status, b)
		}
	}

	// A schema put through the API reaches the worker.
	status, _ := query.do("PUT", "/schemas/page%20interaction/pageview/", `{"required": ["referrer"]}`, "application/json")
	if status != 201 {
		t.Fatalf("PUT schema: %d", status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ingest.do("POST", "/events/", ev, "application/json")
		if len(query.all("/errors/?code=schema_violation")) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not apply the new schema within 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A key made and revoked through the API works, then stops working, on ingest.
	status, b := query.do("POST", "/applications/", map[string]any{"name": "shop"}, "application/json")
	if status != 201 {
		t.Fatalf("create application: %d %s", status, b)
	}
	var app map[string]any
	json.Unmarshal(b, &app)
	status, b = query.do("POST", "/applications/"+app["id"].(string)+"/keys/", map[string]any{"scopes": []string{"ingest"}}, "application/json")
	var key map[string]any
	json.Unmarshal(b, &key)
	if status != 201 {
		t.Fatalf("create key: %d %s", status, b)
	}
	shop := &service{t: t, url: ingest.url, key: key["key"].(string), http: ingest.http}
	eventually := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if status, _ := shop.do("POST", "/events/", ev, "application/json"); status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the ingest process did not answer %d within 5s", want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	eventually(202)
	query.do("DELETE", "/applications/"+app["id"].(string)+"/keys/"+key["id"].(string)+"/", nil, "")
	eventually(401)
}

// TestHealthCommand checks eye health, the container health check, against
// a running service and against nothing.
func TestHealthCommand(t *testing.T) {
	s := startService(t, t.TempDir())
	var out bytes.Buffer
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	env := map[string]string{"EYE_ADDR": "0.0.0.0:" + port}
	if err := run(context.Background(), []string{"health"}, func(k string) string { return env[k] }, nil, &out, &out); err != nil || !strings.Contains(out.String(), "ok") {
		t.Errorf("health: %v %s", err, out.String())
	}
	if err := run(context.Background(), []string{"health", "-ready", "-url", s.url}, func(string) string { return "" }, nil, &out, &out); err != nil {
		t.Errorf("health -ready: %v", err)
	}
	s.stop()
	if err := run(context.Background(), []string{"health", "-url", s.url}, func(string) string { return "" }, nil, &out, &out); err == nil {
		t.Error("health of a stopped service succeeded")
	}
}

// TestWorkersDefault checks the number of workers a process runs unless
// told: one on SQLite, two on PostgreSQL; what is given wins.
func TestWorkersDefault(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		args []string
		want int
	}{
		{map[string]string{}, nil, 1},
		{map[string]string{"EYE_DATABASE_URL": "sqlite:/tmp/x.db"}, nil, 1},
		{map[string]string{"EYE_DATABASE_URL": "postgres://eye@db/eye"}, nil, 2},
		{map[string]string{"EYE_DATABASE_URL": "postgres://eye@db/eye", "EYE_WORKERS": "1"}, nil, 1},
		{map[string]string{"EYE_DATABASE_URL": "postgres://eye@db/eye"}, []string{"-workers", "0"}, 0},
		{map[string]string{"EYE_WORKERS": "3"}, nil, 3},
	} {
		var cfg config
		if err := cfg.parse("serve", c.args, func(k string) string { return c.env[k] }, io.Discard); err != nil {
			t.Fatalf("%v %v: %v", c.env, c.args, err)
		}
		if cfg.Workers != c.want {
			t.Errorf("%v %v: %d workers, want %d", c.env, c.args, cfg.Workers, c.want)
		}
	}
}
