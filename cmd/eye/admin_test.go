package main

import (
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"90d", now.AddDate(0, 0, 90), true},
		{"12h", now.Add(12 * time.Hour), true},
		{"1h30m", now.Add(90 * time.Minute), true},
		{"2027-01-01T00:00:00Z", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2027-01-01T01:00:00+01:00", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-11-30T11:00:00Z", time.Time{}, false}, // past
		{"0d", time.Time{}, false},
		{"-5h", time.Time{}, false},
		{"30m", time.Time{}, false}, // a period is at least an hour
		{"0", time.Time{}, false},
		{"36501d", time.Time{}, false},
		{"soon", time.Time{}, false},
		{"d", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseExpiry(tt.in, now)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
