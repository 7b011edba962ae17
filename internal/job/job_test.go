package job

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/pgtest"
	"github.com/theeye/eye/internal/postgres"
	"github.com/theeye/eye/internal/sqlite"
)

// stores runs fn on a fresh SQLite store and a fresh PostgreSQL store (when
// EYE_TEST_POSTGRES_URL names a server).
func stores(t *testing.T, fn func(t *testing.T, s eye.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "eye.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		fn(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s, err := postgres.Open(context.Background(), pgtest.Database(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		fn(t, s)
	})
}

// running stores a running replay job owned by owner until lease.
func running(t *testing.T, s eye.Store, owner string, lease time.Time) eye.Job {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	j := eye.Job{ID: eye.NewID(), Kind: eye.JobReplay, Status: eye.JobRunning, CreatedAt: now, UpdatedAt: now,
		Owner: owner, LeaseUntil: lease}
	if err := s.CreateJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return j
}

// finish is a Func that counts its runs and ends the job at once.
func finish(runs *atomic.Int32, r **Runner) Func {
	return func(ctx context.Context, j eye.Job) eye.Job {
		runs.Add(1)
		j.Status, j.Replayed = eye.JobDone, 1
		if err := (*r).Save(ctx, &j); err != nil {
			j.Status = eye.JobRunning
		}
		return j
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOneRunnerPerJob: processes starting together, each resuming the
// jobs left running, run each job once.
func TestOneRunnerPerJob(t *testing.T) {
	stores(t, func(t *testing.T, s eye.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		j := running(t, s, "", time.Time{}) // left by a version without leases
		var runs atomic.Int32
		runners := make([]*Runner, 4)
		for i := range runners {
			runners[i] = New(ctx, s, eye.JobReplay, finish(&runs, &runners[i]), nil, time.Minute)
		}
		var wg sync.WaitGroup
		for _, r := range runners {
			wg.Go(func() {
				if err := r.Resume(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		waitFor(t, "the job to end", func() bool {
			got, err := s.Job(context.Background(), j.ID)
			return err == nil && got.Status == eye.JobDone
		})
		cancel()
		for _, r := range runners {
			r.Wait()
		}
		if n := runs.Load(); n != 1 {
			t.Errorf("the job ran %d times, want once", n)
		}
	})
}

// TestTakeOverLapsedLease: the job of a process that stopped without a
// word (a crash) is taken over once its lease lapses, not before.
func TestTakeOverLapsedLease(t *testing.T) {
	stores(t, func(t *testing.T, s eye.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		lapse := time.Now().Add(500 * time.Millisecond)
		j := running(t, s, "crashed", lapse)
		var runs atomic.Int32
		var ranAt atomic.Int64
		var r *Runner
		r = New(ctx, s, eye.JobReplay, func(ctx context.Context, j eye.Job) eye.Job {
			ranAt.Store(time.Now().UnixNano())
			return finish(&runs, &r)(ctx, j)
		}, nil, 200*time.Millisecond)
		if err := r.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the job to be taken over", func() bool { return runs.Load() > 0 })
		if at := time.Unix(0, ranAt.Load()); at.Before(lapse) {
			t.Errorf("taken over %v before the lease lapsed", lapse.Sub(at))
		}
		got, err := s.Job(ctx, j.ID)
		if err != nil || got.Status != eye.JobDone || got.Owner != r.owner {
			t.Errorf("Job = status %s, owner %q (want %q), %v", got.Status, got.Owner, r.owner, err)
		}
		cancel()
		r.Wait()
	})
}

// TestStalledOwnerLosesJob: a process that stops renewing its lease (it
// lost the store for longer than the lease) finds the job taken over, and
// stops.
func TestStalledOwnerLosesJob(t *testing.T) {
	stores(t, func(t *testing.T, s eye.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stalled, resume := make(chan struct{}), make(chan struct{})
		saveErr := make(chan error, 1)
		var a *Runner
		a = New(ctx, s, eye.JobReplay, func(ctx context.Context, j eye.Job) eye.Job {
			close(stalled)
			<-resume
			j.Replayed = 99
			saveErr <- a.Save(ctx, &j)
			return j
		}, nil, 200*time.Millisecond)
		j, err := a.Start(ctx, eye.Job{ID: eye.NewID()})
		if err != nil {
			t.Fatal(err)
		}
		<-stalled

		var runs atomic.Int32
		var b *Runner
		b = New(ctx, s, eye.JobReplay, finish(&runs, &b), nil, 200*time.Millisecond)
		if err := b.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the job to be taken over", func() bool { return runs.Load() > 0 })
		close(resume)
		if err := <-saveErr; !errors.Is(err, ErrTakenOver) {
			t.Errorf("the stalled owner's Save = %v, want ErrTakenOver", err)
		}
		got, _ := s.Job(ctx, j.ID)
		if got.Owner != b.owner || got.Status != eye.JobDone || got.Replayed != 1 {
			t.Errorf("Job = owner %q (want %q), status %s, replayed %d", got.Owner, b.owner, got.Status, got.Replayed)
		}
		cancel()
		a.Wait()
		b.Wait()
	})
}

// TestStopGivesLeaseUp: a process that stops gives its jobs' leases up,
// with their progress, so that the next process takes them over at once.
func TestStopGivesLeaseUp(t *testing.T) {
	stores(t, func(t *testing.T, s eye.Store) {
		actx, stopA := context.WithCancel(context.Background())
		defer stopA()
		saved := make(chan struct{})
		var a *Runner
		a = New(actx, s, eye.JobReplay, func(ctx context.Context, j eye.Job) eye.Job {
			for ctx.Err() == nil {
				j.Replayed++
				if err := a.Save(ctx, &j); err != nil && ctx.Err() == nil {
					t.Error(err)
				}
				if j.Replayed == 3 {
					close(saved)
				}
				time.Sleep(time.Millisecond)
			}
			j.Replayed = 1000 // what it did after its last Save
			return j
		}, nil, time.Hour)
		j, err := a.Start(context.Background(), eye.Job{ID: eye.NewID()})
		if err != nil {
			t.Fatal(err)
		}
		<-saved
		stopA()
		a.Wait()
		got, _ := s.Job(context.Background(), j.ID)
		if got.Status != eye.JobRunning || !got.LeaseUntil.IsZero() || got.Replayed != 1000 {
			t.Fatalf("after the stop: status %s, lease %v, replayed %d", got.Status, got.LeaseUntil, got.Replayed)
		}

		bctx, stopB := context.WithCancel(context.Background())
		defer stopB()
		var runs atomic.Int32
		var b *Runner
		b = New(bctx, s, eye.JobReplay, finish(&runs, &b), nil, time.Hour)
		if err := b.Resume(bctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the job to be resumed", func() bool { return runs.Load() > 0 })
		stopB()
		b.Wait()
	})
}
