package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/theeye/eye"
)

// RecordAudit stores an audit entry.
func (s *Store) RecordAudit(ctx context.Context, e eye.AuditEntry) error {
	details := string(e.Details)
	if details == "" {
		details = "{}"
	}
	_, err := s.db.Exec(ctx, `INSERT INTO audit_log (id, at, actor, actor_name, action, target, details, addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.ID, micros(e.At), e.Actor, e.ActorName, e.Action, e.Target, details, e.Addr)
	if err != nil {
		return storeError("record audit entry", err)
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
	rows, err := s.db.Query(ctx, `SELECT pk, id, at, actor, actor_name, action, target, details, addr FROM audit_log`+
		w.String()+` ORDER BY at DESC, pk DESC LIMIT `+itoa(f.Limit+1), w.args...)
	if err != nil {
		return page, storeError("list audit entries", err)
	}
	var (
		e       eye.AuditEntry
		pk, at  int64
		details string
		last    int64
	)
	_, err = pgx.ForEachRow(rows, []any{&pk, &e.ID, &at, &e.Actor, &e.ActorName, &e.Action, &e.Target, &details, &e.Addr}, func() error {
		if len(page.Items) == f.Limit {
			page.Next = &eye.Position{Time: page.Items[len(page.Items)-1].At, Row: last}
			return nil
		}
		e.At, e.Details = fromMicros(at), []byte(details)
		page.Items = append(page.Items, e)
		last = pk
		return nil
	})
	if err != nil {
		return page, storeError("list audit entries", err)
	}
	return page, nil
}

// DeleteAuditBefore deletes the oldest limit audit entries made before
// cutoff, and returns how many it deleted.
func (s *Store) DeleteAuditBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, nil
	}
	r, err := s.db.Exec(ctx, `DELETE FROM audit_log WHERE pk IN (
		SELECT pk FROM audit_log WHERE at < $1 ORDER BY at, pk LIMIT $2)`, micros(cutoff), limit)
	if err != nil {
		return 0, storeError("delete audit entries", err)
	}
	return r.RowsAffected(), nil
}
