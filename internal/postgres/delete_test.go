package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/storetest"
)

// TestDeleteWhileWriting deletes events by filters, erases sessions and
// corrects events while writers write to the same sessions, and drops
// January's partition meanwhile: every counter comes out true. A
// deletion or correction that lost a deadlock is answered unavailable and
// changes nothing; any other error fails the test.
func TestDeleteWhileWriting(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.EnsurePartitions(ctx, start.AddDate(0, 1, 0)); err != nil { // 2026-01 to 2026-05
		t.Fatal(err)
	}
	// January's sessions, then those written to, corrected and deleted
	// while January is dropped. (A session written to while a month of
	// its events is dropped makes the drop give way: see dropPartition.)
	sessions := make([]string, 6)
	for i := range sessions {
		sessions[i] = eye.NewID()
	}
	january, writing := sessions[:3], sessions[3:]
	var (
		seq  int
		mu   sync.Mutex
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	// January's events are written first; then writers write to February
	// and March, where corrections move events too.
	nextEvent := func(r *rand.Rand, sessions []string, from time.Time, days int) eye.Event {
		mu.Lock()
		seq++
		n := seq
		mu.Unlock()
		ev := event(sessions[r.IntN(len(sessions))], n, from.Add(time.Duration(r.IntN(days*24))*time.Hour))
		ev.ApplicationID = fmt.Sprintf("app-%d", r.IntN(2))
		ev.Name = fmt.Sprintf("name-%d", r.IntN(3))
		return ev
	}
	fail := func(what string, err error) {
		if err != nil && eye.ErrorCode(err) != eye.EUNAVAILABLE {
			t.Errorf("%s: %v", what, err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	var first eye.Batch
	for range 300 {
		first.Events = append(first.Events, nextEvent(r, january, start, 31))
	}
	if _, err := s.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	const writers = 3
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 40 {
				var b eye.Batch
				for range 20 {
					b.Events = append(b.Events, nextEvent(r, writing, start.AddDate(0, 1, 0), 59))
				}
				if _, err := s.Write(ctx, b); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
		})
	}
	var others sync.WaitGroup
	others.Go(func() { // deletions by filter, a few at a time
		r := rand.New(rand.NewPCG(7, 1))
		for {
			select {
			case <-done:
				return
			default:
			}
			f := eye.EventFilter{SessionID: writing[r.IntN(len(writing))]}
			if r.IntN(2) == 0 {
				f = eye.EventFilter{Name: fmt.Sprintf("name-%d", r.IntN(3)), From: start.AddDate(0, 1, r.IntN(59))}
			}
			_, err := s.DeleteEvents(ctx, f, 5)
			fail("DeleteEvents", err)
			time.Sleep(50 * time.Millisecond)
		}
	})
	others.Go(func() { // erasures
		r := rand.New(rand.NewPCG(8, 1))
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			_, err := s.DeleteSession(ctx, writing[r.IntN(len(writing))])
			if eye.ErrorCode(err) != eye.ENOTFOUND {
				fail("DeleteSession", err)
			}
		}
	})
	others.Go(func() { // corrections: to another session, another time
		r := rand.New(rand.NewPCG(9, 1))
		for {
			select {
			case <-done:
				return
			default:
			}
			page, err := s.Events(ctx, eye.EventFilter{SessionID: writing[r.IntN(len(writing))], Limit: 1})
			if err != nil || len(page.Items) == 0 {
				continue
			}
			_, err = s.UpdateEvent(ctx, page.Items[0].ID, func(cur eye.Event) (eye.Event, []string, error) {
				cur.SessionID = writing[r.IntN(len(writing))]
				cur.Timestamp = start.AddDate(0, 1, 0).Add(time.Duration(r.IntN(59*24)) * time.Hour)
				return cur, []string{"session_id", "timestamp"}, nil
			})
			if eye.ErrorCode(err) != eye.ENOTFOUND {
				fail("UpdateEvent", err)
			}
		}
	})
	// The first month's partition dropped while the others go on.
	time.Sleep(100 * time.Millisecond)
	parts, n, err := s.DropPartitionsBefore(context.Background(), start.AddDate(0, 1, 0))
	fail("DropPartitionsBefore", err)
	t.Logf("dropped %v (%d events): %v", parts, n, err)
	wg.Wait()
	close(done)
	others.Wait()
	if t.Failed() {
		return
	}
	storetest.CheckCounters(t, s, start.AddDate(0, -1, 0), start.AddDate(0, 4, 0), sessions...)
	var events, ids int64
	if err := s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_ids)`).Scan(&events, &ids); err != nil || events != ids {
		t.Errorf("%d events, %d event ids (%v)", events, ids, err)
	}
}
