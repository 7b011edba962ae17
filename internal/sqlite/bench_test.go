package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// BenchmarkWrite measures the worker's write path: batches of 1,000
// events (spread over 100 sessions) written by Store.Write, each batch one
// transaction. It reports events/s.
//
//	go test -run '^$' -bench Write -benchtime 20x ./internal/sqlite/
func BenchmarkWrite(b *testing.B) {
	s := open(b)
	sessions := make([]string, 100)
	for i := range sessions {
		sessions[i] = eye.NewID()
	}
	base := time.Date(2021, 1, 1, 9, 15, 27, 0, time.UTC)
	seq := uint64(0)
	batch := func() eye.Batch {
		evs := make([]eye.Event, 1000)
		for i := range evs {
			seq++
			evs[i] = eye.Event{
				ID: eye.NewID(), ApplicationID: "default", SessionID: sessions[i%len(sessions)],
				Category: "page interaction", Name: "pageview",
				Data:      []byte(fmt.Sprintf(`{"host":"www.example.com","path":"/p/%d","i":%d}`, i%50, seq)),
				Timestamp: base.Add(time.Duration(seq) * time.Millisecond), ReceivedAt: base.Add(time.Duration(seq) * time.Millisecond),
				Seq: seq,
			}
		}
		return eye.Batch{Events: evs}
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		bt := batch()
		b.StartTimer()
		if _, err := s.Write(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkTimeline measures the read path of a session's timeline: the
// 1,000 events of one session (one event in ten of 10,000 in the middle of
// 100,000) read by Store.Events in time order, as
// GET /sessions/{id}/events/?limit=1000 does.
//
//	go test -run '^$' -bench Timeline -benchmem ./internal/sqlite/
func BenchmarkTimeline(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	base := time.Date(2021, 1, 1, 9, 15, 27, 0, time.UTC)
	timeline, other := eye.NewID(), make([]string, 200)
	for i := range other {
		other[i] = eye.NewID()
	}
	for n := 0; n < 100_000; n += 1000 {
		evs := make([]eye.Event, 1000)
		for i := range evs {
			seq := uint64(n + i + 1)
			session := other[seq%200]
			if seq > 45_000 && seq <= 55_000 && seq%10 == 0 {
				session = timeline
			}
			at := base.Add(time.Duration(seq) * 10 * time.Millisecond)
			evs[i] = eye.Event{ID: eye.NewID(), EventID: fmt.Sprint("e-", seq), ApplicationID: "default", SessionID: session,
				Category: "page interaction", Name: "pageview",
				Data:      []byte(fmt.Sprintf(`{"host":"www.example.com","path":"/p/%d","i":%d}`, seq%50, seq)),
				Timestamp: at, SentAt: at, ReceivedAt: at.Add(time.Second), ClockOffset: time.Second, Seq: seq}
		}
		if _, err := s.Write(ctx, eye.Batch{Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
	f := eye.EventFilter{SessionID: timeline, Ascending: true, Limit: 1000}
	for b.Loop() {
		page, err := s.Events(ctx, f)
		if err != nil || len(page.Items) != 1000 {
			b.Fatalf("Events = %d events, %v", len(page.Items), err)
		}
	}
}
