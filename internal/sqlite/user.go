package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/theeye/eye"
)

// SetUserPassword replaces a user's password hash and revokes the user's
// login sessions, in one transaction.
func (s *Store) SetUserPassword(ctx context.Context, id string, hash []byte) error {
	return s.userTx(ctx, "set user password", id, func(tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
	})
}

// DeleteUser deletes a user and revokes the user's login sessions, in one
// transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.userTx(ctx, "delete user", id, func(tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	})
}

// userTx runs change on a user and revokes the user's login sessions, in
// one transaction; ENOTFOUND when change touched no user.
func (s *Store) userTx(ctx context.Context, op, id string, change func(tx *sql.Tx) (sql.Result, error)) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(op, err)
	}
	defer tx.Rollback()
	r, err := change(tx)
	if err != nil {
		return unavailable(op, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return eye.Errorf(eye.ENOTFOUND, "No user has the id %q.", id)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
		micros(time.Now()), id); err != nil {
		return unavailable(op, err)
	}
	if err := tx.Commit(); err != nil {
		return unavailable(op, err)
	}
	return nil
}
