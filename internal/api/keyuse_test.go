package api_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// usesStore is a store of keys that records the calls to RecordKeyUses.
type usesStore struct {
	keys []eye.Key
	fail bool

	mu    sync.Mutex
	calls []map[string]time.Time
}

func (s *usesStore) Keys(context.Context) ([]eye.Key, error)                 { return s.keys, nil }
func (s *usesStore) Applications(context.Context) ([]eye.Application, error) { return nil, nil }
func (s *usesStore) RecordKeyUses(_ context.Context, uses map[string]time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("store down")
	}
	s.calls = append(s.calls, uses)
	return nil
}

func (s *usesStore) recorded() []map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]time.Time(nil), s.calls...)
}

// TestKeyUses checks that lookups note the uses of the store's keys in
// memory, never writing to the store, and that a flush records them all
// in one call; a failed flush keeps them for the next; static keys (not in
// the store) are not recorded.
func TestKeyUses(t *testing.T) {
	ctx := context.Background()
	secretA, a := api.NewSecret()
	secretB, b := api.NewSecret()
	_, unused := api.NewSecret()
	store := &usesStore{keys: []eye.Key{a, b, unused}}
	static := api.StaticKey("eye_static-key-for-uses", "static", eye.ScopeAdmin)
	k := api.NewKeyring(store, nil, static)
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Second)
	for range 1000 {
		for _, s := range []string{secretA, secretB, "eye_static-key-for-uses", "eye_unknown"} {
			k.Lookup(s)
		}
	}
	if calls := store.recorded(); len(calls) != 0 {
		t.Fatalf("lookups wrote to the store: %v", calls)
	}
	if err := k.FlushUses(ctx); err != nil {
		t.Fatal(err)
	}
	calls := store.recorded()
	if len(calls) != 1 {
		t.Fatalf("a flush made %d calls, want 1", len(calls))
	}
	if len(calls[0]) != 2 || calls[0][a.ID].Before(before) || calls[0][b.ID].Before(before) {
		t.Errorf("recorded %v; want keys %s and %s, used since %v", calls[0], a.ID, b.ID, before)
	}
	// Nothing used since: nothing to record.
	if err := k.FlushUses(ctx); err != nil || len(store.recorded()) != 1 {
		t.Errorf("an idle flush: %v, %d calls", err, len(store.recorded()))
	}

	// The store fails: the use is kept, and recorded by the next flush.
	k.Lookup(secretA)
	store.fail = true
	if err := k.FlushUses(ctx); err == nil {
		t.Error("FlushUses hid the store's failure")
	}
	store.fail = false
	if err := k.FlushUses(ctx); err != nil {
		t.Fatal(err)
	}
	if calls := store.recorded(); len(calls) != 2 || len(calls[1]) != 1 || calls[1][a.ID].IsZero() {
		t.Errorf("after a failed flush, the next recorded %v", calls[len(calls)-1])
	}
}

// TestRecordUsesAtShutdown checks that the flusher records the uses left
// when its context ends, as the service stops.
func TestRecordUsesAtShutdown(t *testing.T) {
	secret, key := api.NewSecret()
	store := &usesStore{keys: []eye.Key{key}}
	k := api.NewKeyring(store, nil)
	if err := k.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.RecordUses(ctx, time.Hour); close(done) }()
	if _, ok := k.Lookup(secret); !ok {
		t.Fatal("the key was not found")
	}
	cancel()
	<-done
	if calls := store.recorded(); len(calls) != 1 || calls[0][key.ID].IsZero() {
		t.Errorf("at shutdown the flusher recorded %v", calls)
	}
}

// BenchmarkLookup measures a lookup, noting the use included, from many
// goroutines at once, as ingest does.
func BenchmarkLookup(b *testing.B) {
	secret, key := api.NewSecret()
	k := api.NewKeyring(&usesStore{keys: []eye.Key{key}}, nil)
	if err := k.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := k.Lookup(secret); !ok {
				b.Fatal("not found")
			}
		}
	})
}
