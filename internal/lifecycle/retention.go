package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/audit"
	"github.com/theeye/eye/internal/metric"
)

// MinAuditAge is how long the audit log is kept at least, whatever the
// retention: a year.
const MinAuditAge = 365 * 24 * time.Hour

// locker is a store shared by several processes (PostgreSQL): one of them
// runs the retention at a time.
type locker interface {
	TryLockRetention(ctx context.Context) (unlock func(), ok bool, err error)
}

// partitionDropper is a store whose events are partitioned by time
// (PostgreSQL): it drops whole partitions older than the cutoff instead of
// deleting their rows.
type partitionDropper interface {
	DropPartitionsBefore(ctx context.Context, cutoff time.Time) (partitions []string, events int64, err error)
}

// Report is what one run of the retention did: the details of its audit
// entry (action retention.run), which GET /status shows.
type Report struct {
	Period      string    `json:"period"`       // the retention, as EYE_RETENTION gives it
	StartedAt   time.Time `json:"started_at"`   // when the run started
	Cutoff      time.Time `json:"cutoff"`       // events, error records and empty sessions older than this went
	AuditCutoff time.Time `json:"audit_cutoff"` // audit entries older than this went
	Events      int64     `json:"events"`
	Errors      int64     `json:"errors"` // error records
	Sessions    int64     `json:"sessions"`
	Audit       int64     `json:"audit"`      // audit entries
	Partitions  []string  `json:"partitions"` // partitions of events dropped whole (PostgreSQL), their events counted in Events
	Seconds     float64   `json:"duration_seconds"`
	Error       string    `json:"error,omitempty"` // why the run stopped early; what it deleted before stays deleted
}

// Retention deletes what is older than a period: events by timestamp,
// error records by arrival, sessions left without events and created
// before the cutoff, and audit entries older than the period or a year,
// whichever is longer.
type Retention struct {
	store   Store
	period  time.Duration
	log     *slog.Logger
	metrics *metric.Metrics
	pace    Pace
}

// NewRetention returns the retention of a period; m counts what it
// deletes (nil: counted nowhere).
func NewRetention(store Store, period time.Duration, log *slog.Logger, m *metric.Metrics, pace Pace) *Retention {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = metric.New()
	}
	return &Retention{store: store, period: period, log: log, metrics: m, pace: pace.withDefaults()}
}

// Run runs the retention at once, then every interval, until ctx ends. On
// a store shared by several processes, a process runs it only when no
// other does.
func (r *Retention) Run(ctx context.Context, interval time.Duration) {
	for {
		r.runLocked(ctx)
		if !sleep(ctx, interval) {
			return
		}
	}
}

// runLocked runs once, under the store's lock when it has one.
func (r *Retention) runLocked(ctx context.Context) {
	if l, ok := r.store.(locker); ok {
		unlock, ok, err := l.TryLockRetention(ctx)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				r.log.Warn("retention: cannot take its lock; trying again at the next run", "error", err)
			}
			return
		case !ok:
			r.log.Debug("retention: another process is running it")
			return
		}
		defer unlock()
	}
	rep, err := r.RunOnce(ctx, time.Now())
	if err != nil && ctx.Err() != nil {
		return // stopping: the next start runs it again
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
	}
	r.log.Log(ctx, level, "retention run", "cutoff", eye.FormatTime(rep.Cutoff), "events", rep.Events, "errors", rep.Errors,
		"sessions", rep.Sessions, "audit", rep.Audit, "partitions", strings.Join(rep.Partitions, ","),
		"duration_s", rep.Seconds, "error", rep.Error)
}

// RunOnce deletes what is older than now minus the period, records the
// run in the audit log and the metrics, and returns its report. It stops
// at the first error (the report says what it deleted before).
//
// Events go first, so that the sessions they leave empty go in the same
// run. A store that drops partitions drops those wholly older than the
// cutoff first; row deletes take the rest (the default partition, and the
// partition of the cutoff's month).
func (r *Retention) RunOnce(ctx context.Context, now time.Time) (Report, error) {
	start := time.Now()
	now = now.UTC().Truncate(time.Microsecond)
	rep := Report{Period: FormatPeriod(r.period), StartedAt: now, Cutoff: now.Add(-r.period),
		AuditCutoff: now.Add(-max(r.period, MinAuditAge)), Partitions: []string{}}
	err := r.run(ctx, &rep)
	rep.Seconds = time.Since(start).Seconds()
	if err != nil {
		rep.Error = err.Error()
	}
	for kind, n := range map[string]int64{"events": rep.Events, "errors": rep.Errors, "sessions": rep.Sessions, "audit": rep.Audit} {
		r.metrics.RetentionDeleted.WithLabelValues(kind).Add(float64(n))
	}
	if err == nil {
		r.metrics.RetentionLastRun.Set(float64(time.Now().Unix()))
	}
	if ctx.Err() == nil {
		audit.Record(ctx, r.store, r.log, eye.AuditEntry{Actor: eye.ActorRetention, Action: eye.ActionRetentionRun,
			Target: eye.FormatTime(rep.Cutoff), Details: audit.Details(rep)})
	}
	return rep, err
}

func (r *Retention) run(ctx context.Context, rep *Report) error {
	if d, ok := r.store.(partitionDropper); ok {
		parts, n, err := d.DropPartitionsBefore(ctx, rep.Cutoff)
		rep.Partitions, rep.Events = append(rep.Partitions, parts...), rep.Events+n
		if err != nil {
			return fmt.Errorf("drop partitions: %w", err)
		}
	}
	// EventFilter.To is inclusive: older than the cutoff is at most a
	// microsecond before it.
	older := eye.EventFilter{To: rep.Cutoff.Add(-time.Microsecond)}
	steps := []struct {
		count *int64
		what  string
		step  func(limit int) (int64, error)
	}{
		{&rep.Events, "events", func(limit int) (int64, error) { return r.store.DeleteEvents(ctx, older, limit) }},
		{&rep.Errors, "error records", func(limit int) (int64, error) { return r.store.DeleteErrorsBefore(ctx, rep.Cutoff, limit) }},
		{&rep.Sessions, "sessions", func(limit int) (int64, error) { return r.store.DeleteEmptySessions(ctx, rep.Cutoff, limit) }},
		{&rep.Audit, "audit entries", func(limit int) (int64, error) { return r.store.DeleteAuditBefore(ctx, rep.AuditCutoff, limit) }},
	}
	for _, s := range steps {
		if err := r.drain(ctx, s.count, s.step); err != nil {
			return fmt.Errorf("delete %s: %w", s.what, err)
		}
	}
	return nil
}

// drain runs step a batch at a time, adding what each deleted to count,
// until a batch deletes fewer rows than it may, pausing between batches.
func (r *Retention) drain(ctx context.Context, count *int64, step func(limit int) (int64, error)) error {
	for {
		n, err := step(r.pace.Batch)
		*count += n
		if err != nil {
			return err
		}
		if n < int64(r.pace.Batch) {
			return nil
		}
		if !sleep(ctx, r.pace.Pause) {
			return ctx.Err()
		}
	}
}

// ParsePeriod reads a retention period: a number of days ("90d") or a
// duration of Go's form ("12h", "1h30m"). "" and "0" are no retention (0).
func ParsePeriod(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return 0, fmt.Errorf("retention %q: a number of days must be from 1 to 36500, such as 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("retention %q: use days (90d) or a duration (12h)", s)
	}
	if d < time.Hour {
		return 0, errors.New("retention must be at least 1h (or 0: off)")
	}
	return d, nil
}

// FormatPeriod writes a period as ParsePeriod reads it: in days when it is
// whole days.
func FormatPeriod(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
