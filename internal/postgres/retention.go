package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// retentionLock is the advisory lock of the retention: one process of a
// deployment runs it at a time.
const retentionLock int64 = 0x7468656579650002 // "theeye" 0002

// Limits of a partition drop's exclusive lock on events.
const (
	// dropLockTimeout is how long a drop waits for its exclusive lock on
	// events, during which new reads and writes of events queue behind
	// it. Shorter than PostgreSQL's deadlock_timeout (1 s by default), so
	// that a writer waiting for a counter row the drop holds is never the
	// one given up on: the drop is, and is tried again.
	dropLockTimeout = "500ms"
	dropAttempts    = 3
	dropRetryPause  = 2 * time.Second
	lockUnavailable = "55P03"
)

// TryLockRetention takes the retention's advisory lock on a connection of
// its own, held until unlock is called, unless another process holds it
// (ok is false): one process of a deployment runs the retention at a time.
func (s *Store) TryLockRetention(ctx context.Context) (unlock func(), ok bool, err error) {
	conn, err := s.db.Acquire(ctx)
	if err != nil {
		return nil, false, storeError("acquire a connection", err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, retentionLock).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, storeError("lock retention", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, retentionLock); err != nil {
			// Closing the connection releases the lock.
			s.log.Warn("unlock retention; closing its connection", "error", err)
			conn.Conn().Close(ctx)
		}
		conn.Release()
	}, true, nil
}

// partitionMonths returns the first day of the month of every monthly
// partition of events, oldest first.
func (s *Store) partitionMonths(ctx context.Context) ([]time.Time, error) {
	rows, err := s.db.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass`)
	if err != nil {
		return nil, storeError("list partitions", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, storeError("list partitions", err)
	}
	var months []time.Time
	for _, name := range names {
		ym, ok := strings.CutPrefix(name, "events_")
		if !ok || len(ym) != 6 {
			continue // events_default
		}
		y, err1 := strconv.Atoi(ym[:4])
		m, err2 := strconv.Atoi(ym[4:])
		if err1 != nil || err2 != nil || m < 1 || m > 12 {
			continue
		}
		months = append(months, time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC))
	}
	slices.SortFunc(months, time.Time.Compare)
	return months, nil
}

// DropPartitionsBefore drops every monthly partition of events whose month
// ends at or before cutoff and that holds events, oldest first, each in a
// transaction of its own that takes its events out of every counter and
// its ids out of event_ids (see dropPartition). It returns the partitions
// dropped and the events they held. The default partition, and the
// partition of cutoff's month, are left to row deletes.
//
// A drop that cannot take its locks is tried again a few times, then left:
// its rows are older than cutoff, and the row deletes that follow take
// them. That happens when a long transaction holds events, or when
// sessions with events in the partition are being written to at the
// moment (see dropPartition).
func (s *Store) DropPartitionsBefore(ctx context.Context, cutoff time.Time) ([]string, int64, error) {
	months, err := s.partitionMonths(ctx)
	if err != nil {
		return nil, 0, err
	}
	var dropped []string
	var total int64
	for _, start := range months {
		if start.AddDate(0, 1, 0).After(cutoff) {
			break
		}
		var n int64
		for attempt := 1; ; attempt++ {
			n, err = s.dropPartition(ctx, start)
			if err == nil || attempt == dropAttempts || !isCode(err, lockUnavailable) && !isCode(err, deadlockDetect) {
				break
			}
			s.log.Info("a partition drop could not take its locks; trying again", "partition", partitionName(start),
				"attempt", attempt, "error", err)
			select {
			case <-ctx.Done():
				return dropped, total, ctx.Err()
			case <-time.After(dropRetryPause):
			}
		}
		if isCode(err, lockUnavailable) || isCode(err, deadlockDetect) {
			s.log.Warn("a partition could not be dropped: its rows are deleted one by one instead", "partition", partitionName(start),
				"error", err)
			continue
		}
		if err != nil {
			return dropped, total, err
		}
		if n > 0 {
			dropped, total = append(dropped, partitionName(start)), total+n
		}
	}
	return dropped, total, nil
}

// partitionName is the name of the partition of the month starting at
// start: made from numbers, never from input.
func partitionName(start time.Time) string {
	return fmt.Sprintf("events_%04d%02d", start.Year(), int(start.Month()))
}

// dropPartition drops the partition of the month starting at start, and
// returns how many events it held; an empty one is left alone (0): the
// month before now's is made again by EnsurePartitions.
//
// In one transaction, under the schema's lock (partition changes):
//
//  1. The partition is locked against writes (SHARE): its rows stay as
//     they are counted. Reads go on.
//  2. Its counts are gathered with GROUP BY into temporary tables: per
//     session, session and application, type, and stats row.
//  3. Its ids are deleted from event_ids; sessions, their applications
//     and stats rows are locked in the order of their keys and counted
//     down (a session's first and last event recomputed only when one of
//     them was in the partition); rows left counting nothing are deleted
//     instead of counted down.
//  4. Events is locked exclusively, waiting at most dropLockTimeout: no
//     read or write of events runs meanwhile. Then the types are counted
//     down (every writer locks those, so only now) and the partition is
//     dropped. The lock is held for those two statements and the commit.
//
// A writer that waits for a session or stats row of step 3 holds its own
// lock on events, which step 4 waits for: the drop gives way when its
// lock timeout ends, before PostgreSQL's deadlock check would pick a
// victim, and the writer goes on.
func (s *Store) dropPartition(ctx context.Context, start time.Time) (int64, error) {
	name := partitionName(start)
	table := pgx.Identifier{name}.Sanitize()
	lo, hi := micros(start), micros(start.AddDate(0, 1, 0))
	var n int64
	began := time.Now()
	var locked time.Time // when events was locked exclusively
	err := s.tx(ctx, "drop partition", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
			return storeError("lock schema", err)
		}
		var attached bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_inherits
			WHERE inhrelid = to_regclass($1) AND inhparent = 'events'::regclass)`, name).Scan(&attached); err != nil {
			return storeError("look up partition", err)
		} else if !attached {
			return nil // dropped meanwhile
		}
		steps := []struct{ what, sql string }{
			{"lock partition", `LOCK TABLE ` + table + ` IN SHARE MODE`},
			{"count sessions", `CREATE TEMPORARY TABLE gone_sessions ON COMMIT DROP AS
				SELECT session_id, count(*) AS n FROM ` + table + ` GROUP BY session_id`},
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, st.sql); err != nil {
				return storeError(st.what, err)
			}
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(n), 0)::bigint FROM gone_sessions`).Scan(&n); err != nil {
			return storeError("count events", err)
		} else if n == 0 {
			return nil
		}
		steps = []struct{ what, sql string }{
			{"count applications", `CREATE TEMPORARY TABLE gone_apps ON COMMIT DROP AS
				SELECT session_id, application_id, count(*) AS n FROM ` + table + ` GROUP BY session_id, application_id`},
			{"count types", `CREATE TEMPORARY TABLE gone_types ON COMMIT DROP AS
				SELECT category, name, count(*) AS n FROM ` + table + ` GROUP BY category, name`},
			{"count stats", `CREATE TEMPORARY TABLE gone_stats ON COMMIT DROP AS
				SELECT floor(timestamp / 60000000.0)::bigint AS minute, application_id, category, name, count(*) AS n
				FROM ` + table + ` GROUP BY 1, 2, 3, 4`},
			{"delete event ids", `DELETE FROM event_ids i USING ` + table + ` p WHERE i.id = p.id`},
			{"lock sessions", `SELECT 1 FROM sessions WHERE id IN (SELECT session_id FROM gone_sessions) ORDER BY id FOR UPDATE`},
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, st.sql); err != nil {
				return storeError(st.what, err)
			}
		}
		// Bounds are numbers of this function; the statement takes them as
		// parameters all the same.
		if _, err := tx.Exec(ctx, `UPDATE sessions s SET
			event_count = s.event_count - g.n,
			first_seen = CASE
				WHEN s.event_count = g.n THEN NULL
				WHEN s.first_seen >= $1 AND s.first_seen < $2 THEN (SELECT min(e.timestamp) FROM events e
					WHERE e.session_id = s.id AND (e.timestamp < $1 OR e.timestamp >= $2))
				ELSE s.first_seen END,
			last_seen = CASE
				WHEN s.event_count = g.n THEN NULL
				WHEN s.last_seen >= $1 AND s.last_seen < $2 THEN (SELECT max(e.timestamp) FROM events e
					WHERE e.session_id = s.id AND (e.timestamp < $1 OR e.timestamp >= $2))
				ELSE s.last_seen END
			FROM gone_sessions g WHERE s.id = g.session_id`, lo, hi); err != nil {
			return storeError("count down sessions", err)
		}
		steps = []struct{ what, sql string }{
			{"lock session applications", `SELECT 1 FROM session_applications
				WHERE (session_id, application_id) IN (SELECT session_id, application_id FROM gone_apps)
				ORDER BY session_id, application_id FOR UPDATE`},
			// Rows left counting nothing are deleted, the others counted
			// down: each row is written once.
			{"delete session applications", `DELETE FROM session_applications a USING gone_apps g
				WHERE a.session_id = g.session_id AND a.application_id = g.application_id AND a.event_count = g.n`},
			{"count down session applications", `UPDATE session_applications a SET event_count = a.event_count - g.n
				FROM gone_apps g WHERE a.session_id = g.session_id AND a.application_id = g.application_id`},
			{"lock stats", `SELECT 1 FROM stats
				WHERE (minute, application_id, category, name) IN (SELECT minute, application_id, category, name FROM gone_stats)
				ORDER BY minute, application_id, category, name FOR UPDATE`},
			{"delete stats", `DELETE FROM stats s USING gone_stats g
				WHERE s.minute = g.minute AND s.application_id = g.application_id AND s.category = g.category AND s.name = g.name
				AND s.events = g.n AND s.errors = 0`},
			{"count down stats", `UPDATE stats s SET events = s.events - g.n FROM gone_stats g
				WHERE s.minute = g.minute AND s.application_id = g.application_id AND s.category = g.category AND s.name = g.name`},
			{"set lock timeout", `SELECT set_config('lock_timeout', '` + dropLockTimeout + `', true)`},
			{"lock events", `LOCK TABLE ONLY events IN ACCESS EXCLUSIVE MODE`},
			{"lock types", `SELECT 1 FROM event_types WHERE (category, name) IN (SELECT category, name FROM gone_types)
				ORDER BY category, name FOR UPDATE`},
			{"count down types", `UPDATE event_types t SET events = t.events - g.n FROM gone_types g
				WHERE t.category = g.category AND t.name = g.name`},
			{"drop partition", `DROP TABLE ` + table},
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, st.sql); err != nil {
				return fmt.Errorf("%s %s: %w", st.what, name, storeError(st.what, err))
			}
			if st.what == "lock events" {
				locked = time.Now()
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.log.Info("dropped a partition of events", "partition", name, "events", n,
			"duration_ms", time.Since(began).Milliseconds(), "exclusive_ms", time.Since(locked).Milliseconds())
	}
	return n, nil
}
