// Package sqlite implements eye.Store on an SQLite file: the embedded
// default, which needs nothing installed.
//
// SQLite has one writer. The store keeps one connection for writes, so that
// writers queue in Go instead of failing with SQLITE_BUSY, and a pool of
// read-only connections that never block it (WAL mode).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/theeye/eye"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an eye.Store on SQLite.
type Store struct {
	w    *sql.DB // the single writer connection
	r    *sql.DB // read-only connections
	path string
}

var _ eye.Store = (*Store)(nil)

// Options tune the store.
type Options struct {
	// Synchronous is SQLite's synchronous setting for the writer: NORMAL
	// (the default; with WAL, a commit survives a crash of the process) or
	// FULL (a commit also survives a power loss).
	Synchronous string
	// Driver is the database/sql driver: "sqlite" (modernc.org/sqlite, pure
	// Go, the default) or "sqlite3" (github.com/mattn/go-sqlite3, cgo),
	// when the program registers it. See docs/storage.md.
	Driver string
}

// dsn returns the data source name of the file at path for the driver,
// with the pragmas every connection needs, and the writer's when write.
// The writer's page cache (32 MiB) holds the indexes' hot pages: with
// SQLite's default of 2 MiB, writes slow down as the tables grow; 64 MiB
// wrote no faster and took some 60 MB more memory (docs/storage.md). Each
// reader has 16 MiB.
func (o Options) dsn(path string, write bool) string {
	q := url.Values{}
	if o.Driver == "sqlite3" {
		q.Set("_busy_timeout", "10000")
		q.Set("_journal_mode", "WAL")
		q.Set("_foreign_keys", "1")
		if write {
			q.Set("_cache_size", "-32768")
			q.Set("_synchronous", o.Synchronous)
			q.Set("_txlock", "immediate")
		} else {
			q.Set("_cache_size", "-16384")
			q.Set("_query_only", "1")
		}
	} else {
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "foreign_keys(1)")
		if write {
			q.Add("_pragma", "cache_size(-32768)")
			q.Add("_pragma", "synchronous("+o.Synchronous+")")
			q.Set("_txlock", "immediate")
		} else {
			q.Add("_pragma", "cache_size(-16384)")
			q.Add("_pragma", "query_only(1)")
		}
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating when needed) the database file at path. Call
// Migrate before using a new file.
func Open(path string, opts Options) (*Store, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "NORMAL"
	}
	if opts.Driver == "" {
		opts.Driver = "sqlite"
	}
	w, err := sql.Open(opts.Driver, opts.dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("open sqlite writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer creates the file and switches it to WAL before any
	// reader opens it.
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open(opts.Driver, opts.dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite readers: %w", err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &Store{w: w, r: r, path: path}, nil
}

// Close closes every connection.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Migrate applies the embedded migrations that the database lacks, each in
// its own transaction, in the order of their file names.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
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
	return nil
}

func (s *Store) migrate(ctx context.Context, name string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, name).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, name, micros(time.Now())); err != nil {
		return err
	}
	return tx.Commit()
}

// micros converts a time to Unix microseconds, the stored form.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros converts a time to Unix microseconds, NULL for the zero time.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// fromMicros converts stored Unix microseconds to a UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// nullInt is NULL for zero.
func nullInt(n int) sql.NullInt64 { return sql.NullInt64{Int64: int64(n), Valid: n != 0} }

// unavailable marks errors of the database itself (not of a query's
// meaning) so that callers answer 503 and workers hold their batch.
func unavailable(op string, err error) error {
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
	return fmt.Errorf("%s: %w: %w", op, &eye.Error{Code: eye.EUNAVAILABLE, Message: "The store is unavailable."}, err)
}

// where builds a WHERE clause from conditions joined with AND.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// placeholders returns "?, ?, …" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func itoa(n int) string { return strconv.Itoa(n) }

// txn is a write transaction that prepares each statement once, however
// many rows it runs it for (SQLite would parse it again each time).
type txn struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

// begin starts a write transaction.
func (s *Store) begin(ctx context.Context) (*txn, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, stmts: map[string]*sql.Stmt{}}, nil
}

func (t *txn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.Tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	t.stmts[query] = st
	return st, nil
}

// ExecContext runs a statement, prepared once per transaction.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRowContext runs a query, prepared once per transaction.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

func microsDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
