package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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

// TestDataKeepsNUL checks that SQLite keeps an event's data byte for byte,
// a \u0000 included (PostgreSQL's jsonb refuses it: the conformance suite
// leaves it to each store).
func TestDataKeepsNUL(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	ev := eye.Event{ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID, SessionID: eye.NewID(),
		Category: "page interaction", Name: "pageview",
		Data:      []byte(`{"s":"é\u0000","f":1.000000000000000000001}`),
		Timestamp: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), ReceivedAt: time.Date(2021, 1, 1, 0, 0, 1, 0, time.UTC), Seq: 1}
	if res, err := s.Write(ctx, eye.Batch{Events: []eye.Event{ev}}); err != nil || res.Events != 1 {
		t.Fatalf("Write = %+v, %v", res, err)
	}
	got, err := s.Event(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != string(ev.Data) {
		t.Errorf("Data = %s, want %s", got.Data, ev.Data)
	}
}
