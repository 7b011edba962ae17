package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

const eventColumns = `e.pk, e.id, e.seq, e.event_id, e.application_id, e.session_id, e.category, e.name, e.data,
	e.timestamp, e.sent_at, e.received_at, e.clock_offset, e.schema_version`

// eventByID selects an event by its id: event_ids says where it is, so
// that one partition is read, at one place of its events_timestamp.
const eventByID = `SELECT ` + eventColumns + ` FROM event_ids i
	JOIN events e ON e.timestamp = i.timestamp AND e.seq = i.seq AND e.id = i.id WHERE i.id = $1`

func scanEvent(sc scanner) (eye.Event, int64, error) {
	var (
		ev                eye.Event
		pk, seq, ts, recv int64
		eventID           pgtype.Text
		sentAt, offset    pgtype.Int8
		schemaVersion     pgtype.Int4
		data              []byte
	)
	err := sc.Scan(&pk, &ev.ID, &seq, &eventID, &ev.ApplicationID, &ev.SessionID, &ev.Category, &ev.Name, &data,
		&ts, &sentAt, &recv, &offset, &schemaVersion)
	if err != nil {
		return ev, 0, err
	}
	ev.Seq = uint64(seq)
	ev.EventID = eventID.String
	ev.Data = compact(data)
	ev.Timestamp = fromMicros(ts)
	ev.SentAt = fromNullMicros(sentAt)
	ev.ReceivedAt = fromMicros(recv)
	ev.ClockOffset = microsDuration(offset.Int64)
	ev.SchemaVersion = int(schemaVersion.Int32)
	return ev, pk, nil
}

// compact removes the white space jsonb puts after colons and commas, so
// that data reads as the compact JSON the SQLite store keeps. Numbers keep
// their digits; jsonb orders an object's members by key length, then key.
func compact(data []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return data // jsonb always writes valid JSON
	}
	return buf.Bytes()
}

// Event returns the event with the id.
func (s *Store) Event(ctx context.Context, id string) (eye.Event, error) {
	ev, _, err := scanEvent(s.db.QueryRow(ctx, eventByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ev, eye.Errorf(eye.ENOTFOUND, "No event has the id %q.", id)
	} else if err != nil {
		return ev, storeError("get event", err)
	}
	return ev, nil
}

// Events returns a page of events ordered by (timestamp, seq), newest first
// unless f.Ascending.
func (s *Store) Events(ctx context.Context, f eye.EventFilter) (eye.Page[eye.Event], error) {
	var page eye.Page[eye.Event]
	q, args := eventsQuery(f)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return page, storeError("list events", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		ev, pk, err := scanEvent(rows)
		if err != nil {
			return page, storeError("scan event", err)
		}
		if len(page.Items) == f.Limit {
			prev := page.Items[len(page.Items)-1]
			page.Next = &eye.Position{Time: prev.Timestamp, Seq: prev.Seq, Row: last}
			break
		}
		page.Items = append(page.Items, ev)
		last = pk
	}
	if err := rows.Err(); err != nil {
		return page, storeError("list events", err)
	}
	return page, nil
}

// eventsQuery builds the query of Events: one page and one row more.
func eventsQuery(f eye.EventFilter) (string, []any) {
	var w where
	if f.ApplicationID != "" {
		w.add("e.application_id = ?", f.ApplicationID)
	}
	if f.SessionID != "" {
		w.add("e.session_id = ?", f.SessionID)
	}
	if f.Category != "" {
		w.add("e.category = ?", f.Category)
	}
	if f.Name != "" {
		w.add("e.name = ?", f.Name)
	}
	if !f.From.IsZero() {
		w.add("e.timestamp >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		w.add("e.timestamp <= ?", micros(f.To))
	}
	addDataFilters(&w, f.Data)
	op, dir := "<", "DESC"
	if f.Ascending {
		op, dir = ">", "ASC"
	}
	if p := f.After; p != nil {
		w.add("(e.timestamp, e.seq, e.pk) "+op+" (?, ?, ?)", micros(p.Time), int64(p.Seq), p.Row)
	}
	return `SELECT ` + eventColumns + ` FROM events e` + w.String() +
		` ORDER BY e.timestamp ` + dir + `, e.seq ` + dir + `, e.pk ` + dir + ` LIMIT ` + itoa(f.Limit+1), w.args
}

// UpdateEvent changes the members of an event that change names, keeping
// its sessions' and types' counters true, in one transaction. It locks the
// event's row in event_ids, then in events, before reading it: concurrent
// updates of one event run one after the other, each on what the one
// before stored, and each writes only the columns it names.
func (s *Store) UpdateEvent(ctx context.Context, id string, change func(eye.Event) (eye.Event, []string, error)) (eye.Event, error) {
	var next eye.Event
	err := s.tx(ctx, "update event", func(tx pgx.Tx) error {
		var ts, seq int64
		err := tx.QueryRow(ctx, `SELECT timestamp, seq FROM event_ids WHERE id = $1 FOR UPDATE`, id).Scan(&ts, &seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return eye.Errorf(eye.ENOTFOUND, "No event has the id %q.", id)
		} else if err != nil {
			return storeError("lock event", err)
		}
		cur, pk, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e
			WHERE e.timestamp = $1 AND e.seq = $2 AND e.id = $3 FOR UPDATE`, ts, seq, id))
		if err != nil {
			return storeError("get event", err)
		}
		next = cur
		changed, fields, err := change(cur)
		if err != nil {
			return err
		}
		var sets []string
		var args []any
		for _, f := range fields {
			set := "$" + itoa(len(args)+1)
			switch f {
			case "session_id":
				args = append(args, changed.SessionID)
			case "category":
				args = append(args, changed.Category)
			case "name":
				args = append(args, changed.Name)
			case "data":
				args = append(args, string(changed.Data))
				set += "::text::jsonb"
			case "timestamp":
				args = append(args, micros(changed.Timestamp))
			case "schema_version":
				args = append(args, nullInt(changed.SchemaVersion))
			default:
				return fmt.Errorf("update event: %q is not a mutable column", f)
			}
			sets = append(sets, f+" = "+set)
		}
		if len(sets) == 0 {
			return nil
		}
		// Read back what is stored now: columns not named kept their
		// values. A new timestamp may move the row to another partition.
		n := len(args)
		args = append(args, ts, seq, pk)
		next, _, err = scanEvent(tx.QueryRow(ctx, `UPDATE events e SET `+strings.Join(sets, ", ")+
			` WHERE e.timestamp = $`+itoa(n+1)+` AND e.seq = $`+itoa(n+2)+` AND e.pk = $`+itoa(n+3)+` RETURNING `+eventColumns, args...))
		if err != nil {
			return storeError("update event", err)
		}
		if !next.Timestamp.Equal(cur.Timestamp) {
			if _, err := tx.Exec(ctx, `UPDATE event_ids SET timestamp = $1 WHERE id = $2`, micros(next.Timestamp), id); err != nil {
				return storeError("update event id", err)
			}
		}
		var batch pgx.Batch
		queueRecount(&batch, cur, next)
		return sendBatch(ctx, tx, "recount", &batch)
	})
	if err != nil {
		return eye.Event{}, err
	}
	return next, nil
}

// queueRecount queues what keeps the counters true after an event changed
// from old to next: its sessions' (both locked first, in the order of
// their ids, as writers lock them, when it moved), then its types', then
// the stats.
func queueRecount(batch *pgx.Batch, old, next eye.Event) {
	if next.SessionID != old.SessionID {
		batch.Queue(`SELECT 1 FROM sessions WHERE id = ANY($1) ORDER BY id FOR UPDATE`, []string{old.SessionID, next.SessionID})
		queueRemoveFromSession(batch, old)
		d := newSessionDelta()
		d.add(next)
		queueSessions(batch, nil, map[string]*sessionDelta{next.SessionID: d})
		queueSessionApps(batch, map[string]*sessionDelta{next.SessionID: d})
		queueRefreshSeen(batch, next.SessionID)
	} else if !next.Timestamp.Equal(old.Timestamp) {
		queueRefreshSeen(batch, old.SessionID)
	}
	if next.Category != old.Category || next.Name != old.Name {
		types := typeDeltas{}
		types.get(old.Category, old.Name).events = -1
		types.event(next.Category, next.Name, next.ReceivedAt)
		types.queue(batch)
	}
	if eventStat(next) != eventStat(old) {
		stats := statDeltas{}
		stats.add(eventStat(old), -1, 0)
		stats.add(eventStat(next), 1, 0)
		stats.queue(batch)
	}
}

// DeleteEvent deletes an event, and its id, and takes it out of its
// session's and type's counters and of the stats.
func (s *Store) DeleteEvent(ctx context.Context, id string) error {
	return s.tx(ctx, "delete event", func(tx pgx.Tx) error {
		var ts, seq int64
		err := tx.QueryRow(ctx, `DELETE FROM event_ids WHERE id = $1 RETURNING timestamp, seq`, id).Scan(&ts, &seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return eye.Errorf(eye.ENOTFOUND, "No event has the id %q.", id)
		} else if err != nil {
			return storeError("delete event id", err)
		}
		var ev eye.Event
		err = tx.QueryRow(ctx, `DELETE FROM events WHERE timestamp = $1 AND seq = $2 AND id = $3
			RETURNING session_id, application_id, category, name`, ts, seq, id).
			Scan(&ev.SessionID, &ev.ApplicationID, &ev.Category, &ev.Name)
		if err != nil {
			return storeError("delete event", err)
		}
		ev.Timestamp = fromMicros(ts)
		var batch pgx.Batch
		queueRemoveFromSession(&batch, ev)
		types := typeDeltas{}
		types.get(ev.Category, ev.Name).events = -1
		types.queue(&batch)
		stats := statDeltas{}
		stats.add(eventStat(ev), -1, 0)
		stats.queue(&batch)
		return sendBatch(ctx, tx, "recount", &batch)
	})
}

// queueRemoveFromSession queues what takes an event that left a session
// out of its counters.
func queueRemoveFromSession(batch *pgx.Batch, ev eye.Event) {
	batch.Queue(`UPDATE sessions SET event_count = event_count - 1 WHERE id = $1`, ev.SessionID)
	queueSessionAppOut(batch, ev.SessionID, ev.ApplicationID)
	queueRefreshSeen(batch, ev.SessionID)
}

// queueRefreshSeen queues the statement that recomputes a session's
// first_seen and last_seen from its events (two walks of the session
// index, one lookup per partition).
func queueRefreshSeen(batch *pgx.Batch, session string) {
	batch.Queue(`UPDATE sessions SET
		first_seen = (SELECT min(timestamp) FROM events WHERE session_id = $1),
		last_seen = (SELECT max(timestamp) FROM events WHERE session_id = $1)
		WHERE id = $1`, session)
}
