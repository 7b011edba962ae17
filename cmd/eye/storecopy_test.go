package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/pgtest"
)

// failingWrites is a store whose writes fail after a number of them, as a
// copy interrupted half-way would.
type failingWrites struct {
	store
	left int
}

func (f *failingWrites) Write(ctx context.Context, b eye.Batch) (eye.WriteResult, error) {
	if f.left == 0 {
		return eye.WriteResult{}, errors.New("connection lost")
	}
	f.left--
	return f.store.Write(ctx, b)
}

// TestStoreCopy fills an embedded installation through the API with a bit
// of everything, copies it to PostgreSQL with a copy that fails half-way
// and is run again, and checks that the copy resumed, that every count
// matches, and that what the API answers is the same on both.
func TestStoreCopy(t *testing.T) {
	pg := pgtest.Database(t)
	dir := t.TempDir()
	s := startServiceEnv(t, map[string]string{"EYE_DATA_DIR": dir, "EYE_ADMIN_KEY": "eye_copy-admin-key"})

	// Applications and keys, one of them revoked; a schema with two
	// versions, and one deleted.
	var app map[string]any
	_, b := s.do("POST", "/applications/", map[string]any{"name": "shop"}, "application/json")
	json.Unmarshal(b, &app)
	appID := app["id"].(string)
	var key, revoked map[string]any
	_, b = s.do("POST", "/applications/"+appID+"/keys/", map[string]any{"scopes": []string{"ingest"}, "label": "web"}, "application/json")
	json.Unmarshal(b, &key)
	_, b = s.do("POST", "/applications/"+appID+"/keys/", map[string]any{"scopes": []string{"read"}}, "application/json")
	json.Unmarshal(b, &revoked)
	s.do("DELETE", "/applications/"+appID+"/keys/"+revoked["id"].(string)+"/", nil, "")
	s.do("PUT", "/schemas/page%20interaction/pageview/", `{"type": "object"}`, "application/json")
	s.do("PUT", "/schemas/page%20interaction/pageview/", `{"required": ["host"]}`, "application/json")
	s.do("PUT", "/schemas/form%20interaction/submit/", `{"required": ["form"]}`, "application/json")
	s.do("DELETE", "/schemas/form%20interaction/submit/", nil, "")

	// Events in many sessions, a session with none, error records (one
	// discarded), and an event whose data PostgreSQL refuses.
	shop := &service{t: t, url: s.url, key: key["key"].(string), http: s.http}
	const sessions, perSession = 30, 40
	for i := range sessions {
		session := eye.NewID()
		var batch []any
		for j := range perSession {
			batch = append(batch, event(session, "page interaction", "pageview",
				fmt.Sprintf("2021-0%d-01T09:%02d:%02dZ", 1+i%3, j, i), map[string]any{"host": "www.example.com", "path": fmt.Sprintf("/%d", j)}))
		}
		if status, b := shop.do("POST", "/events/batch/", batch, "application/json"); status != 202 {
			t.Fatalf("batch: %d %s", status, b)
		}
	}
	shop.do("POST", "/sessions/", nil, "")
	shop.do("POST", "/events/", `{"session_id": "x"`, "application/json")
	shop.do("POST", "/events/", event(eye.NewID(), "page interaction", "pageview", "2021-01-01T00:00:00Z", map[string]any{"path": "/"}), "application/json")
	nul := eye.NewID()
	shop.do("POST", "/events/", event(nul, "page interaction", "pageview", "2021-01-02T00:00:00Z", map[string]any{"host": "a\u0000b"}), "application/json")
	s.waitStored(sessions*perSession+1, 2)
	errs := s.all("/errors/")
	s.do("DELETE", "/errors/"+errs[0]["id"].(string)+"/", nil, "")
	s.stop()

	src := filepath.Join(dir, "eye.db")
	ctx := context.Background()
	from, err := openStoreAt(ctx, src, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	to, err := openStoreAt(ctx, pg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	state := filepath.Join(t.TempDir(), "copy.json")
	c := &copier{from: from, to: &failingWrites{store: to, left: 3}, batch: 100, statePath: state, out: &out}
	if err := c.run(ctx); err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("the interrupted copy: %v", err)
	}
	from.Close()
	to.Close()

	out.Reset()
	if err := run(ctx, []string{"store", "copy", "-from", src, "-to", pg, "-state", state, "-batch", "100"}, nil, nil, &out, &out); err != nil {
		t.Fatalf("copy: %v\n%s", err, out.String())
	}
	t.Logf("second run:\n%s", out.String())
	for _, want := range []string{"Resuming from", "Copied; every count matches.", "1 event(s) refused by the destination"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the copy's output lacks %q", want)
		}
	}
	// Three writes went through the first time: one of sessions, two of
	// events; the second run read only the rest of the events.
	if want := fmt.Sprintf("events: %d read", sessions*perSession+1-200); !strings.Contains(out.String(), want) {
		t.Errorf("the second run did not resume: no %q", want)
	}

	// Once more: nothing left to copy, counts still equal.
	out.Reset()
	if err := run(ctx, []string{"store", "copy", "-from", "sqlite:" + src, "-to", pg, "-state", state}, nil, nil, &out, &out); err != nil {
		t.Fatalf("copy again: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "events: copied already") || !strings.Contains(out.String(), "keys: 2, 0 copied now") {
		t.Errorf("copy again:\n%s", out.String())
	}

	// The API answers the same on both stores.
	a := startServiceEnv(t, map[string]string{"EYE_DATA_DIR": dir, "EYE_ADMIN_KEY": "eye_copy-admin-key"})
	defer a.stop()
	p := startServiceEnv(t, map[string]string{"EYE_DATA_DIR": t.TempDir(), "EYE_DATABASE_URL": pg, "EYE_ADMIN_KEY": "eye_copy-admin-key"})
	defer p.stop()
	// The same, but for what the copy cannot keep: the default
	// application is made by each store's first migration (its created_at
	// differs), and a key revoked before the copy is revoked again (at the
	// time of the copy); the refused event is no event on PostgreSQL.
	for _, path := range []string{"/schemas/", "/events/?limit=1000&category=page%20interaction&timestamp__gte=2021-02-01T00:00:00Z"} {
		if x, y := a.all(path), p.all(path); !sameJSON(x, y) {
			t.Errorf("GET %s differs:\nsqlite:   %v\npostgres: %v", path, x, y)
		}
	}
	without := func(rows []map[string]any, drop func(map[string]any)) []map[string]any {
		for _, r := range rows {
			drop(r)
		}
		return rows
	}
	noCreated := func(r map[string]any) { delete(r, "created_at") }
	if x, y := without(a.all("/applications/"), noCreated), without(p.all("/applications/"), noCreated); len(x) != 2 || !sameJSON(sortByID(x), sortByID(y)) {
		t.Errorf("applications differ:\nsqlite:   %v\npostgres: %v", x, y)
	}
	revokedOrNot := func(r map[string]any) { r["revoked_at"] = r["revoked_at"] != nil }
	if x, y := without(a.all("/applications/"+appID+"/keys/"), revokedOrNot), without(p.all("/applications/"+appID+"/keys/"), revokedOrNot); len(x) != 2 || !sameJSON(x, y) {
		t.Errorf("keys differ:\nsqlite:   %v\npostgres: %v", x, y)
	}
	types := p.all("/event-types/")
	if len(types) != 1 || types[0]["events"] != float64(sessions*perSession) || types[0]["errors"] != float64(2) {
		t.Errorf("event types on PostgreSQL: %v", types)
	}
	notNUL := func(rows []map[string]any) []map[string]any {
		for i, r := range rows {
			if r["id"] == nul {
				return append(rows[:i:i], rows[i+1:]...)
			}
		}
		t.Errorf("the session %s is missing", nul)
		return rows
	}
	if x, y := notNUL(a.all("/sessions/?limit=1000")), notNUL(p.all("/sessions/?limit=1000")); len(x) != sessions+1 || !sameJSON(x, y) {
		t.Errorf("sessions differ:\nsqlite:   %v\npostgres: %v", x, y)
	}
	if x, y := len(a.all("/errors/")), len(p.all("/errors/")); x+1 != y {
		t.Errorf("error records: %d on SQLite, %d on PostgreSQL; want one more (the refused event)", x, y)
	}
	rejected := p.all("/errors/?code=store_rejected")
	if len(rejected) != 1 || rejected[0]["session_id"] != nul {
		t.Errorf("the refused event's error record: %v", rejected)
	}
	if x, y := a.all("/errors/?status=discarded"), p.all("/errors/?status=discarded"); len(x) != 1 || !sameJSON(x, y) {
		t.Errorf("the discarded error record: %v and %v", x, y)
	}
	// The ingest key works on PostgreSQL; the revoked one does not.
	for _, k := range []struct {
		secret string
		want   int
	}{{key["key"].(string), 202}, {revoked["key"].(string), 401}} {
		c := &service{t: t, url: p.url, key: k.secret, http: p.http}
		if status, _ := c.do("POST", "/events/", event(eye.NewID(), "c", "n", "2021-01-01T00:00:00Z", map[string]any{"a": 1}), "application/json"); status != k.want {
			t.Errorf("a copied key answered %d, want %d", status, k.want)
		}
	}
}

// sameJSON reports whether two values encode to the same JSON.
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func sortByID(rows []map[string]any) []map[string]any {
	slices.SortFunc(rows, func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	return rows
}
