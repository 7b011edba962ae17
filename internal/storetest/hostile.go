package storetest

import (
	"context"
	"testing"

	"github.com/theeye/eye"
)

// hostileStrings returns strings that would change a query built by
// pasting them into SQL: every store passes values as parameters, so they
// are stored and matched as the plain text they are.
func hostileStrings() []string {
	return []string{`'; DROP TABLE events; --`, `" OR 1=1 --`, `x' OR 'x'='x`, `%`, `_`, `\`, `$1`, `?`}
}

// testHostileStrings stores and filters by strings made to break SQL built
// by concatenation: each round-trips intact, matches only itself, and the
// store works as before.
func testHostileStrings(t *testing.T, s eye.Store) {
	ctx := context.Background()
	g := &gen{}
	sess := newSession()
	var batch eye.Batch
	for i, h := range hostileStrings() {
		ev := g.event(sess, i)
		ev.Category, ev.Name = h, h
		batch.Events = append(batch.Events, ev)
		app := eye.Application{ID: eye.NewID(), Name: h + " " + eye.NewID(), CreatedAt: at(i), Active: true}
		if err := s.CreateApplication(ctx, app); err != nil {
			t.Fatalf("application named %q: %v", app.Name, err)
		}
		if got, err := s.ApplicationByName(ctx, app.Name); err != nil || got.ID != app.ID {
			t.Errorf("ApplicationByName(%q) = %+v, %v", app.Name, got, err)
		}
		u := eye.User{ID: eye.NewID(), Name: h + " " + eye.NewID(), PasswordHash: []byte("$2a$12$h"), CreatedAt: at(i)}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("user named %q: %v", u.Name, err)
		}
		if got, err := s.UserByName(ctx, u.Name); err != nil || got.ID != u.ID {
			t.Errorf("UserByName(%q) = %+v, %v", u.Name, got, err)
		}
	}
	write(t, s, batch)
	for _, h := range hostileStrings() {
		page, err := s.Events(ctx, eye.EventFilter{Category: h, Name: h, Limit: 100})
		if err != nil {
			t.Fatalf("Events(category %q): %v", h, err)
		}
		if len(page.Items) != 1 || page.Items[0].Category != h || page.Items[0].Name != h {
			t.Errorf("Events(category %q) = %d events; want the one of that category", h, len(page.Items))
		}
		if n, err := s.CountEvents(ctx, eye.EventFilter{SessionID: h}); err != nil || n != 0 {
			t.Errorf("CountEvents(session %q) = %d, %v; want 0", h, n, err)
		}
	}
	if n, err := s.CountEvents(ctx, eye.EventFilter{SessionID: sess}); err != nil || n != int64(len(hostileStrings())) {
		t.Errorf("after the hostile strings, the session has %d events, %v; want %d", n, err, len(hostileStrings()))
	}
}
