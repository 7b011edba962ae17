package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/theeye/eye"
)

// acker records how a delivery was settled.
type acker struct {
	mu                           sync.Mutex
	acks, naks, delayed, working int
}

func (a *acker) Ack() error        { a.mu.Lock(); a.acks++; a.mu.Unlock(); return nil }
func (a *acker) Nak() error        { a.mu.Lock(); a.naks++; a.mu.Unlock(); return nil }
func (a *acker) InProgress() error { a.mu.Lock(); a.working++; a.mu.Unlock(); return nil }
func (a *acker) NakWithDelay(time.Duration) error {
	a.mu.Lock()
	a.delayed++
	a.mu.Unlock()
	return nil
}

// store is a narrow stand-in for the store's write path: it can be down,
// and it refuses batches that hold a record whose payload or data says
// "poison" (and, with "deadly", error records too).
type store struct {
	mu      sync.Mutex
	down    bool
	batches []eye.Batch
}

func (s *store) Write(_ context.Context, b eye.Batch) (eye.WriteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return eye.WriteResult{}, errors.New("connection refused")
	}
	for _, ev := range b.Events {
		if strings.Contains(string(ev.Data), "poison") {
			return eye.WriteResult{}, errors.New("refused: poison")
		}
	}
	for _, rec := range b.Errors {
		if strings.Contains(string(rec.Payload), "deadly") {
			return eye.WriteResult{}, errors.New("refused: deadly")
		}
	}
	s.batches = append(s.batches, b)
	return eye.WriteResult{Events: len(b.Events), Errors: len(b.Errors), Sessions: len(b.Sessions)}, nil
}

func (s *store) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errors.New("connection refused")
	}
	return nil
}

func (s *store) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *store) stored() (events, errs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		for _, ev := range b.Events {
			events = append(events, ev.ID)
		}
		for _, rec := range b.Errors {
			errs = append(errs, rec.ID+":"+rec.Reasons[0].Code)
		}
	}
	return events, errs
}

var received = time.Date(2021, 1, 1, 9, 15, 30, 0, time.UTC)

func delivery(kind eye.Kind, payload string) (eye.Delivery, *acker) {
	a := &acker{}
	return eye.Delivery{
		Messages: []eye.Message{{Kind: kind, ID: eye.NewID(), ApplicationID: "default", ReceivedAt: received, Payload: []byte(payload), Seq: 1}},
		Acker:    a,
	}, a
}

// id is the id of a delivery's only message.
func id(d eye.Delivery) string { return d.Messages[0].ID }

const good = `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423", "category": "page interaction", "name": "pageview",
	"data": {"host": "www.example.com", "path": "/"}, "timestamp": "2021-01-01 09:15:27.243860"}`

func newWorker(s *store) *Worker {
	return New(Config{Store: s, Rules: eye.Rules{FutureTolerance: time.Minute}, Progress: time.Millisecond})
}

func TestSortsMessages(t *testing.T) {
	s := &store{}
	w := newWorker(s)
	ev, a1 := delivery(eye.KindEvent, good)
	bad, a2 := delivery(eye.KindEvent, `{"category": "x"}`)
	mal, a3 := delivery(eye.KindMalformed, `[1,2`)
	mal.Messages[0].Detail = "the body is not valid JSON"
	sess, a4 := delivery(eye.KindSession, "")
	odd, a5 := delivery("", "hello")
	w.process(context.Background(), []eye.Delivery{ev, bad, mal, sess, odd})

	if len(s.batches) != 1 {
		t.Fatalf("%d batches, want 1", len(s.batches))
	}
	b := s.batches[0]
	if len(b.Events) != 1 || b.Events[0].ID != id(ev) || b.Events[0].Seq != 1 {
		t.Errorf("events = %+v", b.Events)
	}
	if len(b.Sessions) != 1 || b.Sessions[0].ID != id(sess) || !b.Sessions[0].CreatedAt.Equal(received) {
		t.Errorf("sessions = %+v", b.Sessions)
	}
	codes := map[string]string{}
	for _, rec := range b.Errors {
		codes[rec.ID] = rec.Reasons[0].Code
	}
	if codes[id(bad)] != eye.CodeMissingField || codes[id(mal)] != eye.CodeMalformedJSON || codes[id(odd)] != eye.CodeUndecodable {
		t.Errorf("error codes = %v", codes)
	}
	for i, a := range []*acker{a1, a2, a3, a4, a5} {
		if a.acks != 1 || a.naks+a.delayed != 0 {
			t.Errorf("delivery %d settled %+v, want one ack", i, a)
		}
	}
	m := w.cfg.Metrics
	if got := testutil.ToFloat64(m.Stored.WithLabelValues("default")); got != 1 {
		t.Errorf("stored = %v", got)
	}
	// One rejected event; the malformed body and the unreadable message
	// were never accepted events.
	if got := testutil.ToFloat64(m.Rejected.WithLabelValues("default", eye.CodeMissingField)); got != 1 {
		t.Errorf("rejected = %v", got)
	}
	if got := testutil.CollectAndCount(m.Rejected); got != 1 {
		t.Errorf("%d rejected series", got)
	}
}

// TestHoldsWhileStoreDown checks that a batch is held, not acknowledged
// and not handed back, while the store is down, with progress signalled,
// and stored once the store is back.
func TestHoldsWhileStoreDown(t *testing.T) {
	s := &store{down: true}
	w := newWorker(s)
	ev, a := delivery(eye.KindEvent, good)
	done := make(chan struct{})
	go func() {
		w.process(context.Background(), []eye.Delivery{ev})
		close(done)
	}()
	time.Sleep(400 * time.Millisecond)
	a.mu.Lock()
	if a.acks+a.naks+a.delayed != 0 || a.working == 0 {
		t.Errorf("while down: %+v, want only progress", a)
	}
	a.mu.Unlock()
	s.setDown(false)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("batch not stored after the store came back")
	}
	if events, _ := s.stored(); len(events) != 1 || a.acks != 1 {
		t.Errorf("stored %v, acks %d", events, a.acks)
	}
}

// TestStopWhileStoreDown checks that a stopping worker gives its batch back
// to the queue instead of waiting forever.
func TestStopWhileStoreDown(t *testing.T) {
	s := &store{down: true}
	w := New(Config{Store: s, StopTimeout: 50 * time.Millisecond})
	ev, a := delivery(eye.KindEvent, good)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.process(ctx, []eye.Delivery{ev})
	if a.acks != 0 || a.naks != 1 {
		t.Errorf("settled %+v, want one nak", a)
	}
}

// TestPoisonRecord checks that a record the store refuses on its own
// never blocks the others: an event becomes a store_rejected error record;
// a record refused even so stays in the queue, for later.
func TestPoisonRecord(t *testing.T) {
	s := &store{}
	w := newWorker(s)
	ok, a1 := delivery(eye.KindEvent, good)
	poison, a2 := delivery(eye.KindEvent, strings.Replace(good, `"path": "/"`, `"path": "poison"`, 1))
	deadly, a3 := delivery(eye.KindMalformed, "deadly")
	w.process(context.Background(), []eye.Delivery{ok, poison, deadly})
	events, errs := s.stored()
	if len(events) != 1 || events[0] != id(ok) {
		t.Errorf("events stored = %v", events)
	}
	if len(errs) != 1 || errs[0] != id(poison)+":"+eye.CodeStoreRejected {
		t.Errorf("error records = %v", errs)
	}
	if a1.acks != 1 || a2.acks != 1 || a3.acks != 0 || a3.delayed != 1 {
		t.Errorf("settled: %+v %+v %+v", a1, a2, a3)
	}
}
