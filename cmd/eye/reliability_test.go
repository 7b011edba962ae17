package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// process is eye serve running as a process of its own (the test binary,
// run as the command).
type process struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	*service
}

// startProcess starts eye serve on dir with the extra environment.
func startProcess(t *testing.T, dir string, env ...string) *process {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env = append(os.Environ(), append([]string{"EYE_TEST_RUN_MAIN=1", "EYE_DATA_DIR=" + dir, "EYE_ADDR=127.0.0.1:0",
		"EYE_LOG_FORMAT=json", "EYE_LOG_LEVEL=info"}, env...)...)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := waitListening(t, logs)
	key, _ := os.ReadFile(filepath.Join(dir, "admin.key"))
	return &process{cmd: cmd, logs: logs, service: &service{t: t, url: "http://" + addr, key: strings.TrimSpace(string(key)),
		http: &http.Client{Timeout: 10 * time.Second}}}
}

// load sends events from several clients until stop is closed, each with
// an event_id, retrying what got no answer; it returns the ids acked.
type load struct {
	mu      sync.Mutex
	acked   map[string]bool
	next    int // the next event's number: each event has its own event_id
	sent    int
	refused int           // answers other than 202 (the server was going away)
	pause   time.Duration // between two requests of a client
}

func (l *load) run(url, key, session string, clients int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for range clients {
		wg.Go(func() {
			var body []byte // unanswered: sent again, with its event_id
			for {
				select {
				case <-stop:
					return
				default:
				}
				l.mu.Lock()
				if body == nil {
					ev := event(session, "c", "n", "2021-01-01T09:15:27Z", map[string]any{"i": l.next})
					ev["event_id"] = fmt.Sprintf("%s-%d", session, l.next)
					l.next++
					body, _ = json.Marshal(ev)
				}
				l.sent++
				l.mu.Unlock()
				req, _ := http.NewRequest("POST", url+"/events/", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				body = nil
				time.Sleep(l.pause)
				var m map[string]string
				json.NewDecoder(res.Body).Decode(&m)
				res.Body.Close()
				l.mu.Lock()
				if res.StatusCode == 202 {
					l.acked[m["id"]] = true
				} else {
					l.refused++
				}
				l.mu.Unlock()
			}
		})
	}
	return &wg
}

// TestCrashLosesNothing kills eye serve with SIGKILL at a random moment
// under load, five times in a row, restarting it on the same data, and
// checks that every event that got a 202 is stored exactly once.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	key := "eye_crash-test-admin-key"
	session := eye.NewID()
	l := &load{acked: map[string]bool{}}
	const kills = 5
	for round := range kills {
		p := startProcess(t, dir, "EYE_ADMIN_KEY="+key)
		stop := make(chan struct{})
		wg := l.run(p.url, key, session, 8, stop)
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		close(stop)
		wg.Wait()
		t.Logf("round %d: %d acked so far", round+1, len(l.acked))

	}
	p := startProcess(t, dir, "EYE_ADMIN_KEY="+key)
	defer func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}()
	p.key = key

	// Every acked event, stored once: the store's ids are unique, and the
	// session counts each once. Wait until all are counted, or the queue
	// has been empty for a while (on a loaded machine the backlog can take
	// long to drain).
	deadline := time.Now().Add(3 * time.Minute)
	for empty := 0; empty < 10 && time.Now().Before(deadline); {
		ss := p.get("/sessions/" + session + "/")
		if ss["event_count"].(float64) >= float64(len(l.acked)) {
			break
		}
		if q, ok := p.get("/status")["queue"].(map[string]any); ok && q["messages"] == 0.0 && q["in_progress"] == 0.0 {
			empty++
		} else {
			empty = 0
		}
		time.Sleep(200 * time.Millisecond)
	}
	stored := map[string]int{}
	for _, ev := range p.all("/events/?limit=1000&session=" + session) {
		stored[ev["id"].(string)]++
	}
	lost := 0
	for id := range l.acked {
		if stored[id] != 1 {
			lost++
		}
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	ss := p.get("/sessions/" + session + "/")
	t.Logf("%d kills: %d events sent, %d acked, %d answered otherwise, %d stored, %d acked but lost",
		kills, l.sent, len(l.acked), l.refused, len(stored), lost)
	if lost > 0 {
		t.Errorf("%d acknowledged events are not stored", lost)
	}
	if int(ss["event_count"].(float64)) != len(stored) {
		t.Errorf("event_count %v, %d events stored", ss["event_count"], len(stored))
	}
	if len(l.acked) == 0 {
		t.Error("no event was acknowledged")
	}
}

// TestQueueFullRefuses fills the queue (no worker runs): past its limit,
// ingest answers 503 with Retry-After, and every event acknowledged before
// is stored once a worker runs.
func TestQueueFullRefuses(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EYE_DATA_DIR": dir, "EYE_WORKERS": "0", "EYE_QUEUE_MAX_BYTES": "1048576"}
	s := startServiceEnv(t, env)
	session := eye.NewID()
	var acked []string
	refused := 0
	for i := 0; refused == 0 && i < 100; i++ {
		var batch []any
		for j := range 100 {
			batch = append(batch, event(session, "c", "n", "2021-01-01T09:15:27Z", map[string]any{"i": i, "j": j, "pad": strings.Repeat("x", 200)}))
		}
		j, _ := json.Marshal(batch)
		req, _ := http.NewRequest("POST", s.url+"/events/batch/", bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", "application/json")
		res, err := s.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			IDs []string `json:"ids"`
		}
		json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		switch res.StatusCode {
		case 202:
			acked = append(acked, m.IDs...)
		case 503:
			refused++
			if res.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		default:
			t.Fatalf("batch %d: %d", i, res.StatusCode)
		}
	}
	if refused == 0 {
		t.Fatal("the queue never refused")
	}
	st := s.get("/status")
	t.Logf("queue full after %d acknowledged events: %v", len(acked), st["queue"])
	s.stop()

	env["EYE_WORKERS"] = "1"
	s = startServiceEnv(t, env)
	defer s.stop()
	s.waitStored(len(acked), 0)
	stored := map[string]bool{}
	for _, ev := range s.all("/events/?limit=1000") {
		stored[ev["id"].(string)] = true
	}
	for _, id := range acked {
		if !stored[id] {
			t.Fatalf("acknowledged event %s was not stored", id)
		}
	}
}
