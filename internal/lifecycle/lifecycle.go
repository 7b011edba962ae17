// Package lifecycle deletes data: bulk deletions of events, as background
// jobs, and the retention, which deletes what is older than a period.
//
// Both work in small batches, each one store transaction that keeps every
// counter true, with a pause between, so that the worker's writes and the
// queries never wait long for the store. Both are recorded in the audit
// log.
package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/audit"
	"github.com/theeye/eye/internal/job"
)

// Store is the part of the store lifecycle uses.
type Store interface {
	CountEvents(ctx context.Context, f eye.EventFilter) (int64, error)
	DeleteEvents(ctx context.Context, f eye.EventFilter, limit int) (int64, error)
	DeleteErrorsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)
	DeleteEmptySessions(ctx context.Context, before time.Time, limit int) (int64, error)
	DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error)
	RecordAudit(ctx context.Context, e eye.AuditEntry) error
	job.Store
}

// Pace is how deletions share the store: Batch rows per transaction, and
// a Pause between two transactions. The zero value is 1,000 rows and
// 100 ms.
type Pace struct {
	Batch int
	Pause time.Duration
}

func (p Pace) withDefaults() Pace {
	if p.Batch <= 0 {
		p.Batch = 1000
	}
	if p.Pause == 0 {
		p.Pause = 100 * time.Millisecond
	}
	return p
}

// sleep waits d, or until ctx ends; it reports whether ctx is still on.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// now is the time of the store's records: UTC, microseconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Deleter runs deletion jobs: the events matching a filter, deleted a
// batch at a time, oldest first.
type Deleter struct {
	store Store
	log   *slog.Logger
	pace  Pace
	jobs  *job.Runner // the deletion jobs
}

// NewDeleter returns a Deleter whose jobs run until base ends.
func NewDeleter(base context.Context, store Store, log *slog.Logger, pace Pace) *Deleter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Deleter{store: store, log: log, pace: pace.withDefaults()}
	d.jobs = job.New(base, store, eye.JobDelete, d.run, log, 0)
	return d
}

// Start counts the events matching f, creates a job deleting them and
// runs it in the background. by is the request's audit entry: its actor
// and address, and as details the filter as it was asked for. The job's
// start and end are recorded in the audit log, with the count at each.
func (d *Deleter) Start(ctx context.Context, f eye.EventFilter, by eye.AuditEntry) (eye.Job, error) {
	f.Ascending, f.Limit, f.After = false, 0, nil
	matched, err := d.store.CountEvents(ctx, f)
	if err != nil {
		return eye.Job{}, err
	}
	t := now()
	j, err := d.jobs.Start(ctx, eye.Job{ID: eye.NewID(), EventFilter: f, Matched: matched,
		Actor: by.Actor, ActorName: by.ActorName, CreatedAt: t, UpdatedAt: t})
	if err != nil {
		return j, err
	}
	audit.Record(ctx, d.store, d.log, eye.AuditEntry{Actor: by.Actor, ActorName: by.ActorName, Addr: by.Addr,
		Action: eye.ActionEventsDeleteJob, Target: j.ID,
		Details: audit.Details(map[string]any{"status": j.Status, "filter": by.Details, "matched": matched})})
	d.log.Info("deletion job started", "job", j.ID, "matched", matched, "actor", by.Actor)
	return j, nil
}

// Resume runs in the background the deletion jobs no process runs (a
// previous run left them running), and takes over, until base ends, those
// whose process stops: they go on deleting what still matches.
func (d *Deleter) Resume(ctx context.Context) error { return d.jobs.Resume(ctx) }

// Wait waits for the running jobs to stop (they stop when base ends, and
// resume at the next start).
func (d *Deleter) Wait() { d.jobs.Wait() }

// run deletes a job's events a batch at a time, storing its progress
// after each, until a batch finds fewer than it may delete. While the
// store is unavailable it waits and goes on; any other error fails the
// job. A crash between a batch and its progress leaves the count short
// by that batch; the events are deleted all the same.
func (d *Deleter) run(ctx context.Context, j eye.Job) eye.Job {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		n, err := d.store.DeleteEvents(ctx, j.EventFilter, d.pace.Batch)
		if err != nil {
			if ctx.Err() != nil {
				return j
			}
			if eye.ErrorCode(err) != eye.EUNAVAILABLE {
				return d.finish(ctx, j, err)
			}
			d.log.Warn("deletion job waiting for the store", "job", j.ID, "error", err)
			if !sleep(ctx, delay) {
				return j
			}
			delay = min(2*delay, 5*time.Second)
			continue
		}
		delay = 100 * time.Millisecond
		j.Deleted += n
		j.UpdatedAt = now()
		if n < int64(d.pace.Batch) {
			return d.finish(ctx, j, nil)
		}
		if err := d.jobs.Save(ctx, &j); errors.Is(err, job.ErrTakenOver) {
			d.log.Info("deletion job taken over by another process", "job", j.ID)
			return j
		} else if err != nil && ctx.Err() == nil {
			d.log.Warn("store a deletion job's progress", "job", j.ID, "error", err)
		}
		if !sleep(ctx, d.pace.Pause) {
			return j
		}
	}
	return j
}

// finish marks a job done, or failed with err, and records its end: once,
// by the process that owns the job.
func (d *Deleter) finish(ctx context.Context, j eye.Job, err error) eye.Job {
	j.Status, j.UpdatedAt = eye.JobDone, now()
	if err != nil {
		j.Status, j.Error = eye.JobFailed, err.Error()
		d.log.Error("deletion job failed", "job", j.ID, "deleted", j.Deleted, "error", err)
	} else {
		d.log.Info("deletion job finished", "job", j.ID, "matched", j.Matched, "deleted", j.Deleted)
	}
	if uerr := d.jobs.Save(ctx, &j); errors.Is(uerr, job.ErrTakenOver) {
		d.log.Info("deletion job taken over by another process", "job", j.ID)
		return j
	} else if uerr != nil && ctx.Err() == nil {
		d.log.Error("store the end of a deletion job", "job", j.ID, "error", uerr)
	}
	details := map[string]any{"status": j.Status, "matched": j.Matched, "deleted": j.Deleted}
	if j.Error != "" {
		details["error"] = j.Error
	}
	audit.Record(ctx, d.store, d.log, eye.AuditEntry{Actor: j.Actor, ActorName: j.ActorName,
		Action: eye.ActionEventsDeleteJob, Target: j.ID, Details: audit.Details(details)})
	return j
}
