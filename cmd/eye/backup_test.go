package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// TestBackupUnderLoad backs the embedded store up while events keep
// arriving, restores the backup into an empty data directory, and finds
// there every event stored before the backup began, with the generated
// admin key still working.
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	session := eye.NewID()
	l := &load{acked: map[string]bool{}, pause: time.Millisecond}
	stop := make(chan struct{})
	wg := l.run(s.url, s.key, session, 4, stop)
	time.Sleep(time.Second)

	before := map[string]bool{}
	for _, ev := range s.all("/events/?limit=1000&session=" + session) {
		before[ev["id"].(string)] = true
	}
	if len(before) == 0 {
		t.Fatal("nothing stored before the backup")
	}
	backupDir := filepath.Join(t.TempDir(), "backup")
	var out bytes.Buffer
	env := map[string]string{"EYE_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"backup", backupDir}, getenv, nil, &out, &out); err != nil {
		t.Fatalf("backup: %v\n%s", err, out.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	time.Sleep(500 * time.Millisecond) // events keep arriving after it
	close(stop)
	wg.Wait()
	s.stop()

	if err := run(context.Background(), []string{"backup", backupDir}, getenv, nil, &out, &out); err == nil {
		t.Error("a backup into an existing directory")
	}
	if err := run(context.Background(), []string{"restore", backupDir}, getenv, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "empty data directory") {
		t.Errorf("a restore over a store: %v", err)
	}

	restored := t.TempDir()
	env["EYE_DATA_DIR"] = restored
	out.Reset()
	if err := run(context.Background(), []string{"restore", backupDir}, getenv, nil, &out, &out); err != nil {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	r := startService(t, restored)
	defer r.stop()
	if r.key != s.key {
		t.Error("the restored data directory has another admin key")
	}
	after := map[string]bool{}
	for _, ev := range r.all("/events/?limit=1000&session=" + session) {
		after[ev["id"].(string)] = true
	}
	missing := 0
	for id := range before {
		if !after[id] {
			missing++
		}
	}
	ss := r.get("/sessions/" + session + "/")
	t.Logf("%d events stored before the backup began, %d in the restored store (%d acknowledged in all), %d missing",
		len(before), len(after), len(l.ackedIDs()), missing)
	if missing > 0 {
		t.Errorf("%d events stored before the backup began are not in the restored store", missing)
	}
	if int(ss["event_count"].(float64)) != len(after) {
		t.Errorf("the restored session counts %v events; %d are there", ss["event_count"], len(after))
	}
	if _, err := os.Stat(filepath.Join(backupDir, "manifest.json")); err != nil {
		t.Error(err)
	}
}
