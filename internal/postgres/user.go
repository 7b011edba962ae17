package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/theeye/eye"
)

// SetUserPassword replaces a user's password hash and revokes the user's
// login sessions, in one transaction.
func (s *Store) SetUserPassword(ctx context.Context, id string, hash []byte) error {
	return s.userTx(ctx, "set user password", id, func(tx pgx.Tx) (pgconn.CommandTag, error) {
		return tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, id)
	})
}

// DeleteUser deletes a user and revokes the user's login sessions, in one
// transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.userTx(ctx, "delete user", id, func(tx pgx.Tx) (pgconn.CommandTag, error) {
		return tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	})
}

// userTx runs change on a user and revokes the user's login sessions, in
// one transaction; ENOTFOUND when change touched no user.
func (s *Store) userTx(ctx context.Context, op, id string, change func(tx pgx.Tx) (pgconn.CommandTag, error)) error {
	return s.tx(ctx, op, func(tx pgx.Tx) error {
		r, err := change(tx)
		if err != nil {
			return storeError(op, err)
		}
		if r.RowsAffected() == 0 {
			return eye.Errorf(eye.ENOTFOUND, "No user has the id %q.", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`,
			micros(time.Now()), id); err != nil {
			return storeError(op, err)
		}
		return nil
	})
}
