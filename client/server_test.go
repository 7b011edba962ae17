package client_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// eyeBinary is The Eye's server, built once by TestMain; empty in -short
// mode, where the tests that need it skip.
var eyeBinary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	if !testing.Short() {
		dir, err := os.MkdirTemp("", "eye-client-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if eyeBinary, err = buildEye(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// buildEye builds ./cmd/eye of this module into dir.
func buildEye(dir string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	exe := filepath.Join(dir, "eye")
	build := exec.Command("go", "build", "-o", exe, "./cmd/eye")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/eye: %w\n%s", err, out)
	}
	return exe, nil
}

// eyeServer is eye serve running as a process, on a data directory and an
// address that stay the same across restarts.
type eyeServer struct {
	t        *testing.T
	dir      string
	addr     string
	adminKey string
	http     *http.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *syncBuffer
}

// startEye starts eye serve on a free port and a new data directory.
func startEye(t *testing.T) *eyeServer {
	t.Helper()
	if eyeBinary == "" {
		t.Skip("runs The Eye's server; not in -short mode")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &eyeServer{t: t, dir: t.TempDir(), addr: addr, adminKey: "eye_" + rand.Text() + rand.Text(),
		http: &http.Client{Timeout: 30 * time.Second}}
	s.start()
	t.Cleanup(func() {
		s.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("server output:\n%s", s.output())
		}
	})
	return s
}

func (s *eyeServer) url() string { return "http://" + s.addr }

// start runs the process and waits until it is ready.
func (s *eyeServer) start() {
	s.t.Helper()
	cmd := exec.Command(eyeBinary, "serve")
	cmd.Env = append(os.Environ(), "EYE_ADDR="+s.addr, "EYE_DATA_DIR="+s.dir, "EYE_ADMIN_KEY="+s.adminKey, "EYE_LOG_LEVEL=warn")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.cmd, s.logs = cmd, logs
	s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := s.http.Get(s.url() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("eye serve not ready after 30 s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig to the process and waits for it to exit.
func (s *eyeServer) stop(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	cmd.Wait()
}

// restart stops the process with sig and starts it again on the same data
// and address.
func (s *eyeServer) restart(sig syscall.Signal) {
	s.t.Helper()
	s.stop(sig)
	s.start()
}

func (s *eyeServer) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		return ""
	}
	return s.logs.String()
}

// call sends a request with the admin key and decodes a JSON answer of
// the wanted status into out.
func (s *eyeServer) call(method, path string, body any, want int, out any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url()+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.adminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// newApplication makes an application and an ingest key of it, and
// returns the application's id and the key.
func (s *eyeServer) newApplication(name string) (id, key string) {
	s.t.Helper()
	var app struct {
		ID string `json:"id"`
	}
	s.call("POST", "/applications/", map[string]any{"name": name}, http.StatusCreated, &app)
	var k struct {
		Key string `json:"key"`
	}
	s.call("POST", "/applications/"+app.ID+"/keys/", map[string]any{"scopes": []string{"ingest"}, "label": "client test"},
		http.StatusCreated, &k)
	return app.ID, k.Key
}

// storedEvent is an event as the API returns it.
type storedEvent struct {
	ID            string         `json:"id"`
	EventID       string         `json:"event_id"`
	SessionID     string         `json:"session_id"`
	ApplicationID string         `json:"application_id"`
	Category      string         `json:"category"`
	Name          string         `json:"name"`
	Data          map[string]any `json:"data"`
	Timestamp     time.Time      `json:"timestamp"`
	SentAt        *time.Time     `json:"sent_at"`
}

// list walks every page of a list, following next.
func list[T any](s *eyeServer, path string) []T {
	s.t.Helper()
	var all []T
	for path != "" {
		var page struct {
			Results []T    `json:"results"`
			Next    string `json:"next"`
		}
		s.call("GET", path, nil, http.StatusOK, &page)
		all = append(all, page.Results...)
		path = ""
		if page.Next != "" {
			u, err := url.Parse(page.Next)
			if err != nil {
				s.t.Fatal(err)
			}
			path = u.RequestURI()
		}
	}
	return all
}

// session is a session as the API returns it.
type session struct {
	ID             string   `json:"id"`
	EventCount     int      `json:"event_count"`
	ApplicationIDs []string `json:"application_ids"`
}

// waitEvents waits until the application's sessions hold n stored events
// (validation is asynchronous) or 30 s have passed, and returns the
// application's events.
func (s *eyeServer) waitEvents(app string, n int) []storedEvent {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		count := 0
		for _, ss := range list[session](s, "/sessions/?limit=1000&application="+app) {
			count += ss.EventCount
		}
		if count >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return list[storedEvent](s, "/events/?limit=1000&application="+app)
}

// metric returns the sum of a counter's series in GET /metrics.
func (s *eyeServer) metric(name string) float64 {
	s.t.Helper()
	req, err := http.NewRequest("GET", s.url()+"/metrics", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.adminKey)
	res, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	sum := 0.0
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads.
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
