package main

import (
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/pgtest"
)

// tcpProxy forwards connections to a server until it is cut: then it
// closes every connection and refuses new ones, as a network partition
// would, until it is restored.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.down { // cut while dialling: this connection must not survive it
			p.mu.Unlock()
			c.Close()
			s.Close()
			continue
		}
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		go func() { io.Copy(s, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}

// cut closes every connection and refuses new ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// TestStoreOutage cuts PostgreSQL off for 30 s under load: ingest keeps
// answering 202 (the queue holds the events), /readyz and /status say the
// store is down, the worker holds its batch without giving it back to the
// queue, and once the store is back every acknowledged event is stored
// once, with no error record.
func TestStoreOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("cuts the store off for 30 s")
	}
	outage := 30 * time.Second
	if v := os.Getenv("EYE_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		outage = d
	}
	db := pgtest.Database(t)
	u, _ := url.Parse(db)
	proxy := startProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	const key = "eye_outage-test-admin-key"
	s := startServiceEnv(t, map[string]string{"EYE_DATA_DIR": t.TempDir(), "EYE_DATABASE_URL": u.String(), "EYE_ADMIN_KEY": key})
	defer s.stop()

	session := eye.NewID()
	l := &load{acked: map[string]bool{}, pause: 2 * time.Millisecond} // at most 2,000 events/s
	stop := make(chan struct{})
	wg := l.run(s.url, key, session, 4, stop)
	time.Sleep(2 * time.Second)
	proxy.cut()
	cutAt := time.Now()
	before := len(l.ackedIDs())
	t.Logf("store cut off after %d acks", before)

	// During the outage: ingest answers 202, readiness and status say why.
	time.Sleep(3 * time.Second)
	status, b := s.do("GET", "/readyz", nil, "")
	if status != 503 || !strings.Contains(string(b), `"store"`) {
		t.Errorf("readyz during the outage: %d %s", status, b)
	}
	st := s.get("/status")
	if st["status"] != "down" || !strings.Contains(toJSON(st["reasons"]), "store") {
		t.Errorf("status during the outage: %v", st)
	}
	time.Sleep(outage - time.Since(cutAt))
	during := len(l.ackedIDs()) - before
	l.mu.Lock()
	refused := l.refused
	l.mu.Unlock()
	proxy.restore()
	t.Logf("store back after %s; %d events acked during the outage, %d answered otherwise", time.Since(cutAt).Round(time.Millisecond), during, refused)
	if during == 0 {
		t.Error("ingest acknowledged nothing while the store was down")
	}
	if refused > 0 {
		t.Errorf("%d ingest requests were not answered 202 during the outage", refused)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	acked := l.ackedIDs()

	// After: everything stored once, nothing in errors, nothing redelivered.
	deadline := time.Now().Add(time.Minute)
	for {
		if status, _ := s.do("GET", "/sessions/"+session+"/", nil, ""); status == 200 {
			if n := s.get("/sessions/" + session + "/")["event_count"].(float64); int(n) >= len(acked) {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	stored := map[string]int{}
	for _, ev := range s.all("/events/?limit=1000&session=" + session) {
		stored[ev["id"].(string)]++
	}
	lost := len(acked) - countAcked(acked, stored)
	for id, n := range stored {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	if errs := s.all("/errors/"); len(errs) > 0 {
		t.Errorf("%d error records; the outage must make none: %v", len(errs), errs[0])
	}
	metrics := s.metrics()
	if v := metrics["eye_records_redelivered_total"]; v != 0 {
		t.Errorf("%v records were redelivered: the held batch went back to the queue", v)
	}
	if status, b := s.do("GET", "/readyz", nil, ""); status != 200 {
		t.Errorf("readyz after the outage: %d %s", status, b)
	}
	t.Logf("store outage of %s: %d events sent, %d acked, %d stored, %d acked but lost", outage, l.sent, len(acked), len(stored), lost)
	if lost > 0 {
		t.Errorf("%d acknowledged events are not stored", lost)
	}
}

// metrics reads the service's metrics without labels, by name.
func (s *service) metrics() map[string]float64 {
	s.t.Helper()
	status, b := s.do("GET", "/metrics", nil, "")
	if status != 200 {
		s.t.Fatalf("GET /metrics: %d", status)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
