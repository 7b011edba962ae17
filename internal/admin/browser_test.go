package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// chromium returns the path of a Chromium to drive. Without one the test
// skips, unless EYE_TEST_REQUIRE_SERVICES=1 (CI), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const msg = "no Chromium: install the Debian package chromium (apt-get install -y chromium; CI does) to test the admin UI in a browser"
	if os.Getenv("EYE_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// driver drives one Chromium tab through the UI and keeps what went
// wrong in it: script errors, errors logged, failed requests and answers
// of 400 or more.
type driver struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // where screenshots go

	mu       sync.Mutex
	problems []string
}

// TestBrowser logs in with Chromium and goes through every page: it
// applies a filter, follows a session's timeline, edits a schema, replays
// and discards error records, creates and revokes a key, and logs out. A
// page that throws, logs an error or has a request fail fails the test.
// Each page's screenshot is saved in the test's temporary directory; with
// EYE_UPDATE_SCREENSHOTS=1, a day of sample traffic is loaded and the
// README's screenshots are written to docs/.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	update := os.Getenv("EYE_UPDATE_SCREENSHOTS") == "1"
	e := newEnv(t, false)
	sessions := 40
	if update {
		sessions = 1500
	}
	s := e.fill(sessions)
	ctx := context.Background()

	// An error record made by the worker: a submit that its schema refuses.
	if err := e.schemas.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	session := eye.NewID()
	submit := map[string]any{"session_id": session, "category": "form interaction", "name": "submit",
		"data":      map[string]any{"host": "www.example.com", "path": "/account", "form": map[string]any{"first_name": "Ada"}},
		"timestamp": eye.FormatTime(time.Now().Add(-30 * time.Second))}
	refused := e.waitError(e.send(submit))
	if refused.Reasons[0].Code != eye.CodeSchemaViolation {
		t.Fatalf("the submit was refused for %+v", refused.Reasons)
	}
	e.waitEvent(e.send(pageview(session)))

	d := newDriver(t, exe, e.srv.URL)
	if update {
		// A laptop's screen.
		d.do(chromedp.EmulateViewport(1440, 900))
	}

	// Log in: the dashboard asks for it, and comes back after it.
	d.open("/admin")
	d.do(chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	d.shot("login")
	d.do(chromedp.SendKeys(chromedp.CSS(`input[name=name]`), userName),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password))
	d.follow(`.login button[type=submit]`)
	if loc := d.location(); !strings.HasSuffix(loc, "/admin") {
		t.Fatalf("after the login: %s", loc)
	}

	// The dashboard, and its live tail over the session cookie.
	d.do(chromedp.WaitVisible(chromedp.CSS(`.charts svg`)))
	d.waitText(`#live-state`, "connected")
	var live sync.WaitGroup
	live.Go(func() { e.liveTraffic(s, update) })
	d.do(chromedp.WaitVisible(chromedp.CSS(`#live li.stored`)))
	live.Wait()
	if update {
		d.do(chromedp.Poll[chromedp.Void](`document.querySelectorAll('#live li').length >= 8`))
		d.save("../../docs/admin-dashboard.png", false)
	}
	d.shot("dashboard")

	// The events explorer: a filter, its deep link, an event, its session.
	d.follow(`nav a[href="/admin/events"]`)
	d.do(chromedp.WaitVisible(chromedp.CSS(`table.events`)),
		chromedp.SetValue(chromedp.CSS(`select[name=application]`), s.apps["web shop"]),
		chromedp.SetValue(chromedp.CSS(`input[name=category]`), "commerce"))
	d.follow(`.filters button[type=submit]`)
	if loc := d.location(); !strings.Contains(loc, "category=commerce") || !strings.Contains(loc, "application="+s.apps["web shop"]) {
		t.Errorf("the explorer's address lacks its filters: %s", loc)
	}
	d.do(chromedp.WaitVisible(chromedp.CSS(`table.events tbody tr`)))
	if cells := d.eval(`Array.from(document.querySelectorAll('table.events tbody tr td:nth-child(2)')).map(td => td.textContent)`); !strings.Contains(cells, "commerce") || strings.Contains(cells, "page interaction") {
		t.Errorf("filtered rows: %s", cells)
	}
	if update {
		d.save("../../docs/admin-events.png", false)
	}
	d.shot("events")
	// A filter on a member of data: the shop's carts of one item.
	previews := func() []string {
		var rows []string
		_ = json.Unmarshal([]byte(d.eval(`Array.from(document.querySelectorAll('table.events tbody tr td.preview')).map(td => td.textContent)`)), &rows)
		return rows
	}
	one := func(row string) bool {
		return strings.Contains(row, `"quantity":1,`) || strings.HasSuffix(row, `"quantity":1}`)
	}
	if rows := previews(); !slices.ContainsFunc(rows, func(r string) bool { return !one(r) }) {
		t.Fatalf("no cart of another quantity to filter out: %q", rows)
	}
	d.do(chromedp.SetValue(chromedp.CSS(`input[name=data]`), "quantity=1"))
	d.follow(`.filters button[type=submit]`)
	if loc := d.location(); !strings.Contains(loc, "data=quantity%3D1") || !strings.Contains(loc, "category=commerce") {
		t.Errorf("the explorer's address lacks its data filter: %s", loc)
	}
	d.do(chromedp.WaitVisible(chromedp.CSS(`table.events tbody tr`)))
	if rows := previews(); len(rows) == 0 || slices.ContainsFunc(rows, func(r string) bool { return !one(r) }) {
		t.Errorf("rows filtered by data.quantity=1: %q", rows)
	}
	d.follow(`table.events tbody tr td a`)
	d.do(chromedp.WaitVisible(chromedp.CSS(`pre.json`)))
	d.shot("event")
	d.follow(`dd a[href^="/admin/sessions/"]`)
	d.do(chromedp.WaitVisible(chromedp.CSS(`ol.timeline li.step`)))
	d.shot("timeline")
	d.open("/admin/sessions")
	d.do(chromedp.WaitVisible(chromedp.CSS(`table.list tbody tr`)))
	d.shot("sessions")

	// Event types: fix the submit's schema, checking it before saving.
	d.follow(`nav a[href="/admin/types"]`)
	d.do(chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	d.shot("types")
	d.follow(`a[href="/admin/types/form%20interaction/submit"]`)
	d.do(chromedp.WaitVisible(chromedp.ID(`schema`)),
		chromedp.SetValue(chromedp.ID(`schema`), `{"type": "object", "required": ["host", "form"`))
	d.waitText(`#json-state`, "Not valid JSON")
	d.follow(`#check`)
	d.waitText(`#check-result`, "does not compile")
	fixed := `{"type": "object", "required": ["host", "form"], "properties": {"form": {"type": "object", "required": ["first_name"]}}}`
	d.do(chromedp.SetValue(chromedp.ID(`schema`), fixed))
	d.waitText(`#json-state`, "Valid JSON")
	d.follow(`#check`)
	d.waitText(`#check-result`, "The schema compiles.")
	d.shot("type-check")
	d.follow(`#save`)
	d.waitText(`.outcome.ok`, "Version 2 saved")
	d.shot("type")

	// The errors inbox: filter, open the refused submit, replay it.
	d.follow(`nav a[href="/admin/errors"]`)
	d.do(chromedp.WaitVisible(chromedp.CSS(`table.errors`)),
		chromedp.SetValue(chromedp.CSS(`select[name=code]`), eye.CodeSchemaViolation),
		chromedp.SetValue(chromedp.CSS(`input[name=name]`), "submit"))
	d.follow(`.filters button[type=submit]`)
	d.do(chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/errors/` + refused.ID + `"]`)))
	d.shot("errors")
	d.follow(`a[href="/admin/errors/` + refused.ID + `"]`)
	d.do(chromedp.WaitVisible(chromedp.ID(`replay`)))
	d.shot("error")
	d.follow(`#replay`)
	d.waitText(`.outcome.ok`, "Replayed")
	e.waitEvent(refused.ID)

	// Discard one (the page asks first), then replay all that match.
	d.open("/admin/errors/" + s.future)
	d.follow(`#discard`)
	d.waitText(`.outcome.ok`, "Discarded")
	d.open("/admin/errors?code=empty_data")
	d.follow(`form[action="/admin/errors/replay"] button`)
	d.do(chromedp.WaitVisible(chromedp.ID(`job`)))
	d.waitText(`#job [data-field=status]`, "done")
	if got := d.text(`#job [data-field=still_invalid]`); got != fmt.Sprint(s.emptyData) {
		t.Errorf("the job found %s still invalid, want %d", got, s.emptyData)
	}
	d.shot("job")

	// Applications: create one, give it a key, copy it, revoke it.
	d.follow(`nav a[href="/admin/applications"]`)
	d.do(chromedp.WaitVisible(chromedp.ID(`app-name`)), chromedp.SendKeys(chromedp.ID(`app-name`), "kiosk"))
	d.follow(`form[action="/admin/applications"] button`)
	d.do(chromedp.WaitVisible(chromedp.ID(`create-key`)),
		chromedp.Click(chromedp.CSS(`input[name=scope][value=read]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=label]`), "lobby screen"))
	d.follow(`#create-key`)
	secret := d.text(`#new-key`)
	d.do(chromedp.Click(chromedp.ID(`copy`)))
	d.do(chromedp.Poll[chromedp.Void](`document.querySelector('[data-copied="new-key"]').textContent !== ''`))
	d.shot("application")
	if status := e.sendWith(secret, pageview(session)); status != http.StatusAccepted {
		t.Errorf("the new key: %d", status)
	}
	d.follow(`form[action$="/revoke"] button`)
	d.waitText(`.outcome.ok`, "Key revoked")
	if status := e.sendWith(secret, pageview(session)); status != http.StatusUnauthorized {
		t.Errorf("the revoked key: %d", status)
	}
	// A key that expires: its expiry shows, and it is flagged as never used.
	d.open("/admin/applications/" + s.apps["web shop"])
	d.do(chromedp.WaitVisible(chromedp.ID(`create-key`)),
		chromedp.SetValue(chromedp.ID(`key-expires`), "30"),
		chromedp.SendKeys(chromedp.CSS(`input[name=label]`), "campaign"))
	d.follow(`#create-key`)
	d.waitText(`.new-key`, "expires "+time.Now().UTC().Add(30*24*time.Hour).Format(time.DateOnly))
	d.waitText(`#idle-keys`, "never used")
	d.waitText(`table.keys`, "never used")
	d.shot("application-expiry")
	d.open("/admin/applications")
	d.waitText(`table.list`, "idle")
	d.shot("applications")

	// Users: create one, reset the password, delete it.
	d.follow(`nav a[href="/admin/users"]`)
	d.do(chromedp.WaitVisible(chromedp.ID(`user-name`)),
		chromedp.SendKeys(chromedp.ID(`user-name`), "grace"),
		chromedp.SendKeys(chromedp.ID(`user-password`), "a long enough password"))
	d.follow(`#create-user`)
	d.waitText(`.outcome.ok`, "User created")
	d.do(chromedp.SendKeys(chromedp.CSS(`tr[data-user=grace] input[name=password]`), "another long password"))
	d.follow(`tr[data-user=grace] form[action$="/password"] button`)
	d.waitText(`.outcome.ok`, "Password reset")
	d.shot("users")
	d.follow(`tr[data-user=grace] form[action$="/delete"] button`)
	d.waitText(`.outcome.ok`, "User deleted")
	if rows := d.eval(`document.querySelectorAll('tr[data-user=grace]').length`); rows != "0" {
		t.Errorf("the deleted user is still listed (%s rows)", rows)
	}

	// The audit log: what was done here, filtered by action.
	d.follow(`nav a[href="/admin/audit"]`)
	d.do(chromedp.WaitVisible(chromedp.CSS(`table.audit`)),
		chromedp.SetValue(chromedp.CSS(`select[name=action]`), eye.ActionUserDelete))
	d.follow(`.filters button[type=submit]`)
	if loc := d.location(); !strings.Contains(loc, "action=user.delete") {
		t.Errorf("the audit log's address lacks its filter: %s", loc)
	}
	if cells := d.eval(`Array.from(document.querySelectorAll('table.audit tbody tr td:nth-child(3)')).map(td => td.textContent)`); cells != `["user.delete"]` {
		t.Errorf("audit entries filtered by user.delete: %s", cells)
	}
	d.waitText(`table.audit`, userName)
	d.shot("audit")

	// Log out.
	d.follow(`.account button`)
	d.do(chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	d.waitText(`.outcome.ok`, "logged out")

	d.close()
}

// newDriver starts Chromium, and records what goes wrong in its tab.
func newDriver(t *testing.T, exe, base string) *driver {
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1366, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	tctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	// The screenshots go to the test's temporary directory, or to
	// EYE_TEST_SCREENSHOTS, to look at them after the test.
	dir := t.TempDir()
	if keep := os.Getenv("EYE_TEST_SCREENSHOTS"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		dir = keep
	}
	d := &driver{t: t, ctx: tctx, base: base, dir: dir}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			d.problem("script error: " + msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				d.problem("console.error: " + strings.Join(args, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				d.problem("logged: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			// A page left while a request runs (the live stream) cancels it.
			if !ev.Canceled {
				d.problem("request failed: " + ev.ErrorText + " (" + string(ev.Type) + ")")
			}
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				d.problem(fmt.Sprintf("answer %d to %s", ev.Response.Status, ev.Response.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	// Accept the pages' confirmations ("Discard …?", "Revoke …?").
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return d
}

func (d *driver) problem(msg string) {
	d.mu.Lock()
	d.problems = append(d.problems, msg)
	d.mu.Unlock()
}

// seen is what went wrong so far, for failure messages.
func (d *driver) seen() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.problems, "; ")
}

// do runs actions, failing the test at once on an error.
func (d *driver) do(steps ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, steps...); err != nil {
		d.t.Fatalf("at %s: %v (problems so far: %s)", d.location(), err, d.seen())
	}
}

// open loads a page of the UI, which must answer 200.
func (d *driver) open(path string) {
	d.t.Helper()
	res, err := chromedp.RunResponse(d.ctx, chromedp.Navigate(d.base+path))
	if err != nil || res.Status != http.StatusOK {
		d.t.Fatalf("open %s: %v %v (problems so far: %s)", path, res, err, d.seen())
	}
}

// follow clicks a link or a button, and waits for the page it leads to,
// which must answer 200.
func (d *driver) follow(sel string) {
	d.t.Helper()
	res, err := chromedp.RunResponse(d.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil || res.Status != http.StatusOK {
		status := 0
		if res != nil {
			status = int(res.Status)
		}
		d.t.Fatalf("follow %s at %s: %d %v (problems so far: %s)", sel, d.location(), status, err, d.seen())
	}
}

// location is the address of the tab's page.
func (d *driver) location() string {
	loc, _ := chromedp.Run(d.ctx, chromedp.Location())
	return loc
}

// text is the text of an element.
func (d *driver) text(sel string) string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		d.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// waitText waits until an element's text holds want.
func (d *driver) waitText(sel, want string) {
	d.t.Helper()
	q, _ := json.Marshal(sel)
	w, _ := json.Marshal(want)
	expr := fmt.Sprintf(`(document.querySelector(%s) || {textContent: ""}).textContent.includes(%s)`, q, w)
	// A page still loading (after a redirect) may drop the poll: poll again.
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err = chromedp.Run(d.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)))); err == nil {
			return
		}
	}
	if err != nil {
		got, _ := chromedp.Run(d.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s) || {textContent: "(none)"}).textContent`, q)))
		d.t.Fatalf("at %s: %s never held %q; it holds %q (problems so far: %s)", d.location(), sel, want, got, d.seen())
	}
}

// eval evaluates an expression and returns its value as JSON.
func (d *driver) eval(expr string) string {
	d.t.Helper()
	b, err := chromedp.Run(d.ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		d.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return string(b)
}

// shot saves a screenshot of the whole page in the test's directory.
func (d *driver) shot(name string) {
	d.t.Helper()
	d.save(filepath.Join(d.dir, name+".png"), true)
}

// save writes a PNG screenshot of the page, or of the window.
func (d *driver) save(path string, full bool) {
	d.t.Helper()
	var img []byte
	var err error
	if full {
		img, err = chromedp.Run(d.ctx, chromedp.FullScreenshot(100))
	} else {
		img, err = chromedp.Run(d.ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		d.t.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.WriteFile(path, img, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// close ends the browser and fails the test with what went wrong in it.
func (d *driver) close() {
	d.t.Helper()
	_ = chromedp.Cancel(d.ctx)
	d.t.Logf("screenshots in %s", d.dir)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.problems {
		d.t.Error(p)
	}
}

// sendWith posts an event with a key and returns the status.
func (e *env) sendWith(key string, ev map[string]any) int {
	e.t.Helper()
	b, _ := json.Marshal(ev)
	req, _ := http.NewRequest("POST", e.srv.URL+"/events/", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// liveTraffic sends events of the sample's applications through the API,
// as the dashboard's live tail shows them: one, or a dozen for the README.
func (e *env) liveTraffic(s sample, many bool) {
	ctx := context.Background()
	keys := map[string]string{}
	for _, name := range []string{"web shop", "mobile app"} {
		secret, key := api.NewSecret()
		key.Scopes, key.ApplicationID, key.Label = []string{eye.ScopeIngest}, s.apps[name], "sample"
		if err := e.store.CreateKey(ctx, key); err != nil {
			e.t.Error(err)
			return
		}
		keys[name] = secret
	}
	if err := e.keys.Refresh(ctx); err != nil {
		e.t.Error(err)
		return
	}
	session, phone := eye.NewID(), eye.NewID()
	steps := []struct {
		app  string
		ev   map[string]any
		wait time.Duration
	}{
		{"web shop", pageview(session), 0},
	}
	if many {
		at := func(d time.Duration) string { return eye.FormatTime(time.Now().Add(-d)) }
		steps = []struct {
			app  string
			ev   map[string]any
			wait time.Duration
		}{
			{"web shop", map[string]any{"session_id": session, "category": "page interaction", "name": "pageview", "timestamp": at(2 * time.Second),
				"data": map[string]any{"host": "www.example.com", "path": "/", "referrer": "https://www.google.com/"}}, 0},
			{"mobile app", map[string]any{"session_id": phone, "category": "app", "name": "launch", "timestamp": at(time.Second),
				"data": map[string]any{"os": "iOS 18.2", "version": "4.12.0"}}, 300 * time.Millisecond},
			{"web shop", map[string]any{"session_id": session, "category": "page interaction", "name": "pageview", "timestamp": at(time.Second),
				"data": map[string]any{"host": "www.example.com", "path": "/shoes"}}, 400 * time.Millisecond},
			{"mobile app", map[string]any{"session_id": phone, "category": "app", "name": "screen view", "timestamp": at(time.Second),
				"data": map[string]any{"screen": "search"}}, 300 * time.Millisecond},
			{"web shop", map[string]any{"session_id": session, "category": "page interaction", "name": "cta click", "timestamp": at(time.Second),
				"data": map[string]any{"host": "www.example.com", "path": "/shoes", "element": "size guide"}}, 400 * time.Millisecond},
			{"web shop", map[string]any{"session_id": session, "category": "commerce", "name": "add to cart", "timestamp": at(time.Second),
				"data": map[string]any{"sku": "TR-2-42", "quantity": 0, "price": 129.9}}, 300 * time.Millisecond},
			{"mobile app", map[string]any{"session_id": phone, "category": "app", "name": "screen view", "timestamp": at(time.Second),
				"data": map[string]any{"screen": "product"}}, 300 * time.Millisecond},
			{"web shop", map[string]any{"session_id": session, "category": "commerce", "name": "add to cart", "timestamp": at(time.Second),
				"data": map[string]any{"sku": "TR-2-42", "quantity": 1, "price": 129.9}}, 400 * time.Millisecond},
			{"web shop", map[string]any{"session_id": session, "category": "page interaction", "name": "pageview", "timestamp": at(time.Second),
				"data": map[string]any{"host": "www.example.com", "path": "/cart"}}, 300 * time.Millisecond},
			{"mobile app", map[string]any{"session_id": phone, "category": "commerce", "name": "add to cart", "timestamp": at(time.Second),
				"data": map[string]any{"sku": "BG-CITY-S", "quantity": 1, "price": 59.9}}, 300 * time.Millisecond},
		}
	}
	for _, st := range steps {
		time.Sleep(st.wait)
		if status := e.sendWith(keys[st.app], st.ev); status != http.StatusAccepted {
			e.t.Errorf("live event: %d", status)
		}
	}
}
