package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/sqlite"
)

// manifest describes a backup: what made it, when, and what it holds.
type manifest struct {
	Version   string `json:"version"`
	CreatedAt string `json:"created_at"`
	Source    string `json:"source"`
	Events    int64  `json:"events"`
	Errors    int64  `json:"errors"`
	AdminKey  bool   `json:"admin_key"` // admin.key is in the backup
}

// backup runs "eye backup PATH": a consistent copy of the embedded store,
// made while the service runs, into the new directory PATH.
func backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c config
	rest, err := c.parseWith("backup", "PATH", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError(stderr, "Usage: eye backup [-data-dir DIR] PATH (a new directory)")
	}
	if c.postgres() {
		return errors.New("eye backup copies the embedded SQLite store; back PostgreSQL up with its own tools (pg_dump, or a physical backup): see docs/operations.md")
	}
	dir := rest[0]
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("backup: %w (PATH must be a new directory)", err)
	}
	start := time.Now()
	db := filepath.Join(dir, "eye.db")
	if err := sqlite.Backup(ctx, c.databasePath(), db); err != nil {
		return err
	}
	m := manifest{Version: versionString(), CreatedAt: eye.FormatTime(start), Source: c.databasePath()}
	if key, err := os.ReadFile(filepath.Join(c.DataDir, "admin.key")); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "admin.key"), key, 0o600); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		m.AdminKey = true
	}
	if m.Events, m.Errors, err = countBackup(ctx, db); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	info, _ := os.Stat(db)
	fmt.Fprintf(stdout, "Backed up %d events and %d error records to %s (%d bytes) in %s.\n",
		m.Events, m.Errors, dir, info.Size(), time.Since(start).Round(time.Millisecond))
	return nil
}

// countBackup checks the copied database and counts what it holds.
func countBackup(ctx context.Context, path string) (events, errs int64, err error) {
	if err := sqlite.Check(ctx, path); err != nil {
		return 0, 0, err
	}
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	types, err := s.EventTypes(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("count: %w", err)
	}
	for _, t := range types {
		events += t.Events
		errs += t.Errors
	}
	return events, errs, nil
}

// restore runs "eye restore PATH": a backup made by eye backup, into an
// empty data directory, migrated to this version.
func restore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c config
	rest, err := c.parseWith("restore", "PATH", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError(stderr, "Usage: eye restore [-data-dir DIR] PATH (a directory made by eye backup)")
	}
	if c.postgres() {
		return errors.New("eye restore restores the embedded SQLite store, into an empty data directory")
	}
	dir := rest[0]
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("restore: %w (is %s a backup made by eye backup?)", err, dir)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("restore: manifest.json: %w", err)
	}
	if err := emptyDataDir(c.DataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	dest := c.databasePath()
	if err := copyFile(filepath.Join(dir, "eye.db"), dest+".restoring", 0o600); err != nil {
		return err
	}
	if err := os.Rename(dest+".restoring", dest); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if m.AdminKey {
		if err := copyFile(filepath.Join(dir, "admin.key"), filepath.Join(c.DataDir, "admin.key"), 0o600); err != nil {
			return err
		}
	}
	s, err := openStore(ctx, c, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s.Close()
	fmt.Fprintf(stdout, "Restored the backup of %s (%d events, %d error records, made by eye %s) into %s.\n",
		m.CreatedAt, m.Events, m.Errors, m.Version, c.DataDir)
	return nil
}

// emptyDataDir refuses a data directory that holds a store or a queue.
func emptyDataDir(dir string) error {
	for _, name := range []string{"eye.db", "eye.db-wal", "nats"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("restore: %s holds %s already: restore into an empty data directory", dir, name)
		}
	}
	return nil
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}
