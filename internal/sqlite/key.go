package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/theeye/eye"
)

// Keys returns every API key that is not revoked.
func (s *Store) Keys(ctx context.Context) ([]eye.Key, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, prefix, hash, scopes, application_id, label, created_at
		FROM keys WHERE revoked_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, unavailable("list keys", err)
	}
	defer rows.Close()
	var keys []eye.Key
	for rows.Next() {
		var (
			k       eye.Key
			scopes  string
			app     sql.NullString
			created int64
		)
		if err := rows.Scan(&k.ID, &k.Prefix, &k.Hash, &scopes, &app, &k.Label, &created); err != nil {
			return nil, unavailable("scan key", err)
		}
		k.Scopes = strings.Fields(scopes)
		k.ApplicationID = app.String
		k.CreatedAt = fromMicros(created)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list keys", err)
	}
	return keys, nil
}

// CreateKey stores a new API key (its hash, never its secret).
func (s *Store) CreateKey(ctx context.Context, k eye.Key) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO keys (id, prefix, hash, scopes, application_id, label, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Prefix, k.Hash, strings.Join(k.Scopes, " "), nullString(k.ApplicationID), k.Label, micros(k.CreatedAt))
	if err != nil {
		return unavailable("create key", err)
	}
	return nil
}
