package admin_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/admin"
	"github.com/theeye/eye/internal/api"
)

// TestUsersPage creates a user through the form, resets the password
// (which ends the user's logins) and deletes the user; one cannot delete
// oneself; each action is in the audit log with the user who did it.
func TestUsersPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	b := e.browser()
	token := b.loggedIn()

	for _, form := range []url.Values{
		{"name": {"grace"}, "password": {"short"}},
		{"name": {""}, "password": {"long enough password"}},
		{"name": {strings.Repeat("g", 101)}, "password": {"long enough password"}},
		{"name": {"grace"}, "password": {strings.Repeat("p", 73)}},
	} {
		if res := b.post("/admin/users", token, form); res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `class="problem"`) {
			t.Errorf("create user %v: %d", form, res.status)
		}
	}
	if res := b.post("/admin/users", "", url.Values{"name": {"mallory"}, "password": {"long enough password"}}); res.status != http.StatusForbidden {
		t.Errorf("create user without the CSRF token: %d", res.status)
	}
	if res := b.post("/admin/users", token, url.Values{"name": {userName}, "password": {"long enough password"}}); res.status != http.StatusConflict {
		t.Errorf("a second user named %s: %d", userName, res.status)
	}
	res := b.post("/admin/users", token, url.Values{"name": {"grace"}, "password": {"long enough password"}})
	if res.status != http.StatusSeeOther || res.location() != "/admin/users?outcome=created" {
		t.Fatalf("create user: %d %q\n%s", res.status, res.location(), res.body)
	}
	grace, err := e.store.UserByName(ctx, "grace")
	if err != nil {
		t.Fatal(err)
	}
	if page := b.get(res.location()); !strings.Contains(page.body, "User created") || !strings.Contains(page.body, "grace") {
		t.Errorf("the users page after creating:\n%s", page.body)
	}

	// grace logs in; her password is reset, which ends her login.
	gb := e.browser()
	if res := gb.login("grace", "long enough password"); res.status != http.StatusSeeOther {
		t.Fatalf("grace's login: %d", res.status)
	}
	if res := gb.get("/admin"); res.status != 200 {
		t.Fatalf("grace's dashboard: %d", res.status)
	}
	if res := b.post("/admin/users/"+grace.ID+"/password", token, url.Values{"password": {"short"}}); res.status != http.StatusUnprocessableEntity {
		t.Errorf("a short new password: %d", res.status)
	}
	res = b.post("/admin/users/"+grace.ID+"/password", token, url.Values{"password": {"a brand new password"}})
	if res.status != http.StatusSeeOther || res.location() != "/admin/users?outcome=password" {
		t.Fatalf("reset password: %d %q", res.status, res.location())
	}
	if res := gb.get("/admin"); res.status != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/admin/login") {
		t.Errorf("grace's login after the reset: %d %q", res.status, res.location())
	}
	if u, _ := e.store.User(ctx, grace.ID); bcrypt.CompareHashAndPassword(u.PasswordHash, []byte("a brand new password")) != nil {
		t.Error("the new password does not match the stored hash")
	}
	if res := e.browser().login("grace", "long enough password"); res.status != http.StatusUnauthorized {
		t.Errorf("a login with the old password: %d", res.status)
	}

	// One cannot delete oneself; grace can be deleted, with her logins.
	ada, err := e.store.UserByName(ctx, userName)
	if err != nil {
		t.Fatal(err)
	}
	if res := b.post("/admin/users/"+ada.ID+"/delete", token, nil); res.status != http.StatusConflict {
		t.Errorf("delete oneself: %d", res.status)
	}
	gb = e.browser()
	if res := gb.login("grace", "a brand new password"); res.status != http.StatusSeeOther {
		t.Fatalf("grace's login with the new password: %d", res.status)
	}
	res = b.post("/admin/users/"+grace.ID+"/delete", token, nil)
	if res.status != http.StatusSeeOther || res.location() != "/admin/users?outcome=deleted" {
		t.Fatalf("delete user: %d %q", res.status, res.location())
	}
	if _, err := e.store.User(ctx, grace.ID); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("the deleted user: %v", err)
	}
	if res := gb.get("/admin"); res.status != http.StatusSeeOther {
		t.Errorf("a deleted user's login: %d", res.status)
	}
	if res := b.post("/admin/users/"+grace.ID+"/delete", token, nil); res.status != http.StatusNotFound {
		t.Errorf("delete a deleted user: %d", res.status)
	}

	// Resetting one's own password logs one out.
	res = b.post("/admin/users/"+ada.ID+"/password", token, url.Values{"password": {"my own new password"}})
	if res.status != http.StatusSeeOther || res.location() != "/admin/login?outcome=password" {
		t.Errorf("reset one's own password: %d %q", res.status, res.location())
	}
	if res := b.get("/admin"); res.status != http.StatusSeeOther {
		t.Errorf("one's own login after one's own reset: %d", res.status)
	}

	page, err := e.store.Audit(ctx, eye.AuditFilter{Actor: "user:" + ada.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, entry := range page.Items {
		actions = append(actions, entry.Action)
		if entry.ActorName != userName || entry.Addr == "" || strings.Contains(string(entry.Details), "password\":") {
			t.Errorf("audit entry %+v", entry)
		}
	}
	want := []string{eye.ActionUserPasswordReset, eye.ActionUserDelete, eye.ActionUserPasswordReset, eye.ActionUserCreate}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("audit log %v, want %v", actions, want)
	}
}

// TestAuditPage shows the audit log with its filters: actions done in the
// UI are there with their user, filters select, and pages follow.
func TestAuditPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	b := e.browser()
	token := b.loggedIn()
	if res := b.post("/admin/applications", token, url.Values{"name": {"kiosk"}}); res.status != http.StatusSeeOther {
		t.Fatalf("create application: %d", res.status)
	}
	for i := range 60 {
		if err := e.store.RecordAudit(ctx, eye.AuditEntry{ID: eye.NewID(), At: time.Now().Add(-time.Hour).Add(time.Duration(i) * time.Second).UTC(),
			Actor: eye.ActorCLI, ActorName: "root", Action: eye.ActionKeyRevoke, Target: "k" + strings.Repeat("x", i%3)}); err != nil {
			t.Fatal(err)
		}
	}
	page := b.get("/admin/audit")
	if page.status != 200 || !strings.Contains(page.body, eye.ActionApplicationCreate) || !strings.Contains(page.body, `rel="next"`) {
		t.Fatalf("the audit log: %d\n%s", page.status, page.body)
	}
	rows := regexp.MustCompile(`<tr>\s*<td class="nowrap"`)
	if n := len(rows.FindAllString(page.body, -1)); n != 50 {
		t.Errorf("the first page has %d entries, want 50", n)
	}
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(page.body)
	if next == nil {
		t.Fatal("no next page")
	}
	second := b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := len(rows.FindAllString(second.body, -1)); second.status != 200 || n != 11 {
		t.Errorf("the second page: %d, %d entries, want 11", second.status, n)
	}
	mine := b.get("/admin/audit?action=" + eye.ActionApplicationCreate)
	if n := len(rows.FindAllString(mine.body, -1)); n != 1 || !strings.Contains(mine.body, userName) {
		t.Errorf("filtered by action: %d entries\n%s", n, mine.body)
	}
	if n := len(rows.FindAllString(b.get("/admin/audit?actor=cli").body, -1)); n != 50 {
		t.Errorf("filtered by actor: %d entries, want a full page", n)
	}
	to := time.Now().Add(-time.Hour).Add(9 * time.Second).UTC().Format("2006-01-02T15:04:05")
	if n := len(rows.FindAllString(b.get("/admin/audit?actor=cli&to="+url.QueryEscape(to)).body, -1)); n < 9 || n > 10 {
		t.Errorf("filtered by time: %d entries, want 9 or 10", n)
	}
}

// TestKeyExpiryAndIdleInUI creates a key that expires through the form,
// and shows keys never used or unused for 30 days as idle, on the
// application's page and in the list of applications.
func TestKeyExpiryAndIdleInUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	b := e.browser()
	token := b.loggedIn()
	res := b.post("/admin/applications", token, url.Values{"name": {"kiosk"}})
	appPath, _, _ := strings.Cut(res.location(), "?")
	appID := strings.TrimPrefix(appPath, "/admin/applications/")
	if res := b.post(appPath+"/keys", token, url.Values{"scope": {"ingest"}, "expires": {"1000"}}); res.status != http.StatusUnprocessableEntity {
		t.Errorf("an expiry not offered: %d", res.status)
	}
	res = b.post(appPath+"/keys", token, url.Values{"scope": {"ingest"}, "expires": {"30"}})
	m := regexp.MustCompile(`<code id="new-key">(eye_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(res.body)
	if res.status != 200 || m == nil {
		t.Fatalf("create a key with an expiry: %d", res.status)
	}
	stored, err := e.store.ApplicationKeys(ctx, appID) // not a lookup: that would be a use
	if err != nil || len(stored) != 1 || !strings.HasPrefix(m[1], stored[0].Prefix) {
		t.Fatalf("the application's keys: %+v, %v", stored, err)
	}
	key := stored[0]
	if want := key.CreatedAt.Add(30 * 24 * time.Hour); !key.ExpiresAt.Equal(want) {
		t.Errorf("the new key expires at %v, want %v", key.ExpiresAt, want)
	}

	// A key used today, one used 40 days ago, and the new one, never used.
	now := time.Now().UTC()
	_, recent := api.NewSecret()
	_, old := api.NewSecret()
	for _, k := range []*eye.Key{&recent, &old} {
		k.Scopes, k.ApplicationID, k.CreatedAt = []string{eye.ScopeIngest}, appID, now.Add(-60*24*time.Hour)
	}
	recent.Label, old.Label = "recent", "old"
	for _, k := range []eye.Key{recent, old} {
		if err := e.store.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.RecordKeyUses(ctx, map[string]time.Time{recent.ID: now.Add(-time.Hour), old.ID: now.Add(-40 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	page := b.get(appPath)
	for _, want := range []string{"2 working keys are never used or unused for 30 days", "never used</span>", "unused for 40 days",
		key.ExpiresAt.Format("2006-01-02 15:04:05"), "1 h ago"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the application's page lacks %q\n%s", want, page.body)
		}
	}
	if list := b.get("/admin/applications"); !strings.Contains(list.body, "3 working") || !strings.Contains(list.body, "2 idle") {
		t.Errorf("the applications page lacks the idle keys\n%s", list.body)
	}
	// Used here a moment ago: the page records the use before it shows it.
	if _, ok := e.keys.Lookup(m[1]); !ok {
		t.Fatal("the new key does not work")
	}
	if page := b.get(appPath); !strings.Contains(page.body, "1 working key is never used or unused for 30 days") ||
		!strings.Contains(page.body, "just now") {
		t.Errorf("the application's page after a use of the new key:\n%s", page.body)
	}
	// Audit: the key's creation with its expiry.
	entries, err := e.store.Audit(ctx, eye.AuditFilter{Action: eye.ActionKeyCreate, Limit: 5})
	if err != nil || len(entries.Items) != 1 || !strings.Contains(string(entries.Items[0].Details), `"expires_at":"`) {
		t.Errorf("audit of the key's creation: %+v, %v", entries.Items, err)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNoSecretsLogged logs in (wrongly, then rightly), creates a user,
// resets a password and creates a key in the UI, with the log at debug
// level: no password, session secret, CSRF token or key secret is in it,
// while the actions themselves are.
func TestNoSecretsLogged(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, false, func(c *admin.Config) { c.Logger = log })
	b := e.browser()
	if res := b.login(userName, "a wrong password here"); res.status != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", res.status)
	}
	token := b.loggedIn()
	session := b.cookie(api.SessionCookie)
	b.post("/admin/users", token, url.Values{"name": {"grace"}, "password": {"grace's first password"}})
	grace, err := e.store.UserByName(context.Background(), "grace")
	if err != nil {
		t.Fatal(err)
	}
	b.post("/admin/users/"+grace.ID+"/password", token, url.Values{"password": {"grace's second password"}})
	res := b.post("/admin/applications/default/keys", token, url.Values{"scope": {"ingest"}})
	secret := regexp.MustCompile(`<code id="new-key">(eye_[A-Za-z0-9_-]+)</code>`).FindStringSubmatch(res.body)
	if secret == nil || session == "" {
		t.Fatalf("no key secret (%d) or no session cookie", res.status)
	}
	out := logs.String()
	for _, s := range []string{password, "a wrong password here", "grace's first password", "grace's second password", session,
		token, secret[1]} {
		if strings.Contains(out, s) {
			t.Errorf("the log holds a secret %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"admin login failed", "admin login", "user created", "password reset", "key created"} {
		if !strings.Contains(out, s) {
			t.Errorf("the log lacks %q:\n%s", s, out)
		}
	}
}

// TestFormSizeLimited sends a form larger than 1 MiB: it is refused with
// 400 before anything is done, and a login body over 64 KiB finds no user.
func TestFormSizeLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	b := e.browser()
	token := b.loggedIn()
	big := strings.Repeat("x", 2<<20)
	if res := b.post("/admin/users", token, url.Values{"name": {"grace"}, "password": {"long enough password"}, "pad": {big}}); res.status != http.StatusBadRequest {
		t.Errorf("a 2 MiB form: %d", res.status)
	}
	if _, err := e.store.UserByName(context.Background(), "grace"); eye.ErrorCode(err) != eye.ENOTFOUND {
		t.Errorf("the oversized form made a user: %v", err)
	}
	anon := e.browser()
	form := anon.get("/admin/login")
	res := anon.post("/admin/login", form.csrf(t), url.Values{"pad": {big[:100<<10]}, "name": {userName}, "password": {password}})
	if res.status == http.StatusSeeOther {
		t.Errorf("a login body over 64 KiB logged in")
	}
}
