package main

import (
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestDatabaseName(t *testing.T) {
	run := newRunID()
	if len(run) != 8 || strings.Trim(run, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Fatalf("run id %q: want 8 lower-case letters and digits", run)
	}
	if newRunID() == run {
		t.Errorf("two run ids are both %q", run)
	}
	for _, tc := range []struct {
		label, want string
	}{
		{"query", "eye_bench_abcd2345_3_query"},
		{"raw_copy", "eye_bench_abcd2345_3_raw_copy"},
		{"Drain and lag; DROP TABLE x--", "eye_bench_abcd2345_3_drain_and_lag_drop_table_x__"},
		{"", "eye_bench_abcd2345_3"},
		{strings.Repeat("x", 100), "eye_bench_abcd2345_3_" + strings.Repeat("x", 63-len("eye_bench_abcd2345_3_"))},
	} {
		got := databaseName("abcd2345", 3, tc.label)
		if got != tc.want {
			t.Errorf("databaseName(%q) = %q, want %q", tc.label, got, tc.want)
		}
		if len(got) > maxIdentifier {
			t.Errorf("databaseName(%q) is %d bytes, more than %d", tc.label, len(got), maxIdentifier)
		}
		if !strings.HasPrefix(got, databasePrefix("abcd2345")) {
			t.Errorf("databaseName(%q) = %q lacks the run's prefix", tc.label, got)
		}
		// A plain identifier: quoting it changes nothing but the quotes.
		if q := (pgx.Identifier{got}).Sanitize(); q != `"`+got+`"` {
			t.Errorf("databaseName(%q) = %q is quoted as %s", tc.label, got, q)
		}
	}
}

func TestDatabaseURL(t *testing.T) {
	for _, tc := range []struct {
		server, want string
	}{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/eye_bench_x_1?sslmode=disable"},
		{"postgresql://u:secret@db.example.com/", "postgresql://u:secret@db.example.com/eye_bench_x_1"},
		{"postgres://localhost", "postgres://localhost/eye_bench_x_1"},
	} {
		got, err := databaseURL(tc.server, "eye_bench_x_1")
		if err != nil || got != tc.want {
			t.Errorf("databaseURL(%q) = %q, %v; want %q", tc.server, got, err, tc.want)
		}
	}
	if got := serverHost("postgres://u:secret@db.example.com:5433/x"); got != "db.example.com:5433" {
		t.Errorf("serverHost = %q, want the host and port alone", got)
	}
}

func TestPostgresFlag(t *testing.T) {
	var o options
	if err := o.parse([]string{"-loadgen", "go"}, io.Discard); err != nil || o.Postgres != "" {
		t.Fatalf("without -postgres: %v, Postgres %q; want no error and SQLite", err, o.Postgres)
	}
	good := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	o = options{}
	if err := o.parse([]string{"-loadgen", "go", "-postgres", good}, io.Discard); err != nil || o.Postgres != good {
		t.Fatalf("-postgres %s: %v, Postgres %q", good, err, o.Postgres)
	}
	for _, bad := range []string{"mysql://u@h/db", "host=127.0.0.1 user=postgres", "postgres:///test", "postgres://u:s3cret@h/%zz"} {
		o = options{}
		err := o.parse([]string{"-loadgen", "go", "-postgres", bad}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-postgres") {
			t.Errorf("-postgres %q: error %v, want one about -postgres", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("-postgres %q: the error quotes the password: %v", bad, err)
		}
	}
}

func TestPGRole(t *testing.T) {
	prefix := databasePrefix("abcd2345")
	for _, tc := range []struct {
		title string
		want  pgRole
	}{
		{"postgres: 15/main: postgres eye_bench_abcd2345_3_query 127.0.0.1(51234) idle", pgRun},
		{"postgres: 15/main: postgres eye_bench_abcd2345_1_ingest [local] COPY", pgRun},
		{"postgres: 15/main: postgres eye_test_q2w3 127.0.0.1(40100) INSERT", pgOther},
		{"postgres: postgres test [local] idle", pgOther},
		{"postgres: 15/main: checkpointer", pgServer},
		{"postgres: 15/main: walwriter", pgServer},
		{"/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf", pgServer},
		{"postgres: 15/main: parallel worker for PID 4242", pgServer},
	} {
		if got := pgRoleOf(tc.title, prefix); got != tc.want {
			t.Errorf("pgRoleOf(%q) = %d, want %d", tc.title, got, tc.want)
		}
	}
}
