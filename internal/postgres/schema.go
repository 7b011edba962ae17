package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
)

// PutSchema stores the next version of a type's schema. A transaction
// lock on the type makes concurrent puts of one type take the versions one
// after the other.
func (s *Store) PutSchema(ctx context.Context, sc eye.Schema) (eye.Schema, error) {
	err := s.tx(ctx, "put schema", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3))`,
			typeLockSpace, sc.Category, sc.Name); err != nil {
			return storeError("lock event type", err)
		}
		var latest int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schemas WHERE category = $1 AND name = $2`,
			sc.Category, sc.Name).Scan(&latest); err != nil {
			return storeError("schema version", err)
		}
		sc.Version, sc.Active = latest+1, true
		if _, err := tx.Exec(ctx, `INSERT INTO schemas (category, name, version, body, created_at) VALUES ($1, $2, $3, $4, $5)`,
			sc.Category, sc.Name, sc.Version, string(sc.Body), micros(sc.CreatedAt)); err != nil {
			return storeError("put schema", err)
		}
		return nil
	})
	return sc, err
}

const schemaColumns = `s.category, s.name, s.version, s.body, s.created_at,
	s.deleted_at IS NULL AND s.version = (SELECT max(version) FROM schemas l WHERE l.category = s.category AND l.name = s.name)`

func scanSchema(sc scanner) (eye.Schema, error) {
	var (
		out     eye.Schema
		body    string
		created int64
	)
	err := sc.Scan(&out.Category, &out.Name, &out.Version, &body, &created, &out.Active)
	out.Body, out.CreatedAt = []byte(body), fromMicros(created)
	return out, err
}

// Schema returns one version of a type's schema; version 0 is the latest.
func (s *Store) Schema(ctx context.Context, category, name string, version int) (eye.Schema, error) {
	q := `SELECT ` + schemaColumns + ` FROM schemas s WHERE s.category = $1 AND s.name = $2`
	args := []any{category, name}
	if version > 0 {
		q += ` AND s.version = $3`
		args = append(args, version)
	} else {
		q += ` ORDER BY s.version DESC LIMIT 1`
	}
	sc, err := scanSchema(s.db.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		if version > 0 {
			return sc, eye.Errorf(eye.ENOTFOUND, "The event type (%q, %q) has no schema version %d.", category, name, version)
		}
		return sc, eye.Errorf(eye.ENOTFOUND, "The event type (%q, %q) has no schema.", category, name)
	} else if err != nil {
		return sc, storeError("get schema", err)
	}
	return sc, nil
}

func (s *Store) schemas(ctx context.Context, q string, args ...any) ([]eye.Schema, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, storeError("list schemas", err)
	}
	defer rows.Close()
	out := []eye.Schema{}
	for rows.Next() {
		sc, err := scanSchema(rows)
		if err != nil {
			return nil, storeError("scan schema", err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("list schemas", err)
	}
	return out, nil
}

// SchemaVersions returns every version of a type's schema, oldest first,
// without their bodies.
func (s *Store) SchemaVersions(ctx context.Context, category, name string) ([]eye.Schema, error) {
	list, err := s.schemas(ctx, `SELECT `+schemaColumns+` FROM schemas s WHERE s.category = $1 AND s.name = $2 ORDER BY s.version`, category, name)
	for i := range list {
		list[i].Body = nil
	}
	return list, err
}

// latestSchemas selects the latest version of each type.
const latestSchemas = `SELECT ` + schemaColumns + ` FROM schemas s
	WHERE s.version = (SELECT max(version) FROM schemas l WHERE l.category = s.category AND l.name = s.name)`

// Schemas returns the latest schema of every type, active or deleted.
func (s *Store) Schemas(ctx context.Context) ([]eye.Schema, error) {
	return s.schemas(ctx, latestSchemas+` ORDER BY s.category, s.name`)
}

// ActiveSchemas returns the schemas events are checked against.
func (s *Store) ActiveSchemas(ctx context.Context) ([]eye.Schema, error) {
	return s.schemas(ctx, latestSchemas+` AND s.deleted_at IS NULL ORDER BY s.category, s.name`)
}

// DeleteSchema marks a type's latest schema deleted.
func (s *Store) DeleteSchema(ctx context.Context, category, name string) error {
	r, err := s.db.Exec(ctx, `UPDATE schemas SET deleted_at = $1
		WHERE category = $2 AND name = $3 AND deleted_at IS NULL
		AND version = (SELECT max(version) FROM schemas WHERE category = $2 AND name = $3)`,
		micros(time.Now()), category, name)
	if err != nil {
		return storeError("delete schema", err)
	}
	if r.RowsAffected() == 0 {
		return eye.Errorf(eye.ENOTFOUND, "The event type (%q, %q) has no schema.", category, name)
	}
	return nil
}

// EventTypes returns every type seen, and every type with an active schema
// even if never seen, by category and name.
func (s *Store) EventTypes(ctx context.Context) ([]eye.EventType, error) {
	rows, err := s.db.Query(ctx, `
		SELECT t.category, t.name, t.events, t.errors, t.first_seen, t.last_seen, coalesce(a.version, 0)
		FROM event_types t LEFT JOIN (`+latestSchemas+` AND s.deleted_at IS NULL) a ON a.category = t.category AND a.name = t.name
		UNION ALL
		SELECT a.category, a.name, 0, 0, NULL, NULL, a.version
		FROM (`+latestSchemas+` AND s.deleted_at IS NULL) a
		WHERE NOT EXISTS (SELECT 1 FROM event_types t WHERE t.category = a.category AND t.name = a.name)
		ORDER BY 1, 2`)
	if err != nil {
		return nil, storeError("list event types", err)
	}
	defer rows.Close()
	out := []eye.EventType{}
	for rows.Next() {
		var (
			t           eye.EventType
			first, last pgtype.Int8
		)
		if err := rows.Scan(&t.Category, &t.Name, &t.Events, &t.Errors, &first, &last, &t.SchemaVersion); err != nil {
			return nil, storeError("scan event type", err)
		}
		t.FirstSeen, t.LastSeen = fromNullMicros(first), fromNullMicros(last)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("list event types", err)
	}
	return out, nil
}
