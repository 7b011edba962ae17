package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/theeye/eye"
)

// sessionDelta is what a batch adds to one session.
type sessionDelta struct {
	count       int64
	first, last time.Time
	created     time.Time
	apps        map[string]int64
}

func (d *sessionDelta) add(ev eye.Event) {
	if d.count == 0 || ev.Timestamp.Before(d.first) {
		d.first = ev.Timestamp
	}
	if d.count == 0 || ev.Timestamp.After(d.last) {
		d.last = ev.Timestamp
	}
	if d.created.IsZero() || ev.ReceivedAt.Before(d.created) {
		d.created = ev.ReceivedAt
	}
	d.count++
	d.apps[ev.ApplicationID]++
}

// Write stores a batch in one transaction. Records whose id is stored
// already are counted as duplicates and left alone; so is a record with a
// client event_id whose id is stored as the other kind (an event for an
// error record, an error record for an event): one id, one outcome.
func (s *Store) Write(ctx context.Context, b eye.Batch) (eye.WriteResult, error) {
	var res eye.WriteResult
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return res, unavailable("begin write", err)
	}
	defer tx.Rollback()

	for _, ss := range b.Sessions {
		r, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
			ss.ID, micros(ss.CreatedAt))
		if err != nil {
			return res, unavailable("insert session", err)
		}
		if n, _ := r.RowsAffected(); n == 1 {
			res.Sessions++
		}
	}

	deltas := map[string]*sessionDelta{}
	if len(b.Events) > 0 {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO events
			(id, seq, event_id, application_id, session_id, category, name, data, timestamp, sent_at, received_at, clock_offset)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return res, unavailable("prepare insert event", err)
		}
		defer ins.Close()
		for _, ev := range b.Events {
			if ev.EventID != "" {
				if dup, err := exists(ctx, tx, "errors", ev.ID); err != nil {
					return res, err
				} else if dup {
					res.Duplicates++
					continue
				}
			}
			var offset sql.NullInt64
			if !ev.SentAt.IsZero() {
				offset = sql.NullInt64{Int64: ev.ClockOffset.Microseconds(), Valid: true}
			}
			r, err := ins.ExecContext(ctx, ev.ID, int64(ev.Seq), nullString(ev.EventID), ev.ApplicationID, ev.SessionID,
				ev.Category, ev.Name, string(ev.Data), micros(ev.Timestamp), nullMicros(ev.SentAt), micros(ev.ReceivedAt), offset)
			if err != nil {
				return res, unavailable("insert event", err)
			}
			if n, _ := r.RowsAffected(); n == 0 {
				res.Duplicates++
				continue
			}
			res.Events++
			d := deltas[ev.SessionID]
			if d == nil {
				d = &sessionDelta{apps: map[string]int64{}}
				deltas[ev.SessionID] = d
			}
			d.add(ev)
		}
	}
	// In a stable order, so that concurrent writers of another store lock
	// sessions in the same order.
	for _, id := range slices.Sorted(maps.Keys(deltas)) {
		if err := applyDelta(ctx, tx, id, deltas[id]); err != nil {
			return res, err
		}
	}

	for _, e := range b.Errors {
		if e.EventID != "" {
			if dup, err := exists(ctx, tx, "events", e.ID); err != nil {
				return res, err
			} else if dup {
				res.Duplicates++
				continue
			}
		}
		inserted, err := insertError(ctx, tx, e)
		if err != nil {
			return res, err
		}
		if inserted {
			res.Errors++
		} else {
			res.Duplicates++
		}
	}

	if err := tx.Commit(); err != nil {
		return eye.WriteResult{}, unavailable("commit write", err)
	}
	return res, nil
}

// applyDelta adds a batch's inserted events to a session's counters, in
// the database, so that concurrent writers never lose a count.
func applyDelta(ctx context.Context, tx *sql.Tx, id string, d *sessionDelta) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, created_at, first_seen, last_seen, event_count)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			first_seen = min(coalesce(first_seen, excluded.first_seen), excluded.first_seen),
			last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen),
			event_count = event_count + excluded.event_count`,
		id, micros(d.created), micros(d.first), micros(d.last), d.count)
	if err != nil {
		return unavailable("upsert session", err)
	}
	for _, app := range slices.Sorted(maps.Keys(d.apps)) {
		if err := addSessionApp(ctx, tx, id, app, d.apps[app]); err != nil {
			return err
		}
	}
	return nil
}

// addSessionApp adds n (which may be negative) to the number of a
// session's events sent by an application, forgetting the application
// when none is left.
func addSessionApp(ctx context.Context, tx *sql.Tx, session, app string, n int64) error {
	if n < 0 {
		_, err := tx.ExecContext(ctx, `UPDATE session_applications SET event_count = event_count + ?
			WHERE session_id = ? AND application_id = ?`, n, session, app)
		if err != nil {
			return unavailable("update session application", err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM session_applications
			WHERE session_id = ? AND application_id = ? AND event_count = 0`, session, app)
		if err != nil {
			return unavailable("delete session application", err)
		}
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO session_applications (session_id, application_id, event_count)
		VALUES (?, ?, ?)
		ON CONFLICT (session_id, application_id) DO UPDATE SET event_count = event_count + excluded.event_count`,
		session, app, n)
	if err != nil {
		return unavailable("upsert session application", err)
	}
	return nil
}

func insertError(ctx context.Context, tx *sql.Tx, e eye.ErrorRecord) (bool, error) {
	reasons, err := json.Marshal(reasonsJSON(e.Reasons))
	if err != nil {
		return false, fmt.Errorf("encode reasons: %w", err)
	}
	var pk int64
	err = tx.QueryRowContext(ctx, `INSERT INTO errors
		(id, seq, received_at, event_id, application_id, category, name, session_id, reasons, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING pk`,
		e.ID, int64(e.Seq), micros(e.ReceivedAt), nullString(e.EventID), e.ApplicationID,
		nullString(e.Category), nullString(e.Name), nullString(e.SessionID), string(reasons), payloadBytes(e.Payload),
	).Scan(&pk)
	if err == sql.ErrNoRows {
		return false, nil
	} else if err != nil {
		return false, unavailable("insert error record", err)
	}
	seen := map[string]bool{}
	for _, r := range e.Reasons {
		if seen[r.Code] {
			continue
		}
		seen[r.Code] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO error_codes (code, received_at, error_pk) VALUES (?, ?, ?)`,
			r.Code, micros(e.ReceivedAt), pk); err != nil {
			return false, unavailable("insert error code", err)
		}
	}
	return true, nil
}

// payloadBytes never returns nil: the column is NOT NULL, and an empty
// body is a body.
func payloadBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func exists(ctx context.Context, tx *sql.Tx, table, id string) (bool, error) {
	var n int
	// table is one of two constants of this package, never input.
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE id = ?`, id).Scan(&n)
	if err != nil {
		return false, unavailable("look up "+table, err)
	}
	return n > 0, nil
}

// reasonJSON is the stored form of a reason.
type reasonJSON struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func reasonsJSON(rs []eye.Reason) []reasonJSON {
	out := make([]reasonJSON, len(rs))
	for i, r := range rs {
		out[i] = reasonJSON(r)
	}
	return out
}
