package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/sqlite"
	"github.com/theeye/eye/internal/storetest"
)

// open returns a fresh, migrated store in a temporary directory.
func open(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "eye.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eye.Store { return open(t) })
}

func TestMigrateTwice(t *testing.T) {
	s := open(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
}
