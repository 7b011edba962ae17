package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProxies(t *testing.T) {
	p, err := ParseProxies("10.0.0.0/8, 127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseProxies("10.0.0.0/33"); err == nil {
		t.Error("a bad CIDR was accepted")
	}
	if _, err := ParseProxies("proxy.example.com"); err == nil {
		t.Error("a host name was accepted")
	}
	type seen struct {
		addr, host string
		secure     bool
		xff        string
	}
	var got seen
	h := p.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = seen{r.RemoteAddr, r.Host, Secure(r), r.Header.Get("X-Forwarded-For")}
	}))
	for _, c := range []struct {
		name  string
		peer  string
		xff   []string
		proto string
		host  string
		want  seen
	}{
		{"direct client: headers dropped", "203.0.113.9:5000", []string{"1.2.3.4"}, "https", "evil.example",
			seen{"203.0.113.9:5000", "eye.example", false, ""}},
		{"through a trusted proxy", "10.1.2.3:443", []string{"198.51.100.7"}, "https", "events.example.com",
			seen{"198.51.100.7:0", "events.example.com", true, "198.51.100.7"}},
		{"a forged entry left of the real client is ignored", "10.1.2.3:443", []string{"1.1.1.1, 198.51.100.7"}, "http", "",
			seen{"198.51.100.7:0", "eye.example", false, "1.1.1.1, 198.51.100.7"}},
		{"two trusted proxies in a row", "127.0.0.1:80", []string{"198.51.100.7, 10.9.9.9"}, "", "",
			seen{"198.51.100.7:0", "eye.example", false, "198.51.100.7, 10.9.9.9"}},
		{"several headers", "10.1.2.3:443", []string{"1.1.1.1", "198.51.100.8"}, "", "",
			seen{"198.51.100.8:0", "eye.example", false, "1.1.1.1"}},
		{"garbage stops the walk", "10.1.2.3:443", []string{"198.51.100.7, nonsense, 10.0.0.5"}, "", "",
			seen{"10.0.0.5:0", "eye.example", false, "198.51.100.7, nonsense, 10.0.0.5"}},
		{"IPv6 proxy, host with a path refused", "[::1]:443", []string{"2001:db8::1"}, "", "a/b",
			seen{"[2001:db8::1]:0", "eye.example", false, "2001:db8::1"}},
	} {
		r := httptest.NewRequest("GET", "http://eye.example/events/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		if c.host != "" {
			r.Header.Set("X-Forwarded-Host", c.host)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}

	// No trusted proxies: nothing believed.
	var none Proxies
	r := httptest.NewRequest("GET", "http://eye.example/", nil)
	r.RemoteAddr = "10.1.2.3:443"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	r.Header.Set("X-Forwarded-Proto", "https")
	none.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RemoteAddr != "10.1.2.3:443" || Secure(r) || r.Header.Get("X-Forwarded-For") != "" {
			t.Errorf("without trusted proxies: %s secure=%v", r.RemoteAddr, Secure(r))
		}
	})).ServeHTTP(httptest.NewRecorder(), r)
}

// TestSecurityHeaders checks the headers of every kind of answer: JSON,
// problems, health, and the documentation page with its own policy.
func TestSecurityHeaders(t *testing.T) {
	s := New(Config{Keys: NewKeyring(nil, nil, StaticKey("eye_headers-test-key", "test", "read"))})
	for _, c := range []struct {
		path, csp string
	}{
		{"/healthz", apiPolicy},
		{"/nowhere", apiPolicy},
		{"/events/", apiPolicy}, // 401: no key
		{"/docs/", docsPolicy},
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
		h := w.Header()
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("Content-Security-Policy") != c.csp ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Request-Id") == "" {
			t.Errorf("GET %s (%d): headers %v", c.path, w.Code, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("GET %s over plain HTTP sets Strict-Transport-Security", c.path)
		}
	}
	r := httptest.NewRequest("GET", "https://eye.example/healthz", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no Strict-Transport-Security over TLS")
	}
}
