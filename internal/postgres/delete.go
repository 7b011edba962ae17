package postgres

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

// The deletions of the data lifecycle: a session erased, events deleted
// by a filter, and what the retention deletes row by row. Each keeps every
// counter true in its own transaction, and takes its locks in the order
// writers take them: event ids, events, error records, sessions, their
// applications, event types, stats, each in the order of its keys.

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

// queue queues the statements that take what was gathered out of the
// counters, each table's rows locked in the order of their keys first:
// each session's count and applications, its first and last event
// recomputed from the events left (after the lock, so that the events of
// a writer that held it are seen); the types' counts (their first and
// last arrival stay: the type was seen then); the stats, whose rows left
// counting nothing are deleted.
func (r *removal) queue(batch *pgx.Batch) {
	if len(r.sessions) > 0 {
		ids := slices.Sorted(maps.Keys(r.sessions))
		counts := make([]int64, len(ids))
		var appSessions, apps []string
		var appCounts []int64
		for i, id := range ids {
			so := r.sessions[id]
			counts[i] = so.count
			for _, app := range slices.Sorted(maps.Keys(so.apps)) {
				appSessions, apps, appCounts = append(appSessions, id), append(apps, app), append(appCounts, so.apps[app])
			}
		}
		batch.Queue(`SELECT 1 FROM sessions WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
		batch.Queue(`UPDATE sessions s SET event_count = s.event_count - u.n
			FROM unnest($1::text[], $2::bigint[]) AS u (id, n) WHERE s.id = u.id`, ids, counts)
		batch.Queue(`UPDATE sessions s SET
			first_seen = (SELECT min(e.timestamp) FROM events e WHERE e.session_id = s.id),
			last_seen = (SELECT max(e.timestamp) FROM events e WHERE e.session_id = s.id)
			WHERE s.id = ANY($1)`, ids)
		batch.Queue(`SELECT 1 FROM session_applications
			WHERE (session_id, application_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
			ORDER BY session_id, application_id FOR UPDATE`, appSessions, apps)
		batch.Queue(`UPDATE session_applications a SET event_count = a.event_count - u.n
			FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u (session_id, application_id, n)
			WHERE a.session_id = u.session_id AND a.application_id = u.application_id`, appSessions, apps, appCounts)
		batch.Queue(`DELETE FROM session_applications
			WHERE (session_id, application_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND event_count = 0`,
			appSessions, apps)
	}
	if len(r.types) > 0 {
		var categories, names []string
		var events, errs []int64
		for _, k := range slices.SortedFunc(maps.Keys(r.types), func(a, b typeDelta) int {
			return cmp.Or(strings.Compare(a.category, b.category), strings.Compare(a.name, b.name))
		}) {
			categories, names = append(categories, k.category), append(names, k.name)
			events, errs = append(events, r.types[k].events), append(errs, r.types[k].errors)
		}
		batch.Queue(`SELECT 1 FROM event_types WHERE (category, name) IN (SELECT * FROM unnest($1::text[], $2::text[]))
			ORDER BY category, name FOR UPDATE`, categories, names)
		batch.Queue(`UPDATE event_types t SET events = t.events + u.events, errors = t.errors + u.errors
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u (category, name, events, errors)
			WHERE t.category = u.category AND t.name = u.name`, categories, names, events, errs)
	}
	if len(r.stats) > 0 {
		var minutes, events, errs []int64
		var apps, categories, names []string
		for _, k := range slices.SortedFunc(maps.Keys(r.stats), func(a, b statKey) int {
			return cmp.Or(cmp.Compare(a.minute, b.minute), strings.Compare(a.app, b.app),
				strings.Compare(a.category, b.category), strings.Compare(a.name, b.name))
		}) {
			minutes, apps, categories, names = append(minutes, k.minute), append(apps, k.app), append(categories, k.category), append(names, k.name)
			events, errs = append(events, r.stats[k][0]), append(errs, r.stats[k][1])
		}
		batch.Queue(`SELECT 1 FROM stats
			WHERE (minute, application_id, category, name) IN (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]))
			ORDER BY minute, application_id, category, name FOR UPDATE`, minutes, apps, categories, names)
		batch.Queue(`UPDATE stats s SET events = s.events + u.events, errors = s.errors + u.errors
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
				AS u (minute, application_id, category, name, events, errors)
			WHERE s.minute = u.minute AND s.application_id = u.application_id AND s.category = u.category AND s.name = u.name`,
			minutes, apps, categories, names, events, errs)
		batch.Queue(`DELETE FROM stats
			WHERE (minute, application_id, category, name) IN (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]))
			AND events = 0 AND errors = 0`, minutes, apps, categories, names)
	}
}

// retryTx runs fn in a transaction as tx does, again when it loses a
// deadlock (against a writer that took its locks in another order, such
// as a correction), up to writeAttempts times.
func (s *Store) retryTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx(ctx, op, fn)
		if err == nil || attempt == writeAttempts || !isCode(err, deadlockDetect) {
			return err
		}
		s.log.Warn("a deletion lost a deadlock; trying again", "op", op, "attempt", attempt, "error", err)
	}
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
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM (`+q+`) AS m`, args...).Scan(&n); err != nil {
		return 0, storeError("count events", err)
	}
	return n, nil
}

// DeleteEvents deletes the oldest limit events matching f (by timestamp,
// then arrival) and their ids, in one transaction that keeps the counters
// true, and returns how many it deleted: fewer than limit once none is
// left.
//
// It finds them, locks their rows in event_ids in the order of the ids
// (as corrections do, before the events), then deletes those that still
// match: a correction that changed one in between was waited for.
func (s *Store) DeleteEvents(ctx context.Context, f eye.EventFilter, limit int) (int64, error) {
	if limit < 1 {
		return 0, nil
	}
	q, args := eventsQuery(oldestFirst(f, limit))
	var n int64
	err := s.retryTx(ctx, "delete events", func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, `SELECT m.id FROM (`+q+`) AS m`, args...)
		if err != nil {
			return storeError("find events to delete", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return storeError("find events to delete", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM event_ids WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return storeError("lock event ids", err)
		}
		var ts, seqs []int64
		var still []string
		rows, err = tx.Query(ctx, `SELECT m.timestamp, m.seq, m.id FROM (`+q+`) AS m WHERE m.id = ANY($`+itoa(len(args)+1)+`)`,
			append(slices.Clone(args), ids)...)
		if err != nil {
			return storeError("find events to delete", err)
		}
		var t, seq int64
		var id string
		if _, err := pgx.ForEachRow(rows, []any{&t, &seq, &id}, func() error {
			ts, seqs, still = append(ts, t), append(seqs, seq), append(still, id)
			return nil
		}); err != nil {
			return storeError("find events to delete", err)
		}
		r := newRemoval(true)
		if n, err = deleteEventRows(ctx, tx, r, `DELETE FROM events e
			USING unnest($1::bigint[], $2::bigint[], $3::text[]) AS d (timestamp, seq, id)
			WHERE e.timestamp = d.timestamp AND e.seq = d.seq AND e.id = d.id`, ts, seqs, still); err != nil {
			return err
		}
		var batch pgx.Batch
		r.queue(&batch)
		return sendBatch(ctx, tx, "count out deleted events", &batch)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// deleteEventRows runs query, a DELETE of events (aliased e), with their
// ids in event_ids, and counts each event it deleted into r.
func deleteEventRows(ctx context.Context, tx pgx.Tx, r *removal, query string, args ...any) (int64, error) {
	rows, err := tx.Query(ctx, `WITH gone AS (`+query+`
			RETURNING e.id, e.session_id, e.application_id, e.category, e.name, e.timestamp
		), ids AS (
			DELETE FROM event_ids i USING gone WHERE i.id = gone.id
		)
		SELECT session_id, application_id, category, name, timestamp FROM gone`, args...)
	if err != nil {
		return 0, storeError("delete events", err)
	}
	var ev eye.Event
	var ts int64
	n, err := pgx.ForEachRow(rows, []any{&ev.SessionID, &ev.ApplicationID, &ev.Category, &ev.Name, &ts}, func() error {
		ev.Timestamp = fromMicros(ts)
		r.event(ev)
		return nil
	})
	if err != nil {
		return 0, storeError("delete events", err)
	}
	return n.RowsAffected(), nil
}

// deleteErrorRows runs query, a DELETE of error records (their codes go
// with them), and counts each record it deleted into r.
func deleteErrorRows(ctx context.Context, tx pgx.Tx, r *removal, query string, args ...any) (int64, error) {
	rows, err := tx.Query(ctx, query+` RETURNING application_id, category, name, received_at`, args...)
	if err != nil {
		return 0, storeError("delete error records", err)
	}
	var e eye.ErrorRecord
	var category, name pgtype.Text
	var received int64
	n, err := pgx.ForEachRow(rows, []any{&e.ApplicationID, &category, &name, &received}, func() error {
		e.Category, e.Name, e.ReceivedAt = category.String, name.String, fromMicros(received)
		r.errorRecord(e)
		return nil
	})
	if err != nil {
		return 0, storeError("delete error records", err)
	}
	return n.RowsAffected(), nil
}

// DeleteSession erases a session: the session, all its events (and their
// ids) and all its error records (which hold the same person's data), in
// one transaction that keeps the types' counts and the stats true.
//
// It locks the session's row first: whatever adds or moves an event of
// the session updates that row, so it waits, and the events read next are
// all the session has. A writer that waited stores its events after, in
// the session made anew.
func (s *Store) DeleteSession(ctx context.Context, id string) (eye.DeleteResult, error) {
	var res eye.DeleteResult
	err := s.retryTx(ctx, "delete session", func(tx pgx.Tx) error {
		res = eye.DeleteResult{}
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE`, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return eye.Errorf(eye.ENOTFOUND, "No session has the id %q.", id)
		} else if err != nil {
			return storeError("lock session", err)
		}
		r := newRemoval(false)
		if res.Events, err = deleteEventRows(ctx, tx, r, `DELETE FROM events e WHERE e.session_id = $1`, id); err != nil {
			return err
		}
		if res.Errors, err = deleteErrorRows(ctx, tx, r, `DELETE FROM errors WHERE session_id = $1`, id); err != nil {
			return err
		}
		var batch pgx.Batch
		batch.Queue(`DELETE FROM session_applications WHERE session_id = $1`, id)
		batch.Queue(`DELETE FROM sessions WHERE id = $1`, id)
		r.queue(&batch)
		return sendBatch(ctx, tx, "count out the session", &batch)
	})
	return res, err
}

// DeleteErrorsBefore deletes the oldest limit error records received
// before cutoff, in one transaction that keeps the counters true, and
// returns how many it deleted.
func (s *Store) DeleteErrorsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, nil
	}
	var n int64
	err := s.retryTx(ctx, "delete error records", func(tx pgx.Tx) error {
		r := newRemoval(false)
		var err error
		n, err = deleteErrorRows(ctx, tx, r, `DELETE FROM errors WHERE pk IN (
			SELECT pk FROM errors WHERE received_at < $1 ORDER BY received_at, pk LIMIT $2)`, micros(cutoff), limit)
		if err != nil {
			return err
		}
		var batch pgx.Batch
		r.queue(&batch)
		return sendBatch(ctx, tx, "count out deleted error records", &batch)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// DeleteEmptySessions deletes up to limit sessions without events whose
// activity (creation, for a session without events) is before before,
// and returns how many it deleted. A session a writer holds is skipped:
// it is getting events.
func (s *Store) DeleteEmptySessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, nil
	}
	// The activity index finds them: a session without events sorts by
	// its creation time.
	r, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE coalesce(last_seen, created_at) < $1 AND event_count = 0
		ORDER BY coalesce(last_seen, created_at), pk LIMIT $2 FOR UPDATE SKIP LOCKED)`, micros(before), limit)
	if err != nil {
		return 0, storeError("delete empty sessions", err)
	}
	return r.RowsAffected(), nil
}
