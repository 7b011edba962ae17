package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// listener is the part of a queue the hub uses: it keeps the callback.
type listener struct {
	eye.Queue
	fn func([]byte)
}

func (l *listener) Listen(fn func([]byte)) (func(), error) {
	l.fn = fn
	return func() { l.fn = nil }, nil
}

// TestHubDropsSlowClients: a client that does not take its notices is
// dropped once its buffer is full; the others get every notice, and
// dispatching never waits.
func TestHubDropsSlowClients(t *testing.T) {
	q := &listener{}
	h := &hub{queue: q, log: discard{}, clients: map[*streamClient]bool{}}
	slow := &streamClient{notices: make(chan eye.Notice, 4), dropped: make(chan struct{})}
	fast := &streamClient{errors: true, notices: make(chan eye.Notice, 100), dropped: make(chan struct{})}
	for _, c := range []*streamClient{slow, fast} {
		if err := h.add(c); err != nil {
			t.Fatal(err)
		}
	}
	payload, _ := json.Marshal([]eye.Notice{{Outcome: eye.OutcomeStored, ID: "a"}, {Outcome: eye.OutcomeRejected, ID: "b"},
		{Outcome: eye.OutcomeStored, ID: "c"}})
	start := time.Now()
	for range 10 {
		q.fn(payload)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("dispatching took %v", d)
	}
	select {
	case <-slow.dropped:
	default:
		t.Error("the slow client was not dropped")
	}
	if len(fast.notices) != 30 {
		t.Errorf("the fast client got %d notices, want 30", len(fast.notices))
	}
	select {
	case <-fast.dropped:
		t.Error("the fast client was dropped")
	default:
	}
	// Without include=errors, rejections are not sent.
	if len(slow.notices) != 4 {
		t.Errorf("slow client buffer: %d", len(slow.notices))
	}
	h.remove(slow)
	h.remove(fast)
	if q.fn != nil {
		t.Error("the hub still listens without clients")
	}
	h.close()
	if err := h.add(&streamClient{}); err == nil {
		t.Error("a client added after close")
	}
}

type discard struct{}

func (discard) Warn(string, ...any) {}

// TestBodyBudget: past the bytes of bodies the server may hold at once,
// ingest answers 503 busy with Retry-After instead of holding more.
func TestBodyBudget(t *testing.T) {
	s := &Server{bodies: &bodyBudget{max: 40 << 10}, log: slog.New(slog.DiscardHandler)}
	release := make(chan struct{})
	held := make(chan struct{})
	handler := s.budgeted(32<<10, func(w http.ResponseWriter, r *http.Request) {
		close(held)
		<-release
		w.WriteHeader(http.StatusAccepted)
	})
	request := func(length int64) *http.Request {
		r := httptest.NewRequest("POST", "/events/", strings.NewReader("{}"))
		r.ContentLength = length
		return r
	}
	go handler(httptest.NewRecorder(), request(32<<10))
	<-held
	// 30 KiB more would pass the budget: refused at once.
	rec := httptest.NewRecorder()
	s.budgeted(32<<10, func(http.ResponseWriter, *http.Request) { t.Error("a body over the budget was handled") })(rec, request(30<<10))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"code":"busy"`) {
		t.Errorf("over the budget: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// A small one fits; an unknown length counts as the limit.
	rec = httptest.NewRecorder()
	s.budgeted(32<<10, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) })(rec, request(1<<10))
	if rec.Code != 202 {
		t.Errorf("a small body: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	s.budgeted(32<<10, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202) })(rec, request(-1))
	if rec.Code != 503 {
		t.Errorf("an unknown length over the budget: %d", rec.Code)
	}
	close(release)
}
