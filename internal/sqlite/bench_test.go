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
