package postgres

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/storetest"
)

// serverURL returns the URL of the PostgreSQL server the tests use, from
// EYE_TEST_POSTGRES_URL; without it the test is skipped, or fails when
// EYE_TEST_REQUIRE_SERVICES=1 (CI).
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("EYE_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("EYE_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("EYE_TEST_POSTGRES_URL is not set, and EYE_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("EYE_TEST_POSTGRES_URL is not set: set it to a PostgreSQL server " +
			"(such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run these tests")
	}
	return u
}

// freshDatabase creates an empty database for one test on the server of
// EYE_TEST_POSTGRES_URL, drops it when the test ends, and returns its URL.
// Tests touch no other data.
func freshDatabase(t testing.TB) string {
	t.Helper()
	server := serverURL(t)
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatal("EYE_TEST_POSTGRES_URL must be a postgres:// URL")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to EYE_TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	name := "eye_test_" + strings.ToLower(rand.Text())
	db := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+db); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// openURL opens a store on the database at url, closed when the test ends.
func openURL(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// open returns a migrated store on a fresh database.
func open(t testing.TB) *Store {
	t.Helper()
	s := openURL(t, freshDatabase(t))
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	serverURL(t) // skips once, not in every test of the suite
	storetest.Run(t, func(t *testing.T) eye.Store { return open(t) })
}

func TestMigrateTwice(t *testing.T) {
	s := open(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
}

// TestMigrateConcurrently starts several stores on one empty database at
// once, as processes of a deployment do: each migration is applied once,
// and every Migrate succeeds.
func TestMigrateConcurrently(t *testing.T) {
	db := freshDatabase(t)
	const n = 4
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = openURL(t, db)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate of store %d: %v", i, err)
		}
	}
	rows, err := stores[0].db.Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"migrations/001_init.sql", "migrations/002_stats.sql"}; !slices.Equal(versions, want) {
		t.Errorf("schema_migrations = %v, want %v", versions, want)
	}
}
