package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/theeye/eye"
)

const keyColumns = `k.id, k.prefix, k.hash, k.scopes, k.application_id, k.label, k.user_id, k.created_at,
	k.expires_at, k.revoked_at, k.last_used_at`

func scanKeys(rows *sql.Rows) ([]eye.Key, error) {
	defer rows.Close()
	keys := []eye.Key{}
	for rows.Next() {
		var (
			k                      eye.Key
			scopes                 string
			app, user              sql.NullString
			created                int64
			expires, revoked, used sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Prefix, &k.Hash, &scopes, &app, &k.Label, &user, &created, &expires, &revoked, &used); err != nil {
			return nil, unavailable("scan key", err)
		}
		k.Scopes = strings.Fields(scopes)
		k.ApplicationID, k.UserID = app.String, user.String
		k.CreatedAt = fromMicros(created)
		k.ExpiresAt = fromNullMicros(expires)
		k.RevokedAt = fromNullMicros(revoked)
		k.LastUsedAt = fromNullMicros(used)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list keys", err)
	}
	return keys, nil
}

// Keys returns every key that works: not revoked, not expired, of no
// application or of an active one.
func (s *Store) Keys(ctx context.Context) ([]eye.Key, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys k
		LEFT JOIN applications a ON a.id = k.application_id
		WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)
			AND (k.application_id IS NULL OR a.active)
		ORDER BY k.created_at, k.id`, micros(time.Now()))
	if err != nil {
		return nil, unavailable("list keys", err)
	}
	return scanKeys(rows)
}

// ApplicationKeys returns an application's keys, revoked ones included,
// never a login session.
func (s *Store) ApplicationKeys(ctx context.Context, applicationID string) ([]eye.Key, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys k
		WHERE k.application_id = ? AND k.user_id IS NULL ORDER BY k.created_at, k.id`, applicationID)
	if err != nil {
		return nil, unavailable("list keys", err)
	}
	return scanKeys(rows)
}

// CreateKey stores a new API key (its hash, never its secret).
func (s *Store) CreateKey(ctx context.Context, k eye.Key) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO keys (id, prefix, hash, scopes, application_id, label, user_id,
		created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Prefix, k.Hash, strings.Join(k.Scopes, " "), nullString(k.ApplicationID), k.Label, nullString(k.UserID),
		micros(k.CreatedAt), nullMicros(k.ExpiresAt), nullMicros(k.LastUsedAt))
	if err != nil {
		return unavailable("create key", err)
	}
	return nil
}

// RevokeKey revokes a key; revoking a revoked key changes nothing.
func (s *Store) RevokeKey(ctx context.Context, applicationID, keyID string) error {
	q := `UPDATE keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`
	args := []any{micros(time.Now()), keyID}
	if applicationID != "" {
		q += ` AND application_id = ?`
		args = append(args, applicationID)
	}
	r, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return unavailable("revoke key", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
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
	m := make(map[string]int64, len(uses))
	for id, t := range uses {
		m[id] = micros(t)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("record key uses: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `UPDATE keys SET last_used_at = max(coalesce(keys.last_used_at, 0), u.value)
		FROM json_each(?) AS u WHERE keys.id = u.key`, string(b))
	if err != nil {
		return unavailable("record key uses", err)
	}
	return nil
}
