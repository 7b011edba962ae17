package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	tx, err := s.begin(ctx)
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
	types := typeDeltas{}
	stats := statDeltas{}
	for _, ev := range b.Events {
		if ev.EventID != "" {
			if dup, err := exists(ctx, tx, "errors", ev.ID); err != nil {
				return res, err
			} else if dup {
				noteDuplicate(&res, ev.ID)
				continue
			}
		}
		r, err := tx.ExecContext(ctx, insertEvent, eventArgs(ev)...)
		if err != nil {
			return res, unavailable("insert event", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			noteDuplicate(&res, ev.ID)
			continue
		}
		res.Events++
		d := deltas[ev.SessionID]
		if d == nil {
			d = &sessionDelta{apps: map[string]int64{}}
			deltas[ev.SessionID] = d
		}
		d.add(ev)
		types.event(ev.Category, ev.Name, ev.ReceivedAt)
		stats.add(eventStat(ev), 1, 0)
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
				noteDuplicate(&res, e.ID)
				continue
			}
		}
		inserted, err := insertError(ctx, tx, e)
		if err != nil {
			return res, err
		}
		if inserted {
			res.Errors++
			if e.Category != "" && e.Name != "" {
				types.error(e.Category, e.Name, e.ReceivedAt)
			}
			stats.add(errorStat(e), 0, 1)
		} else {
			noteDuplicate(&res, e.ID)
		}
	}
	if err := types.apply(ctx, tx); err != nil {
		return res, err
	}
	if err := stats.apply(ctx, tx); err != nil {
		return res, err
	}

	if err := tx.Commit(); err != nil {
		return eye.WriteResult{}, unavailable("commit write", err)
	}
	return res, nil
}

// statKey is a row of the stats table.
type statKey struct {
	minute              int64
	app, category, name string
}

func minuteOf(t time.Time) int64 {
	us := t.UnixMicro()
	m := us / 60_000_000
	if us < 0 && us%60_000_000 != 0 {
		m-- // floor, for times before 1970
	}
	return m
}

func eventStat(ev eye.Event) statKey {
	return statKey{minuteOf(ev.Timestamp), ev.ApplicationID, ev.Category, ev.Name}
}

func errorStat(e eye.ErrorRecord) statKey {
	return statKey{minuteOf(e.ReceivedAt), e.ApplicationID, e.Category, e.Name}
}

// statDeltas gathers what a transaction adds to the stats table.
type statDeltas map[statKey]*[2]int64

func (d statDeltas) add(k statKey, events, errors int64) {
	c := d[k]
	if c == nil {
		c = &[2]int64{}
		d[k] = c
	}
	c[0] += events
	c[1] += errors
}

func (d statDeltas) apply(ctx context.Context, tx *txn) error {
	keys := slices.SortedFunc(maps.Keys(d), func(a, b statKey) int {
		if a.minute != b.minute {
			return cmp.Compare(a.minute, b.minute)
		}
		return strings.Compare(a.app+"\x00"+a.category+"\x00"+a.name, b.app+"\x00"+b.category+"\x00"+b.name)
	})
	for _, k := range keys {
		if err := countStat(ctx, tx, k, d[k][0], d[k][1]); err != nil {
			return err
		}
	}
	return nil
}

// countStat adds to (or, with negative counts, takes from) a stats row.
func countStat(ctx context.Context, tx *txn, k statKey, events, errors int64) error {
	var err error
	if events < 0 || errors < 0 {
		_, err = tx.ExecContext(ctx, `UPDATE stats SET events = events + ?, errors = errors + ?
			WHERE minute = ? AND application_id = ? AND category = ? AND name = ?`,
			events, errors, k.minute, k.app, k.category, k.name)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO stats (minute, application_id, category, name, events, errors)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (minute, application_id, category, name) DO UPDATE SET
				events = events + excluded.events, errors = errors + excluded.errors`,
			k.minute, k.app, k.category, k.name, events, errors)
	}
	if err != nil {
		return unavailable("count stats", err)
	}
	return nil
}

// noteDuplicate counts a record already stored.
func noteDuplicate(res *eye.WriteResult, id string) {
	res.Duplicates++
	res.DuplicateIDs = append(res.DuplicateIDs, id)
}

// insertEvent inserts an event unless its id is stored already.
const insertEvent = `INSERT INTO events
	(id, seq, event_id, application_id, session_id, category, name, data, timestamp, sent_at, received_at, clock_offset, schema_version)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// eventArgs are the arguments of insertEvent.
func eventArgs(ev eye.Event) []any {
	var offset sql.NullInt64
	if !ev.SentAt.IsZero() {
		offset = sql.NullInt64{Int64: ev.ClockOffset.Microseconds(), Valid: true}
	}
	return []any{ev.ID, int64(ev.Seq), nullString(ev.EventID), ev.ApplicationID, ev.SessionID,
		ev.Category, ev.Name, string(ev.Data), micros(ev.Timestamp), nullMicros(ev.SentAt), micros(ev.ReceivedAt), offset,
		nullInt(ev.SchemaVersion)}
}

// typeDelta names an event type.
type typeDelta struct{ category, name string }

// typeCounts is what a transaction adds to an event type's counters.
type typeCounts struct {
	events, errors int64
	first, last    time.Time
}

func (c *typeCounts) seen(t time.Time) {
	if c.first.IsZero() || t.Before(c.first) {
		c.first = t
	}
	if t.After(c.last) {
		c.last = t
	}
}

func (c *typeCounts) addEvent(received time.Time) { c.events++; c.seen(received) }

// typeDeltas gathers a batch's counts per event type.
type typeDeltas map[typeDelta]*typeCounts

func (d typeDeltas) get(category, name string) *typeCounts {
	k := typeDelta{category, name}
	if d[k] == nil {
		d[k] = &typeCounts{}
	}
	return d[k]
}

func (d typeDeltas) event(category, name string, received time.Time) {
	d.get(category, name).addEvent(received)
}

func (d typeDeltas) error(category, name string, received time.Time) {
	c := d.get(category, name)
	c.errors++
	c.seen(received)
}

func (d typeDeltas) apply(ctx context.Context, tx *txn) error {
	keys := slices.SortedFunc(maps.Keys(d), func(a, b typeDelta) int {
		return strings.Compare(a.category+"\x00"+a.name, b.category+"\x00"+b.name)
	})
	for _, k := range keys {
		if err := countTypes(ctx, tx, k, d[k]); err != nil {
			return err
		}
	}
	return nil
}

// countEvent counts one event in (n = 1) or out (n = -1) of its type's
// counters and of the stats.
func countEvent(ctx context.Context, tx *txn, ev eye.Event, n int64) error {
	c := &typeCounts{events: n}
	if n > 0 {
		c.seen(ev.ReceivedAt)
	}
	if err := countTypes(ctx, tx, typeDelta{ev.Category, ev.Name}, c); err != nil {
		return err
	}
	return countStat(ctx, tx, eventStat(ev), n, 0)
}

// countTypes adds c (whose counts may be negative) to an event type's
// counters, creating the type when it is new.
func countTypes(ctx context.Context, tx *txn, k typeDelta, c *typeCounts) error {
	if c.events < 0 || c.errors < 0 {
		_, err := tx.ExecContext(ctx, `UPDATE event_types SET events = events + ?, errors = errors + ?
			WHERE category = ? AND name = ?`, c.events, c.errors, k.category, k.name)
		if err != nil {
			return unavailable("update event type", err)
		}
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO event_types (category, name, events, errors, first_seen, last_seen)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (category, name) DO UPDATE SET
			events = events + excluded.events,
			errors = errors + excluded.errors,
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen)`,
		k.category, k.name, c.events, c.errors, micros(c.first), micros(c.last))
	if err != nil {
		return unavailable("count event type", err)
	}
	return nil
}

// applyDelta adds a batch's inserted events to a session's counters, in
// the database, so that concurrent writers never lose a count.
func applyDelta(ctx context.Context, tx *txn, id string, d *sessionDelta) error {
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
func addSessionApp(ctx context.Context, tx *txn, session, app string, n int64) error {
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

func insertError(ctx context.Context, tx *txn, e eye.ErrorRecord) (bool, error) {
	reasons, err := json.Marshal(reasonsJSON(e.Reasons))
	if err != nil {
		return false, fmt.Errorf("encode reasons: %w", err)
	}
	var pk int64
	status := e.Status
	if status == "" {
		status = eye.StatusOpen
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO errors
		(id, seq, received_at, event_id, application_id, category, name, session_id, reasons, payload, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING pk`,
		e.ID, int64(e.Seq), micros(e.ReceivedAt), nullString(e.EventID), e.ApplicationID,
		nullString(e.Category), nullString(e.Name), nullString(e.SessionID), string(reasons), payloadBytes(e.Payload), status,
	).Scan(&pk)
	if err == sql.ErrNoRows {
		return false, nil
	} else if err != nil {
		return false, unavailable("insert error record", err)
	}
	if err := insertCodes(ctx, tx, pk, micros(e.ReceivedAt), e.Reasons); err != nil {
		return false, err
	}
	return true, nil
}

// insertCodes indexes an error record by each distinct code of its reasons.
func insertCodes(ctx context.Context, tx *txn, pk, received int64, reasons []eye.Reason) error {
	seen := map[string]bool{}
	for _, r := range reasons {
		if seen[r.Code] {
			continue
		}
		seen[r.Code] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO error_codes (code, received_at, error_pk) VALUES (?, ?, ?)`,
			r.Code, received, pk); err != nil {
			return unavailable("insert error code", err)
		}
	}
	return nil
}

// payloadBytes never returns nil: the column is NOT NULL, and an empty
// body is a body.
func payloadBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func exists(ctx context.Context, tx *txn, table, id string) (bool, error) {
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
	Keyword string `json:"keyword,omitempty"`
}

func reasonsJSON(rs []eye.Reason) []reasonJSON {
	out := make([]reasonJSON, len(rs))
	for i, r := range rs {
		out[i] = reasonJSON(r)
	}
	return out
}
