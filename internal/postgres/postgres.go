// Package postgres implements eye.Store on PostgreSQL (15 or newer), for
// deployments where several processes write at once.
//
// It keeps the SQLite store's semantics: idempotent writes, one outcome per
// id, counters kept in the same transactions as the rows they count, keyset
// pages. Events are partitioned by month of their timestamp; the
// uniqueness of their ids lives in a table of its own, event_ids, because a
// unique index on a partitioned table must hold the partition key. Writers
// take row locks in a stable order (sorted keys) so that concurrent workers
// never deadlock. See docs/postgres.md.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/theeye/eye"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys. schemaLock serializes migrations and partition
// changes across every process using the database. The others are the
// first key of two-key locks (a space of their own), the second being a
// hash of what they protect.
const (
	schemaLock      int64 = 0x7468656579650001 // "theeye" 0001
	idLockSpace     int32 = 0x65790001         // an event id, across events and error records
	typeLockSpace   int32 = 0x65790002         // an event type's schema versions
	writeAttempts         = 3                  // tries of a Write that lost a deadlock
	deadlockDetect        = "40P01"
	uniqueViolation       = "23505"
)

// Store is an eye.Store on PostgreSQL.
type Store struct {
	db  *pgxpool.Pool
	log *slog.Logger
}

var _ eye.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user@host:port/db?…;
// pgxpool's parameters such as pool_max_conns apply). It connects when a
// connection is first needed, so it opens while the database is down; Ping
// checks it. Call Migrate before using a new database.
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL, password included.
		return nil, errors.New("open postgres: the database URL cannot be parsed")
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &Store{db: db, log: log}, nil
}

// Close closes every connection.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.Ping(ctx); err != nil {
		return storeError("ping", err)
	}
	return nil
}

// Migrate applies the embedded migrations that the database lacks, each in
// its own transaction, in the order of their file names, then makes the
// partitions of events around now. Each transaction holds an advisory
// lock, so that processes starting at once apply each migration once.
func (s *Store) Migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.migrate(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return s.EnsurePartitions(ctx, time.Now())
}

func (s *Store) migrate(ctx context.Context, name string) error {
	applied := false
	err := s.tx(ctx, "migration", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
			return storeError("lock schema", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    text PRIMARY KEY,
			applied_at bigint NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, name).Scan(&done); err != nil {
			return storeError("read schema_migrations", err)
		} else if done {
			return nil
		}
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return err
		}
		// Without arguments, Exec runs the whole file (several statements).
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, name, micros(time.Now())); err != nil {
			return err
		}
		applied = true
		return nil
	})
	if err == nil && applied {
		s.log.Info("migrated the postgres store", "migration", name)
	}
	return err
}

// micros converts a time to Unix microseconds, the stored form.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros converts a time to Unix microseconds, NULL for the zero time.
func nullMicros(t time.Time) pgtype.Int8 {
	if t.IsZero() {
		return pgtype.Int8{}
	}
	return pgtype.Int8{Int64: t.UnixMicro(), Valid: true}
}

// fromMicros converts stored Unix microseconds to a UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicros(n pgtype.Int8) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

func nullString(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// nullInt is NULL for zero.
func nullInt(n int) pgtype.Int4 { return pgtype.Int4{Int32: int32(n), Valid: n != 0} }

func microsDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// storeError classifies an error of the database so that callers answer
// as they should: a value the database refuses (a data exception, such as
// \u0000 in jsonb or a NUL in text) is EINVALID, so that the worker keeps
// the event as an error record; a statement the database rejects for its
// meaning (a constraint, a bug) stays an internal error; anything else —
// no connection, a timeout, a lost deadlock, no resources — is
// EUNAVAILABLE, so that callers answer 503 and workers hold their batch.
func storeError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var e *eye.Error
	if errors.As(err, &e) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "22": // data exception
			return fmt.Errorf("%s: %w: %w", op, &eye.Error{Code: eye.EINVALID, Message: "The store refused a value: " + pe.Message + "."}, err)
		case "23", "42", "P0", "XX": // integrity, syntax or access, PL/pgSQL, internal
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return fmt.Errorf("%s: %w: %w", op, &eye.Error{Code: eye.EUNAVAILABLE, Message: "The store is unavailable."}, err)
}

// conflict turns a uniqueness violation into ECONFLICT.
func conflict(op string, err error, format string, args ...any) error {
	if isCode(err, uniqueViolation) {
		return eye.Errorf(eye.ECONFLICT, format, args...)
	}
	return storeError(op, err)
}

// isUnique reports whether err is a uniqueness violation of the index.
func isUnique(err error, index string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == uniqueViolation && pe.ConstraintName == index
}

// isCode reports whether err is a PostgreSQL error with the SQLSTATE code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// where builds a WHERE clause from conditions joined with AND. Each ? of a
// condition becomes the placeholder of its argument ($1, $2, …).
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func itoa(n int) string { return strconv.Itoa(n) }

type scanner interface{ Scan(dest ...any) error }

// tx runs fn in a transaction and commits it.
func (s *Store) tx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return storeError("begin "+op, err)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return storeError("commit "+op, err)
	}
	return nil
}
