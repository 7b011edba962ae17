package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/storetest"
)

// TestMeasureRetention measures, on a month of N events
// (EYE_TEST_MEASURE_RETENTION=N; skipped without it), how long the
// retention takes to drop the month's partition, against deleting the
// same events in batches of 1,000 (without pauses) in a second database
// holding the same rows; and the longest a query of the newest events
// waited meanwhile. It asserts nothing of the timings.
func TestMeasureRetention(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EYE_TEST_MEASURE_RETENTION"))
	if n <= 0 {
		t.Skip("EYE_TEST_MEASURE_RETENTION is not set: set it to a number of events to measure a partition drop")
	}
	ctx := context.Background()
	month := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fill := func(s *Store) {
		if err := s.EnsurePartitions(ctx, month.AddDate(0, 1, 0)); err != nil {
			t.Fatal(err)
		}
		span := month.AddDate(0, 1, 0).Sub(month) // j*span would overflow: each event is span/n after the one before
		for i := 0; i < n; i += 1000 {
			var b eye.Batch
			for j := i; j < min(i+1000, n); j++ {
				// Sessions of 20 events; two applications, three types.
				ev := event(fmt.Sprintf("%08d-0000-4000-8000-000000000000", j/20), j+1, month.Add(time.Duration(j)*(span/time.Duration(n))))
				ev.ApplicationID, ev.Name = fmt.Sprintf("app-%d", j%2), fmt.Sprintf("name-%d", j%3)
				b.Events = append(b.Events, ev)
			}
			// A recent event, which stays.
			b.Events = append(b.Events, event(eye.NewID(), n+i+1, month.AddDate(0, 2, 0)))
			if _, err := s.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	// watch queries the newest events every 10 ms until stop, and
	// returns the longest a query took.
	watch := func(s *Store, stop chan struct{}) func() time.Duration {
		var longest time.Duration
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				start := time.Now()
				if _, err := s.Events(ctx, eye.EventFilter{Limit: 100}); err != nil {
					t.Errorf("Events: %v", err)
				}
				longest = max(longest, time.Since(start))
			}
		})
		return func() time.Duration { close(stop); wg.Wait(); return longest }
	}

	dropped, deleted := open(t), open(t)
	dropped.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	start := time.Now()
	fill(dropped)
	fill(deleted)
	t.Logf("wrote %d events twice in %v", n, time.Since(start).Round(time.Millisecond))

	done := watch(dropped, make(chan struct{}))
	start = time.Now()
	parts, gone, err := dropped.DropPartitionsBefore(ctx, month.AddDate(0, 1, 0))
	took := time.Since(start)
	if err != nil || gone != int64(n) {
		t.Fatalf("DropPartitionsBefore = %v, %d, %v", parts, gone, err)
	}
	t.Logf("drop of %v (%d events): %v; longest query meanwhile %v", parts, gone, took.Round(time.Millisecond), done().Round(time.Millisecond))

	done = watch(deleted, make(chan struct{}))
	start = time.Now()
	var total int64
	for {
		k, err := deleted.DeleteEvents(ctx, eye.EventFilter{To: month.AddDate(0, 1, 0).Add(-time.Microsecond)}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		total += k
		if k < 1000 {
			break
		}
	}
	took = time.Since(start)
	t.Logf("batched deletes of %d events: %v (%.0f events/s); longest query meanwhile %v", total, took.Round(time.Millisecond),
		float64(total)/took.Seconds(), done().Round(time.Millisecond))
}

// TestDropPartitionCounters drops a month whose events share sessions,
// applications of sessions and per-minute counts with what stays: events
// of the next month, and error records received in the dropped month
// (counted in the same minutes as its events). Every counter must come
// out true: rows left counting something are counted down, the others
// deleted.
func TestDropPartitionCounters(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.EnsurePartitions(ctx, jan.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	straddling, janOnly := eye.NewID(), eye.NewID()
	var b eye.Batch
	for i := range 12 {
		ts := jan.Add(time.Duration(i) * time.Hour)
		ev := event(straddling, i+1, ts)
		ev.ApplicationID = fmt.Sprintf("app-%d", i%2)
		b.Events = append(b.Events, ev)
		b.Events = append(b.Events, event(janOnly, 100+i, ts))
		// An error record of the same minute, application and type as a
		// dropped event: their stats row keeps the error.
		b.Errors = append(b.Errors, eye.ErrorRecord{ID: eye.NewID(), ReceivedAt: ts.Add(time.Second), ApplicationID: ev.ApplicationID,
			Category: ev.Category, Name: ev.Name, SessionID: straddling, Seq: uint64(200 + i), Payload: []byte(`{}`),
			Reasons: []eye.Reason{{Code: eye.CodeEmptyData, Field: "data", Message: "empty"}}})
	}
	for i := range 3 { // February: app-0 only
		b.Events = append(b.Events, event(straddling, 300+i, jan.AddDate(0, 1, i)))
	}
	if _, err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	parts, n, err := s.DropPartitionsBefore(ctx, jan.AddDate(0, 1, 0))
	if err != nil || n != 24 || len(parts) != 1 {
		t.Fatalf("DropPartitionsBefore = %v, %d, %v; want events_202601, 24", parts, n, err)
	}
	storetest.CheckCounters(t, s, jan.AddDate(0, -1, 0), jan.AddDate(0, 2, 0), straddling, janOnly)
	sess, err := s.Session(ctx, straddling)
	if err != nil || sess.EventCount != 3 || !sess.FirstSeen.Equal(jan.AddDate(0, 1, 0)) || len(sess.ApplicationIDs) != 1 {
		t.Errorf("the straddling session after the drop: %+v, %v", sess, err)
	}
	if sess, err := s.Session(ctx, janOnly); err != nil || sess.EventCount != 0 || !sess.FirstSeen.IsZero() {
		t.Errorf("the session of January alone after the drop: %+v, %v", sess, err)
	}
}
