package api_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// accepted posts one event and returns its id.
func (e *env) accepted(ev any) string {
	e.t.Helper()
	res := e.admin("POST", "/events/", ev)
	if res.status != 202 {
		e.t.Fatalf("POST /events/: %d %s", res.status, res.body)
	}
	m := res.json(e.t)
	if m["status"] != "accepted" {
		e.t.Fatalf("POST /events/: %s", res.body)
	}
	return m["id"].(string)
}

func (e *env) waitEvents(path string, n int) []map[string]any {
	e.t.Helper()
	res := e.wait(path, func(r response) bool {
		return r.status == 200 && len(r.json(e.t)["results"].([]any)) >= n
	})
	var out []map[string]any
	for _, v := range res.json(e.t)["results"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func TestIngestAndRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	ev := pageview(session)
	ev["sent_at"] = "2021-01-01T09:15:28Z"
	ev["data"] = map[string]any{"host": "www.example.com", "path": "/", "n": 1.5}
	id := e.accepted(ev)
	got := e.waitFound("/events/" + id + "/")
	want := map[string]any{
		"id": id, "event_id": nil, "session_id": session, "application_id": "default",
		"category": "page interaction", "name": "pageview",
		"timestamp": "2021-01-01T09:15:27.243860Z", "sent_at": "2021-01-01T09:15:28.000000Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if fmt.Sprint(got["data"]) != "map[host:www.example.com n:1.5 path:/]" {
		t.Errorf("data = %v", got["data"])
	}
	recv, err := time.Parse(time.RFC3339, got["received_at"].(string))
	if err != nil || time.Since(recv) > time.Minute {
		t.Errorf("received_at = %v", got["received_at"])
	}
	if off := got["clock_offset_us"].(float64); off != float64(recv.Sub(time.Date(2021, 1, 1, 9, 15, 28, 0, time.UTC)).Microseconds()) {
		t.Errorf("clock_offset_us = %v", off)
	}

	// The reference's form: the session as an object, listed by session.
	ref := pageview("")
	delete(ref, "session_id")
	ref["session"] = map[string]any{"id": session}
	e.accepted(ref)
	list := e.waitEvents("/events/?session="+session, 2)
	if len(list) != 2 {
		t.Errorf("events of the session: %d", len(list))
	}
	ss := e.waitFound("/sessions/" + session + "/")
	if ss["event_count"] != float64(2) || ss["first_seen"] != "2021-01-01T09:15:27.243860Z" ||
		fmt.Sprint(ss["application_ids"]) != "[default]" {
		t.Errorf("session = %v", ss)
	}
}

func TestInvalidEventBecomesError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	ev := pageview(session)
	ev["timestamp"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	ev["data"] = map[string]any{}
	ev["event_id"] = "bad-1"
	id := e.accepted(ev)
	rec := e.waitFound("/errors/" + id + "/")
	if rec["session_id"] != session || rec["event_id"] != "bad-1" || rec["category"] != "page interaction" ||
		rec["payload_encoding"] != "json" || !strings.Contains(rec["message"].(string), "future") {
		t.Errorf("error record = %v", rec)
	}
	var got []string
	for _, r := range rec["reasons"].([]any) {
		got = append(got, r.(map[string]any)["code"].(string))
	}
	if !slices.Equal(got, []string{"empty_data", "future_timestamp"}) {
		t.Errorf("reasons %v", got)
	}
	// Found by its filters, and never as an event.
	for _, q := range []string{"code=future_timestamp", "code=empty_data", "session=" + session, "category=page%20interaction", "name=pageview"} {
		if list := e.waitEvents("/errors/?"+q, 1); list[0]["id"] != id {
			t.Errorf("/errors/?%s = %v", q, list)
		}
	}
	if res := e.admin("GET", "/errors/?code=missing_field", nil); len(res.json(t)["results"].([]any)) != 0 {
		t.Errorf("code filter matched another code: %s", res.body)
	}
	if res := e.admin("GET", "/events/"+id+"/", nil); res.status != 404 {
		t.Errorf("invalid event stored: %s", res.body)
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	a, b := pageview(session), pageview(session)
	b["timestamp"] = "2021-01-01T09:15:28Z"
	body := []any{a, 42, b, "x", nil}
	res := e.admin("POST", "/events/batch/", body)
	if res.status != 202 {
		t.Fatalf("batch: %d %s", res.status, res.body)
	}
	m := res.json(t)
	ids := m["ids"].([]any)
	if m["accepted"] != float64(2) || len(ids) != 5 || ids[0] == nil || ids[1] != nil || ids[2] == nil || ids[3] != nil || ids[4] != nil {
		t.Fatalf("batch answer %s", res.body)
	}
	errs := m["errors"].([]any)
	if len(errs) != 3 {
		t.Fatalf("errors %v", errs)
	}
	for _, x := range errs {
		rec := e.waitFound("/errors/" + x.(map[string]any)["error_id"].(string) + "/")
		if rec["reasons"].([]any)[0].(map[string]any)["code"] != "malformed_json" {
			t.Errorf("element error %v", rec)
		}
	}
	list := e.waitEvents("/sessions/"+session+"/events/", 2)
	if list[0]["id"] != ids[0] || list[1]["id"] != ids[2] {
		t.Errorf("session events %v", list)
	}

	// NDJSON, with a line that is not JSON and a blank line.
	nd := `{"session_id": "` + session + `", "category": "c", "name": "n", "data": {"a": 1}, "timestamp": "2021-01-01T09:15:29Z"}` +
		"\n\n{not json}\r\n" + `{"session_id": "` + session + `", "category": "c", "name": "n", "data": {"a": 2}, "timestamp": "2021-01-01T09:15:30Z"}`
	res = e.admin("POST", "/events/batch", nd, "Content-Type", "application/x-ndjson")
	m = res.json(t)
	if res.status != 202 || m["accepted"] != float64(2) || m["ids"].([]any)[1] != nil {
		t.Fatalf("ndjson: %d %s", res.status, res.body)
	}
	rec := e.waitFound("/errors/" + m["errors"].([]any)[0].(map[string]any)["error_id"].(string) + "/")
	if rec["payload"] != "{not json}" || rec["payload_encoding"] != "text" {
		t.Errorf("ndjson line error %v", rec)
	}
	e.waitEvents("/sessions/"+session+"/events/", 4)

	// An empty array is a batch of nothing.
	if res := e.admin("POST", "/events/batch/", []any{}); res.status != 202 || res.json(t)["accepted"] != float64(0) {
		t.Errorf("empty batch: %d %s", res.status, res.body)
	}
}

func TestEventIDDeduplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	ev := pageview(session)
	ev["event_id"] = "order-42-viewed"
	first := e.accepted(ev)
	second := e.accepted(ev)
	if first != second {
		t.Fatalf("ids %s and %s for one event_id", first, second)
	}
	// Through a batch too, and after it was stored.
	e.waitFound("/events/" + first + "/")
	res := e.admin("POST", "/events/batch/", []any{ev, ev})
	if ids := res.json(t)["ids"].([]any); ids[0] != first || ids[1] != first {
		t.Errorf("batch ids %v, want %s", ids, first)
	}
	// Another application's event_id is another event.
	time.Sleep(200 * time.Millisecond)
	ss := e.waitFound("/sessions/" + session + "/")
	if ss["event_count"] != float64(1) {
		t.Errorf("event_count %v, want 1", ss["event_count"])
	}
	if list := e.waitEvents("/events/?session="+session, 1); len(list) != 1 || list[0]["event_id"] != "order-42-viewed" {
		t.Errorf("events %v", list)
	}
}

func TestMintSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, body := range []any{nil, "", "{}"} {
		res := e.admin("POST", "/sessions/", body)
		if res.status != 201 {
			t.Fatalf("POST /sessions/ %v: %d %s", body, res.status, res.body)
		}
		m := res.json(t)
		id, ok := eye.ParseUUID(m["id"].(string))
		if !ok || m["event_count"] != float64(0) || res.header.Get("Location") != "/sessions/"+id+"/" {
			t.Errorf("POST /sessions/: %s %v", res.body, res.header)
		}
		ss := e.waitFound("/sessions/" + id + "/")
		if ss["first_seen"] != nil || ss["event_count"] != float64(0) {
			t.Errorf("minted session %v", ss)
		}
		e.accepted(pageview(id))
		e.wait("/sessions/"+id+"/", func(r response) bool { return r.json(t)["event_count"] == float64(1) })
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	var body []any
	// 25 events in an order unlike their timestamps, some sharing one.
	for i := range 25 {
		ev := pageview(session)
		ev["timestamp"] = fmt.Sprintf("2021-01-01T09:%02d:00Z", (i*7)%25/2)
		ev["data"] = map[string]any{"i": i}
		body = append(body, ev)
	}
	e.admin("POST", "/events/batch/", body)
	e.waitEvents("/events/?limit=1000&session="+session, 25)

	walk := func(path string) []string {
		var ids []string
		var last string
		for path != "" {
			res := e.admin("GET", path, nil)
			if res.status != 200 {
				t.Fatalf("GET %s: %d %s", path, res.status, res.body)
			}
			m := res.json(t)
			for _, r := range m["results"].([]any) {
				ev := r.(map[string]any)
				ids = append(ids, ev["id"].(string))
				if ts := ev["timestamp"].(string); last != "" && strings.HasSuffix(path, "asc") && ts < last {
					t.Errorf("out of order: %s after %s", ts, last)
				}
				last = ev["timestamp"].(string)
			}
			next, _ := m["next"].(string)
			path = ""
			if next != "" {
				u, err := url.Parse(next)
				if err != nil {
					t.Fatal(err)
				}
				path = u.RequestURI()
			}
		}
		return ids
	}
	all := walk("/sessions/" + session + "/events/?limit=100")
	for _, limit := range []int{1, 4, 7} {
		if got := walk(fmt.Sprintf("/sessions/%s/events/?limit=%d", session, limit)); !slices.Equal(got, all) {
			t.Errorf("limit %d: %d ids, different from one page", limit, len(got))
		}
		desc := walk(fmt.Sprintf("/events/?session=%s&limit=%d", session, limit))
		slices.Reverse(desc)
		if !slices.Equal(desc, all) {
			t.Errorf("newest first, limit %d: not the reverse", limit)
		}
	}
	if len(all) != 25 {
		t.Errorf("%d events", len(all))
	}
	// A cursor is for its own list and order.
	res := e.admin("GET", fmt.Sprintf("/sessions/%s/events/?limit=2", session), nil)
	next := res.json(t)["next"].(string)
	u, _ := url.Parse(next)
	cursor := u.Query().Get("cursor")
	wantProblem(t, e.admin("GET", "/events/?order=desc&cursor="+cursor, nil), 400, "invalid_parameter")
	wantProblem(t, e.admin("GET", "/errors/?cursor="+cursor, nil), 400, "invalid_parameter")
	wantProblem(t, e.admin("GET", "/events/?order=asc&cursor="+cursor[:len(cursor)-2], nil), 400, "invalid_parameter")
	if res := e.admin("GET", "/events/?order=asc&cursor="+cursor, nil); res.status != 200 {
		t.Errorf("cursor with the same order elsewhere: %d", res.status)
	}

	// Filters by time: bounds are inclusive, "+" in an offset may arrive as a space.
	list := e.waitEvents("/events/?session="+session+"&timestamp__gte=2021-01-01T09:05:00Z&timestamp__lte=2021-01-01T10:06:00%2B01:00", 1)
	for _, ev := range list {
		if ts := ev["timestamp"].(string); ts < "2021-01-01T09:05" || ts > "2021-01-01T09:06:00.000000Z" {
			t.Errorf("timestamp %s out of range", ts)
		}
	}
	if res := e.admin("GET", "/events/?timestamp__gte=2021-01-01T10:05:00+01:00", nil); res.status != 200 {
		t.Errorf("offset with a space: %d %s", res.status, res.body)
	}
}

func TestCorrections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session, other := eye.NewID(), eye.NewID()
	ev := pageview(session)
	ev["data"] = map[string]any{"host": "www.example.com", "path": "/", "form": map[string]any{"first_name": "John", "last_name": "Doe"}}
	id := e.accepted(ev)
	e.waitFound("/events/" + id + "/")

	// PATCH merges data member by member and changes only what it names.
	res := e.admin("PATCH", "/events/"+id+"/", `{"data": {"path": null, "form": {"first_name": "Jane"}}, "name": "renamed"}`,
		"Content-Type", "application/merge-patch+json")
	if res.status != 200 {
		t.Fatalf("PATCH: %d %s", res.status, res.body)
	}
	got := res.json(t)
	if fmt.Sprint(got["data"]) != "map[form:map[first_name:Jane last_name:Doe] host:www.example.com]" || got["name"] != "renamed" ||
		got["category"] != "page interaction" {
		t.Errorf("patched %v", got)
	}

	// Invalid corrections: 422 with every reason, nothing changed.
	res = e.admin("PATCH", "/events/"+id+"/", `{"data": "x", "timestamp": "2999-01-01T00:00:00Z", "id": "x"}`)
	p := wantProblem(t, res, 422, "unprocessable")
	if len(p["errors"].([]any)) != 3 {
		t.Errorf("422 reasons %v", p["errors"])
	}
	wantProblem(t, e.admin("PATCH", "/events/"+id+"/", `{"category": null}`), 422, "unprocessable")
	wantProblem(t, e.admin("PUT", "/events/"+id+"/", `{"category": "x"}`), 422, "unprocessable")

	// PUT replaces; moving the event to another session moves its count.
	put := pageview(other)
	put["timestamp"] = "2021-01-01T09:00:00Z"
	res = e.admin("PUT", "/events/"+id+"/", put)
	if res.status != 200 || res.json(t)["session_id"] != other {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	if ss := e.waitFound("/sessions/" + session + "/"); ss["event_count"] != float64(0) || ss["last_seen"] != nil {
		t.Errorf("old session %v", ss)
	}
	if ss := e.waitFound("/sessions/" + other + "/"); ss["event_count"] != float64(1) || ss["first_seen"] != "2021-01-01T09:00:00.000000Z" {
		t.Errorf("new session %v", ss)
	}
	// The reference's session form in a patch.
	res = e.admin("PATCH", "/events/"+id+"/", `{"session": {"id": "`+session+`"}}`)
	if res.status != 200 || res.json(t)["session_id"] != session {
		t.Errorf("PATCH session: %d %s", res.status, res.body)
	}

	if res := e.admin("DELETE", "/events/"+id+"/", nil); res.status != 204 || len(res.body) != 0 {
		t.Errorf("DELETE: %d %s", res.status, res.body)
	}
	wantProblem(t, e.admin("GET", "/events/"+id+"/", nil), 404, "not_found")
	if ss := e.waitFound("/sessions/" + session + "/"); ss["event_count"] != float64(0) {
		t.Errorf("session after delete %v", ss)
	}
}
