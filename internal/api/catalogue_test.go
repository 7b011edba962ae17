package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// TestBadRequestCatalogue sends hostile and malformed requests: each gets
// its documented status, or is accepted and kept as an error record with
// the right code; never a 500, never a panic.
func TestBadRequestCatalogue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	// ev returns a valid event with one member replaced by raw JSON.
	ev := func(member, raw string) string {
		base := map[string]string{
			"session_id": `"` + session + `"`, "category": `"page interaction"`, "name": `"pageview"`,
			"data": `{"host": "www.example.com", "path": "/"}`, "timestamp": `"2021-01-01 09:15:27"`,
		}
		if raw == "" {
			delete(base, member)
		} else {
			base[member] = raw
		}
		var parts []string
		for k, v := range base {
			parts = append(parts, fmt.Sprintf("%q: %s", k, v))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	deep := strings.Repeat(`{"a": `, 40) + "1" + strings.Repeat("}", 40)
	tests := []struct {
		name         string
		method, path string
		ctype, body  string
		status       int
		code         string // the problem's code, or the error record's first reason's
	}{
		// Wrong types in every field: accepted, then kept as error records.
		{"session_id number", "POST", "/events/", "application/json", ev("session_id", `42`), 202, "invalid_session_id"},
		{"session_id object", "POST", "/events/", "application/json", ev("session_id", `{"id": 1}`), 202, "invalid_session_id"},
		{"session_id not a uuid", "POST", "/events/", "application/json", ev("session_id", `"1; DROP TABLE events"`), 202, "invalid_session_id"},
		{"category number", "POST", "/events/", "application/json", ev("category", `12345`), 202, "invalid_type"},
		{"category array", "POST", "/events/", "application/json", ev("category", `["a"]`), 202, "invalid_type"},
		{"category too long", "POST", "/events/", "application/json", ev("category", `"`+strings.Repeat("x", 5000)+`"`), 202, "too_long"},
		{"name bool", "POST", "/events/", "application/json", ev("name", `true`), 202, "invalid_type"},
		{"name missing", "POST", "/events/", "application/json", ev("name", ""), 202, "missing_field"},
		{"data string", "POST", "/events/", "application/json", ev("data", `"{}"`), 202, "data_not_object"},
		{"data null", "POST", "/events/", "application/json", ev("data", `null`), 202, "missing_field"},
		{"data nested too deep", "POST", "/events/", "application/json", ev("data", deep), 202, "too_deep"},
		{"timestamp number", "POST", "/events/", "application/json", ev("timestamp", `1609492527`), 202, "invalid_timestamp"},
		{"timestamp year 99999", "POST", "/events/", "application/json", ev("timestamp", `"99999-01-01T00:00:00Z"`), 202, "invalid_timestamp"},
		{"timestamp far future", "POST", "/events/", "application/json", ev("timestamp", `"9999-12-31T23:59:59Z"`), 202, "future_timestamp"},
		{"timestamp with NUL", "POST", "/events/", "application/json", ev("timestamp", `"2021-01-01\u0000"`), 202, "invalid_timestamp"},
		{"event_id object", "POST", "/events/", "application/json", ev("event_id", `{"k": 1}`), 202, "invalid_type"},
		{"sent_at bool", "POST", "/events/", "application/json", ev("sent_at", `false`), 202, "invalid_timestamp"},
		// Odd but valid: stored.
		{"huge number in data", "POST", "/events/", "application/json", ev("data", `{"n": 1e400, "m": 123456789012345678901234567890}`), 202, ""},
		{"NUL escape in data", "POST", "/events/", "application/json", ev("data", `{"s": "a\u0000b"}`), 202, ""},
		{"duplicate keys", "POST", "/events/", "application/json", `{"category": 1, ` + ev("data", `{"a": 1, "a": 2}`)[1:], 202, ""},
		{"invalid UTF-8 in data", "POST", "/events/", "application/json", ev("data", "{\"s\": \"\xff\xfe\"}"), 202, ""},
		{"unknown members", "POST", "/events/", "application/json", ev("__proto__", `{"x": 1}`), 202, ""},
		// Refused at once.
		{"raw NUL byte", "POST", "/events/", "application/json", "{\"a\": \"\x00\"}", 400, "malformed_json"},
		{"not JSON", "POST", "/events/", "application/json", `<xml/>`, 400, "malformed_json"},
		{"JSON number", "POST", "/events/", "application/json", `12`, 400, "malformed_json"},
		{"truncated", "POST", "/events/", "application/json", ev("data", `{}`)[:20], 400, "malformed_json"},
		{"10 MB body", "POST", "/events/", "application/json", `{"x": "` + strings.Repeat("a", 10<<20) + `"}`, 413, "too_large"},
		{"10 MB batch", "POST", "/events/batch/", "application/json", `["` + strings.Repeat("a", 10<<20) + `"]`, 413, "too_large"},
		{"text/plain", "POST", "/events/", "text/plain", ev("name", `"x"`), 415, "unsupported_media_type"},
		{"form", "POST", "/events/", "application/x-www-form-urlencoded", "a=b", 415, "unsupported_media_type"},
		{"xml", "POST", "/events/batch/", "application/xml", "<a/>", 415, "unsupported_media_type"},
		{"bad media type", "POST", "/events/", ";;;", ev("name", `"x"`), 415, "unsupported_media_type"},
		{"ndjson on single", "POST", "/events/", "application/x-ndjson", ev("name", `"x"`), 415, "unsupported_media_type"},
		// Paths and filters.
		{"path traversal", "GET", "/events/../../../etc/passwd", "", "", 404, "not_found"},
		{"encoded traversal", "GET", "/events/%2e%2e%2f%2e%2e%2fetc%2fpasswd/", "", "", 404, "not_found"},
		{"SQL in category", "GET", "/events/?category=%27%20OR%201%3D1%20--", "", "", 200, ""},
		{"SQL in name", "GET", "/events/?name=x%22%3B%20DROP%20TABLE%20events%3B", "", "", 200, ""},
		{"SQL in session", "GET", "/events/?session=%27%20OR%20%271%27%3D%271", "", "", 400, "invalid_parameter"},
		{"SQL in error code", "GET", "/errors/?code=%27%3B%20DELETE%20FROM%20errors%3B", "", "", 200, ""},
		{"unknown event id", "GET", "/events/" + eye.NewID() + "/", "", "", 404, "not_found"},
		{"id with SQL", "GET", "/events/1%27%20OR%201%3D1/", "", "", 404, "not_found"},
		{"unknown session", "GET", "/sessions/" + eye.NewID() + "/events/", "", "", 404, "not_found"},
		{"tampered cursor", "GET", "/events/?cursor=AWUB0u7S4-X02wUFCA%3D%3D", "", "", 400, "invalid_parameter"},
		{"cursor of garbage", "GET", "/events/?cursor=" + strings.Repeat("Z", 500), "", "", 400, "invalid_parameter"},
		{"limit huge", "GET", "/events/?limit=99999999999999999999", "", "", 400, "invalid_parameter"},
		{"limit negative", "GET", "/events/?limit=-5", "", "", 400, "invalid_parameter"},
		{"timestamp filter garbage", "GET", "/events/?timestamp__gte=%00", "", "", 400, "invalid_parameter"},
		{"bad percent encoding", "GET", "/events/?category=%zz", "", "", 400, "invalid_parameter"},
		{"unknown method", "BREW", "/events/", "", "", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			res := e.admin(tt.method, tt.path, body, "Content-Type", tt.ctype)
			if res.status != tt.status {
				t.Fatalf("%s %s: %d, want %d: %.300s", tt.method, tt.path, res.status, tt.status, res.body)
			}
			switch {
			case tt.status >= 400:
				wantProblem(t, res, tt.status, tt.code)
			case tt.status == 202:
				id := res.json(t)["id"].(string)
				if tt.code == "" {
					stored := e.wait("/events/"+id+"/", func(r response) bool { return r.status == 200 })
					if tt.name == "huge number in data" && !bytes.Contains(stored.body, []byte(`"n":1e400,"m":123456789012345678901234567890`)) {
						t.Errorf("numbers not kept as sent: %s", stored.body)
					}
					return
				}
				rec := e.waitFound("/errors/" + id + "/")
				if got := rec["reasons"].([]any)[0].(map[string]any)["code"]; got != tt.code {
					t.Errorf("error record code %v, want %s", got, tt.code)
				}
			}
		})
	}
}

// TestBatchKeepsValidNeighbours: hostile elements in a batch never cost
// their valid neighbours.
func TestBatchKeepsValidNeighbours(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	good := pageview(session)
	elems := []string{`null`, `"x"`, `[[[[]]]]`, `{"data": "\u0000"}`, `1e999`, `{}`, `true`}
	var body bytes.Buffer
	body.WriteString("[")
	for i, el := range elems {
		j := mustJSON(t, good)
		fmt.Fprintf(&body, "%s,%s", j, el)
		if i < len(elems)-1 {
			body.WriteString(",")
		}
	}
	body.WriteString("]")
	res := e.admin("POST", "/events/batch/", body.String())
	if res.status != 202 {
		t.Fatalf("batch: %d %s", res.status, res.body)
	}
	m := res.json(t)
	if m["accepted"] != float64(len(elems)+2) { // the good ones, and the two objects
		t.Errorf("accepted %v", m["accepted"])
	}
	e.wait("/sessions/"+session+"/", func(r response) bool {
		return r.status == 200 && r.json(t)["event_count"] == float64(len(elems))
	})
}

// TestSlowAndEndlessBodies: a body that comes too slowly, or never ends,
// is cut off by the server's read timeout, and answered without a 500.
func TestSlowAndEndlessBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A server like the service's, with a short read timeout.
	srv := &http.Server{Handler: e.api, ReadTimeout: 300 * time.Millisecond, ReadHeaderTimeout: 300 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	for _, req := range []string{
		// A chunked body without its end.
		"POST /events/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + adminKey + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n",
		// A body shorter than announced.
		"POST /events/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + adminKey + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\": 1",
		// Headers that never end.
		"POST /events/ HTTP/1.1\r\nHost: x\r\nX-Slow: ",
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(req))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		answer, _ := io.ReadAll(conn)
		conn.Close()
		if bytes.Contains(answer, []byte(" 500 ")) {
			t.Errorf("%q: answered %s", req[:30], answer)
		}
		if len(answer) > 0 && !bytes.HasPrefix(answer, []byte("HTTP/1.1 4")) {
			t.Errorf("%q: answered %.200s", req[:30], answer)
		}
	}
}
