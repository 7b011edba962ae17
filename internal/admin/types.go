package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/schema"
)

// Limits of the schema editor.
const (
	maxSchemaBytes = 256 << 10 // as PUT /schemas/ allows
	checkedEvents  = 100       // recent events a draft is tried on
	shownFailures  = 5
)

// typesData is the content of the tracking plan's page.
type typesData struct {
	Types   []eye.EventType
	Planned int // types with a schema
	Problem string
}

// types answers GET /admin/types: every event type seen or given a
// schema, with its counts and its schema's version. With a category and a
// name, it opens that type's page (to plan a type not seen yet).
func (h *Handler) types(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	var d typesData
	if c, n := strings.TrimSpace(q.Get("category")), strings.TrimSpace(q.Get("name")); c != "" || n != "" {
		if err := schema.CheckType(c, n); err != nil {
			d.Problem = eye.ErrorMessage(err)
		} else {
			redirect(w, r, typePath(c, n))
			return
		}
	}
	types, err := h.cfg.Store.EventTypes(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Types = types
	for _, t := range types {
		if t.SchemaVersion > 0 {
			d.Planned++
		}
	}
	status := http.StatusOK
	if d.Problem != "" {
		status = http.StatusBadRequest
	}
	h.render(w, r, status, "types", newView(s, "Event types", "types", d))
}

// typePath is the path of an event type's page.
func typePath(category, name string) string {
	return "/admin/types/" + pathSegment(category) + "/" + pathSegment(name)
}

// pathSegment escapes a path segment, dots included (a segment "." or
// ".." would be cleaned away).
func pathSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ".", "%2E")
}

// typeData is the content of an event type's page.
type typeData struct {
	Category, Name string
	Type           eye.EventType // its counts; zero when never seen
	Latest         *eye.Schema   // the latest version, active or not
	Shown          *eye.Schema   // the version shown (the latest unless asked)
	Versions       []eye.Schema
	Next           int // the version a save makes
	Draft          string
	Check          *schemaCheck
}

// schemaCheck is the feedback on a draft schema: whether it compiles, and
// how the type's recent events fare against it.
type schemaCheck struct {
	Problem  string // why it cannot be saved
	Tried    int    // recent events checked
	Failed   int
	Failures []schemaFailure
}

// schemaFailure is a recent event that the draft would refuse.
type schemaFailure struct {
	EventID string
	Reasons []eye.Reason
}

// eventType answers GET /admin/types/{category}/{name}: the type's counts,
// its schema's versions, and the editor.
func (h *Handler) eventType(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := h.typeData(r.Context(), r.PathValue("category"), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			h.errorPage(w, r, s, http.StatusNotFound, "Not found", fmt.Sprintf("No schema version %q: versions are 1, 2, …", v))
			return
		}
		sc, err := h.cfg.Store.Schema(r.Context(), d.Category, d.Name, n)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.Shown = &sc
	}
	if d.Shown != nil {
		d.Draft = prettyJSON(d.Shown.Body)
	} else {
		d.Draft = h.starter(r.Context(), d.Category, d.Name)
	}
	v := newView(s, d.Category+" / "+d.Name, "types", d)
	if r.URL.Query().Get("outcome") == "saved" && d.Latest != nil {
		v.Outcome = &outcome{Kind: "ok", Text: fmt.Sprintf("Version %d saved: workers check the type against it within seconds.", d.Latest.Version)}
	}
	h.render(w, r, http.StatusOK, "type", v)
}

// typeData reads what a type's page shows.
func (h *Handler) typeData(ctx context.Context, category, name string) (typeData, error) {
	d := typeData{Category: category, Name: name, Next: 1}
	if err := schema.CheckType(category, name); err != nil {
		return d, eye.Errorf(eye.ENOTFOUND, "No event type can be named %q / %q: %s", category, name, eye.ErrorMessage(err))
	}
	types, err := h.cfg.Store.EventTypes(ctx)
	if err != nil {
		return d, err
	}
	if i := slices.IndexFunc(types, func(t eye.EventType) bool { return t.Category == category && t.Name == name }); i >= 0 {
		d.Type = types[i]
	}
	latest, err := h.cfg.Store.Schema(ctx, category, name, 0)
	switch {
	case err == nil:
		d.Latest, d.Shown, d.Next = &latest, &latest, latest.Version+1
		if d.Versions, err = h.cfg.Store.SchemaVersions(ctx, category, name); err != nil {
			return d, err
		}
		slices.Reverse(d.Versions)
	case eye.ErrorCode(err) != eye.ENOTFOUND:
		return d, err
	}
	return d, nil
}

// starter is a first schema for a type without one: an object with the
// members of its latest event, each of its type, all required.
func (h *Handler) starter(ctx context.Context, category, name string) string {
	doc := map[string]any{"type": "object"}
	page, err := h.cfg.Store.Events(ctx, eye.EventFilter{Category: category, Name: name, Limit: 1})
	var data map[string]json.RawMessage
	if err == nil && len(page.Items) == 1 && json.Unmarshal(page.Items[0].Data, &data) == nil {
		props := map[string]any{}
		var required []string
		for k, v := range data {
			props[k] = map[string]any{"type": jsonType(v)}
			required = append(required, k)
		}
		slices.Sort(required)
		doc["required"], doc["properties"] = required, props
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}

// jsonType is the JSON Schema type of a JSON value.
func jsonType(v json.RawMessage) string {
	switch b := bytes.TrimSpace(v); {
	case len(b) == 0:
		return "null"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == '"':
		return "string"
	case b[0] == 't' || b[0] == 'f':
		return "boolean"
	case b[0] == 'n':
		return "null"
	case bytes.ContainsAny(b, ".eE"):
		return "number"
	}
	return "integer"
}

// putSchema answers POST /admin/types/{category}/{name}: "check" compiles
// the draft and tries it on the type's recent events; "save" stores it as
// the type's next version when it compiles.
func (h *Handler) putSchema(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	d, err := h.typeData(ctx, r.PathValue("category"), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Draft = r.PostFormValue("schema")
	d.Check = h.checkSchema(ctx, d.Category, d.Name, []byte(d.Draft))
	status := http.StatusOK
	if r.PostFormValue("action") == "save" {
		if d.Check.Problem == "" {
			var buf bytes.Buffer
			_ = json.Compact(&buf, []byte(d.Draft)) // it compiled: it is JSON
			sc, err := h.cfg.Store.PutSchema(ctx, eye.Schema{Category: d.Category, Name: d.Name, Body: buf.Bytes(),
				CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
			if err != nil {
				h.fail(w, r, s, err)
				return
			}
			if h.cfg.Schemas != nil {
				if err := h.cfg.Schemas.Refresh(ctx); err != nil {
					h.log.Warn("admin: refresh schemas after a change", "error", err)
				}
			}
			h.record(r, s, eye.ActionSchemaPut, d.Category+"/"+d.Name, map[string]any{"category": d.Category, "name": d.Name,
				"version": sc.Version})
			h.log.Info("admin: schema saved", "user", s.user.Name, "category", d.Category, "name", d.Name, "version", sc.Version)
			redirect(w, r, typePath(d.Category, d.Name)+"?outcome=saved")
			return
		}
		status = http.StatusUnprocessableEntity
	}
	h.render(w, r, status, "type", newView(s, d.Category+" / "+d.Name, "types", d))
}

// checkSchema compiles a draft as the API would, then tries it on the
// type's recent events.
func (h *Handler) checkSchema(ctx context.Context, category, name string, draft []byte) *schemaCheck {
	c := &schemaCheck{}
	if len(bytes.TrimSpace(draft)) == 0 {
		c.Problem = "The schema is empty."
		return c
	}
	if len(draft) > maxSchemaBytes {
		c.Problem = fmt.Sprintf("The schema is larger than %d KiB.", maxSchemaBytes>>10)
		return c
	}
	compiled, err := schema.Compile(draft)
	if err != nil {
		c.Problem = "The schema does not compile: " + err.Error()
		return c
	}
	page, err := h.cfg.Store.Events(ctx, eye.EventFilter{Category: category, Name: name, Limit: checkedEvents})
	if err != nil {
		return c // the check of recent events is a help; the schema itself is fine
	}
	for _, ev := range page.Items {
		c.Tried++
		if reasons := schema.Violations(compiled, ev.Data); len(reasons) > 0 {
			c.Failed++
			if len(c.Failures) < shownFailures {
				c.Failures = append(c.Failures, schemaFailure{EventID: ev.ID, Reasons: reasons})
			}
		}
	}
	return c
}
