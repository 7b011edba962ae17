package api_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/theeye/eye"
)

// TestDataFilters filters events by members of their data through the
// API: the store's semantics are the conformance suite's; this checks
// how parameters are read.
func TestDataFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	send := func(name string, data map[string]any) string {
		return e.accepted(map[string]any{"session_id": session, "category": "page interaction", "name": name,
			"data": data, "timestamp": "2021-01-01T09:15:27Z"})
	}
	john := send("submit", map[string]any{"host": "www.example.com", "form": map[string]any{"first_name": "John"}, "count": 3, "ok": true})
	ada := send("submit", map[string]any{"host": "shop.example.com", "form": map[string]any{"first_name": "Ada"}, "count": "3", "ok": false})
	dotted := send("visit", map[string]any{"host": "www.example.com", "utm.source": "mail", `back\slash`: "yes", "none": nil, "word": "null"})
	e.waitEvents("/events/", 3)

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"data.host=www.example.com", []string{john, dotted}},
		{"data.host=www.example.com&name=submit", []string{john}},
		{"data.form.first_name=John", []string{john}},
		{"data.form.first_name=john", nil},
		{"data.count=3", []string{john}},
		{"data.count=3.0", []string{john}},
		{"data.count=" + url.QueryEscape(`"3"`), []string{ada}},
		{"data.ok=true", []string{john}},
		{"data.ok=false", []string{ada}},
		{"data.ok=" + url.QueryEscape(`"true"`), nil},
		{"data.none=null", []string{dotted}},
		{"data.word=null", nil},
		{"data.word=" + url.QueryEscape(`"null"`), []string{dotted}},
		{url.QueryEscape(`data.utm\.source`) + "=mail", []string{dotted}},
		{url.QueryEscape(`data.back\\slash`) + "=yes", []string{dotted}},
		{"data.utm.source=mail", nil},
		{"data.host=www.example.com&data.count=3&data.ok=true", []string{john}},
		{"data.host=nowhere", nil},
	} {
		for _, path := range []string{"/events/?", "/sessions/" + session + "/events/?", "/events/export/?"} {
			var got []string
			if strings.HasPrefix(path, "/events/export/") {
				for _, ev := range readNDJSON(t, e.admin("GET", path+tt.query, nil).body) {
					got = append(got, ev["id"].(string))
				}
			} else {
				res := e.admin("GET", path+tt.query+"&limit=1", nil) // pages of one: the filter holds across pages
				for _, ev := range e.allPages(res) {
					got = append(got, ev["id"].(string))
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("GET %s%s: %v, want %v", path, tt.query, got, want)
			}
		}
	}

	var eleven []string
	for i := range 11 {
		eleven = append(eleven, "data.k"+string(rune('a'+i))+"=1")
	}
	many := strings.Join(eleven, "&")
	for _, tt := range []struct{ query, param string }{
		{"data.a..b=1", "data.a..b"},
		{"data.=1", "data."},
		{"data.a.=1", "data.a."},
		{url.QueryEscape(`data.a\b`) + "=1", `data.a\b`},
		{url.QueryEscape(`data.a\`) + "=1", `data.a\`},
		{"data." + strings.Repeat("a.", 32) + "a=1", "data." + strings.Repeat("a.", 32) + "a"},
		{"data.x=" + url.QueryEscape(`{"a":1}`), "data.x"},
		{"data.x=" + url.QueryEscape(`[1]`), "data.x"},
		{"data.x=" + url.QueryEscape(`"unterminated`), "data.x"},
		{"data.x=%FF", "data.x"},
		{"data.x=1e-99999", "data.x"},
		{"data.x=1&data.x=2", "data.x"},
		{many, "data.kk"},
		{"data=1", "data"},
	} {
		p := wantProblem(t, e.admin("GET", "/events/?"+tt.query, nil), 400, "invalid_parameter")
		if p["param"] != tt.param {
			t.Errorf("GET /events/?%s: param %v, want %q (%v)", tt.query, p["param"], tt.param, p["detail"])
		}
	}
	// Ten is the limit, and 32 keys deep.
	if res := e.admin("GET", "/events/?"+strings.Join(eleven[:10], "&"), nil); res.status != 200 {
		t.Errorf("ten data filters: %d %s", res.status, res.body)
	}
	if res := e.admin("GET", "/events/?data."+strings.Repeat("a.", 31)+"a=1", nil); res.status != 200 {
		t.Errorf("a path 32 keys deep: %d %s", res.status, res.body)
	}
}

// allPages returns the results of a list's page and of every page after
// it.
func (e *env) allPages(res response) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for {
		if res.status != 200 {
			e.t.Fatalf("list: %d %s", res.status, res.body)
		}
		m := res.json(e.t)
		for _, v := range m["results"].([]any) {
			out = append(out, v.(map[string]any))
		}
		next, _ := m["next"].(string)
		if next == "" {
			return out
		}
		res = e.admin("GET", strings.TrimPrefix(next, e.srv.URL), nil)
	}
}

// TestDataFilterStats counts events by members of their data through GET
// /stats/: only the matching events, and no error records.
func TestDataFilterStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	for _, host := range []string{"www.example.com", "www.example.com", "shop.example.com"} {
		e.accepted(map[string]any{"session_id": session, "category": "page interaction", "name": "pageview",
			"data": map[string]any{"host": host}, "timestamp": "2021-01-01T09:15:27Z"})
	}
	e.accepted(map[string]any{"session_id": session, "category": "page interaction", "name": "pageview",
		"data": map[string]any{}, "timestamp": "2021-01-01T09:15:27Z"}) // an error record of that day
	e.waitEvents("/events/", 3)

	day := func(query string) (events, errors float64) {
		t.Helper()
		res := e.admin("GET", "/stats/?interval=day&from=2021-01-01T00:00:00Z&to=2021-01-01T23:59:59Z&"+query, nil)
		if res.status != 200 {
			t.Fatalf("GET /stats/?%s: %d %s", query, res.status, res.body)
		}
		results := res.json(t)["results"].([]any)
		if len(results) != 1 {
			t.Fatalf("GET /stats/?%s: %d intervals, want 1", query, len(results))
		}
		b := results[0].(map[string]any)
		return b["events"].(float64), b["errors"].(float64)
	}
	for _, tt := range []struct {
		query          string
		events, errors float64
	}{
		{"data.host=www.example.com", 2, 0},
		{"data.host=shop.example.com&category=" + url.QueryEscape("page interaction"), 1, 0},
		{"data.host=nowhere.example.com", 0, 0},
		{"name=pageview", 3, 0}, // received now: the error record is counted today, not then
	} {
		if ev, er := day(tt.query); ev != tt.events || er != tt.errors {
			t.Errorf("GET /stats/?%s: %v events, %v errors; want %v, %v", tt.query, ev, er, tt.events, tt.errors)
		}
	}
	for _, tt := range []struct{ query, param string }{
		{"data.a..b=1", "data.a..b"},
		{"data.x=" + url.QueryEscape(`{"a":1}`), "data.x"},
		{"data=1", "data"},
	} {
		p := wantProblem(t, e.admin("GET", "/stats/?"+tt.query, nil), 400, "invalid_parameter")
		if p["param"] != tt.param {
			t.Errorf("GET /stats/?%s: param %v, want %q (%v)", tt.query, p["param"], tt.param, p["detail"])
		}
	}
}
