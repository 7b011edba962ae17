package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzNo500 sends arbitrary bodies, paths and query strings through the
// real stack: nothing may answer 500 (or anything outside the documented
// statuses), and every error must be a problem document. Its seeds run
// with go test; go test -fuzz FuzzNo500 ./internal/api/ explores further.
func FuzzNo500(f *testing.F) {
	seeds := []struct{ method, path, query, ctype, body string }{
		{"POST", "/events/", "", "application/json", `{"session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423"}`},
		{"POST", "/events/", "", "application/json", "{\"a\": \"\xff\xfe\"}"},
		{"POST", "/events/", "", "application/json", `{"event_id": {"x": 1}, "data": [}`},
		{"POST", "/events/batch/", "", "application/x-ndjson", "{}\n\x00\n[1]"},
		{"POST", "/events/batch/", "", "application/json", `[[[[[[[[[]]]]]]]]]`},
		{"POST", "/sessions/", "", "application/json; charset=utf-8", `{"id": 1}`},
		{"PATCH", "/events/e2085be5-9137-4e4e-80b5-f1ffddc25423/", "", "application/merge-patch+json", `{"data": null}`},
		{"GET", "/events/", "session=%zz&limit=-1", "", ""},
		{"GET", "/events/", "cursor=AWUB0u7S4-X02wUFCA&order=asc", "", ""},
		{"GET", "/errors/", "received__gte=2021-01-01T00:00:00 01:00&code=x", "", ""},
		{"GET", "/sessions/%2e%2e/events/", "", "", ""},
		{"DELETE", "/events/../sessions/", "", "", ""},
		{"OPTIONS", "/events/", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.ctype, []byte(s.body))
	}
	e := newEnv(f)
	allowed := map[int]bool{200: true, 201: true, 202: true, 204: true, 400: true, 401: true, 403: true, 404: true,
		405: true, 413: true, 415: true, 422: true}
	f.Fuzz(func(t *testing.T, method, path, query, ctype string, body []byte) {
		e.t = t
		if !validMethod(method) || !strings.HasPrefix(path, "/") {
			return
		}
		u := e.srv.URL + (&url.URL{Path: path}).EscapedPath()
		if query != "" {
			u += "?" + url.PathEscape(query)
		}
		req, err := http.NewRequest(method, u, strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+adminKey)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := e.srv.Client().Do(req)
		if err != nil {
			return
		}
		res.Body.Close()
		if !allowed[res.StatusCode] {
			t.Fatalf("%s %s?%s (%s) %q: status %d", method, path, query, ctype, body, res.StatusCode)
		}
		if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s: %d without a problem document", method, path, res.StatusCode)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}
