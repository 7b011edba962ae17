package sqlite_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// TestMeasureDataFilters measures, on N events
// (EYE_TEST_MEASURE_DATA=N; skipped without it), filters on members of
// data, which SQLite checks on every row the other conditions select: a
// value few events hold (the whole table is read), one most hold (a page
// is found at once), and the rare one within a day. It asserts nothing of
// the timings.
func TestMeasureDataFilters(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EYE_TEST_MEASURE_DATA"))
	if n <= 0 {
		t.Skip("EYE_TEST_MEASURE_DATA is not set: set it to a number of events to measure data filters")
	}
	ctx := t.Context()
	s := open(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 1000 {
		var b eye.Batch
		for j := i; j < min(i+1000, n); j++ {
			host := "www.example.com"
			if j%10000 == 7 {
				host = "rare.example.com"
			}
			ts := start.Add(time.Duration(j) * time.Second)
			b.Events = append(b.Events, eye.Event{ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID,
				SessionID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", j/20), Category: "page interaction", Name: "pageview",
				Data:      fmt.Appendf(nil, `{"host":%q,"path":"/p/%d","form":{"first_name":"n%d"}}`, host, j%50, j%100),
				Timestamp: ts, ReceivedAt: ts, Seq: uint64(j + 1)})
		}
		if _, err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	rare := []eye.DataFilter{{Path: []string{"host"}, Value: "rare.example.com"}}
	for _, tt := range []struct {
		name string
		f    eye.EventFilter
	}{
		{"a rare value, no other filter", eye.EventFilter{Data: rare}},
		{"a common value", eye.EventFilter{Data: []eye.DataFilter{{Path: []string{"host"}, Value: "www.example.com"}}}},
		{"a rare value within a day", eye.EventFilter{Data: rare, From: start, To: start.Add(24 * time.Hour)}},
	} {
		tt.f.Limit = 100
		began := time.Now()
		page, err := s.Events(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: a page of %d events of %d in %v", tt.name, len(page.Items), n, time.Since(began).Round(100*time.Microsecond))
	}
}
