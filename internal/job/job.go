// Package job runs background jobs (bulk replays, bulk deletions) so that
// each runs in one process at a time, and goes on after that process
// stops: a job is owned through a lease in the store, renewed at every
// step; when its owner stops renewing it (it crashed, or lost the store
// for longer than the lease), another process takes the job over.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/theeye/eye"
)

// Store is the part of the store jobs use.
type Store interface {
	CreateJob(ctx context.Context, j eye.Job) error
	UpdateJob(ctx context.Context, j eye.Job) error
	ClaimJob(ctx context.Context, id, owner string, now, until time.Time) (bool, error)
	RunningJobs(ctx context.Context) ([]eye.Job, error)
}

// DefaultLease is how long a claim on a job holds without being renewed.
const DefaultLease = time.Minute

// Func does a job's work: a step at a time, calling Runner.Save after each
// (which renews the lease), until the job ends, ctx ends or Save returns
// ErrTakenOver. It returns the job as it last
// knew it.
type Func func(ctx context.Context, j eye.Job) eye.Job

// Runner runs the jobs of one kind.
type Runner struct {
	store Store
	kind  string
	work  Func
	log   *slog.Logger
	owner string        // this runner's name in the jobs' owner column
	lease time.Duration // how long a claim holds without renewal

	base context.Context // jobs run until it ends
	wg   sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool // the ids of the jobs this runner runs
}

// New returns a Runner of the jobs of kind, doing work, until base ends.
// lease is how long a claim holds without renewal (0: DefaultLease).
func New(base context.Context, store Store, kind string, work Func, log *slog.Logger, lease time.Duration) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	return &Runner{store: store, kind: kind, work: work, log: log, owner: eye.NewID(), lease: lease,
		base: base, running: map[string]bool{}}
}

// Start stores j as a new running job owned by this runner, and runs it.
func (r *Runner) Start(ctx context.Context, j eye.Job) (eye.Job, error) {
	j.Kind, j.Status, j.Owner, j.LeaseUntil = r.kind, eye.JobRunning, r.owner, time.Now().Add(r.lease)
	if err := r.store.CreateJob(ctx, j); err != nil {
		return j, err
	}
	r.launch(j)
	return j, nil
}

// Resume claims and runs the running jobs of the kind that no process
// owns (their owner stopped) and, until base ends, looks again every half
// lease for jobs whose owner stopped renewing its lease.
func (r *Runner) Resume(ctx context.Context) error {
	if err := r.adopt(ctx); err != nil {
		return err
	}
	r.wg.Go(func() {
		t := time.NewTicker(r.lease / 2)
		defer t.Stop()
		for {
			select {
			case <-r.base.Done():
				return
			case <-t.C:
				if err := r.adopt(r.base); err != nil && r.base.Err() == nil {
					r.log.Warn("look for jobs to take over", "kind", r.kind, "error", err)
				}
			}
		}
	})
	return nil
}

// adopt claims and runs the running jobs of the kind that are not run here
// and whose lease lapsed (or that have none).
func (r *Runner) adopt(ctx context.Context) error {
	jobs, err := r.store.RunningJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Kind != r.kind || r.isRunning(j.ID) {
			continue
		}
		now := time.Now()
		if j.Owner != "" && j.LeaseUntil.After(now) {
			continue // its owner is alive
		}
		until := now.Add(r.lease)
		ok, err := r.store.ClaimJob(ctx, j.ID, r.owner, now, until)
		if err != nil {
			return err
		}
		if !ok {
			continue // another process claimed it first, or it ended
		}
		r.log.Info("resuming job", "kind", r.kind, "job", j.ID, "previous_owner", j.Owner,
			"replayed", j.Replayed, "still_invalid", j.StillInvalid, "deleted", j.Deleted)
		j.Owner, j.LeaseUntil = r.owner, until
		r.launch(j)
	}
	return nil
}

func (r *Runner) isRunning(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id]
}

// launch runs j in the background. When base ends first, the job's lease
// is given up, so that the next process to look takes it over at once.
func (r *Runner) launch(j eye.Job) {
	r.mu.Lock()
	r.running[j.ID] = true
	r.mu.Unlock()
	r.wg.Go(func() {
		defer func() {
			r.mu.Lock()
			delete(r.running, j.ID)
			r.mu.Unlock()
		}()
		last := r.work(r.base, j)
		if last.Status != eye.JobRunning || r.base.Err() == nil {
			return // ended, or taken over by another process
		}
		// Stopped with the process: store where it was, with no lease. The
		// store refuses it if another process took the job over meanwhile.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.base), 5*time.Second)
		defer cancel()
		last.LeaseUntil = time.Time{}
		if err := r.store.UpdateJob(ctx, last); err != nil && eye.ErrorCode(err) != eye.ECONFLICT {
			r.log.Warn("give up a job's lease", "kind", r.kind, "job", j.ID, "error", err)
		}
	})
}

// ErrTakenOver is Save's error when another process took the job over
// (its lease lapsed): the caller stops, and leaves the job to it.
var ErrTakenOver = errors.New("the job is run by another process now")

// Save stores j's progress and renews its lease; ErrTakenOver when another
// process owns the job now.
func (r *Runner) Save(ctx context.Context, j *eye.Job) error {
	j.LeaseUntil = time.Now().Add(r.lease)
	err := r.store.UpdateJob(ctx, *j)
	if eye.ErrorCode(err) == eye.ECONFLICT {
		return fmt.Errorf("%w: %w", ErrTakenOver, err)
	}
	return err
}

// Wait waits for the running jobs to stop: they stop when base ends, and
// go on in the next process to look for them.
func (r *Runner) Wait() { r.wg.Wait() }
