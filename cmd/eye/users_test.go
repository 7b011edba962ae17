package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/sqlite"
)

// TestUsersCommands runs eye users create, list, passwd and delete on a
// store: a new password replaces the old one and ends the user's logins,
// a deleted user is gone with the user's logins, and each change is in the
// audit log.
func TestUsersCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EYE_DATA_DIR": dir, "EYE_PASSWORD": "correct horse battery", "EYE_LOG_LEVEL": "warn"}
	cli := func(args ...string) (string, error) {
		t.Helper()
		var out, errs bytes.Buffer
		err := run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, &errs)
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("eye %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	must("users", "create", "ada")
	must("users", "create", "bob")
	list := must("users", "list")
	if !strings.Contains(list, "ada") || !strings.Contains(list, "bob") || !strings.HasPrefix(list, "ID") {
		t.Errorf("users list:\n%s", list)
	}

	ctx := context.Background()
	open := func() *sqlite.Store {
		st, err := sqlite.Open(filepath.Join(dir, "eye.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// Logins of ada and bob.
	st := open()
	ada, err := st.UserByName(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := st.UserByName(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	login := func(u eye.User) eye.Key {
		_, k := api.NewSecret()
		k.Scopes, k.UserID, k.ExpiresAt = []string{eye.ScopeAdmin}, u.ID, time.Now().Add(time.Hour)
		if err := st.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	adaLogin, bobLogin := login(ada), login(bob)
	st.Close()

	env["EYE_PASSWORD"] = "short"
	if _, err := cli("users", "passwd", "ada"); err == nil {
		t.Error("users passwd took a short password")
	}
	env["EYE_PASSWORD"] = "a much better passphrase"
	if out := must("users", "passwd", "ada"); !strings.Contains(out, "ada") {
		t.Errorf("users passwd: %s", out)
	}
	if _, err := cli("users", "passwd", "nobody"); err == nil {
		t.Error("users passwd of an unknown user")
	}
	must("users", "delete", "bob")
	if _, err := cli("users", "delete", "bob"); err == nil {
		t.Error("users delete of a deleted user")
	}
	for _, args := range [][]string{{"users"}, {"users", "drop", "ada"}, {"users", "delete"}, {"users", "list", "ada"}} {
		if _, err := cli(args...); err == nil {
			t.Errorf("eye %s: no error", strings.Join(args, " "))
		}
	}
	if list := must("users", "list"); !strings.Contains(list, "ada") || strings.Contains(list, "bob") {
		t.Errorf("users list after delete:\n%s", list)
	}

	st = open()
	defer st.Close()
	ada, err = st.UserByName(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword(ada.PasswordHash, []byte("a much better passphrase")) != nil {
		t.Error("the new password does not match the stored hash")
	}
	keys, err := st.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == adaLogin.ID || k.ID == bobLogin.ID {
			t.Errorf("login %s of user %s still works", k.ID, k.UserID)
		}
	}
	page, err := st.Audit(ctx, eye.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Items {
		actions = append(actions, e.Action)
	}
	want := []string{eye.ActionUserDelete, eye.ActionUserPasswordReset, eye.ActionUserCreate, eye.ActionUserCreate}
	if !slices.Equal(actions, want) {
		t.Errorf("audit log %v, want %v", actions, want)
	}
}

// TestKeyUseRecordedAtStop uses a key of the store on a running service,
// stops it, and finds the key's last use in the store: uses are kept in
// memory and recorded when the service stops (and every minute before).
func TestKeyUseRecordedAtStop(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EYE_DATA_DIR": dir, "EYE_ADDR": "127.0.0.1:0", "EYE_LOG_LEVEL": "warn"}
	getenv := func(k string) string { return env[k] }
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"apps", "create", "shop"}, getenv, nil, &out, &errs); err != nil {
		t.Fatal(err, errs.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"keys", "create", "--app", "shop", "--scope", "read"}, getenv, nil, &out, &errs); err != nil {
		t.Fatal(err, errs.String())
	}
	secret := strings.TrimSpace(out.String())

	var c config
	if err := c.parse("serve", nil, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	a, err := start(context.Background(), c, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+a.addr()+"/events/?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /events/ with the key: %d", res.StatusCode)
	}
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}

	st, err := sqlite.Open(filepath.Join(dir, "eye.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	shop, err := st.ApplicationByName(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.ApplicationKeys(context.Background(), shop.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	if used := keys[0].LastUsedAt; used.IsZero() || time.Since(used) > time.Minute {
		t.Errorf("the key's last use after the stop: %v", used)
	}
}
