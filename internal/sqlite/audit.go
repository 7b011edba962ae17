package sqlite

import (
	"context"
	"time"

	"github.com/theeye/eye"
)

// RecordAudit stores an audit entry.
func (s *Store) RecordAudit(ctx context.Context, e eye.AuditEntry) error {
	details := string(e.Details)
	if details == "" {
		details = "{}"
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (id, at, actor, actor_name, action, target, details, addr)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, micros(e.At), e.Actor, e.ActorName, e.Action, e.Target, details, e.Addr)
	if err != nil {
		return unavailable("record audit entry", err)
	}
	return nil
}

// Audit returns a page of audit entries, newest first.
func (s *Store) Audit(ctx context.Context, f eye.AuditFilter) (eye.Page[eye.AuditEntry], error) {
	var page eye.Page[eye.AuditEntry]
	var w where
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if !f.From.IsZero() {
		w.add("at >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		w.add("at <= ?", micros(f.To))
	}
	if p := f.After; p != nil {
		w.add("(at, pk) < (?, ?)", micros(p.Time), p.Row)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT pk, id, at, actor, actor_name, action, target, details, addr FROM audit_log`+
		w.String()+` ORDER BY at DESC, pk DESC LIMIT `+itoa(f.Limit+1), w.args...)
	if err != nil {
		return page, unavailable("list audit entries", err)
	}
	defer rows.Close()
	var last int64
	for rows.Next() {
		var (
			e       eye.AuditEntry
			pk, at  int64
			details string
		)
		if err := rows.Scan(&pk, &e.ID, &at, &e.Actor, &e.ActorName, &e.Action, &e.Target, &details, &e.Addr); err != nil {
			return page, unavailable("scan audit entry", err)
		}
		e.At, e.Details = fromMicros(at), []byte(details)
		if len(page.Items) == f.Limit {
			page.Next = &eye.Position{Time: page.Items[len(page.Items)-1].At, Row: last}
			break
		}
		page.Items = append(page.Items, e)
		last = pk
	}
	if err := rows.Err(); err != nil {
		return page, unavailable("list audit entries", err)
	}
	return page, nil
}

// DeleteAuditBefore deletes the oldest limit audit entries made before
// cutoff, and returns how many it deleted.
func (s *Store) DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, nil
	}
	r, err := s.w.ExecContext(ctx, `DELETE FROM audit_log WHERE pk IN (
		SELECT pk FROM audit_log WHERE at < ? ORDER BY at, pk LIMIT ?)`, micros(cutoff), limit)
	if err != nil {
		return 0, unavailable("delete audit entries", err)
	}
	n, _ := r.RowsAffected()
	return n, nil
}
