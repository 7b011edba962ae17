package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// appLimiter limits the events each application may send per second, with
// a burst, per ingest process (token buckets: a batch of n events takes n
// tokens).
type appLimiter struct {
	perSecond float64
	burst     int

	mu   sync.Mutex
	apps map[string]*rate.Limiter
}

func newAppLimiter(perSecond float64, burst int) *appLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = max(int(2*perSecond), 1000)
	}
	return &appLimiter{perSecond: perSecond, burst: burst, apps: map[string]*rate.Limiter{}}
}

// allow takes n events' tokens from the application's bucket; when there
// are not enough, it takes none and says how long until there are.
func (l *appLimiter) allow(app string, n int) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	lim := l.apps[app]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(l.perSecond), l.burst)
		l.apps[app] = lim
	}
	l.mu.Unlock()
	now := time.Now()
	n = min(n, l.burst) // a batch larger than the burst waits for a full bucket
	r := lim.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// limited answers 429 for an application over its rate.
func limited(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	writeProblem(w, r, http.StatusTooManyRequests, "rate_limited",
		"This application sends more events than its rate limit allows; retry later.", nil)
}

// bodyBudget bounds the bytes of ingest bodies held in memory at once,
// whatever the number of connections: a request that would go over it
// waits for nothing and is answered 503 with Retry-After. Each request
// counts for its Content-Length, or its limit when the length is unknown.
type bodyBudget struct {
	mu   sync.Mutex
	max  int64
	used int64
}

func (b *bodyBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *bodyBudget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// budgeted wraps an ingest handler in the body budget.
func (s *Server) budgeted(limit int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := limit
		if r.ContentLength >= 0 && r.ContentLength < limit {
			n = r.ContentLength
		}
		if !s.bodies.take(n) {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, r, http.StatusServiceUnavailable, "busy",
				"The server holds as many request bodies as it may; retry in a moment.", nil)
			return
		}
		defer s.bodies.give(n)
		h(w, r)
	}
}
