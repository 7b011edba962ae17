package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/theeye/eye"
)

const errorColumns = `e.pk, e.id, e.seq, e.received_at, e.event_id, e.application_id, e.category, e.name,
	e.session_id, e.reasons, e.payload, e.status`

func scanError(sc scanner) (eye.ErrorRecord, int64, error) {
	var (
		rec                     eye.ErrorRecord
		pk, seq, recv           int64
		eventID, category, name sql.NullString
		session                 sql.NullString
		reasons                 []byte
	)
	err := sc.Scan(&pk, &rec.ID, &seq, &recv, &eventID, &rec.ApplicationID, &category, &name, &session, &reasons, &rec.Payload, &rec.Status)
	if err != nil {
		return rec, 0, err
	}
	rec.Seq = uint64(seq)
	rec.ReceivedAt = fromMicros(recv)
	rec.EventID, rec.Category, rec.Name, rec.SessionID = eventID.String, category.String, name.String, session.String
	var rs []reasonJSON
	if err := json.Unmarshal(reasons, &rs); err != nil {
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
	rec, _, err := scanError(s.r.QueryRowContext(ctx, `SELECT `+errorColumns+` FROM errors e WHERE e.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return rec, eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", id)
	} else if err != nil {
		return rec, unavailable("get error record", err)
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+errorColumns+` FROM `+from+w.String()+
		` ORDER BY `+recv+` DESC, `+pk+` DESC LIMIT `+itoa(f.Limit+1), w.args...)
	if err != nil {
		return page, unavailable("list error records", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		rec, pk, err := scanError(rows)
		if err != nil {
			return page, unavailable("scan error record", err)
		}
		if len(page.Items) == f.Limit {
			page.Next = &eye.Position{Time: page.Items[len(page.Items)-1].ReceivedAt, Row: last}
			break
		}
		page.Items = append(page.Items, rec)
		last = pk
	}
	if err := rows.Err(); err != nil {
		return page, unavailable("list error records", err)
	}
	return page, nil
}

// UpdateErrorReasons replaces the reasons of an error record, as found by
// a replay that failed again.
func (s *Store) UpdateErrorReasons(ctx context.Context, id string, reasons []eye.Reason) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return unavailable("begin update error", err)
	}
	defer tx.Rollback()
	body, err := json.Marshal(reasonsJSON(reasons))
	if err != nil {
		return fmt.Errorf("encode reasons: %w", err)
	}
	var pk, received int64
	err = tx.QueryRowContext(ctx, `UPDATE errors SET reasons = ? WHERE id = ? RETURNING pk, received_at`, string(body), id).Scan(&pk, &received)
	if errors.Is(err, sql.ErrNoRows) {
		return eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", id)
	} else if err != nil {
		return unavailable("update error reasons", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM error_codes WHERE error_pk = ?`, pk); err != nil {
		return unavailable("update error codes", err)
	}
	if err := insertCodes(ctx, tx, pk, received, reasons); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return unavailable("commit update error", err)
	}
	return nil
}

// SetErrorStatus sets the status of an error record.
func (s *Store) SetErrorStatus(ctx context.Context, id, status string) error {
	r, err := s.w.ExecContext(ctx, `UPDATE errors SET status = ? WHERE id = ?`, status, id)
	if err != nil {
		return unavailable("set error status", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", id)
	}
	return nil
}

// DiscardErrors marks discarded the open error records among ids, in one
// transaction.
func (s *Store) DiscardErrors(ctx context.Context, ids []string) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, unavailable("begin discard errors", err)
	}
	defer tx.Rollback()
	var n int64
	const chunk = 500 // parameters per statement
	for len(ids) > 0 {
		part := ids[:min(chunk, len(ids))]
		ids = ids[len(part):]
		args := []any{eye.StatusDiscarded, eye.StatusOpen}
		for _, id := range part {
			args = append(args, id)
		}
		r, err := tx.ExecContext(ctx, `UPDATE errors SET status = ? WHERE status = ? AND id IN (?`+
			strings.Repeat(", ?", len(part)-1)+`)`, args...)
		if err != nil {
			return 0, unavailable("discard errors", err)
		}
		changed, _ := r.RowsAffected()
		n += changed
	}
	if err := tx.Commit(); err != nil {
		return 0, unavailable("commit discard errors", err)
	}
	return n, nil
}

// ReplayError stores ev, made from the error record with the same id, and
// marks that record replayed, in one transaction. An event with that id
// stored already (a second replay) is left alone.
func (s *Store) ReplayError(ctx context.Context, ev eye.Event) (bool, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return false, unavailable("begin replay", err)
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, `UPDATE errors SET status = ? WHERE id = ?`, eye.StatusReplayed, ev.ID)
	if err != nil {
		return false, unavailable("mark error replayed", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return false, eye.Errorf(eye.ENOTFOUND, "No error record has the id %q.", ev.ID)
	}
	r, err = tx.ExecContext(ctx, insertEvent, eventArgs(ev)...)
	if err != nil {
		return false, unavailable("insert replayed event", err)
	}
	inserted := false
	if n, _ := r.RowsAffected(); n == 1 {
		inserted = true
		d := &sessionDelta{apps: map[string]int64{}}
		d.add(ev)
		if err := applyDelta(ctx, tx, ev.SessionID, d); err != nil {
			return false, err
		}
		if err := countEvent(ctx, tx, ev, 1); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, unavailable("commit replay", err)
	}
	return inserted, nil
}
