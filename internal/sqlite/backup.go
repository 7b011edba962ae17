package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// Backup writes a consistent copy of the database file at path to dest
// (which must not exist) with VACUUM INTO, while other connections, of this
// process or another, go on reading and writing: the copy is the database
// as one read transaction saw it, compacted. It opens a connection of its
// own, so that the store's single writer is never held.
func Backup(ctx context.Context, path, dest string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup: %s exists already", dest)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	db, err := sql.Open("sqlite", Options{}.dsn(path, false))
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// query_only forbids VACUUM INTO; this connection writes nothing to
	// the database itself.
	if _, err := db.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		os.Remove(dest)
		return fmt.Errorf("backup: vacuum into %s: %w", dest, err)
	}
	return nil
}

// Check runs SQLite's integrity check on the database file at path.
func Check(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", Options{}.dsn(path, false))
	if err != nil {
		return fmt.Errorf("check: open %s: %w", path, err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&result); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if result != "ok" {
		return fmt.Errorf("check %s: %s", path, result)
	}
	return nil
}
