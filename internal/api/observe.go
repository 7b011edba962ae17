package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/theeye/eye"
)

// Pipeline health, worst last.
const (
	healthOK       = "ok"
	healthDegraded = "degraded"
	healthStalled  = "stalled"
	healthDown     = "down"
)

// Thresholds of pipeline health.
const (
	lagDegraded  = time.Minute      // the oldest unprocessed message waits longer: degraded
	stallAfter   = 30 * time.Second // messages wait this long with no worker taking any: stalled
	fullDegraded = 0.8              // the queue is this full: degraded
)

// statusJSON is the pipeline's health, with the reasons.
type statusJSON struct {
	Status    string     `json:"status"`
	Reasons   []string   `json:"reasons"`
	Queue     *queueJSON `json:"queue"`
	Store     string     `json:"store"`
	CheckedAt string     `json:"checked_at"`
	// Retention is set by GET /status, not cached with the rest.
	Retention *retentionJSON `json:"retention,omitempty"`
}

type queueJSON struct {
	Messages       uint64   `json:"messages"`
	Bytes          uint64   `json:"bytes"`
	MaxBytes       int64    `json:"max_bytes"`
	OldestAgeSecs  *float64 `json:"oldest_age_seconds"`
	InProgress     int      `json:"in_progress"`
	WorkersWaiting int      `json:"workers_waiting"`
}

// pipeline checks the pipeline's health, at most once a second however
// often it is asked (metrics scrapes, /status).
type pipeline struct {
	queue eye.Queue
	store eye.Store

	mu   sync.Mutex
	last statusJSON
	at   time.Time
}

func (p *pipeline) status(ctx context.Context) statusJSON {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.at) < time.Second {
		return p.last
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	now := time.Now()
	st := statusJSON{Status: healthOK, Reasons: []string{}, Store: healthOK, CheckedAt: eye.FormatTime(now)}
	worse := func(status, reason string) {
		if rank(status) > rank(st.Status) {
			st.Status = status
		}
		st.Reasons = append(st.Reasons, reason)
	}
	if err := p.store.Ping(ctx); err != nil {
		st.Store = eye.ErrorMessage(err)
		worse(healthDown, "the store is unreachable")
	}
	q, err := p.queue.State(ctx)
	if err != nil {
		worse(healthDown, "the queue is unreachable")
	} else {
		st.Queue = &queueJSON{Messages: q.Messages, Bytes: q.Bytes, MaxBytes: q.MaxBytes, InProgress: q.InProgress, WorkersWaiting: q.Waiting}
		if !q.Oldest.IsZero() {
			age := now.Sub(q.Oldest)
			secs := age.Seconds()
			st.Queue.OldestAgeSecs = &secs
			if q.InProgress == 0 && q.Waiting == 0 && age > stallAfter {
				worse(healthStalled, fmt.Sprintf("%d queue messages wait, the oldest for %s, and no worker is taking any", q.Messages, age.Round(time.Second)))
			} else if age > lagDegraded {
				worse(healthDegraded, fmt.Sprintf("processing lags: the oldest unprocessed message arrived %s ago", age.Round(time.Second)))
			}
		}
		if q.MaxBytes > 0 && float64(q.Bytes) > fullDegraded*float64(q.MaxBytes) {
			worse(healthDegraded, fmt.Sprintf("the queue is %.0f%% full", 100*float64(q.Bytes)/float64(q.MaxBytes)))
		}
	}
	p.last, p.at = st, time.Now()
	return st
}

func rank(status string) int {
	switch status {
	case healthDegraded:
		return 1
	case healthStalled:
		return 2
	case healthDown:
		return 3
	}
	return 0
}

// registerGauges adds the pipeline's gauges to the metrics, read when
// scraped.
func (s *Server) registerGauges() {
	state := func() statusJSON { return s.pipeline.status(context.Background()) }
	queue := func(f func(*queueJSON) float64) func() float64 {
		return func() float64 {
			if q := state().Queue; q != nil {
				return f(q)
			}
			return 0
		}
	}
	m := s.metrics
	m.Gauge("eye_pipeline_status", "The pipeline's health: 0 ok, 1 degraded, 2 stalled, 3 down (see /status).",
		func() float64 { return float64(rank(state().Status)) })
	m.Gauge("eye_queue_messages", "Queue messages not yet processed (each may hold many events).",
		queue(func(q *queueJSON) float64 { return float64(q.Messages) }))
	m.Gauge("eye_queue_bytes", "Bytes of queue messages not yet processed.",
		queue(func(q *queueJSON) float64 { return float64(q.Bytes) }))
	m.Gauge("eye_queue_oldest_seconds", "Age of the oldest unprocessed queue message: the processing lag.",
		queue(func(q *queueJSON) float64 {
			if q.OldestAgeSecs == nil {
				return 0
			}
			return *q.OldestAgeSecs
		}))
	m.Gauge("eye_queue_in_progress", "Queue messages held by workers, not yet acknowledged.",
		queue(func(q *queueJSON) float64 { return float64(q.InProgress) }))
	m.Gauge("eye_queue_workers_waiting", "Workers waiting for queue messages.",
		queue(func(q *queueJSON) float64 { return float64(q.WorkersWaiting) }))
	m.Gauge("eye_store_bytes", "The store's size on disk.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		size, err := s.cfg.Store.Size(ctx)
		if err != nil {
			return 0
		}
		return float64(size)
	})
}

// getStatus answers GET /status: the pipeline's health with the reasons.
// Unlike /readyz it looks at the whole pipeline, not at this process.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	if p := parseParams(r); p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	st := s.pipeline.status(r.Context())
	st.Retention = s.retentionStatus(r.Context(), st.Store == healthOK)
	writeJSON(w, http.StatusOK, st)
}

// MetricsHandler serves the metrics in Prometheus's text format, with no
// key: for a separate, private address (EYE_METRICS_ADDR).
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})
}

// getMetrics answers GET /metrics on the main address (read scope).
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) {
	s.MetricsHandler().ServeHTTP(w, r)
}

// statsBucketJSON is one interval of /stats/.
type statsBucketJSON struct {
	T      string `json:"t"`
	Events int64  `json:"events"`
	Errors int64  `json:"errors"`
}

// maxStatsBuckets bounds the intervals of one /stats/ answer.
const maxStatsBuckets = 10_000

// getStats answers GET /stats/: events (by timestamp) and error records (by
// arrival) per interval, every interval of the range present.
func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	p := parseParams(r, "from", "to", "interval", "category", "name", "application", "data.*")
	f := eye.StatsFilter{Interval: p.str("interval"), Category: p.str("category"), Name: p.str("name"),
		ApplicationID: p.str("application"), Data: p.data()}
	if f.Interval == "" {
		f.Interval = eye.IntervalMinute
	}
	step, ok := map[string]time.Duration{eye.IntervalMinute: time.Minute, eye.IntervalHour: time.Hour, eye.IntervalDay: 24 * time.Hour}[f.Interval]
	if !ok {
		p.fail("interval", "The query parameter \"interval\" must be minute, hour or day, not %q.", f.Interval)
	}
	from, to := p.time("from"), p.time("to")
	if p.err != nil {
		badParam(w, r, p.err.param, p.err.detail)
		return
	}
	if to.IsZero() {
		to = time.Now().UTC()
	}
	if from.IsZero() {
		from = to.Add(-60 * step)
		if f.Interval == eye.IntervalDay {
			from = to.Add(-30 * step)
		}
	}
	// Whole intervals: from the one holding from to the one holding to.
	f.From = from.Truncate(step)
	f.To = to.Truncate(step).Add(step)
	switch n := f.To.Sub(f.From) / step; {
	case !f.From.Before(f.To) || from.After(to):
		badParam(w, r, "from", "The query parameter \"from\" must be before \"to\".")
		return
	case n > maxStatsBuckets:
		badParam(w, r, "from", fmt.Sprintf("The range holds %d intervals, more than %d: narrow it or use a longer interval.", n, maxStatsBuckets))
		return
	}
	buckets, err := s.cfg.Store.Stats(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := listJSON[statsBucketJSON]{Results: make([]statsBucketJSON, 0, f.To.Sub(f.From)/step)}
	next := 0
	for t := f.From; t.Before(f.To); t = t.Add(step) {
		b := statsBucketJSON{T: eye.FormatTime(t)}
		if next < len(buckets) && buckets[next].Start.Equal(t) {
			b.Events, b.Errors = buckets[next].Events, buckets[next].Errors
			next++
		}
		out.Results = append(out.Results, b)
	}
	writeJSON(w, http.StatusOK, out)
}
