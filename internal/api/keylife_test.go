package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// TestKeyExpiryAndLastUse checks a key's expiry (given at creation,
// checked, shown in lists, and refused once past) and its last use (null
// until the key is used and the uses are flushed), and that a user's login
// session never shows among an application's keys.
func TestKeyExpiryAndLastUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.admin("POST", "/applications/", map[string]any{"name": "kiosk"}).json(t)["id"].(string)
	keysURL := "/applications/" + id + "/keys/"

	past := eye.FormatTime(time.Now().Add(-time.Minute))
	for _, body := range []any{
		map[string]any{"scopes": []string{"read"}, "expires_at": past},
		map[string]any{"scopes": []string{"read"}, "expires_at": "tomorrow"},
		map[string]any{"scopes": []string{"read"}, "expires_at": 1893456000},
	} {
		wantProblem(t, e.admin("POST", keysURL, body), 422, "unprocessable")
	}

	// A key without an expiry, and one that expires in a moment.
	forever := e.admin("POST", keysURL, map[string]any{"scopes": []string{"read"}, "expires_at": nil}).json(t)
	if forever["expires_at"] != nil || forever["last_used_at"] != nil {
		t.Errorf("a key without an expiry: %v", forever)
	}
	expiry := time.Now().Add(1500 * time.Millisecond).UTC().Truncate(time.Microsecond)
	res := e.admin("POST", keysURL, map[string]any{"scopes": []string{"read"}, "label": "brief", "expires_at": eye.FormatTime(expiry)})
	if res.status != 201 {
		t.Fatalf("create a key with an expiry: %d %s", res.status, res.body)
	}
	brief := res.json(t)
	if brief["expires_at"] != eye.FormatTime(expiry) {
		t.Errorf("expires_at = %v, want %s", brief["expires_at"], eye.FormatTime(expiry))
	}
	secret, briefID := brief["key"].(string), brief["id"].(string)

	// A login session of a user, made on this application: never listed.
	_, session := api.NewSecret()
	session.Scopes, session.ApplicationID, session.UserID = []string{eye.ScopeAdmin}, id, eye.NewID()
	session.ExpiresAt = time.Now().Add(time.Hour)
	if err := e.store.CreateKey(ctx, session); err != nil {
		t.Fatal(err)
	}

	list := func() map[string]map[string]any {
		t.Helper()
		out := map[string]map[string]any{}
		for _, k := range e.admin("GET", keysURL, nil).json(t)["results"].([]any) {
			k := k.(map[string]any)
			out[k["id"].(string)] = k
		}
		return out
	}
	keys := list()
	if _, ok := keys[session.ID]; ok || len(keys) != 2 {
		t.Errorf("keys listed: %v; want the two API keys, not the login session", keys)
	}
	if keys[briefID]["expires_at"] != eye.FormatTime(expiry) || keys[briefID]["last_used_at"] != nil {
		t.Errorf("the key before its use: %v", keys[briefID])
	}

	// Used: its last use shows once the uses are flushed, not before.
	if res := e.do("GET", "/events/", secret, nil); res.status != 200 {
		t.Fatalf("a key before its expiry: %d %s", res.status, res.body)
	}
	if got := list()[briefID]["last_used_at"]; got != nil {
		t.Errorf("last_used_at before the flush = %v: a use must not write to the store", got)
	}
	if err := e.keys.FlushUses(ctx); err != nil {
		t.Fatal(err)
	}
	used, _ := list()[briefID]["last_used_at"].(string)
	if at, err := eye.ParseTime(used); err != nil || time.Since(at) > time.Minute {
		t.Errorf("last_used_at after the flush = %q", used)
	}
	if got := list()[forever["id"].(string)]["last_used_at"]; got != nil {
		t.Errorf("an unused key's last_used_at = %v", got)
	}

	// Past its expiry, it is refused, as the keyring looks it up.
	time.Sleep(time.Until(expiry) + 50*time.Millisecond)
	wantProblem(t, e.do("GET", "/events/", secret, nil), 401, "unauthorized")
}
