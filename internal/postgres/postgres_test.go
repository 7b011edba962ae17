package postgres

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/pgtest"
	"github.com/theeye/eye/internal/storetest"
)

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
	s := openURL(t, pgtest.Database(t))
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtest.ServerURL(t) // skips once, not in every test of the suite
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
	db := pgtest.Database(t)
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
	if want := []string{"migrations/001_init.sql", "migrations/002_stats.sql", "migrations/003_key_sessions.sql",
		"migrations/004_data_index.sql", "migrations/005_lifecycle.sql", "migrations/006_allowed_origins.sql",
		"migrations/007_key_usage.sql", "migrations/008_job_lease.sql"}; !slices.Equal(versions, want) {
		t.Errorf("schema_migrations = %v, want %v", versions, want)
	}
}
