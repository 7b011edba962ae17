package admin_test

import (
	"context"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/theeye/eye"
)

// TestEventsPagination pages through the events explorer: 50 events a
// page, the next page's link keeps the filters, the last page links back
// to the first, and no event shows twice.
func TestEventsPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	session, other := eye.NewID(), eye.NewID()
	for range 55 {
		e.send(pageview(session))
	}
	e.waitEvent(e.send(pageview(other)))
	e.waitFor("55 events of the session", func() bool {
		n, err := e.store.CountEvents(context.Background(), eye.EventFilter{SessionID: session})
		return err == nil && n == 55
	})
	b := e.browser()
	b.loggedIn()
	ids := regexp.MustCompile(`href="/admin/events/([0-9a-f-]{36})"`)
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`)
	first := b.get("/admin/events?session=" + session + "&order=asc")
	one := ids.FindAllStringSubmatch(first.body, -1)
	if first.status != 200 || len(one) != 50 {
		t.Fatalf("the first page: %d, %d events", first.status, len(one))
	}
	m := next.FindStringSubmatch(first.body)
	if m == nil {
		t.Fatal("no next page")
	}
	link := html.UnescapeString(m[1])
	if !strings.Contains(link, "session="+session) || !strings.Contains(link, "order=asc") || !strings.Contains(link, "cursor=") {
		t.Errorf("the next page's link lost the filters: %s", link)
	}
	second := b.get(link)
	two := ids.FindAllStringSubmatch(second.body, -1)
	if second.status != 200 || len(two) != 5 || next.MatchString(second.body) || !strings.Contains(second.body, "First page") {
		t.Errorf("the second page: %d, %d events, next %v", second.status, len(two), next.MatchString(second.body))
	}
	seen := map[string]bool{}
	for _, m := range append(one, two...) {
		if seen[m[1]] {
			t.Errorf("event %s on two pages", m[1])
		}
		seen[m[1]] = true
	}
}
