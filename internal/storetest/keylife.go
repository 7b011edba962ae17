package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// newKey returns a key record with a random hash.
func newKey(app, user string, created time.Time) eye.Key {
	return eye.Key{ID: eye.NewID(), Prefix: "eye_" + eye.NewID()[:8], Hash: []byte(eye.NewID()[:32]),
		Scopes: []string{eye.ScopeIngest}, ApplicationID: app, UserID: user, CreatedAt: created}
}

// keyByID finds a key in a list.
func keyByID(keys []eye.Key, id string) (eye.Key, bool) {
	i := slices.IndexFunc(keys, func(k eye.Key) bool { return k.ID == id })
	if i < 0 {
		return eye.Key{}, false
	}
	return keys[i], true
}

// testKeyUses checks that RecordKeyUses sets the last use of the keys it
// names, never moves it back, ignores unknown ids, and that the last use
// round-trips through Keys, ApplicationKeys and CreateKey.
func testKeyUses(t *testing.T, s eye.Store) {
	ctx := context.Background()
	app := eye.Application{ID: eye.NewID(), Name: "app-" + eye.NewID(), CreatedAt: at(0), Active: true}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	used, unused := newKey(app.ID, "", now.Add(-time.Hour)), newKey(app.ID, "", now.Add(-time.Hour))
	copied := newKey(app.ID, "", now.Add(-time.Hour))
	copied.LastUsedAt = now.Add(-40 * 24 * time.Hour) // a key copied from another store keeps its last use
	for _, k := range []eye.Key{used, unused, copied} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordKeyUses(ctx, nil); err != nil {
		t.Errorf("RecordKeyUses(none) = %v", err)
	}
	first := now.Add(-time.Minute)
	if err := s.RecordKeyUses(ctx, map[string]time.Time{used.ID: first, eye.NewID(): now}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want map[string]time.Time) {
		t.Helper()
		listed, err := s.ApplicationKeys(ctx, app.ID)
		if err != nil {
			t.Fatal(err)
		}
		working, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for id, w := range want {
			for name, list := range map[string][]eye.Key{"ApplicationKeys": listed, "Keys": working} {
				k, ok := keyByID(list, id)
				if !ok || !k.LastUsedAt.Equal(w) {
					t.Errorf("%s: %s: key %s last used %v (listed %v); want %v", when, name, id, k.LastUsedAt, ok, w)
				}
			}
		}
	}
	check("after a use", map[string]time.Time{used.ID: first, unused.ID: {}, copied.ID: copied.LastUsedAt})

	// A later use moves it on; an earlier one (from a slower instance) does not move it back.
	if err := s.RecordKeyUses(ctx, map[string]time.Time{used.ID: now, copied.ID: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordKeyUses(ctx, map[string]time.Time{used.ID: first}); err != nil {
		t.Fatal(err)
	}
	check("after later and earlier uses", map[string]time.Time{used.ID: now, unused.ID: {}, copied.ID: now})

	// Many keys in one call.
	many := map[string]time.Time{}
	for i := range 600 {
		k := newKey(app.ID, "", now)
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		many[k.ID] = now.Add(time.Duration(i) * time.Microsecond)
	}
	if err := s.RecordKeyUses(ctx, many); err != nil {
		t.Fatal(err)
	}
	check("after 600 uses at once", many)
}

// testUserPassword checks that a new password replaces the old one and
// ends the user's login sessions, and only that user's.
func testUserPassword(t *testing.T, s eye.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ada := eye.User{ID: eye.NewID(), Name: "ada-" + eye.NewID(), PasswordHash: []byte("$2a$12$old"), CreatedAt: now}
	bob := eye.User{ID: eye.NewID(), Name: "bob-" + eye.NewID(), PasswordHash: []byte("$2a$12$bob"), CreatedAt: now}
	for _, u := range []eye.User{ada, bob} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	adaSession, bobSession := newKey("", ada.ID, now), newKey("", bob.ID, now)
	adaSession.ExpiresAt, bobSession.ExpiresAt = now.Add(time.Hour), now.Add(time.Hour)
	for _, k := range []eye.Key{adaSession, bobSession} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetUserPassword(ctx, ada.ID, []byte("$2a$12$new")); err != nil {
		t.Fatal(err)
	}
	if u, err := s.User(ctx, ada.ID); err != nil || string(u.PasswordHash) != "$2a$12$new" || u.Name != ada.Name {
		t.Errorf("after SetUserPassword: %+v, %v", u, err)
	}
	if u, err := s.User(ctx, bob.ID); err != nil || string(u.PasswordHash) != "$2a$12$bob" {
		t.Errorf("the other user after SetUserPassword: %+v, %v", u, err)
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := keyByID(keys, adaSession.ID); ok {
		t.Error("the user's login session still works after a new password")
	}
	if _, ok := keyByID(keys, bobSession.ID); !ok {
		t.Error("another user's login session stopped working")
	}
	if err := s.SetUserPassword(ctx, eye.NewID(), []byte("x")); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("SetUserPassword(unknown) = %v, want not found", err)
	}
}

// testDeleteUser checks that a deleted user is gone, with the user's login
// sessions, and that the name can be taken again.
func testDeleteUser(t *testing.T, s eye.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ada := eye.User{ID: eye.NewID(), Name: "ada-" + eye.NewID(), PasswordHash: []byte("$2a$12$a"), CreatedAt: now}
	bob := eye.User{ID: eye.NewID(), Name: "bob-" + eye.NewID(), PasswordHash: []byte("$2a$12$b"), CreatedAt: now}
	for _, u := range []eye.User{ada, bob} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	session, other := newKey("", ada.ID, now), newKey("", bob.ID, now)
	session.ExpiresAt, other.ExpiresAt = now.Add(time.Hour), now.Add(time.Hour)
	for _, k := range []eye.Key{session, other} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(ctx, ada.ID); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("User(deleted) = %v, want not found", err)
	}
	if _, err := s.UserByName(ctx, ada.Name); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("UserByName(deleted) = %v, want not found", err)
	}
	users, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(users, func(u eye.User) bool { return u.ID == ada.ID }) ||
		!slices.ContainsFunc(users, func(u eye.User) bool { return u.ID == bob.ID }) {
		t.Errorf("Users() after DeleteUser = %+v", users)
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := keyByID(keys, session.ID); ok {
		t.Error("a deleted user's login session still works")
	}
	if _, ok := keyByID(keys, other.ID); !ok {
		t.Error("another user's login session stopped working")
	}
	if err := s.DeleteUser(ctx, ada.ID); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("DeleteUser(deleted) = %v, want not found", err)
	}
	again := eye.User{ID: eye.NewID(), Name: ada.Name, PasswordHash: []byte("$2a$12$c"), CreatedAt: now}
	if err := s.CreateUser(ctx, again); err != nil {
		t.Errorf("CreateUser with a deleted user's name: %v", err)
	}
}
