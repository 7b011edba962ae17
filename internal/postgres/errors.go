package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

const errorColumns = `e.pk, e.id, e.seq, e.received_at, e.event_id, e.application_id, e.category, e.name,
	e.session_id, e.reasons, e.payload, e.status`

func scanError(sc scanner) (eye.ErrorRecord, int64, error) {
	var (
		rec                     eye.ErrorRecord
		pk, seq, recv           int64
		eventID, category, name pgtype.Text
		session                 pgtype.Text
		reasons                 string
	)
	err := sc.Scan(&pk, &rec.ID, &seq, &recv, &eventID, &rec.ApplicationID, &category, &name, &session, &reasons, &rec.Payload, &rec.Status)
	if err != nil {
		return rec, 0, err
	}
	rec.Seq = uint64(seq)
	rec.ReceivedAt = fromMicros(recv)
	rec.EventID, rec.Category, rec.Name, rec.SessionID = eventID.String, category.String, name.String, session.String
	var rs []reasonJSON
	if err := json.Unmarshal([]byte(reasons), &rs); err != nil {
		return rec, 0, fmt.Errorf("decode reasons of error record %s: %w", rec.ID, err)
	}
	rec.Reasons = make([]eye.Reason, len(rs))
	for i, r := range rs {
		rec.Reasons[i] = eye.Reason(r)
	}
	return rec, pk, nil
}

// ErrorRecord returns the error record with the id.
func (s *Store) ErrorRecord(ctx context.Context, id string) (eye.ErrorRecord, error) {
	rec, _, err := scanError(s.db.QueryRow(ctx, `SELECT `+errorColumns+` FROM errors e WHERE e.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", id)
	} else if err != nil {
		return rec, storeError("get error record", err)
	}
	return rec, nil
}

// Errors returns a page of error records, newest first.
func (s *Store) Errors(ctx context.Context, f eye.ErrorFilter) (eye.Page[eye.ErrorRecord], error) {
	var page eye.Page[eye.ErrorRecord]
	var w where
	from := `errors e`
	// With a code, walk that code's index and join each record.
	recv, pk := "e.received_at", "e.pk"
	if f.Code != "" {
		from = `error_codes c JOIN errors e ON e.pk = c.error_pk`
		recv, pk = "c.received_at", "c.error_pk"
		w.add("c.code = ?", f.Code)
	}
	if f.ApplicationID != "" {
		w.add("e.application_id = ?", f.ApplicationID)
	}
	if f.Status != "" {
		w.add("e.status = ?", f.Status)
	}
	if f.Category != "" {
		w.add("e.category = ?", f.Category)
	}
	if f.Name != "" {
		w.add("e.name = ?", f.Name)
	}
	if f.SessionID != "" {
		w.add("e.session_id = ?", f.SessionID)
	}
	if !f.From.IsZero() {
		w.add(recv+" >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		w.add(recv+" <= ?", micros(f.To))
	}
	if p := f.After; p != nil {
		w.add("("+recv+", "+pk+") < (?, ?)", micros(p.Time), p.Row)
	}
	rows, err := s.db.Query(ctx, `SELECT `+errorColumns+` FROM `+from+w.String()+
		` ORDER BY `+recv+` DESC, `+pk+` DESC LIMIT `+itoa(f.Limit+1), w.args...)
	if err != nil {
		return page, storeError("list error records", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		rec, pk, err := scanError(rows)
		if err != nil {
			return page, storeError("scan error record", err)
		}
		if len(page.Items) == f.Limit {
			page.Next = &eye.Position{Time: page.Items[len(page.Items)-1].ReceivedAt, Row: last}
			break
		}
		page.Items = append(page.Items, rec)
		last = pk
	}
	if err := rows.Err(); err != nil {
		return page, storeError("list error records", err)
	}
	return page, nil
}

// UpdateErrorReasons replaces the reasons of an error record, as found by
// a replay that failed again, and its codes in error_codes.
func (s *Store) UpdateErrorReasons(ctx context.Context, id string, reasons []eye.Reason) error {
	body, err := json.Marshal(reasonsJSON(reasons))
	if err != nil {
		return fmt.Errorf("encode reasons: %w", err)
	}
	return s.tx(ctx, "update error", func(tx pgx.Tx) error {
		var pk, received int64
		err := tx.QueryRow(ctx, `UPDATE errors SET reasons = $1 WHERE id = $2 RETURNING pk, received_at`, string(body), id).Scan(&pk, &received)
		if errors.Is(err, pgx.ErrNoRows) {
			return eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", id)
		} else if err != nil {
			return storeError("update error reasons", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM error_codes WHERE error_pk = $1`, pk); err != nil {
			return storeError("update error codes", err)
		}
		return insertCodes(ctx, tx, pk, received, reasons)
	})
}

// SetErrorStatus sets the status of an error record.
func (s *Store) SetErrorStatus(ctx context.Context, id, status string) error {
	r, err := s.db.Exec(ctx, `UPDATE errors SET status = $1 WHERE id = $2`, status, id)
	if err != nil {
		return storeError("set error status", err)
	}
	if r.RowsAffected() == 0 {
		return eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", id)
	}
	return nil
}

// DiscardErrors marks discarded the open error records among ids, in one
// statement.
func (s *Store) DiscardErrors(ctx context.Context, ids []string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	r, err := s.db.Exec(ctx, `UPDATE errors SET status = $1 WHERE status = $2 AND id = ANY($3)`,
		eye.StatusDiscarded, eye.StatusOpen, ids)
	if err != nil {
		return 0, storeError("discard errors", err)
	}
	return r.RowsAffected(), nil
}

// ReplayError stores ev, made from the error record with the same id, and
// marks that record replayed, in one transaction. An event with that id
// stored already (a second replay) is left alone. It takes its locks in
// the order of a Write's: the event's id, the error record, then the
// counters.
func (s *Store) ReplayError(ctx context.Context, ev eye.Event) (bool, error) {
	inserted := false
	err := s.tx(ctx, "replay", func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM errors WHERE id = $1)`, ev.ID).Scan(&exists); err != nil {
			return storeError("get error record", err)
		} else if !exists {
			return eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", ev.ID)
		}
		ids, err := insertEvents(ctx, tx, []eye.Event{ev}, claimUnclaimed)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE errors SET status = $1 WHERE id = $2`, eye.StatusReplayed, ev.ID); err != nil {
			return storeError("mark error replayed", err)
		}
		if inserted = ids[ev.ID]; !inserted {
			return nil
		}
		d := newSessionDelta()
		d.add(ev)
		deltas := map[string]*sessionDelta{ev.SessionID: d}
		types, stats := typeDeltas{}, statDeltas{}
		types.event(ev.Category, ev.Name, ev.ReceivedAt)
		stats.add(eventStat(ev), 1, 0)
		var batch pgx.Batch
		queueSessions(&batch, nil, deltas)
		queueSessionApps(&batch, deltas)
		types.queue(&batch)
		stats.queue(&batch)
		return sendBatch(ctx, tx, "count", &batch)
	})
	if err != nil {
		return false, err
	}
	return inserted, nil
}
