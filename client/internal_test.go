package client

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 29, 19, 33, 13, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"Sun, 29 Nov 2026 19:33:23 GMT": 10 * time.Second,
		"Sun, 29 Nov 2026 19:33:03 GMT": 0,
	} {
		a := &answer{header: http.Header{}}
		if v != "" {
			a.header.Set("Retry-After", v)
		}
		if got := a.retryAfter(now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	ceiling := 5 * time.Second
	for attempt := range 100 {
		d := min(ceiling, minBackoff<<min(attempt, 20))
		for range 20 {
			if got := backoff(attempt, ceiling); got < d/2 || got > d {
				t.Fatalf("attempt %d: backoff %v, want from %v to %v", attempt, got, d/2, d)
			}
		}
	}
}

func TestBatchBodySize(t *testing.T) {
	var items []item
	for range 3 {
		it, err := newItem(Pageview(NewSessionID(), "www.example.com", "/"), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	b := batchBody(items, time.Now())
	if len(b) != batchSize(items) {
		t.Errorf("body of %d bytes, batchSize says %d", len(b), batchSize(items))
	}
}
