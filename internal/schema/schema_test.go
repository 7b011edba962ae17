package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/schema"
)

// The schemas of the mission's three example events.
const (
	pageview = `{"type": "object", "required": ["host", "path"],
		"properties": {"host": {"type": "string", "format": "hostname"}, "path": {"type": "string", "pattern": "^/"}}}`
	ctaClick = `{"type": "object", "required": ["host", "path", "element"],
		"properties": {"host": {"type": "string"}, "path": {"type": "string"}, "element": {"type": "string", "minLength": 1}}}`
	formSubmit = `{"type": "object", "required": ["host", "path", "form"],
		"properties": {"host": {"type": "string"}, "path": {"type": "string"},
			"form": {"type": "object", "required": ["first_name", "email"],
				"properties": {"first_name": {"type": "string", "minLength": 2}, "email": {"type": "string", "format": "email"}},
				"additionalProperties": {"type": "string"}}}}`
)

// violation is a reason as "field keyword".
func violations(t *testing.T, doc, data string) []string {
	t.Helper()
	s, err := schema.Compile([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range schema.Violations(s, []byte(data)) {
		if r.Code != eye.CodeSchemaViolation || r.Message == "" {
			t.Errorf("reason %+v", r)
		}
		out = append(out, r.Field+" "+r.Keyword)
	}
	slices.Sort(out)
	return out
}

func TestExampleEvents(t *testing.T) {
	tests := []struct {
		name, schema, data string
		want               []string
	}{
		{"pageview ok", pageview, `{"host": "www.example.com", "path": "/"}`, nil},
		{"pageview without path", pageview, `{"host": "www.example.com"}`, []string{"/path required"}},
		{"pageview without both", pageview, `{}`, []string{"/host required", "/path required"}},
		{"pageview bad host format", pageview, `{"host": "not a host!", "path": "/"}`, []string{"/host format"}},
		{"pageview path pattern", pageview, `{"host": "www.example.com", "path": "home"}`, []string{"/path pattern"}},
		{"cta ok", ctaClick, `{"host": "www.example.com", "path": "/", "element": "chat bubble"}`, nil},
		{"cta without element", ctaClick, `{"host": "www.example.com", "path": "/"}`, []string{"/element required"}},
		{"cta element empty", ctaClick, `{"host": "www.example.com", "path": "/", "element": ""}`, []string{"/element minLength"}},
		{"cta element number", ctaClick, `{"host": "www.example.com", "path": "/", "element": 5}`, []string{"/element type"}},
		{"form ok", formSubmit, `{"host": "www.example.com", "path": "/", "form": {"first_name": "John", "last_name": "Doe", "email": "john@example.com"}}`, nil},
		{"form missing", formSubmit, `{"host": "www.example.com", "path": "/"}`, []string{"/form required"}},
		{"form not object", formSubmit, `{"host": "www.example.com", "path": "/", "form": "John"}`, []string{"/form type"}},
		{"form nested", formSubmit, `{"host": "www.example.com", "path": "/", "form": {"first_name": "J", "last_name": 7}}`,
			[]string{"/form/email required", "/form/first_name minLength", "/form/last_name type"}},
		{"form bad email", formSubmit, `{"host": "h", "path": "/", "form": {"first_name": "John", "email": "nope"}}`,
			[]string{"/form/email format"}},
		{"escaped pointer", `{"properties": {"a/b~c": {"type": "integer"}}}`, `{"a/b~c": "x"}`, []string{"/a~1b~0c type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := violations(t, tt.schema, tt.data); !slices.Equal(got, tt.want) {
				t.Errorf("violations %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileRefusesOutside(t *testing.T) {
	for _, doc := range []string{
		`{"$ref": "file:///etc/passwd"}`,
		`{"$ref": "https://example.com/schema.json"}`,
		`{"properties": {"a": {"$ref": "other.json#/x"}}}`,
		`{"type": "nope"}`,
		`[1, 2]`,
		`{"a": `,
	} {
		if _, err := schema.Compile([]byte(doc)); err == nil {
			t.Errorf("Compile(%s) succeeded", doc)
		}
	}
	if _, err := schema.Compile([]byte(`{"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}}`)); err != nil {
		t.Errorf("a $ref inside the schema: %v", err)
	}
}

// store is an in-memory stand-in for the schemas part of the store.
type store struct{ active []eye.Schema }

func (s *store) ActiveSchemas(context.Context) ([]eye.Schema, error) { return s.active, nil }

func (s *store) Schema(_ context.Context, category, name string, _ int) (eye.Schema, error) {
	for _, sc := range s.active {
		if sc.Category == category && sc.Name == name {
			return sc, nil
		}
	}
	return eye.Schema{}, eye.Errorf(eye.ENOTFOUND, "none")
}

func (s *store) PutSchema(_ context.Context, sc eye.Schema) (eye.Schema, error) {
	sc.Version, sc.Active = 1, true
	for i, old := range s.active {
		if old.Category == sc.Category && old.Name == sc.Name {
			sc.Version = old.Version + 1
			s.active[i] = sc
			return sc, nil
		}
	}
	s.active = append(s.active, sc)
	return sc, nil
}

func TestRegistry(t *testing.T) {
	st := &store{active: []eye.Schema{{Category: "page interaction", Name: "pageview", Version: 3, Body: []byte(pageview), Active: true}}}
	r := schema.NewRegistry(st, nil)
	if v, rs := r.Check("page interaction", "pageview", []byte(`{}`)); v != 0 || rs != nil {
		t.Errorf("before Refresh: %d %v", v, rs)
	}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v, rs := r.Check("page interaction", "pageview", []byte(`{"host": "www.example.com", "path": "/"}`)); v != 3 || rs != nil {
		t.Errorf("valid: %d %v", v, rs)
	}
	if v, rs := r.Check("page interaction", "pageview", []byte(`{"host": "www.example.com"}`)); v != 3 || len(rs) != 1 {
		t.Errorf("invalid: %d %v", v, rs)
	}
	if v, _ := r.Check("page interaction", "other", []byte(`{}`)); v != 0 {
		t.Errorf("unknown type: version %d", v)
	}
	// A new version, and a deletion, reach it at the next refresh.
	st.active[0] = eye.Schema{Category: "page interaction", Name: "pageview", Version: 4, Body: []byte(`{}`), Active: true}
	r.Refresh(context.Background())
	if v, rs := r.Check("page interaction", "pageview", []byte(`{"x": 1}`)); v != 4 || rs != nil {
		t.Errorf("after a change: %d %v", v, rs)
	}
	st.active = nil
	r.Refresh(context.Background())
	if v, _ := r.Check("page interaction", "pageview", []byte(`{"x": 1}`)); v != 0 {
		t.Errorf("after a deletion: %d", v)
	}
}

func TestReadDirAndPush(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("page interaction/pageview.json", pageview)
	write("page interaction/cta click.json", ctaClick)
	write("form interaction/submit.json", formSubmit)
	write("README.md", "not a schema")
	files, problems := schema.ReadDir(dir)
	if len(problems) != 0 || len(files) != 3 {
		t.Fatalf("ReadDir: %d files, problems %v", len(files), problems)
	}
	st := &store{}
	made, err := schema.Push(context.Background(), st, files)
	if err != nil || len(made) != 3 {
		t.Fatalf("Push: %v, %v", made, err)
	}
	// The same folder again adds nothing; a changed file adds a version.
	if made, _ := schema.Push(context.Background(), st, files); len(made) != 0 {
		t.Errorf("second Push made %v", made)
	}
	write("page interaction/pageview.json", `{"required": ["host"]}`)
	files, _ = schema.ReadDir(dir)
	made, _ = schema.Push(context.Background(), st, files)
	if len(made) != 1 || made[0].Name != "pageview" || made[0].Version != 2 {
		t.Errorf("after a change: %+v", made)
	}

	// Every bad file is reported, each with its path.
	write("page interaction/broken.json", `{"type": 5}`)
	write("toplevel.json", `{}`)
	write("a/b/c.json", `{}`)
	write("x/"+strings.Repeat("n", 151)+".json", `{}`)
	_, problems = schema.ReadDir(dir)
	if len(problems) != 4 {
		t.Errorf("problems %v", problems)
	}
	for _, p := range problems {
		if !strings.Contains(p.Error(), dir) {
			t.Errorf("problem without its path: %v", p)
		}
	}
}
