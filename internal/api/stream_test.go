package api

import (
	"encoding/json"
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
