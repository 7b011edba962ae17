package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/metric"
	"github.com/theeye/eye/internal/pgtest"
	"github.com/theeye/eye/internal/postgres"
	"github.com/theeye/eye/internal/sqlite"
	"github.com/theeye/eye/internal/storetest"
)

// testStore is a store the tests run on, with the URL of its database
// when it is PostgreSQL.
type testStore struct {
	eye.Store
	pg  *postgres.Store
	url string
}

// concrete returns the store itself, with the methods of its own type.
func (s testStore) concrete() Store {
	if s.pg != nil {
		return s.pg
	}
	return s.Store
}

// stores runs fn on a fresh SQLite store and a fresh PostgreSQL store (when
// EYE_TEST_POSTGRES_URL names a server).
func stores(t *testing.T, fn func(t *testing.T, s testStore)) {
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
		fn(t, testStore{Store: s})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.Database(t)
		s, err := postgres.Open(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		fn(t, testStore{Store: s, pg: s, url: url})
	})
}

// quick is a pace of small batches without pauses, so that the tests see
// several batches.
var quick = Pace{Batch: 3, Pause: time.Microsecond}

// event returns an event of session at ts, received a second later.
func event(session string, ts time.Time, seq uint64) eye.Event {
	return eye.Event{ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID, SessionID: session, Category: "page interaction",
		Name: "pageview", Data: []byte(`{"path":"/"}`), Timestamp: ts, ReceivedAt: ts.Add(time.Second), Seq: seq}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }

// TestRetention runs the retention over events of five months, error
// records, sessions and audit entries on both stores: exactly what is
// older than the cutoff goes, every counter stays true, and PostgreSQL
// drops the partitions wholly older than the cutoff while it deletes
// rows of the default partition and of the partition the cutoff falls in.
func TestRetention(t *testing.T) {
	stores(t, func(t *testing.T, s testStore) {
		ctx := context.Background()
		now := day(2026, 3, 15)
		const period = 30 * 24 * time.Hour
		cutoff := now.Add(-period) // 2026-02-13 12:00
		if s.pg != nil {
			// Partitions 2025-12 to 2026-04; 2025-06 goes to the default one.
			if err := s.pg.EnsurePartitions(ctx, day(2026, 1, 10)); err != nil {
				t.Fatal(err)
			}
		}
		var seq uint64
		next := func(session string, ts time.Time) eye.Event { seq++; return event(session, ts, seq) }
		long, old, backfill, recent, spanning := eye.NewID(), eye.NewID(), eye.NewID(), eye.NewID(), eye.NewID()
		oldMinted, newMinted := eye.NewID(), eye.NewID()
		evs := []eye.Event{
			next(long, day(2025, 6, 1)),   // default partition
			next(long, day(2025, 12, 24)), // 2025-12
			next(long, day(2026, 2, 1)),   // 2026-02, before the cutoff
			next(long, day(2026, 2, 20)),  // 2026-02, after
			next(long, day(2026, 3, 10)),  // 2026-03
			next(old, day(2025, 12, 2)),
			next(old, day(2026, 1, 5)),
			next(recent, day(2026, 3, 1)),
			next(spanning, day(2025, 12, 10)), // its first event, in a partition dropped whole
			next(spanning, day(2026, 3, 2)),
		}
		for i := range 7 {
			evs = append(evs, next(old, day(2026, 1, 10+i)))
		}
		// Old events that arrived recently: their session was created
		// after the cutoff and stays, empty.
		late := next(backfill, day(2026, 1, 3))
		late.ReceivedAt = day(2026, 3, 1)
		evs = append(evs, late)
		long2 := next(long, day(2026, 1, 20))
		long2.ApplicationID = "shop" // long's only event of shop
		evs = append(evs, long2)
		var recs []eye.ErrorRecord
		for i, received := range []time.Time{day(2025, 12, 1), day(2026, 2, 13).Add(-time.Microsecond), cutoff, day(2026, 3, 14)} {
			seq++
			recs = append(recs, eye.ErrorRecord{ID: eye.NewID(), Seq: seq, ReceivedAt: received, ApplicationID: eye.DefaultApplicationID,
				Category: "page interaction", Name: "pageview", SessionID: old,
				Reasons: []eye.Reason{{Code: eye.CodeEmptyData, Field: "data", Message: fmt.Sprint("empty ", i)}}, Payload: []byte(`{}`)})
		}
		minted := []eye.Session{{ID: oldMinted, CreatedAt: day(2026, 1, 1)}, {ID: newMinted, CreatedAt: day(2026, 3, 1)}}
		if _, err := s.Write(ctx, eye.Batch{Events: evs, Errors: recs, Sessions: minted}); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{now.Add(-400 * 24 * time.Hour), now.Add(-300 * 24 * time.Hour)} {
			if err := s.RecordAudit(ctx, eye.AuditEntry{ID: eye.NewID(), At: at, Actor: eye.ActorCLI, Action: eye.ActionUserCreate}); err != nil {
				t.Fatal(err)
			}
		}
		sessions := []string{long, old, backfill, recent, spanning, oldMinted, newMinted}
		from, to := day(2025, 5, 1).Truncate(24*time.Hour), day(2026, 4, 1).Truncate(24*time.Hour)
		storetest.CheckCounters(t, s, from, to, sessions...)

		m := metric.New()
		r := NewRetention(s.concrete(), period, nil, m, quick)
		rep, err := r.RunOnce(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		want := Report{Period: "30d", StartedAt: now, Cutoff: cutoff, AuditCutoff: now.Add(-MinAuditAge),
			Events: 15, Errors: 2, Sessions: 2, Audit: 1, Partitions: []string{}}
		if s.pg != nil {
			want.Partitions = []string{"events_202512", "events_202601"}
		}
		rep.Seconds = 0
		if fmt.Sprint(rep) != fmt.Sprint(want) {
			t.Errorf("report %+v\nwant   %+v", rep, want)
		}

		left := map[string]bool{}
		page, err := s.Events(ctx, eye.EventFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Items {
			left[ev.ID] = true
		}
		for _, ev := range evs {
			if kept := !ev.Timestamp.Before(cutoff); left[ev.ID] != kept {
				t.Errorf("event at %v: kept %v, want %v", ev.Timestamp, left[ev.ID], kept)
			}
		}
		for _, rec := range recs {
			_, err := s.ErrorRecord(ctx, rec.ID)
			if kept := !rec.ReceivedAt.Before(cutoff); (err == nil) != kept {
				t.Errorf("error record received at %v: %v; kept: want %v", rec.ReceivedAt, err, kept)
			}
		}
		for id, kept := range map[string]bool{long: true, old: false, backfill: true, recent: true, spanning: true, oldMinted: false, newMinted: true} {
			if _, err := s.Session(ctx, id); (err == nil) != kept {
				t.Errorf("session %s: %v; kept: want %v", id, err, kept)
			}
		}
		ss, err := s.Session(ctx, long)
		if err != nil || ss.EventCount != 2 || !ss.FirstSeen.Equal(day(2026, 2, 20)) || !ss.LastSeen.Equal(day(2026, 3, 10)) ||
			!slices.Equal(ss.ApplicationIDs, []string{"default"}) {
			t.Errorf("session long = %+v, %v", ss, err)
		}
		storetest.CheckCounters(t, s, from, to, sessions...)
		if n := testutil.ToFloat64(m.RetentionDeleted.WithLabelValues("events")); n != 15 {
			t.Errorf("eye_retention_deleted_total{kind=events} = %v", n)
		}
		if testutil.ToFloat64(m.RetentionLastRun) == 0 {
			t.Error("eye_retention_last_run_timestamp_seconds is not set")
		}
		entries, err := s.Audit(ctx, eye.AuditFilter{Action: eye.ActionRetentionRun, Limit: 10})
		if err != nil || len(entries.Items) != 1 {
			t.Fatalf("retention.run entries: %+v, %v", entries, err)
		}
		var recorded Report
		if err := json.Unmarshal(entries.Items[0].Details, &recorded); err != nil || recorded.Events != 15 || recorded.Sessions != 2 ||
			entries.Items[0].Actor != eye.ActorRetention {
			t.Errorf("retention.run entry %+v (%v)", entries.Items[0], err)
		}

		if s.pg != nil {
			checkPartitions(t, s.url, []string{"events_202602", "events_202603", "events_202604", "events_default"})
		}

		// A second run finds nothing more.
		rep, err = r.RunOnce(ctx, now)
		if err != nil || rep.Events+rep.Errors+rep.Sessions+rep.Audit != 0 || len(rep.Partitions) != 0 {
			t.Errorf("second run: %+v, %v", rep, err)
		}
		storetest.CheckCounters(t, s, from, to, sessions...)
	})
}

// checkPartitions compares the partitions of events (pg_inherits) from
// 2025-10 on with want, and checks that event_ids holds one row per event.
func checkPartitions(t *testing.T, url string, want []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass AND (c.relname < 'events_202610' OR c.relname = 'events_default') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("partitions %v, want %v", got, want)
	}
	var dropped bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('events_202512') IS NULL AND to_regclass('events_202601') IS NULL`).Scan(&dropped); err != nil || !dropped {
		t.Errorf("the old partitions' tables are still there (%v)", err)
	}
	var events, ids int64
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_ids)`).Scan(&events, &ids); err != nil || events != ids {
		t.Errorf("%d events, %d event ids (%v)", events, ids, err)
	}
}

// TestDeleteJob deletes the events of a filter as a job, in batches, and
// resumes a job left running.
func TestDeleteJob(t *testing.T) {
	stores(t, func(t *testing.T, s testStore) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var evs []eye.Event
		sessions := []string{eye.NewID(), eye.NewID()}
		start := day(2026, 11, 1)
		for i := range 20 {
			ev := event(sessions[i%2], start.Add(time.Duration(i)*time.Minute), uint64(i+1))
			if i%4 == 0 {
				ev.Name = "click"
			}
			evs = append(evs, ev)
		}
		if _, err := s.Write(ctx, eye.Batch{Events: evs}); err != nil {
			t.Fatal(err)
		}
		d := NewDeleter(ctx, s, nil, quick)
		by := eye.AuditEntry{Actor: "key:test", ActorName: "test", Addr: "192.0.2.1", Details: json.RawMessage(`{"name":"pageview"}`)}
		j, err := d.Start(ctx, eye.EventFilter{Name: "pageview"}, by)
		if err != nil || j.Matched != 15 || j.Status != eye.JobRunning {
			t.Fatalf("Start = %+v, %v", j, err)
		}
		j = waitJob(t, s, j.ID)
		if j.Deleted != 15 || j.Error != "" {
			t.Errorf("job = %+v", j)
		}
		if n, _ := s.CountEvents(ctx, eye.EventFilter{}); n != 5 {
			t.Errorf("%d events left, want the 5 clicks", n)
		}
		from, to := start.Truncate(24*time.Hour), start.Add(24*time.Hour).Truncate(24*time.Hour)
		storetest.CheckCounters(t, s, from, to, sessions...)
		page, err := s.Audit(ctx, eye.AuditFilter{Action: eye.ActionEventsDeleteJob, Limit: 10})
		if err != nil || len(page.Items) != 2 {
			t.Fatalf("audit entries %+v, %v", page.Items, err)
		}
		end, begin := page.Items[0], page.Items[1]
		if begin.Target != j.ID || begin.Actor != "key:test" || begin.Addr != "192.0.2.1" ||
			string(begin.Details) != `{"filter":{"name":"pageview"},"matched":15,"status":"running"}` {
			t.Errorf("start entry %+v, %s", begin, begin.Details)
		}
		if end.Target != j.ID || end.Actor != "key:test" || string(end.Details) != `{"deleted":15,"matched":15,"status":"done"}` {
			t.Errorf("end entry %+v, %s", end, end.Details)
		}

		// A job a stopped process left running goes on at the next start;
		// another kind of job is left to its own runner.
		left := eye.Job{ID: eye.NewID(), Kind: eye.JobDelete, EventFilter: eye.EventFilter{Name: "click"}, Status: eye.JobRunning,
			Matched: 5, Deleted: 1, CreatedAt: start, UpdatedAt: start}
		replay := eye.Job{ID: eye.NewID(), Kind: eye.JobReplay, Status: eye.JobRunning, CreatedAt: start, UpdatedAt: start}
		for _, j := range []eye.Job{left, replay} {
			if err := s.CreateJob(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		if j := waitJob(t, s, left.ID); j.Deleted != 6 {
			t.Errorf("resumed job = %+v; want 1 + 5 deleted", j)
		}
		if j, err := s.Job(ctx, replay.ID); err != nil || j.Status != eye.JobRunning {
			t.Errorf("replay job = %+v, %v", j, err)
		}
		cancel()
		d.Wait()
	})
}

// waitJob waits for a job to end and returns it.
func waitJob(t *testing.T, s eye.Store, id string) eye.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		j, err := s.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != eye.JobRunning {
			return j
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %s still running after 30 s", id)
	return eye.Job{}
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := ParsePeriod(in); err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"30m", "-1d", "0d", "d", "90 d", "1y", "-2h"} {
		if got, err := ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) = %v, want an error", in, got)
		}
	}
	for d, want := range map[time.Duration]string{90 * 24 * time.Hour: "90d", 12 * time.Hour: "12h0m0s"} {
		if got := FormatPeriod(d); got != want {
			t.Errorf("FormatPeriod(%v) = %q, want %q", d, got, want)
		}
	}
}
