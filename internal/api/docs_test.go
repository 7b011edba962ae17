package api_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestDocsServed checks the interactive documentation's files: the page at
// /docs/ (with or without its slash), its own initializer pointing at this
// server's document, Swagger UI's files from the binary, and nothing else.
func TestDocsServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []string{"/docs/", "/docs", "/docs/index.html"} {
		res := e.do("GET", p, "", nil)
		if res.status != 200 || res.header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: %d %s", p, res.status, res.header.Get("Content-Type"))
		}
		page := string(res.body)
		for _, want := range []string{`src="/docs/swagger-ui-bundle.js"`, `src="/docs/swagger-initializer.js"`, `href="/docs/swagger-ui.css"`} {
			if !strings.Contains(page, want) {
				t.Errorf("GET %s: no %s in the page", p, want)
			}
		}
		// Nothing from elsewhere, and no inline script.
		if strings.Contains(page, "//") || strings.Contains(page, "<script>") {
			t.Errorf("GET %s: the page refers to another site or has an inline script:\n%s", p, page)
		}
	}
	res := e.do("GET", "/docs/swagger-initializer.js", "", nil)
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(string(res.body), `url: "/openapi.json"`) || !strings.Contains(string(res.body), "validatorUrl: null") {
		t.Errorf("GET /docs/swagger-initializer.js: %d %s\n%s", res.status, res.header.Get("Content-Type"), res.body)
	}
	for file, media := range map[string]string{
		"swagger-ui-bundle.js":            "javascript",
		"swagger-ui-standalone-preset.js": "javascript",
		"swagger-ui.css":                  "text/css",
		"favicon-32x32.png":               "image/png",
	} {
		res := e.do("GET", "/docs/"+file, "", nil)
		if res.status != 200 || !strings.Contains(res.header.Get("Content-Type"), media) || len(res.body) < 500 {
			t.Errorf("GET /docs/%s: %d %s, %d bytes", file, res.status, res.header.Get("Content-Type"), len(res.body))
		}
	}
	if res := e.do("GET", "/docs/swagger-ui-bundle.js", "", nil); !strings.Contains(string(res.body), "SwaggerUIBundle") {
		t.Error("/docs/swagger-ui-bundle.js is not Swagger UI")
	}
	wantProblem(t, e.do("GET", "/docs/nothing.js", "", nil), 404, "not_found")
	wantProblem(t, e.do("GET", "/docs/a/swagger-ui.css", "", nil), 404, "not_found")
	wantProblem(t, e.do("POST", "/docs/", "", "{}"), 405, "method_not_allowed")
}

// chromium returns the path of a Chromium to drive, or skips the test.
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
	t.Skip("no Chromium: install the Debian package chromium (apt-get install -y chromium; CI does) to test /docs/ in a browser")
	return ""
}

// headless returns the context of a new headless Chromium, the function
// that closes it (at the latest when the test ends) and the path of its
// program, or skips the test without Chromium.
func headless(t *testing.T) (context.Context, context.CancelFunc, string) {
	t.Helper()
	exe := chromium(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	return ctx, cancel, exe
}

// TestDocsInBrowser loads /docs/ in headless Chromium: Swagger UI must
// list every documented operation, load nothing from another site, and
// "Try it out" must send an event with a key given to Authorize.
func TestDocsInBrowser(t *testing.T) {
	t.Parallel()
	ctx, cancel, exe := headless(t)
	e := newEnv(t)
	doc := loadDocument(t)

	// Every request the page makes, every script error, and every error
	// the browser logs (a blocked load, a breach of the page's policy).
	var mu sync.Mutex
	var requested, exceptions, logged []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requested = append(requested, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
			exceptions = append(exceptions, msg)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				logged = append(logged, ev.Entry.Text+" "+ev.Entry.URL)
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
	tctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
	defer cancelTimeout()
	// seen says what the browser met, for the messages of failures.
	seen := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("script errors %v; errors logged %v; requests %v", exceptions, logged, requested)
	}

	err = chromedp.Do(tctx,
		chromedp.Navigate(e.srv.URL+"/docs/"),
		chromedp.WaitVisible(chromedp.CSS(`#operations-events-listEvents`)),
	)
	if err != nil {
		t.Fatalf("load /docs/: %v (%s)", err, seen())
	}
	operations, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.opblock-summary')).map(s =>
		s.querySelector('.opblock-summary-method').textContent + ' ' +
		s.querySelector('.opblock-summary-path').getAttribute('data-path'))`))
	if err != nil {
		t.Fatalf("read the operations: %v", err)
	}
	var want []string
	for p, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			want = append(want, method+" "+p)
		}
	}
	slices.Sort(want)
	slices.Sort(operations)
	if !slices.Equal(operations, want) {
		t.Errorf("the page lists the operations\n%v\nwant\n%v", operations, want)
	}
	for _, op := range []string{"POST /events/", "GET /errors/"} {
		if !slices.Contains(operations, op) {
			t.Errorf("the page does not list %s", op)
		}
	}

	// Authorize with the key, then try POST /events/ with its first
	// example, the pageview.
	const op = `#operations-ingest-postEvent`
	err = chromedp.Do(tctx,
		chromedp.Click(chromedp.CSS(`.auth-wrapper .btn.authorize`)),
		chromedp.SendKeys(chromedp.ID(`auth-bearer-value`), adminKey),
		chromedp.Click(chromedp.CSS(`.auth-btn-wrapper .btn.authorize`)),
		chromedp.Click(chromedp.CSS(`.btn-done`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.dialog-ux`)),
		chromedp.Click(chromedp.CSS(op+` .opblock-summary-control`)),
		chromedp.Click(chromedp.CSS(op+` .try-out__btn`)),
		chromedp.Click(chromedp.CSS(op+` .btn.execute`)),
		chromedp.WaitVisible(chromedp.CSS(op+` .live-responses-table .response .response-col_status`)),
	)
	if err != nil {
		t.Fatalf("try POST /events/: %v (%s)", err, seen())
	}
	status, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table .response .response-col_status`)))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table .response .response-col_description`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(status) != "202" || !strings.Contains(answer, `"accepted"`) {
		t.Errorf("try POST /events/ answered %q %q; want 202 accepted", status, answer)
	}
	cancel() // close the browser before reading what it did

	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("script errors: %v", exceptions)
	}
	if len(logged) > 0 {
		t.Errorf("the browser logged errors: %v", logged)
	}
	origin, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range requested {
		u, err := url.Parse(r)
		if err != nil || (u.Host != origin.Host && u.Scheme != "data") {
			t.Errorf("the page requested %s, not from the server", r)
		}
	}
	for _, want := range []string{"/docs/swagger-ui-bundle.js", "/openapi.json", "/events/"} {
		if !slices.ContainsFunc(requested, func(r string) bool { return strings.HasSuffix(r, want) }) {
			t.Errorf("the page did not request %s: %v", want, requested)
		}
	}
}
