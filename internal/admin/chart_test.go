package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
)

func TestNiceCeil(t *testing.T) {
	for n, want := range map[int64]int64{0: 1, 1: 1, 2: 2, 3: 4, 5: 6, 7: 8, 9: 10, 11: 20, 26: 40, 49: 60, 61: 80, 99: 100, 101: 200, 12345: 20000} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestChart draws an hour as bars and a day as an area, each minute where
// it belongs, and the scale with the peak.
func TestChart(t *testing.T) {
	start := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	buckets := []eye.StatsBucket{
		{Start: start.Add(-time.Minute), Events: 100},                // before: not drawn
		{Start: start, Events: 3, Errors: 1},                         // the first minute
		{Start: start.Add(59 * time.Minute), Events: 7},              // the last
		{Start: start.Add(60 * time.Minute), Events: 100, Errors: 9}, // after: not drawn
	}
	events := series(buckets, start, 60, false)
	if events[0] != 3 || events[59] != 7 || events[1] != 0 {
		t.Fatalf("series: %v", events)
	}
	c := newChart("Events", "events", start, events, 15*time.Minute, "15:04")
	if c.Total != 10 || c.Peak != 7 || len(c.Bars) != 2 || c.Area != "" {
		t.Errorf("hour chart: total %d peak %d, %d bars, area %q", c.Total, c.Peak, len(c.Bars), c.Area)
	}
	if c.Bars[0].X >= c.Bars[1].X || c.Bars[1].H <= c.Bars[0].H || c.Bars[1].Y+c.Bars[1].H != c.Base {
		t.Errorf("bars: %+v", c.Bars)
	}
	if c.Bars[0].Tip != "09:00 UTC: 3 events" {
		t.Errorf("tip %q", c.Bars[0].Tip)
	}
	if len(c.Grid) != 3 || c.Grid[2].Label != "8" || len(c.Ticks) != 4 || c.Ticks[1].Label != "09:15" {
		t.Errorf("grid %+v, ticks %+v", c.Grid, c.Ticks)
	}
	day := newChart("Errors", "errors", start, series(buckets, start, 24*60, true), 4*time.Hour, "15:04")
	if len(day.Bars) != 0 || !strings.HasPrefix(day.Area, "M44,138L") || !strings.HasSuffix(day.Area, "Z") ||
		day.Total != 10 || day.Peak != 9 {
		t.Errorf("day chart: %d bars, area %.40q…, total %d, peak %d", len(day.Bars), day.Area, day.Total, day.Peak)
	}
	empty := newChart("Errors", "errors", start, make([]int64, 60), time.Hour, "15:04")
	if empty.Total != 0 || len(empty.Bars) != 0 || len(empty.Grid) != 2 {
		t.Errorf("empty chart: %+v", empty)
	}
}

func TestLocalPage(t *testing.T) {
	for next, want := range map[string]string{
		"":                            "/admin",
		"/admin":                      "/admin",
		"/admin/events?session=x":     "/admin/events?session=x",
		"/admins":                     "/admin",
		"//evil.example/admin":        "/admin",
		"https://evil.example/admin/": "/admin",
		`/admin\..\..\x`:              "/admin",
		"/admin/login?next=/admin/x":  "/admin",
		"javascript:alert(1)":         "/admin",
		"/admin/../events/":           "/admin",
		"/admin/./errors/?code=x":     "/admin/errors?code=x",
	} {
		if got := localPage(next); got != want {
			t.Errorf("localPage(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond:         "850 ms",
		4200 * time.Millisecond:        "4.2 s",
		42 * time.Second:               "42 s",
		3*time.Minute + 12*time.Second: "3 min 12 s",
		2*time.Hour + 5*time.Minute:    "2 h 5 min",
		3*24*time.Hour + 4*time.Hour:   "3 d 4 h",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 13 << 20: "13.0 MiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := formatCount(1234567); got != "1\u202f234\u202f567" {
		t.Errorf("formatCount = %q", got)
	}
	if got := shortID("01a22954-d359-7ce8-8e1a-920f6bab6931"); got != "01a22954…ab6931" {
		t.Errorf("shortID = %q", got)
	}
	if got := prettyJSON([]byte(`{"a":[1,2]}`)); got != "{\n  \"a\": [\n    1,\n    2\n  ]\n}" {
		t.Errorf("prettyJSON = %q", got)
	}
	if got := prettyJSON([]byte("{not json")); got != "{not json" {
		t.Errorf("prettyJSON(text) = %q", got)
	}
}
