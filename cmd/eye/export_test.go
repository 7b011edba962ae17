package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/theeye/eye"
)

// TestExportCommand runs eye export against a running service, in each
// format, to standard output and to a file.
func TestExportCommand(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	defer s.stop()
	session := eye.NewID()
	for i, name := range []string{"pageview", "cta click", "submit"} {
		ev := event(session, "page interaction", name, "2021-01-01T09:15:2"+string(rune('0'+i))+"Z",
			map[string]any{"host": "www.example.com", "path": "/", "form": map[string]any{"first_name": "John", "note": "a,\n\"b\""}, "i": i})
		if status, b := s.do("POST", "/events/", ev, "application/json"); status != 202 {
			t.Fatalf("POST /events/: %d %s", status, b)
		}
	}
	if status, b := s.do("POST", "/events/", event(session, "page interaction", "pageview", "2021-01-01T09:15:27Z", map[string]any{}), "application/json"); status != 202 {
		t.Fatalf("POST /events/: %d %s", status, b)
	}
	s.waitStored(3, 1)
	env := map[string]string{"EYE_URL": s.url, "EYE_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	export := func(args ...string) (string, error) {
		t.Helper()
		var out, errs bytes.Buffer
		err := run(context.Background(), append([]string{"export"}, args...), getenv, nil, &out, &errs)
		if err == nil && errs.Len() > 0 {
			t.Errorf("eye export %v wrote to standard error, which is not a terminal: %q", args, errs.String())
		}
		return out.String(), err
	}

	// NDJSON to standard output, with filters.
	out, err := export("-session", session, "-order", "asc", "-data", "form.first_name=John", "-data", "i=1")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &ev) != nil || ev["name"] != "cta click" {
		t.Errorf("eye export -data i=1: %q", out)
	}
	if out, err = export("-name", "submit", "-from", "2021-01-01T09:15:22Z", "-to", "2021-01-01T09:15:22Z"); err != nil || strings.Count(out, "\n") != 1 {
		t.Errorf("eye export -name submit: %v %q", err, out)
	}

	// CSV into a file.
	path := filepath.Join(t.TempDir(), "events.csv")
	if out, err = export("-format", "csv", "-o", path, "-category", "page interaction"); err != nil || out != "" {
		t.Fatalf("eye export -o: %v, printed %q", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(records) != 4 || records[0][0] != "id" || records[1][5] != "submit" || !strings.Contains(records[1][6], `a,\n\"b\"`) {
		t.Errorf("CSV file: %v %q", err, records)
	}
	if files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(files) != 0 {
		t.Errorf("left behind: %v", files)
	}

	// Parquet, and error records.
	path = filepath.Join(t.TempDir(), "events.parquet")
	if _, err := export("-format", "parquet", "-o", path); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name string `parquet:"name"`
	}
	if rows, err := parquet.ReadFile[row](path); err != nil || len(rows) != 3 || rows[0].Name != "submit" {
		t.Errorf("Parquet file: %v %v", err, rows)
	}
	if out, err = export("-type", "errors", "-from", "2000-01-01T00:00:00Z"); err != nil || !strings.Contains(out, `"code":"empty_data"`) {
		t.Errorf("eye export -type errors: %v %q", err, out)
	}

	// What the service refuses, before anything is written.
	path = filepath.Join(t.TempDir(), "none.csv")
	for _, args := range [][]string{
		{"-format", "xml"},
		{"-type", "errors", "-data", "host=x"},
		{"-data", "a..b=1", "-o", path},
		{"-type", "sessions"},
		{"-data", "novalue"},
	} {
		if out, err := export(args...); err == nil || out != "" {
			t.Errorf("eye export %v: %v, printed %q", args, err, out)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a refused export made %s", path)
	}
	env["EYE_KEY"] = "eye_wrong"
	if _, err := export(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong key: %v", err)
	}
}

// TestExportProgress checks the progress line shown on a terminal.
func TestExportProgress(t *testing.T) {
	var term bytes.Buffer
	c := &exportCounter{format: "csv", progress: &term, start: time.Now().Add(-2 * time.Second)}
	_, _ = io.WriteString(c, "id,data\r\n1,\"{\"\"a\"\":\"\"x\r\ny\"\"}\"\r\n2,{}\r\n")
	c.done()
	if c.rows() != 2 || !strings.Contains(term.String(), "2 rows, 37.0 B in 2s (1 rows/s, 18.5 B/s)") || !strings.HasSuffix(term.String(), "\n") {
		t.Errorf("rows %d, progress %q", c.rows(), term.String())
	}
	c = &exportCounter{format: "ndjson", start: time.Now()}
	_, _ = io.WriteString(c, "{}\n{}\n")
	if c.rows() != 2 {
		t.Errorf("NDJSON rows %d", c.rows())
	}
	for n, want := range map[float64]string{999: "999.0 B", 1500: "1.5 kB", 2.5e6: "2.5 MB", 3.2e9: "3.2 GB"} {
		if got := size(n); got != want {
			t.Errorf("size(%v) = %q, want %q", n, got, want)
		}
	}
}
