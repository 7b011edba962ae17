package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/sqlite"
)

// TestRetentionSetting reads EYE_RETENTION and its flag.
func TestRetentionSetting(t *testing.T) {
	for _, tt := range []struct {
		env, flag string
		want      time.Duration
		fails     bool
	}{
		{"", "", 0, false},
		{"90d", "", 90 * 24 * time.Hour, false},
		{"90d", "12h", 12 * time.Hour, false},
		{"30m", "", 0, true},
		{"ninety", "", 0, true},
	} {
		var c config
		var args []string
		if tt.flag != "" {
			args = []string{"-retention", tt.flag}
		}
		err := c.parse("serve", args, func(k string) string {
			if k == "EYE_RETENTION" {
				return tt.env
			}
			return ""
		}, io.Discard)
		if (err != nil) != tt.fails || c.retention() != tt.want {
			t.Errorf("EYE_RETENTION=%q -retention %q: %v, %v; want %v (fails: %v)", tt.env, tt.flag, c.retention(), err, tt.want, tt.fails)
		}
	}
}

// TestRetentionRuns starts the service with EYE_RETENTION on a store
// holding old and recent data: the retention runs at start, deletes what
// is older, and /status and /metrics say so.
func TestRetentionRuns(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(dir, "eye.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	old, recent := eye.NewID(), eye.NewID()
	mk := func(session string, ts time.Time, seq uint64) eye.Event {
		return eye.Event{ID: eye.NewID(), ApplicationID: eye.DefaultApplicationID, SessionID: session, Category: "c", Name: "n",
			Data: []byte(`{"a":1}`), Timestamp: ts, ReceivedAt: ts, Seq: seq}
	}
	b := eye.Batch{Events: []eye.Event{mk(old, now.AddDate(0, 0, -40), 1), mk(old, now.AddDate(0, 0, -35), 2), mk(recent, now.Add(-time.Hour), 3)},
		Errors: []eye.ErrorRecord{{ID: eye.NewID(), ReceivedAt: now.AddDate(0, 0, -31), ApplicationID: eye.DefaultApplicationID, Seq: 4,
			Payload: []byte("x"), Reasons: []eye.Reason{{Code: eye.CodeMalformedJSON, Message: "not JSON"}}}}}
	if _, err := st.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	st.Close()

	s := startServiceEnv(t, map[string]string{"EYE_DATA_DIR": dir, "EYE_RETENTION": "30d"})
	defer s.stop()
	var run map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for run == nil && time.Now().Before(deadline) {
		retention := s.get("/status")["retention"].(map[string]any)
		if retention["period"] != "30d" {
			t.Fatalf("retention %v", retention)
		}
		run, _ = retention["last_run"].(map[string]any)
		time.Sleep(20 * time.Millisecond)
	}
	if run == nil || run["events"] != float64(2) || run["errors"] != float64(1) || run["sessions"] != float64(1) || run["error"] != nil {
		t.Fatalf("last run %v", run)
	}
	if events := s.all("/events/"); len(events) != 1 || events[0]["session_id"] != recent {
		t.Errorf("events left %v", events)
	}
	_, metrics := s.do("GET", "/metrics", nil, "")
	for _, line := range []string{`eye_retention_deleted_total{kind="events"} 2`, `eye_retention_deleted_total{kind="sessions"} 1`} {
		if !strings.Contains(string(metrics), line) {
			t.Errorf("the metrics lack %s", line)
		}
	}
}

// TestCommandsAudited runs the admin commands on the store: each is
// recorded in the audit log with the actor cli.
func TestCommandsAudited(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"EYE_DATA_DIR": dir, "EYE_PASSWORD": "correct horse battery", "EYE_LOG_LEVEL": "warn"}
	cli := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		if err := run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, &errs); err != nil {
			t.Fatalf("eye %s: %v\n%s", strings.Join(args, " "), err, errs.String())
		}
		return out.String()
	}
	cli("apps", "create", "shop")
	cli("keys", "create", "--app", "shop", "--scope", "ingest", "--label", "web")
	keyID := strings.Fields(strings.Split(cli("keys", "list", "--app", "shop"), "\n")[1])[0]
	cli("keys", "revoke", keyID)
	cli("users", "create", "ada")

	st, err := sqlite.Open(filepath.Join(dir, "eye.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.Audit(context.Background(), eye.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Items {
		actions = append(actions, e.Action)
		if e.Actor != eye.ActorCLI || e.Addr != "" || e.Target == "" {
			t.Errorf("entry %+v", e)
		}
	}
	want := []string{eye.ActionUserCreate, eye.ActionKeyRevoke, eye.ActionKeyCreate, eye.ActionApplicationCreate}
	if !slices.Equal(actions, want) {
		t.Errorf("actions %v, want %v", actions, want)
	}
	if page.Items[1].Target != keyID {
		t.Errorf("key.revoke of %s, want %s", page.Items[1].Target, keyID)
	}
}
