// Package replay turns error records back into events once the rules or
// schemas that refused them are fixed: one at a time, or in bulk as a
// background job that survives a restart.
package replay

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/job"
	"github.com/theeye/eye/internal/metric"
)

// Store is the part of the store a Replayer uses.
type Store interface {
	ErrorRecord(ctx context.Context, id string) (eye.ErrorRecord, error)
	Errors(ctx context.Context, f eye.ErrorFilter) (eye.Page[eye.ErrorRecord], error)
	UpdateErrorReasons(ctx context.Context, id string, reasons []eye.Reason) error
	ReplayError(ctx context.Context, ev eye.Event) (bool, error)
	Event(ctx context.Context, id string) (eye.Event, error)
	job.Store
}

// Replayer replays error records with today's rules and schemas.
type Replayer struct {
	store   Store
	rules   eye.Rules
	log     *slog.Logger
	metrics *metric.Metrics
	page    int         // error records per step of a job
	jobs    *job.Runner // the replay jobs
}

// New returns a Replayer whose jobs run until base ends. m counts what
// it replays (nil: counted nowhere).
func New(base context.Context, store Store, rules eye.Rules, log *slog.Logger, m *metric.Metrics) *Replayer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = metric.New()
	}
	r := &Replayer{store: store, rules: rules, log: log, metrics: m, page: 100}
	r.jobs = job.New(base, store, eye.JobReplay, r.run, log, 0)
	return r
}

// One re-validates the stored payload of an error record, keeping its
// original received_at for the future-timestamp rule. Valid, it is stored
// as an event with the record's id (a second replay stores nothing more)
// and the record becomes replayed; the event is returned. Still invalid,
// the record's reasons are updated and returned.
func (r *Replayer) One(ctx context.Context, id string) (eye.Event, []eye.Reason, error) {
	rec, err := r.store.ErrorRecord(ctx, id)
	if err != nil {
		return eye.Event{}, nil, err
	}
	if rec.Status == eye.StatusReplayed {
		ev, err := r.store.Event(ctx, id)
		return ev, nil, err
	}
	ev, reasons := r.rules.ParseEvent(eye.Message{Kind: eye.KindEvent, ID: rec.ID, ApplicationID: rec.ApplicationID,
		ReceivedAt: rec.ReceivedAt, Payload: rec.Payload})
	if len(reasons) > 0 {
		return ev, reasons, r.store.UpdateErrorReasons(ctx, id, reasons)
	}
	ev.Seq = rec.Seq
	inserted, err := r.store.ReplayError(ctx, ev)
	if err != nil {
		return ev, nil, err
	}
	if !inserted {
		// Stored already under this id: answer with what is stored.
		ev, err = r.store.Event(ctx, id)
		return ev, nil, err
	}
	r.metrics.Replayed.WithLabelValues(r.metrics.App(ev.ApplicationID)).Inc()
	return ev, nil, nil
}

// Start creates a job replaying every error record matching f and runs it
// in the background.
func (r *Replayer) Start(ctx context.Context, f eye.ErrorFilter) (eye.Job, error) {
	f.Limit, f.After = 0, nil
	now := time.Now().UTC().Truncate(time.Microsecond)
	return r.jobs.Start(ctx, eye.Job{ID: eye.NewID(), Filter: f, CreatedAt: now, UpdatedAt: now})
}

// Resume runs in the background the replay jobs no process runs (a
// previous run left them running), and takes over, until base ends, those
// whose process stops.
func (r *Replayer) Resume(ctx context.Context) error { return r.jobs.Resume(ctx) }

// Wait waits for the running jobs to stop (they stop when base ends, and
// resume at the next start).
func (r *Replayer) Wait() { r.jobs.Wait() }

// run replays a job's error records a page at a time, storing its
// position after each page: never holding the whole set in memory, and
// resuming where it was after a restart. A record replayed twice (after a
// crash between a page and its position) is stored once.
func (r *Replayer) run(ctx context.Context, j eye.Job) eye.Job {
	f := j.Filter
	f.Limit, f.After = r.page, j.Cursor
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := r.step(ctx, &j, &f)
		if err == nil {
			delay = 100 * time.Millisecond
			if j.Status != eye.JobRunning {
				r.log.Info("replay job finished", "job", j.ID, "status", j.Status, "replayed", j.Replayed, "still_invalid", j.StillInvalid)
				return j
			}
			continue
		}
		if ctx.Err() != nil {
			return j
		}
		switch {
		case errors.Is(err, job.ErrTakenOver):
			r.log.Info("replay job taken over by another process", "job", j.ID)
			return j
		case eye.ErrorCode(err) == eye.EUNAVAILABLE:
		default:
			j.Status, j.Error, j.UpdatedAt = eye.JobFailed, err.Error(), time.Now().UTC()
			if uerr := r.jobs.Save(ctx, &j); uerr != nil {
				r.log.Error("mark job failed", "job", j.ID, "error", uerr)
			}
			r.log.Error("replay job failed", "job", j.ID, "error", err)
			return j
		}
		// The store is down: wait and go on from the same page.
		r.log.Warn("replay job waiting for the store", "job", j.ID, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
	return j
}

// step replays one page and stores the job's progress.
func (r *Replayer) step(ctx context.Context, j *eye.Job, f *eye.ErrorFilter) error {
	page, err := r.store.Errors(ctx, *f)
	if err != nil {
		return err
	}
	// The job changes only once its progress is stored: a page done again
	// after an error is counted once.
	next := *j
	for _, rec := range page.Items {
		_, reasons, err := r.One(ctx, rec.ID)
		if err != nil {
			if eye.ErrorCode(err) == eye.ENOTFOUND {
				continue // deleted meanwhile
			}
			return err
		}
		if len(reasons) > 0 {
			next.StillInvalid++
		} else {
			next.Replayed++
		}
	}
	next.Cursor = page.Next
	if page.Next == nil {
		next.Status = eye.JobDone
	}
	next.UpdatedAt = time.Now().UTC()
	if err := r.jobs.Save(ctx, &next); err != nil {
		return err
	}
	*j = next
	f.After = page.Next
	return nil
}
