package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

const keyColumns = `k.id, k.prefix, k.hash, k.scopes, k.application_id, k.label, k.user_id, k.created_at,
	k.expires_at, k.revoked_at, k.last_used_at`

func scanKeys(rows pgx.Rows) ([]eye.Key, error) {
	defer rows.Close()
	keys := []eye.Key{}
	for rows.Next() {
		var (
			k                      eye.Key
			app, user              pgtype.Text
			created                int64
			expires, revoked, used pgtype.Int8
		)
		if err := rows.Scan(&k.ID, &k.Prefix, &k.Hash, &k.Scopes, &app, &k.Label, &user, &created, &expires, &revoked, &used); err != nil {
			return nil, storeError("scan key", err)
		}
		k.ApplicationID, k.UserID = app.String, user.String
		k.CreatedAt = fromMicros(created)
		k.ExpiresAt = fromNullMicros(expires)
		k.RevokedAt = fromNullMicros(revoked)
		k.LastUsedAt = fromNullMicros(used)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("list keys", err)
	}
	return keys, nil
}

// Keys returns every key that works: not revoked, not expired, of no
// application or of an active one.
func (s *Store) Keys(ctx context.Context) ([]eye.Key, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keyColumns+` FROM keys k
		LEFT JOIN applications a ON a.id = k.application_id
		WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $1)
			AND (k.application_id IS NULL OR a.active)
		ORDER BY k.created_at, k.id`, micros(time.Now()))
	if err != nil {
		return nil, storeError("list keys", err)
	}
	return scanKeys(rows)
}

// ApplicationKeys returns an application's keys, revoked ones included,
// never a login session.
func (s *Store) ApplicationKeys(ctx context.Context, applicationID string) ([]eye.Key, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keyColumns+` FROM keys k
		WHERE k.application_id = $1 AND k.user_id IS NULL ORDER BY k.created_at, k.id`, applicationID)
	if err != nil {
		return nil, storeError("list keys", err)
	}
	return scanKeys(rows)
}

// CreateKey stores a new API key (its hash, never its secret).
func (s *Store) CreateKey(ctx context.Context, k eye.Key) error {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	_, err := s.db.Exec(ctx, `INSERT INTO keys (id, prefix, hash, scopes, application_id, label, user_id,
		created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.Prefix, k.Hash, scopes, nullString(k.ApplicationID), k.Label, nullString(k.UserID),
		micros(k.CreatedAt), nullMicros(k.ExpiresAt), nullMicros(k.LastUsedAt))
	if err != nil {
		return storeError("create key", err)
	}
	return nil
}

// RevokeKey revokes a key; revoking a revoked key changes nothing.
func (s *Store) RevokeKey(ctx context.Context, applicationID, keyID string) error {
	q := `UPDATE keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`
	args := []any{micros(time.Now()), keyID}
	if applicationID != "" {
		q += ` AND application_id = $3`
		args = append(args, applicationID)
	}
	r, err := s.db.Exec(ctx, q, args...)
	if err != nil {
		return storeError("revoke key", err)
	}
	if r.RowsAffected() == 0 {
		return eye.Errorf(eye.ENOTFOUND, "No key has the id %q.", keyID)
	}
	return nil
}

// RecordKeyUses sets each key's last use to the time given, unless it has
// a later one, in one statement.
func (s *Store) RecordKeyUses(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	ids, times := make([]string, 0, len(uses)), make([]int64, 0, len(uses))
	for id, t := range uses {
		ids, times = append(ids, id), append(times, micros(t))
	}
	_, err := s.db.Exec(ctx, `UPDATE keys k SET last_used_at = greatest(k.last_used_at, u.t)
		FROM unnest($1::text[], $2::bigint[]) AS u(id, t) WHERE k.id = u.id`, ids, times)
	if err != nil {
		return storeError("record key uses", err)
	}
	return nil
}
