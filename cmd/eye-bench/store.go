package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/sqlite"
)

// storeKind is the store The Eye runs on during the benchmark — the
// embedded SQLite file (the default) or a PostgreSQL server (-postgres) —
// and how the benchmark makes, fills and measures one without The Eye.
type storeKind interface {
	// name names the store in the report.
	name() string
	// newStore makes the store of a fresh data directory and returns its
	// EYE_DATABASE_URL: none on SQLite (The Eye makes its file in the
	// data directory), a new migrated database on PostgreSQL.
	newStore(ctx context.Context, label string) (string, error)
	// open opens and migrates the store of a data directory, to write into
	// it without The Eye.
	open(ctx context.Context, dir dataDir) (writeStore, error)
	// rawWays are the raw inserts of the processing phase, each into a
	// fresh store; the first is the limit the drain is compared with.
	rawWays() []rawWay
	// drainTarget is what the drain is held to.
	drainTarget() drainTarget
	// prepareQueries readies a generated store for the queries, and says
	// what it did and found.
	prepareQueries(ctx context.Context, dir dataDir) ([]string, error)
	// about describes the store for the report.
	about() []string
	// close releases what the store kind made (unless keep).
	close(ctx context.Context, keep bool) error
}

// dataDir is where one server of The Eye keeps its data: the directory of
// its embedded queue (and of the SQLite store), and on PostgreSQL its
// database.
type dataDir struct {
	path  string
	dbURL string // EYE_DATABASE_URL; empty for the SQLite file in path
}

// env is the environment of a server on the data directory.
func (d dataDir) env() []string {
	env := []string{"EYE_DATA_DIR=" + d.path}
	if d.dbURL != "" {
		env = append(env, "EYE_DATABASE_URL="+d.dbURL)
	}
	return env
}

// String names the directory, and the database when there is one.
func (d dataDir) String() string {
	if u, err := url.Parse(d.dbURL); err == nil && d.dbURL != "" {
		return d.path + ", database " + strings.TrimPrefix(u.Path, "/")
	}
	return d.path
}

// writeStore is a store written into straight, without The Eye.
type writeStore interface {
	Write(ctx context.Context, b eye.Batch) (eye.WriteResult, error)
	Close() error
}

// batchWriter inserts one batch and returns the events inserted.
type batchWriter func(ctx context.Context, b eye.Batch) (int, error)

// rawWay is a raw insert of the processing phase: the backlog's rows
// written straight into a fresh store, with no HTTP and no queue.
type rawWay struct {
	label string // how the report names it, e.g. "raw Store.Write"
	what  string // a sentence for the log
	open  func(ctx context.Context) (batchWriter, func(), error)
}

// storeWriter wraps Store.Write as a batchWriter.
func storeWriter(s writeStore) batchWriter {
	return func(ctx context.Context, b eye.Batch) (int, error) {
		wr, err := s.Write(ctx, b)
		return wr.Events, err
	}
}

// drainTarget is the drain's target: a share of the raw limit, and a rate
// when rate > 0.
type drainTarget struct {
	ratio, rate float64
	text        string
}

func (t drainTarget) met(ratio, rate float64) bool {
	return ratio >= t.ratio && rate >= t.rate
}

// sqliteKind is the embedded SQLite store, a file in each data directory.
type sqliteKind struct{ tmp string }

func (sqliteKind) name() string { return "SQLite" }

func (sqliteKind) newStore(context.Context, string) (string, error) { return "", nil }

func (sqliteKind) open(ctx context.Context, dir dataDir) (writeStore, error) {
	return openSQLite(ctx, filepath.Join(dir.path, "eye.db"))
}

func openSQLite(ctx context.Context, path string) (*sqlite.Store, error) {
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return s, nil
}

func (k sqliteKind) rawWays() []rawWay {
	return []rawWay{{label: "raw Store.Write", what: "into a fresh store with Store.Write",
		open: func(ctx context.Context) (batchWriter, func(), error) {
			s, err := openSQLite(ctx, filepath.Join(k.tmp, "raw.db"))
			if err != nil {
				return nil, nil, fmt.Errorf("raw store: %w", err)
			}
			return storeWriter(s), func() { s.Close() }, nil
		}}}
}

func (sqliteKind) drainTarget() drainTarget {
	return drainTarget{ratio: targetDrainRatio, rate: targetDrainRate, text: "≥ 70% of raw (≥ 25,000/s)"}
}

func (sqliteKind) prepareQueries(context.Context, dataDir) ([]string, error) { return nil, nil }

func (sqliteKind) about() []string {
	return []string{"Store: the embedded SQLite file in each data directory."}
}

func (sqliteKind) close(context.Context, bool) error { return nil }

// checkpointCounter is a store kind whose server counts its checkpoints
// (PostgreSQL): a checkpoint that begins during a measurement makes it
// write more (pages flushed, full-page images in the WAL after it).
type checkpointCounter interface {
	checkpoints(ctx context.Context) (int64, error)
}

// checkpointMark is the count of the server's checkpoints at a moment.
type checkpointMark struct {
	c checkpointCounter // nil: not counted
	n int64
}

// checkpoints marks the count of the store's server's checkpoints now.
func (b *bench) checkpoints(ctx context.Context) checkpointMark {
	c, ok := b.store.(checkpointCounter)
	if !ok {
		return checkpointMark{}
	}
	n, err := c.checkpoints(ctx)
	if err != nil {
		b.logf("checkpoints not counted: %v", err)
		return checkpointMark{}
	}
	return checkpointMark{c, n}
}

// since is the checkpoints begun since the mark; -1 when not counted.
func (m checkpointMark) since(ctx context.Context) int64 {
	if m.c == nil {
		return -1
	}
	n, err := m.c.checkpoints(ctx)
	if err != nil {
		return -1
	}
	return n - m.n
}

// checkpointText says how many checkpoints began, for the log; nothing
// when they were not counted.
func checkpointText(n int64) string {
	if n < 0 {
		return ""
	}
	if n == 1 {
		return " (1 checkpoint of the server began meanwhile)"
	}
	return fmt.Sprintf(" (%d checkpoints of the server began meanwhile)", n)
}
