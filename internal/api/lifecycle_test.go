package api_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/lifecycle"
)

// auditEntries returns the audit log's entries of an action, newest first.
func (e *env) auditEntries(action string) []map[string]any {
	e.t.Helper()
	res := e.admin("GET", "/audit/?limit=1000&action="+url.QueryEscape(action), nil)
	if res.status != 200 {
		e.t.Fatalf("GET /audit/: %d %s", res.status, res.body)
	}
	var out []map[string]any
	for _, v := range res.json(e.t)["results"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// waitJob polls a job until it is no longer running.
func (e *env) waitJob(id string) map[string]any {
	e.t.Helper()
	return e.wait("/jobs/"+id+"/", func(r response) bool { return r.status == 200 && r.json(e.t)["status"] != "running" }).json(e.t)
}

func TestDeleteSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session, other := eye.NewID(), eye.NewID()
	ids := []string{e.accepted(pageview(session)), e.accepted(pageview(session)), e.accepted(pageview(other))}
	bad := pageview(session)
	bad["data"] = map[string]any{}
	failed := e.accepted(bad)
	for _, id := range ids {
		e.waitFound("/events/" + id + "/")
	}
	e.waitFound("/errors/" + failed + "/")

	res := e.admin("DELETE", "/sessions/"+session+"/", nil)
	if res.status != 200 {
		t.Fatalf("DELETE: %d %s", res.status, res.body)
	}
	if got := res.json(t); got["session_id"] != session || got["events_deleted"] != float64(2) || got["errors_deleted"] != float64(1) {
		t.Errorf("DELETE answered %v", got)
	}
	wantProblem(t, e.admin("GET", "/sessions/"+session+"/", nil), 404, "not_found")
	wantProblem(t, e.admin("GET", "/events/"+ids[0]+"/", nil), 404, "not_found")
	wantProblem(t, e.admin("GET", "/errors/"+failed+"/", nil), 404, "not_found")
	e.waitFound("/events/" + ids[2] + "/")
	if types := e.admin("GET", "/event-types/", nil).json(t)["results"].([]any); len(types) != 1 ||
		types[0].(map[string]any)["events"] != float64(1) || types[0].(map[string]any)["errors"] != float64(0) {
		t.Errorf("event types after the erasure: %v", types)
	}
	wantProblem(t, e.admin("DELETE", "/sessions/"+session+"/", nil), 404, "not_found")
	wantProblem(t, e.admin("DELETE", "/sessions/not-a-uuid/", nil), 404, "not_found")
	wantProblem(t, e.admin("DELETE", "/sessions/"+other+"/?force=1", nil), 400, "invalid_parameter")

	entries := e.auditEntries(eye.ActionSessionDelete)
	if len(entries) != 1 || entries[0]["target"] != session || entries[0]["actor"] != "key:test" ||
		entries[0]["addr"] != "127.0.0.1" || fmt.Sprint(entries[0]["details"]) != "map[errors:1 events:2]" {
		t.Errorf("audit entries %v", entries)
	}
}

func TestDeleteEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	for i := range 250 {
		ev := pageview(session)
		ev["timestamp"] = time.Date(2021, 1, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339)
		if i%5 == 0 {
			ev["name"] = "click"
			ev["data"] = map[string]any{"host": "www.example.com", "path": "/pricing"}
		}
		e.admin("POST", "/events/", ev)
	}
	e.waitEvents("/events/?limit=1000", 250)

	wantProblem(t, e.admin("POST", "/events/delete/", nil), 400, "filter_required")
	wantProblem(t, e.admin("POST", "/events/delete/?order=asc&name=click", nil), 400, "invalid_parameter")
	wantProblem(t, e.admin("POST", "/events/delete/?dry_run=yes&name=click", nil), 400, "invalid_parameter")
	for query, want := range map[string]float64{"name=click": 50, "all=true": 250, "": 250, "data.path=/pricing": 50,
		"timestamp__lte=2021-01-01T00:00:09Z&name=pageview": 8, "session=" + eye.NewID(): 0} {
		res := e.admin("POST", "/events/delete/?dry_run=true&"+query, nil)
		if res.status != 200 || res.json(t)["matched"] != want {
			t.Errorf("dry run %q: %d %s; want %v", query, res.status, res.body, want)
		}
	}

	res := e.admin("POST", "/events/delete/?name=pageview&timestamp__gte=2021-01-01T00:01:00Z", nil)
	if res.status != 202 || res.header.Get("Location") == "" {
		t.Fatalf("POST /events/delete/: %d %s", res.status, res.body)
	}
	job := res.json(t)
	if job["kind"] != "delete" || job["matched"] != float64(152) ||
		fmt.Sprint(job["filter"]) != "map[name:pageview timestamp__gte:2021-01-01T00:01:00.000000Z]" {
		t.Errorf("job %v", job)
	}
	done := e.waitJob(job["id"].(string))
	if done["status"] != "done" || done["deleted"] != float64(152) || done["replayed"] != nil {
		t.Errorf("job at its end %v", done)
	}
	if ss := e.waitFound("/sessions/" + session + "/"); ss["event_count"] != float64(98) {
		t.Errorf("session after the deletion %v", ss)
	}

	res = e.admin("POST", `/events/delete/?data.path=%22%2Fpricing%22`, nil)
	if res.status != 202 {
		t.Fatalf("POST /events/delete/ by data: %d %s", res.status, res.body)
	}
	if done := e.waitJob(res.json(t)["id"].(string)); done["deleted"] != float64(50) || fmt.Sprint(done["filter"]) != "map[data.path:/pricing]" {
		t.Errorf("job by data %v", done)
	}
	res = e.admin("POST", "/events/delete/?all=true", nil)
	if done := e.waitJob(res.json(t)["id"].(string)); done["deleted"] != float64(48) {
		t.Errorf("job of all %v", done)
	}
	if ss := e.waitFound("/sessions/" + session + "/"); ss["event_count"] != float64(0) || ss["first_seen"] != nil {
		t.Errorf("session after every deletion %v", ss)
	}

	entries := e.auditEntries(eye.ActionEventsDeleteJob)
	if len(entries) != 6 {
		t.Fatalf("%d events.delete_job entries, want a start and an end for each of 3 jobs: %v", len(entries), entries)
	}
	start, end := entries[5], entries[4] // the first job's
	if start["target"] != job["id"] || fmt.Sprint(start["details"]) !=
		"map[filter:map[name:pageview timestamp__gte:2021-01-01T00:01:00.000000Z] matched:152 status:running]" {
		t.Errorf("start entry %v", start)
	}
	if end["target"] != job["id"] || fmt.Sprint(end["details"]) != "map[deleted:152 matched:152 status:done]" || end["actor"] != "key:test" {
		t.Errorf("end entry %v", end)
	}
}

// TestAuditLog checks that each admin action of the API is recorded,
// with who did it, and lists the log with its filters and pages.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	start := time.Now().UTC()
	app := e.admin("POST", "/applications/", map[string]any{"name": "shop"}).json(t)["id"].(string)
	e.admin("PATCH", "/applications/"+app+"/", map[string]any{"name": "web shop"})
	key := e.admin("POST", "/applications/"+app+"/keys/", map[string]any{"scopes": []string{"ingest"}, "label": "front"}).json(t)["id"].(string)
	e.admin("DELETE", "/applications/"+app+"/keys/"+key+"/", nil)
	e.admin("DELETE", "/applications/"+app+"/", nil)
	e.admin("PUT", "/schemas/page%20interaction/pageview/", map[string]any{"type": "object"})
	e.admin("DELETE", "/schemas/page%20interaction/pageview/", nil)
	id := e.accepted(pageview(eye.NewID()))
	e.waitFound("/events/" + id + "/")
	e.admin("PATCH", "/events/"+id+"/", map[string]any{"name": "renamed", "data": map[string]any{"x": 1}})
	e.admin("DELETE", "/events/"+id+"/", nil)
	bad := pageview(eye.NewID())
	bad["data"] = map[string]any{}
	failed := e.accepted(bad)
	e.waitFound("/errors/" + failed + "/")
	e.admin("POST", "/errors/"+failed+"/replay/", nil)
	e.admin("POST", "/errors/replay/?code=empty_data", nil)
	e.admin("DELETE", "/errors/"+failed+"/", nil)

	// A login of the admin UI is a key of the user's: the entry names the user.
	user := eye.User{ID: eye.NewID(), Name: "ada", PasswordHash: []byte("x"), CreatedAt: start}
	if err := e.store.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	secret, login := api.NewSecret()
	login.Scopes, login.UserID, login.ExpiresAt = []string{eye.ScopeAdmin}, user.ID, time.Now().Add(time.Hour)
	if err := e.store.CreateKey(ctx, login); err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if res := e.do("POST", "/applications/", secret, map[string]any{"name": "ada's"}); res.status != 201 {
		t.Fatalf("create an application with a login: %d %s", res.status, res.body)
	}

	want := []string{eye.ActionApplicationCreate, eye.ActionErrorDiscard, eye.ActionErrorsReplayJob, eye.ActionErrorReplay,
		eye.ActionEventDelete, eye.ActionEventUpdate, eye.ActionSchemaDelete, eye.ActionSchemaPut, eye.ActionApplicationDeactivate,
		eye.ActionKeyRevoke, eye.ActionKeyCreate, eye.ActionApplicationUpdate, eye.ActionApplicationCreate}
	var got []map[string]any
	next := "/audit/?limit=3"
	for next != "" {
		res := e.admin("GET", next, nil)
		if res.status != 200 {
			t.Fatalf("GET %s: %d %s", next, res.status, res.body)
		}
		page := res.json(t)
		for _, v := range page["results"].([]any) {
			got = append(got, v.(map[string]any))
		}
		next = ""
		if n, ok := page["next"].(string); ok {
			u, _ := url.Parse(n)
			next = u.RequestURI()
		}
	}
	var actions []string
	for _, entry := range got {
		actions = append(actions, entry["action"].(string))
	}
	if !slices.Equal(actions, want) {
		t.Fatalf("actions %v\nwant    %v", actions, want)
	}
	byUser, first := got[0], got[len(got)-1]
	if byUser["actor"] != "user:"+user.ID || byUser["actor_name"] != "ada" {
		t.Errorf("entry of a login %v", byUser)
	}
	if first["actor"] != "key:test" || first["actor_name"] != "test" || first["target"] != app ||
		fmt.Sprint(first["details"]) != "map[name:shop]" {
		t.Errorf("first entry %v", first)
	}
	for _, entry := range got {
		if entry["action"] == eye.ActionEventUpdate && fmt.Sprint(entry["details"]) != "map[members:[data name]]" {
			t.Errorf("event.update entry %v", entry)
		}
		if entry["action"] == eye.ActionKeyCreate && fmt.Sprint(entry["details"].(map[string]any)["scopes"]) != "[ingest]" {
			t.Errorf("key.create entry %v", entry)
		}
	}

	for query, n := range map[string]int{
		"actor=key:test": 12, "actor=user:" + user.ID: 1, "action=key.create": 1,
		"timestamp__gte=" + url.QueryEscape(start.Format(time.RFC3339Nano)): 13, "timestamp__lte=2000-01-01T00:00:00Z": 0,
	} {
		res := e.admin("GET", "/audit/?"+query, nil)
		if res.status != 200 || len(res.json(t)["results"].([]any)) != n {
			t.Errorf("GET /audit/?%s: %d %s; want %d entries", query, res.status, res.body, n)
		}
	}
	wantProblem(t, e.admin("GET", "/audit/?who=me", nil), 400, "invalid_parameter")
	wantProblem(t, e.admin("GET", "/audit/?cursor=AWUB0u7S4-X02wUFCA", nil), 400, "invalid_parameter")
	secret, reader := api.NewSecret()
	reader.Scopes = []string{eye.ScopeRead}
	if err := e.store.CreateKey(ctx, reader); err != nil {
		t.Fatal(err)
	}
	e.keys.Refresh(ctx)
	wantProblem(t, e.do("GET", "/audit/", secret, nil), 403, "forbidden")
}

// TestStatusRetention shows the retention's period and last run in
// /status.
func TestStatusRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.Retention = 90 * 24 * time.Hour })
	status := func() map[string]any {
		res := e.admin("GET", "/status", nil)
		if res.status != 200 {
			t.Fatalf("GET /status: %d %s", res.status, res.body)
		}
		return res.json(t)["retention"].(map[string]any)
	}
	if r := status(); r["period"] != "90d" || r["last_run"] != nil {
		t.Errorf("retention before a run: %v", r)
	}
	id := e.accepted(pageview(eye.NewID())) // of 2021: older than 90 days
	e.waitFound("/events/" + id + "/")
	now := time.Now()
	rep, err := lifecycle.NewRetention(e.store, 90*24*time.Hour, nil, nil, lifecycle.Pace{}).RunOnce(context.Background(), now)
	if err != nil || rep.Events != 1 {
		t.Fatalf("RunOnce = %+v, %v", rep, err)
	}
	r := status()
	run, _ := r["last_run"].(map[string]any)
	if run == nil || run["events"] != float64(1) || run["sessions"] != float64(0) || run["error"] != nil ||
		run["cutoff"] != eye.FormatTime(now.UTC().Truncate(time.Microsecond).Add(-90*24*time.Hour)) {
		t.Errorf("retention after a run: %v", r)
	}
	entries := e.auditEntries(eye.ActionRetentionRun)
	if len(entries) != 1 || entries[0]["actor"] != "retention" || entries[0]["addr"] != nil {
		t.Errorf("retention.run entries %v", entries)
	}
}
