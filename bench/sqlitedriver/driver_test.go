// Package sqlitedriver compares the two SQLite drivers on The Eye's real
// write path (Store.Write, as the worker calls it). It is a module of its
// own so that the cgo driver never becomes a dependency of The Eye.
//
//	cd bench/sqlitedriver && go test -run '^$' -bench . -benchtime 300x
package sqlitedriver

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/sqlite"
)

func BenchmarkWrite(b *testing.B) {
	for _, driver := range []string{"sqlite", "sqlite3"} {
		b.Run(driver, func(b *testing.B) {
			s, err := sqlite.Open(filepath.Join(b.TempDir(), "eye.db"), sqlite.Options{Driver: driver})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			sessions := make([]string, 100)
			for i := range sessions {
				sessions[i] = eye.NewID()
			}
			base := time.Date(2021, 1, 1, 9, 15, 27, 0, time.UTC)
			seq := uint64(0)
			for b.Loop() {
				b.StopTimer()
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
				b.StartTimer()
				if _, err := s.Write(ctx, eye.Batch{Events: evs}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
