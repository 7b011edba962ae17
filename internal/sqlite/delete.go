package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/theeye/eye"
)

// The deletions of the data lifecycle: a session erased, events deleted
// by a filter, and what the retention deletes. Each keeps every counter
// true in its own transaction: sessions (event_count, first_seen,
// last_seen, session_applications), event types and stats.

// removal gathers what deleted events and error records take out of the
// counters.
type removal struct {
	sessions map[string]*sessionOut // nil: the sessions are deleted whole
	types    typeDeltas
	stats    statDeltas
}

// sessionOut is what a deletion takes out of one session.
type sessionOut struct {
	count int64
	apps  map[string]int64
}

func newRemoval(sessions bool) *removal {
	r := &removal{types: typeDeltas{}, stats: statDeltas{}}
	if sessions {
		r.sessions = map[string]*sessionOut{}
	}
	return r
}

// event counts a deleted event out.
func (r *removal) event(ev eye.Event) {
	if r.sessions != nil {
		so := r.sessions[ev.SessionID]
		if so == nil {
			so = &sessionOut{apps: map[string]int64{}}
			r.sessions[ev.SessionID] = so
		}
		so.count++
		so.apps[ev.ApplicationID]++
	}
	r.types.get(ev.Category, ev.Name).events--
	r.stats.add(eventStat(ev), -1, 0)
}

// errorRecord counts a deleted error record out, as Write counted it in.
func (r *removal) errorRecord(e eye.ErrorRecord) {
	if e.Category != "" && e.Name != "" {
		r.types.get(e.Category, e.Name).errors--
	}
	r.stats.add(errorStat(e), 0, -1)
}

// apply takes what was gathered out of the counters: each session's count
// and applications, its first and last event recomputed from the events
// left; the types' counts (their first and last arrival stay: the type
// was seen then); the stats, whose rows left counting nothing are deleted.
func (r *removal) apply(ctx context.Context, tx *txn) error {
	for _, id := range slices.Sorted(maps.Keys(r.sessions)) {
		so := r.sessions[id]
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET event_count = event_count - ? WHERE id = ?`, so.count, id); err != nil {
			return unavailable("update session", err)
		}
		for _, app := range slices.Sorted(maps.Keys(so.apps)) {
			if err := addSessionApp(ctx, tx, id, app, -so.apps[app]); err != nil {
				return err
			}
		}
		if err := refreshSeen(ctx, tx, id); err != nil {
			return err
		}
	}
	if err := r.types.apply(ctx, tx); err != nil {
		return err
	}
	if err := r.stats.apply(ctx, tx); err != nil {
		return err
	}
	for k := range r.stats {
		if _, err := tx.ExecContext(ctx, `DELETE FROM stats WHERE minute = ? AND application_id = ? AND category = ? AND name = ?
			AND events = 0 AND errors = 0`, k.minute, k.app, k.category, k.name); err != nil {
			return unavailable("delete stats", err)
		}
	}
	return nil
}

// oldestFirst is f as the query of its oldest limit events: the query of
// Events, so that a deletion or a count selects exactly what a list shows.
func oldestFirst(f eye.EventFilter, limit int) eye.EventFilter {
	f.Ascending, f.After, f.Limit = true, nil, limit-1 // eventsQuery asks one more
	return f
}

// CountEvents returns how many events match f (its order and page are
// ignored).
func (s *Store) CountEvents(ctx context.Context, f eye.EventFilter) (int64, error) {
	q, args := eventsQuery(oldestFirst(f, math.MaxInt))
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM (`+q+`)`, args...).Scan(&n); err != nil {
		return 0, unavailable("count events", err)
	}
	return n, nil
}

// DeleteEvents deletes the oldest limit events matching f (by timestamp,
// then arrival), in one transaction that keeps the counters true, and
// returns how many it deleted: fewer than limit once none is left.
func (s *Store) DeleteEvents(ctx context.Context, f eye.EventFilter, limit int) (int64, error) {
	if limit < 1 {
		return 0, nil
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, unavailable("begin delete events", err)
	}
	defer tx.Rollback()
	q, args := eventsQuery(oldestFirst(f, limit))
	r := newRemoval(true)
	n, err := deleteEventRows(ctx, tx, r, `DELETE FROM events WHERE pk IN (SELECT pk FROM (`+q+`))`, args...)
	if err != nil {
		return 0, err
	}
	if err := r.apply(ctx, tx); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, unavailable("commit delete events", err)
	}
	return n, nil
}

// deleteEventRows runs a DELETE of events and counts each row it deleted
// into r.
func deleteEventRows(ctx context.Context, tx *txn, r *removal, query string, args ...any) (int64, error) {
	rows, err := tx.QueryContext(ctx, query+` RETURNING session_id, application_id, category, name, timestamp`, args...)
	if err != nil {
		return 0, unavailable("delete events", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var ev eye.Event
		var ts int64
		if err := rows.Scan(&ev.SessionID, &ev.ApplicationID, &ev.Category, &ev.Name, &ts); err != nil {
			return 0, unavailable("delete events", err)
		}
		ev.Timestamp = fromMicros(ts)
		r.event(ev)
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, unavailable("delete events", err)
	}
	return n, nil
}

// deleteErrorRows runs a DELETE of error records (their codes go with
// them) and counts each row it deleted into r.
func deleteErrorRows(ctx context.Context, tx *txn, r *removal, query string, args ...any) (int64, error) {
	rows, err := tx.QueryContext(ctx, query+` RETURNING application_id, category, name, received_at`, args...)
	if err != nil {
		return 0, unavailable("delete error records", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var e eye.ErrorRecord
		var category, name sql.NullString
		var received int64
		if err := rows.Scan(&e.ApplicationID, &category, &name, &received); err != nil {
			return 0, unavailable("delete error records", err)
		}
		e.Category, e.Name, e.ReceivedAt = category.String, name.String, fromMicros(received)
		r.errorRecord(e)
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, unavailable("delete error records", err)
	}
	return n, nil
}

// DeleteSession erases a session: the session, all its events and all its
// error records (which hold the same person's data), in one transaction
// that keeps the types' counts and the stats true.
func (s *Store) DeleteSession(ctx context.Context, id string) (eye.DeleteResult, error) {
	var res eye.DeleteResult
	tx, err := s.begin(ctx)
	if err != nil {
		return res, unavailable("begin delete session", err)
	}
	defer tx.Rollback()
	var pk int64
	err = tx.QueryRowContext(ctx, `SELECT pk FROM sessions WHERE id = ?`, id).Scan(&pk)
	if errors.Is(err, sql.ErrNoRows) {
		return res, eye.Errorf(eye.ENOTFOUND, "No session has the id %q.", id)
	} else if err != nil {
		return res, unavailable("get session", err)
	}
	r := newRemoval(false)
	if res.Events, err = deleteEventRows(ctx, tx, r, `DELETE FROM events WHERE session_id = ?`, id); err != nil {
		return res, err
	}
	if res.Errors, err = deleteErrorRows(ctx, tx, r, `DELETE FROM errors WHERE session_id = ?`, id); err != nil {
		return res, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM session_applications WHERE session_id = ?`, id); err != nil {
		return res, unavailable("delete session applications", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE pk = ?`, pk); err != nil {
		return res, unavailable("delete session", err)
	}
	if err := r.apply(ctx, tx); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, unavailable("commit delete session", err)
	}
	return res, nil
}

// DeleteErrorsBefore deletes the oldest limit error records received
// before cutoff, in one transaction that keeps the counters true, and
// returns how many it deleted.
func (s *Store) DeleteErrorsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, nil
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return 0, unavailable("begin delete error records", err)
	}
	defer tx.Rollback()
	r := newRemoval(false)
	n, err := deleteErrorRows(ctx, tx, r, `DELETE FROM errors WHERE pk IN (
		SELECT pk FROM errors WHERE received_at < ? ORDER BY received_at, pk LIMIT ?)`, micros(cutoff), limit)
	if err != nil {
		return 0, err
	}
	if err := r.apply(ctx, tx); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, unavailable("commit delete error records", err)
	}
	return n, nil
}

// DeleteEmptySessions deletes up to limit sessions without events whose
// activity (creation, for a session without events) is before before,
// and returns how many it deleted.
func (s *Store) DeleteEmptySessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, nil
	}
	// The activity index finds them: a session without events sorts by
	// its creation time.
	r, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE pk IN (
		SELECT pk FROM sessions WHERE coalesce(last_seen, created_at) < ? AND event_count = 0
		ORDER BY coalesce(last_seen, created_at) LIMIT ?)`, micros(before), limit)
	if err != nil {
		return 0, unavailable("delete empty sessions", err)
	}
	n, _ := r.RowsAffected()
	return n, nil
}
