package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/theeye/eye"
)

const (
	pageviewSchema = `{"type": "object", "required": ["host", "path"],
		"properties": {"host": {"type": "string"}, "path": {"type": "string"}}}`
	formSchema = `{"type": "object", "required": ["host", "path", "form"],
		"properties": {"form": {"type": "object", "required": ["first_name", "email"],
			"properties": {"first_name": {"type": "string", "minLength": 2}}}}}`
)

func schemaURL(category, name string) string {
	return "/schemas/" + url.PathEscape(category) + "/" + url.PathEscape(name) + "/"
}

func TestSchemas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := schemaURL("page interaction", "pageview")
	if !strings.Contains(path, "page%20interaction") {
		t.Fatalf("path %s", path)
	}
	wantProblem(t, e.admin("GET", path, nil), 404, "not_found")
	res := e.admin("PUT", path, pageviewSchema)
	if res.status != 201 || res.json(t)["version"] != float64(1) || res.header.Get("Location") != path+"versions/1/" {
		t.Fatalf("PUT: %d %s %v", res.status, res.body, res.header)
	}
	p := wantProblem(t, e.admin("PUT", path, `{"type": "nope"}`), 400, "invalid_schema")
	if !strings.Contains(p["detail"].(string), "type") {
		t.Errorf("compiler's message missing: %v", p["detail"])
	}
	wantProblem(t, e.admin("PUT", path, `{"$ref": "file:///etc/passwd"}`), 400, "invalid_schema")
	wantProblem(t, e.admin("PUT", path, `{"type": `), 400, "invalid_schema")
	wantProblem(t, e.admin("PUT", schemaURL(strings.Repeat("c", 51), "n"), `{}`), 400, "invalid")
	res = e.admin("PUT", path, `{"type": "object", "required": ["host"]}`)
	if res.json(t)["version"] != float64(2) {
		t.Errorf("second PUT: %s", res.body)
	}
	got := e.admin("GET", path, nil).json(t)
	if got["version"] != float64(2) || got["active"] != true || len(got["versions"].([]any)) != 2 ||
		fmt.Sprint(got["schema"]) != "map[required:[host] type:object]" {
		t.Errorf("GET: %v", got)
	}
	v1 := e.admin("GET", path+"versions/1/", nil).json(t)
	if v1["version"] != float64(1) || v1["active"] != false || v1["schema"] == nil {
		t.Errorf("version 1: %v", v1)
	}
	wantProblem(t, e.admin("GET", path+"versions/3/", nil), 404, "not_found")
	wantProblem(t, e.admin("GET", path+"versions/x/", nil), 404, "not_found")
	list := e.admin("GET", "/schemas/", nil).json(t)["results"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["version"] != float64(2) || list[0].(map[string]any)["schema"] != nil {
		t.Errorf("list: %v", list)
	}

	// Events are checked against the latest version, and record it.
	session := eye.NewID()
	ok := e.accepted(pageview(session))
	if ev := e.waitFound("/events/" + ok + "/"); ev["schema_version"] != float64(2) {
		t.Errorf("schema_version %v", ev["schema_version"])
	}
	bad := pageview(session)
	bad["data"] = map[string]any{"path": "/"}
	badID := e.accepted(bad)
	rec := e.waitFound("/errors/" + badID + "/")
	r0 := rec["reasons"].([]any)[0].(map[string]any)
	if len(rec["reasons"].([]any)) != 1 || r0["code"] != "schema_violation" || r0["field"] != "/host" || r0["keyword"] != "required" {
		t.Errorf("schema violation %v", rec)
	}

	// DELETE stops checking (history kept); a type without a schema passes.
	if res := e.admin("DELETE", path, nil); res.status != 204 {
		t.Fatalf("DELETE: %d", res.status)
	}
	wantProblem(t, e.admin("DELETE", path, nil), 404, "not_found")
	if got := e.admin("GET", path, nil).json(t); got["active"] != false {
		t.Errorf("after DELETE: %v", got)
	}
	id := e.accepted(bad)
	if ev := e.waitFound("/events/" + id + "/"); ev["schema_version"] != nil {
		t.Errorf("checked after DELETE: %v", ev)
	}

	// Corrections are checked against the schema too.
	e.admin("PUT", path, pageviewSchema)
	p = wantProblem(t, e.admin("PATCH", "/events/"+ok+"/", `{"data": {"host": null}}`), 422, "unprocessable")
	if errs := p["errors"].([]any); errs[0].(map[string]any)["field"] != "/host" {
		t.Errorf("PATCH reasons %v", errs)
	}

	// The tracking plan against reality.
	e.admin("PUT", schemaURL("form interaction", "submit"), formSchema)
	types := e.admin("GET", "/event-types/", nil).json(t)["results"].([]any)
	byName := map[string]map[string]any{}
	for _, x := range types {
		m := x.(map[string]any)
		byName[m["name"].(string)] = m
	}
	pv := byName["pageview"]
	if pv["events"] != float64(2) || pv["errors"] != float64(1) || pv["schema_version"] != float64(3) || pv["first_seen"] == nil {
		t.Errorf("pageview type %v", pv)
	}
	if sub := byName["submit"]; sub["events"] != float64(0) || sub["schema_version"] != float64(1) || sub["first_seen"] != nil {
		t.Errorf("planned submit type %v", sub)
	}
}

// TestReplay: events fail against a too-strict schema, the schema is fixed,
// POST /errors/replay/ turns them into events, and a second replay changes
// nothing.
func TestReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := schemaURL("page interaction", "pageview")
	strict := `{"type": "object", "required": ["host", "path", "referrer"]}`
	e.admin("PUT", path, strict)
	session := eye.NewID()
	var failing []string
	for i := range 250 {
		ev := pageview(session)
		ev["timestamp"] = fmt.Sprintf("2021-01-01T09:%02d:%02dZ", i/60, i%60)
		ev["event_id"] = fmt.Sprintf("pv-%d", i)
		failing = append(failing, e.accepted(ev))
	}
	hopeless := pageview(session)
	hopeless["data"] = map[string]any{}
	hopelessID := e.accepted(hopeless)
	discarded := pageview(session)
	discarded["event_id"] = "discard-me"
	discardedID := e.accepted(discarded)
	e.wait("/errors/?limit=1000&session="+session, func(r response) bool {
		return len(r.json(t)["results"].([]any)) == 252
	})
	if res := e.admin("DELETE", "/errors/"+discardedID+"/", nil); res.status != 204 {
		t.Fatalf("discard: %d", res.status)
	}
	if rec := e.waitFound("/errors/" + discardedID + "/"); rec["status"] != "discarded" {
		t.Errorf("discarded: %v", rec)
	}

	// One replay while still too strict: 422, the record stays open.
	p := wantProblem(t, e.admin("POST", "/errors/"+failing[0]+"/replay/", nil), 422, "unprocessable")
	if p["errors"].([]any)[0].(map[string]any)["field"] != "/referrer" {
		t.Errorf("still invalid: %v", p)
	}

	e.admin("PUT", path, pageviewSchema)
	res := e.admin("POST", "/errors/replay/?session="+session, nil)
	if res.status != 202 {
		t.Fatalf("bulk replay: %d %s", res.status, res.body)
	}
	job := res.json(t)
	if job["status"] != "running" || job["filter"].(map[string]any)["status"] != "open" || res.header.Get("Location") != "/jobs/"+job["id"].(string)+"/" {
		t.Errorf("job %v %v", job, res.header)
	}
	done := e.wait("/jobs/"+job["id"].(string)+"/", func(r response) bool { return r.json(t)["status"] != "running" }).json(t)
	if done["status"] != "done" || done["replayed"] != float64(250) || done["still_invalid"] != float64(1) {
		t.Errorf("job %v", done)
	}
	// Each became the event of its id, in its session, with its own time.
	ev := e.waitFound("/events/" + failing[7] + "/")
	if ev["event_id"] != "pv-7" || ev["timestamp"] != "2021-01-01T09:00:07.000000Z" || ev["schema_version"] != float64(2) {
		t.Errorf("replayed event %v", ev)
	}
	rec := e.waitFound("/errors/" + failing[7] + "/")
	if rec["status"] != "replayed" || rec["replayed_as"] != failing[7] {
		t.Errorf("replayed record %v", rec)
	}
	if rec := e.waitFound("/errors/" + hopelessID + "/"); rec["status"] != "open" {
		t.Errorf("hopeless record %v", rec)
	}
	if rec := e.waitFound("/errors/" + discardedID + "/"); rec["status"] != "discarded" {
		t.Errorf("a discarded record was replayed: %v", rec)
	}
	count := func() float64 { return e.waitFound("/sessions/" + session + "/")["event_count"].(float64) }
	if n := count(); n != 250 {
		t.Errorf("event_count %v after replay", n)
	}

	// A second replay changes nothing.
	res = e.admin("POST", "/errors/replay/?session="+session, nil)
	again := e.wait("/jobs/"+res.json(t)["id"].(string)+"/", func(r response) bool { return r.json(t)["status"] != "running" }).json(t)
	if again["replayed"] != float64(0) || again["still_invalid"] != float64(1) {
		t.Errorf("second job %v", again)
	}
	res = e.admin("POST", "/errors/"+failing[3]+"/replay/", nil)
	if res.status != 200 || res.json(t)["id"] != failing[3] {
		t.Errorf("replay of a replayed record: %d %s", res.status, res.body)
	}
	if n := count(); n != 250 {
		t.Errorf("event_count %v after replaying again", n)
	}
	// Status filters.
	for status, want := range map[string]int{"open": 1, "replayed": 250, "discarded": 1} {
		list := e.admin("GET", "/errors/?limit=1000&status="+status+"&session="+session, nil).json(t)["results"].([]any)
		if len(list) != want {
			t.Errorf("status=%s: %d records, want %d", status, len(list), want)
		}
	}
	wantProblem(t, e.admin("GET", "/errors/?status=lost", nil), 400, "invalid_parameter")
	wantProblem(t, e.admin("POST", "/errors/replay/?status=lost", nil), 400, "invalid_parameter")
	wantProblem(t, e.admin("GET", "/jobs/"+eye.NewID()+"/", nil), 404, "not_found")
	wantProblem(t, e.admin("POST", "/errors/"+eye.NewID()+"/replay/", nil), 404, "not_found")
	wantProblem(t, e.admin("DELETE", "/errors/"+eye.NewID()+"/", nil), 404, "not_found")

	// A single replay of an explicitly chosen discarded record works.
	res = e.admin("POST", "/errors/"+discardedID+"/replay/", nil)
	if res.status != 200 {
		t.Errorf("replay of a discarded record: %d %s", res.status, res.body)
	}
	if n := count(); n != 251 {
		t.Errorf("event_count %v", n)
	}
}
