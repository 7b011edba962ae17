package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/postgres"
)

// Targets of the issue on PostgreSQL.
const targetDrainRatioPostgres = 0.5

// postgresKind runs The Eye on a PostgreSQL server (-postgres): each data
// directory, and each raw insert, gets a fresh database of its own there,
// named eye_bench_<run>_<n>_<label>, migrated by postgres.Migrate and given
// the monthly partitions around the benchmark's events (2021-01-01 and the
// week after) before anything writes into it. The databases are dropped at
// the end unless -keep.
type postgresKind struct {
	server   string // the server URL of -postgres
	run      string // names this run's databases
	logf     func(format string, args ...any)
	made     []string          // the databases created, in order
	settings map[string]string // the server's version and key settings, read at the start
}

// newPostgresKind checks that the server answers and reads its version and
// key settings.
func newPostgresKind(ctx context.Context, server string, logf func(format string, args ...any)) (*postgresKind, error) {
	k := &postgresKind{server: server, run: newRunID(), logf: logf, settings: map[string]string{}}
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("connect to the -postgres server %s: %w", serverHost(server), err)
	}
	defer conn.Close(ctx)
	for _, name := range []string{"server_version", "shared_buffers", "synchronous_commit", "max_wal_size", "autovacuum"} {
		// current_setting is SHOW with a parameter.
		var v string
		if err := conn.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v); err != nil {
			return nil, fmt.Errorf("read the server's %s: %w", name, err)
		}
		k.settings[name] = v
	}
	logf("PostgreSQL %s at %s; this run's databases are %s…", k.settings["server_version"], serverHost(server), databasePrefix(k.run))
	return k, nil
}

func (k *postgresKind) name() string { return "PostgreSQL" }

// newStore creates a database, migrates it and makes the partitions of
// the events' month, and returns its URL.
func (k *postgresKind) newStore(ctx context.Context, label string) (string, error) {
	name := databaseName(k.run, len(k.made)+1, label)
	dbURL, err := databaseURL(k.server, name)
	if err != nil {
		return "", err
	}
	if err := k.exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	k.made = append(k.made, name)
	s, err := postgres.Open(ctx, dbURL, nil)
	if err != nil {
		return "", fmt.Errorf("database %s: %w", name, err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return "", fmt.Errorf("migrate database %s: %w", name, err)
	}
	if err := s.EnsurePartitions(ctx, genStart()); err != nil {
		return "", fmt.Errorf("partitions of database %s: %w", name, err)
	}
	k.logf("database %s created, migrated, with the partitions of %s", name, genStart().Format("January 2006"))
	return dbURL, nil
}

// exec runs one statement on the server's database of -postgres.
func (k *postgresKind) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, k.server)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", serverHost(k.server), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return err
	}
	return nil
}

func (k *postgresKind) open(ctx context.Context, dir dataDir) (writeStore, error) {
	s, err := postgres.Open(ctx, dir.dbURL, nil)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return s, nil
}

// rawWays: raw COPY into events is the limit; Store.Write alone, the
// store's batch insert without queue or HTTP, is measured too.
func (k *postgresKind) rawWays() []rawWay {
	return []rawWay{
		{label: "raw COPY", what: "COPY into events of a fresh database (pgx CopyFrom, the columns Store.Write fills, one statement per batch)",
			open: k.openCopy},
		{label: "Store.Write alone", what: "into a fresh database with Store.Write (no queue, no HTTP)",
			open: func(ctx context.Context) (batchWriter, func(), error) {
				dbURL, err := k.newStore(ctx, "raw_write")
				if err != nil {
					return nil, nil, err
				}
				s, err := k.open(ctx, dataDir{dbURL: dbURL})
				if err != nil {
					return nil, nil, err
				}
				return storeWriter(s), func() { s.Close() }, nil
			}},
	}
}

// openCopy makes a database and returns a writer that copies a batch's
// events into its events table as Store.Write does (binary COPY, the
// same columns and values, in the order of the batch), with nothing else:
// no ids claimed, no counters. Each batch is one COPY statement, its own
// transaction.
func (k *postgresKind) openCopy(ctx context.Context) (batchWriter, func(), error) {
	dbURL, err := k.newStore(ctx, "raw_copy")
	if err != nil {
		return nil, nil, err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("raw COPY: %w", err)
	}
	write := func(ctx context.Context, b eye.Batch) (int, error) {
		n, err := conn.CopyFrom(ctx, pgx.Identifier{"events"}, copyColumns(), pgx.CopyFromSlice(len(b.Events),
			func(i int) ([]any, error) { return copyRow(b.Events[i]), nil }))
		return int(n), err
	}
	return write, func() { conn.Close(context.Background()) }, nil
}

// copyColumns are the columns of events that Store.Write fills (pk comes
// from its sequence), as internal/postgres/write.go lists them.
func copyColumns() []string {
	return []string{"id", "seq", "event_id", "application_id", "session_id", "category", "name",
		"data", "timestamp", "sent_at", "received_at", "clock_offset", "schema_version"}
}

// copyRow is an event as Store.Write copies it into events: times in Unix
// microseconds, data as JSON text, absent values NULL.
func copyRow(ev eye.Event) []any {
	var eventID pgtype.Text
	if ev.EventID != "" {
		eventID = pgtype.Text{String: ev.EventID, Valid: true}
	}
	var sentAt, offset pgtype.Int8
	if !ev.SentAt.IsZero() {
		sentAt = pgtype.Int8{Int64: ev.SentAt.UnixMicro(), Valid: true}
		offset = pgtype.Int8{Int64: ev.ClockOffset.Microseconds(), Valid: true}
	}
	var version pgtype.Int4
	if ev.SchemaVersion != 0 {
		version = pgtype.Int4{Int32: int32(ev.SchemaVersion), Valid: true}
	}
	return []any{ev.ID, int64(ev.Seq), eventID, ev.ApplicationID, ev.SessionID, ev.Category, ev.Name,
		string(ev.Data), ev.Timestamp.UnixMicro(), sentAt, ev.ReceivedAt.UnixMicro(), offset, version}
}

func (k *postgresKind) drainTarget() drainTarget {
	return drainTarget{ratio: targetDrainRatioPostgres, text: "≥ 50% of raw COPY"}
}

// prepareQueries vacuums and analyzes the generated database, as
// autovacuum would after a load (the planner needs the statistics), and
// counts the events of each partition.
func (k *postgresKind) prepareQueries(ctx context.Context, dir dataDir) ([]string, error) {
	conn, err := pgx.Connect(ctx, dir.dbURL)
	if err != nil {
		return nil, fmt.Errorf("prepare the queries: %w", err)
	}
	defer conn.Close(ctx)
	k.logf("query: VACUUM (ANALYZE) of the generated database")
	start := time.Now()
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
		return nil, fmt.Errorf("VACUUM (ANALYZE): %w", err)
	}
	vacuumed := time.Since(start)
	var size int64
	if err := conn.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		return nil, fmt.Errorf("database size: %w", err)
	}
	parts, err := partitionCounts(ctx, conn)
	if err != nil {
		return nil, err
	}
	lines := []string{
		fmt.Sprintf("Query store on PostgreSQL: the database vacuumed and analyzed after the generation (VACUUM (ANALYZE), %s, untimed; "+
			"the server runs with autovacuum %s), %s on disk.", vacuumed.Round(time.Second), k.settings["autovacuum"], mb(size)),
		"Query store's partitions: " + parts + ".",
	}
	for _, l := range lines {
		k.logf("query: %s", l)
	}
	return lines, nil
}

// partitionCounts lists the partitions of events that hold rows, with
// their counts, and those that hold none.
func partitionCounts(ctx context.Context, conn *pgx.Conn) (string, error) {
	rows, err := conn.Query(ctx, `SELECT c.relname, (SELECT count(*) FROM events e WHERE e.tableoid = c.oid)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass ORDER BY c.relname`)
	if err != nil {
		return "", fmt.Errorf("count the events of each partition: %w", err)
	}
	var full, empty []string
	var name string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		if n > 0 {
			full = append(full, fmt.Sprintf("%s %s events", name, count(float64(n))))
		} else {
			empty = append(empty, name)
		}
		return nil
	}); err != nil {
		return "", fmt.Errorf("count the events of each partition: %w", err)
	}
	return strings.Join(full, ", ") + "; empty: " + strings.Join(empty, ", "), nil
}

// about names the server, its version and key settings, and the
// databases.
func (k *postgresKind) about() []string {
	st := k.settings
	return []string{
		fmt.Sprintf("Store: PostgreSQL %s at %s (EYE_DATABASE_URL; the queue stays the embedded one in each data directory): "+
			"shared_buffers %s, synchronous_commit %s, max_wal_size %s, autovacuum %s.",
			st["server_version"], serverHost(k.server), st["shared_buffers"], st["synchronous_commit"], st["max_wal_size"], st["autovacuum"]),
		fmt.Sprintf("Databases: a fresh one for each data directory and each raw insert (%s…), migrated with postgres.Migrate, "+
			"with the monthly partitions events_202012 to events_202104 made by EnsurePartitions at %s (the events' month) "+
			"besides those Migrate makes around today; every event of the benchmark is in January 2021, so in events_202101.",
			databasePrefix(k.run), genStart().Format(time.DateOnly)),
		"PostgreSQL's processes are not in the peak RSS (The Eye's alone); the CPU meters count those working for the run " +
			"(the backends of its databases, and the server's own: checkpointer, WAL writer, …) as PostgreSQL, apart from other work, " +
			"and the backends of other databases as other processes.",
	}
}

// close drops the run's databases, unless keep.
func (k *postgresKind) close(ctx context.Context, keep bool) error {
	if keep {
		if len(k.made) > 0 {
			k.logf("kept the databases %s on %s", strings.Join(k.made, ", "), serverHost(k.server))
		}
		return nil
	}
	var errs []error
	for _, name := range k.made {
		if err := k.exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", name, err))
		}
	}
	k.made = nil
	return errors.Join(errs...)
}

// checkpoints is the number of checkpoints the server has begun so far.
func (k *postgresKind) checkpoints(ctx context.Context) (int64, error) {
	conn, err := pgx.Connect(ctx, k.server)
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", serverHost(k.server), err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read pg_stat_bgwriter: %w", err)
	}
	return n, nil
}

// newRunID is eight random characters (lower-case letters and digits)
// that name a run's databases.
func newRunID() string { return strings.ToLower(rand.Text()[:8]) }

// databasePrefix begins the name of every database of a run.
func databasePrefix(run string) string { return "eye_bench_" + run + "_" }

// maxIdentifier is PostgreSQL's longest identifier, in bytes.
const maxIdentifier = 63

// databaseName names the n-th database of a run: the run's prefix, n and
// the label, keeping only lower-case letters, digits and underscores of
// the label, within PostgreSQL's 63 bytes.
func databaseName(run string, n int, label string) string {
	name := databasePrefix(run) + strconv.Itoa(n)
	var clean strings.Builder
	for _, c := range strings.ToLower(label) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			clean.WriteRune(c)
		case c == ' ', c == '-':
			clean.WriteByte('_')
		}
	}
	if clean.Len() > 0 {
		name += "_" + clean.String()
	}
	return name[:min(len(name), maxIdentifier)]
}

// checkServerURL checks a -postgres server URL. Its errors never quote the
// URL, which may hold a password.
func checkServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("the URL cannot be parsed")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return errors.New("want a postgres:// URL, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	if u.Host == "" {
		return errors.New("the URL names no host")
	}
	return nil
}

// databaseURL is the server URL with its database replaced by name; the
// user, host and parameters stay.
func databaseURL(server, name string) (string, error) {
	if err := checkServerURL(server); err != nil {
		return "", err
	}
	u, _ := url.Parse(server)
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

// serverHost is the host and port of a server URL, without user or
// password, for the log and the report.
func serverHost(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return "the server"
	}
	return u.Host
}
