package api_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/theeye/eye"
)

// sitePage is a page of a website that uses the tracker.
var sitePage = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>{{.Title}}</title>
<script src="{{.Eye}}/eye.js" data-key="{{.Key}}" defer></script>
</head><body>
<h1>{{.Title}}</h1>
<button id="signup" data-eye-click="sign up">Sign up</button>
<form id="contact" data-eye-form="contact" data-eye-values="first_name" action="/thanks" method="get">
<input name="first_name" id="first_name"><input name="email" id="email"><button id="send" type="submit">Send</button>
</form>
</body></html>`))

// site returns a website, on its own origin, whose pages load the tracker
// from The Eye with a browser key; it is not yet started (its URL is
// known: "http://" + its listener's address).
func site(t *testing.T, eyeURL string, key *string) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = sitePage.Execute(w, map[string]string{"Title": "Page " + r.URL.Path, "Eye": eyeURL, "Key": *key})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTrackerInBrowser opens, in headless Chromium, a website on another
// origin that loads /eye.js with a browser key: its pageviews (on load and
// on history navigation), a marked click, a marked form's submission and
// the next page's pageview arrive in order in the session's timeline. The
// same page on an origin the application does not allow gets its events
// refused.
func TestTrackerInBrowser(t *testing.T) {
	t.Parallel()
	ctx, _, exe := headless(t)
	e := newEnv(t)
	// The site's pages need the key, and the key's application needs the
	// site's origin: make the application, then start the sites.
	var key string
	allowed, other := site(t, e.srv.URL, &key), site(t, e.srv.URL, &key)
	res := e.admin("POST", "/applications/", map[string]any{"name": "site",
		"allowed_origins": []string{"http://" + allowed.Listener.Addr().String()}})
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	key, _ = e.createKey(res.json(t)["id"].(string), eye.ScopeBrowser)
	allowed.Start()
	other.Start()

	// The answers The Eye gave the pages, and their script errors.
	var mu sync.Mutex
	var answers, exceptions []string
	requests := map[network.RequestID]string{}
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if strings.HasPrefix(ev.Request.URL, e.srv.URL+"/events/") {
				requests[ev.RequestID] = ev.Request.URL
			}
		case *network.EventResponseReceived:
			if strings.HasPrefix(ev.Response.URL, e.srv.URL+"/events/") {
				answers = append(answers, fmt.Sprintf("%d %v", ev.Response.Status, ev.Response.Headers["Access-Control-Allow-Origin"]))
			}
		case *network.EventLoadingFailed:
			if _, ok := requests[ev.RequestID]; ok {
				answers = append(answers, fmt.Sprintf("failed %s %s", ev.ErrorText, ev.CorsErrorStatus))
			}
		case *runtime.EventExceptionThrown:
			exceptions = append(exceptions, ev.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	seen := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("answers %v; script errors %v", answers, exceptions)
	}
	pause := chromedp.Sleep(150 * time.Millisecond) // distinct timestamps, in the order of the steps
	sessionOf := func() string {
		t.Helper()
		id, err := chromedp.Run(tctx, chromedp.Evaluate[string](`window.eye.session()`))
		if err != nil {
			t.Fatalf("read the session: %v (%s)", err, seen())
		}
		return id
	}

	// On the allowed origin: load, click, navigate, submit the form.
	err = chromedp.Do(tctx,
		chromedp.Navigate(allowed.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("signup")),
		chromedp.Poll[chromedp.Void](`window.eye && window.eye.track`),
		pause,
		chromedp.Click(chromedp.ID("signup")),
		pause,
		chromedp.Evaluate[chromedp.Void](`history.pushState({}, "", "/pricing")`),
		pause,
		chromedp.SendKeys(chromedp.ID("first_name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("signup")),
		chromedp.Poll[chromedp.Void](`location.pathname == "/thanks" && window.eye && window.eye.track`),
	)
	if err != nil {
		t.Fatalf("use the site: %v (%s)", err, seen())
	}
	session := sessionOf()
	if err := chromedp.Do(tctx, chromedp.Evaluate[chromedp.Void](`window.eye.flush()`)); err != nil {
		t.Fatal(err)
	}
	got := e.waitEvents("/sessions/"+session+"/events/", 5)
	var steps []string
	for _, ev := range got {
		data := ev["data"].(map[string]any)
		steps = append(steps, fmt.Sprintf("%v %v %v", ev["name"], data["path"], data["element"]))
	}
	want := []string{"pageview / <nil>", "cta click / sign up", "pageview /pricing <nil>", "submit /pricing <nil>", "pageview /thanks <nil>"}
	if strings.Join(steps, "; ") != strings.Join(want, "; ") {
		t.Errorf("the session's timeline:\n%s\nwant\n%s\n(%s)", strings.Join(steps, "; "), strings.Join(want, "; "), seen())
	}
	if len(got) == 5 {
		form := got[3]["data"].(map[string]any)
		if fmt.Sprint(form["fields"]) != "[first_name email]" || fmt.Sprint(form["form"]) != "map[first_name:Ada]" || form["form_name"] != "contact" {
			t.Errorf("the form's event: %v (the values of fields not listed in data-eye-values must not be sent)", form)
		}
		if got[0]["application_id"] == eye.DefaultApplicationID {
			t.Errorf("stored under the default application: %v", got[0])
		}
	}

	// The same page on an origin the application does not allow.
	err = chromedp.Do(tctx,
		chromedp.Navigate(other.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("signup")),
		chromedp.Poll[chromedp.Void](`window.eye && window.eye.track`),
		chromedp.Click(chromedp.ID("signup")),
		chromedp.Evaluate[chromedp.Void](`window.eye.flush()`),
	)
	if err != nil {
		t.Fatalf("use the other site: %v (%s)", err, seen())
	}
	refused := sessionOf()
	// The browser sees an answer without Access-Control-Allow-Origin; The
	// Eye counts a 403.
	const forbidden = `eye_http_requests_total{method="POST",route="POST /events/batch",status="403"}`
	refusedSeen := func() bool {
		return strings.Contains(string(e.admin("GET", "/metrics", nil).body), forbidden) && strings.Contains(seen(), "MissingAllowOriginHeader")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !refusedSeen() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !refusedSeen() {
		t.Errorf("the other origin's events were not answered 403 without CORS headers (%s)", seen())
	}
	// What was accepted meanwhile is stored by now: nothing of that session.
	e.accepted(pageview(session))
	e.waitEvents("/sessions/"+session+"/events/", 6)
	if res := e.admin("GET", "/events/?session="+refused, nil); len(res.json(t)["results"].([]any)) != 0 {
		t.Errorf("events of a page on a refused origin were stored: %s", res.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("script errors: %v", exceptions)
	}
}
