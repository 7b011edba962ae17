package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// testLoginSessions checks the keys of login sessions: their user and
// expiry round-trip, an expired key does not work, and a user's key is in
// no application's list.
func testLoginSessions(t *testing.T, s eye.Store) {
	ctx := context.Background()
	app := eye.Application{ID: eye.NewID(), Name: "app-" + eye.NewID(), CreatedAt: at(0), Active: true}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	user := eye.NewID()
	key := func(expires time.Time, application string) eye.Key {
		return eye.Key{ID: eye.NewID(), Prefix: "eye_" + eye.NewID()[:8], Hash: []byte(eye.NewID()[:32]),
			Scopes: []string{eye.ScopeAdmin}, ApplicationID: application, Label: "admin UI session", UserID: user,
			CreatedAt: now, ExpiresAt: expires}
	}
	live, expired, ofApp := key(now.Add(time.Hour), ""), key(now.Add(-time.Second), ""), key(now.Add(time.Hour), app.ID)
	forever := eye.Key{ID: eye.NewID(), Prefix: "eye_" + eye.NewID()[:8], Hash: []byte(eye.NewID()[:32]),
		Scopes: []string{eye.ScopeIngest}, ApplicationID: app.ID, CreatedAt: now}
	for _, k := range []eye.Key{live, expired, ofApp, forever} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	working := func() map[string]eye.Key {
		t.Helper()
		keys, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]eye.Key{}
		for _, k := range keys {
			m[k.ID] = k
		}
		return m
	}
	keys := working()
	got, ok := keys[live.ID]
	if !ok || got.UserID != user || !got.ExpiresAt.Equal(live.ExpiresAt) || got.Label != live.Label || got.ApplicationID != "" {
		t.Errorf("Keys()[live] = %+v, %v; want %+v", got, ok, live)
	}
	if k, ok := keys[expired.ID]; ok {
		t.Errorf("Keys() has an expired key: %+v", k)
	}
	if got := keys[forever.ID]; !got.ExpiresAt.IsZero() || got.UserID != "" {
		t.Errorf("Keys()[forever] = %+v: want no expiry and no user", got)
	}
	listed, err := s.ApplicationKeys(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].ID != forever.ID {
		t.Errorf("ApplicationKeys = %+v; want the application's API key alone", listed)
	}
	if err := s.RevokeKey(ctx, "", live.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := working()[live.ID]; ok {
		t.Error("Keys() has a revoked login session")
	}
}

// testUserLookups checks that users are found by id and by name, and
// listed oldest first.
func testUserLookups(t *testing.T, s eye.Store) {
	ctx := context.Background()
	a := eye.User{ID: eye.NewID(), Name: "ada-" + eye.NewID(), PasswordHash: []byte("$2a$12$a"), CreatedAt: at(1)}
	b := eye.User{ID: eye.NewID(), Name: "bob-" + eye.NewID(), PasswordHash: []byte("$2a$12$b"), CreatedAt: at(2)}
	for _, u := range []eye.User{b, a} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	same := func(x, y eye.User) bool {
		return x.ID == y.ID && x.Name == y.Name && string(x.PasswordHash) == string(y.PasswordHash) && x.CreatedAt.Equal(y.CreatedAt)
	}
	if got, err := s.UserByName(ctx, a.Name); err != nil || !same(got, a) {
		t.Errorf("UserByName(%q) = %+v, %v; want %+v", a.Name, got, err, a)
	}
	if got, err := s.User(ctx, b.ID); err != nil || !same(got, b) {
		t.Errorf("User(%q) = %+v, %v; want %+v", b.ID, got, err, b)
	}
	if _, err := s.UserByName(ctx, "nobody-"+eye.NewID()); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("UserByName(unknown) = %v, want not found", err)
	}
	if _, err := s.User(ctx, eye.NewID()); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("User(unknown) = %v, want not found", err)
	}
	users, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ia := slices.IndexFunc(users, func(u eye.User) bool { return u.ID == a.ID })
	ib := slices.IndexFunc(users, func(u eye.User) bool { return u.ID == b.ID })
	if ia < 0 || ib < 0 || ia > ib || !same(users[ia], a) {
		t.Errorf("Users() = %+v: want %s before %s", users, a.Name, b.Name)
	}
}

// testDiscardErrors checks that a bulk discard marks only open records.
func testDiscardErrors(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	sess := newSession()
	a, b, c := g.errorRecord(sess, eye.CodeEmptyData, 0), g.errorRecord(sess, eye.CodeEmptyData, 1), g.errorRecord(sess, eye.CodeEmptyData, 2)
	write(t, s, eye.Batch{Errors: []eye.ErrorRecord{a, b, c}})
	if err := s.SetErrorStatus(ctx, c.ID, eye.StatusReplayed); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DiscardErrors(ctx, nil); err != nil || n != 0 {
		t.Errorf("DiscardErrors(none) = %d, %v", n, err)
	}
	n, err := s.DiscardErrors(ctx, []string{a.ID, b.ID, c.ID, eye.NewID()})
	if err != nil || n != 2 {
		t.Errorf("DiscardErrors = %d, %v; want 2", n, err)
	}
	for id, want := range map[string]string{a.ID: eye.StatusDiscarded, b.ID: eye.StatusDiscarded, c.ID: eye.StatusReplayed} {
		rec, err := s.ErrorRecord(ctx, id)
		if err != nil || rec.Status != want {
			t.Errorf("error record %s: status %q, %v; want %s", id, rec.Status, err, want)
		}
	}
	if n, err := s.DiscardErrors(ctx, []string{a.ID}); err != nil || n != 0 {
		t.Errorf("DiscardErrors(discarded already) = %d, %v; want 0", n, err)
	}
}
