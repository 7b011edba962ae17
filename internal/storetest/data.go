package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theeye/eye"
)

// testDataFilters checks filters on members of data: strings, numbers,
// booleans and null, nested paths, keys with special characters, several
// at once, with the other filters, over pages.
func testDataFilters(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	withData := func(ts int, data string) eye.Event {
		ev := g.event(sess, ts)
		ev.Data = []byte(data)
		return ev
	}
	a := withData(0, `{"host":"www.example.com","path":"/","count":3,"price":1.50,"big":12345678901234567890123,
		"ok":true,"none":null,"form":{"first_name":"John","last_name":"Doe"}}`)
	b := withData(10, `{"host":"shop.example.com","path":"/cart","count":"3","price":2,"ok":false,
		"form":{"first_name":"Ada"},"tags":["x","y"],"small":-0.000001}`)
	c := withData(20, `{"host":"www.example.com","path":"/pricing","count":30,"one":1,"keys":{"a.b":1,"a\"b":2,
		"c\\d":3,"café":4,"<&>":5,"g h":6,"$":7,"[0]":8,"*":9,"'":10,"\u00e9t\u00e9":11,"line\nbreak":12}}`)
	d := withData(30, `{"host":"www.example.com","path":"/contact","count":3.0,"deep":{"a":{"b":{"c":{"d":"e"}}}}}`)
	d.Category, d.Name = "form interaction", "submit"
	write(t, s, events(a, b, c, d))

	num := func(s string) json.Number { return json.Number(s) }
	filter := func(kv ...any) []eye.DataFilter {
		var out []eye.DataFilter
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, eye.DataFilter{Path: kv[i].([]string), Value: kv[i+1]})
		}
		return out
	}
	p := func(keys ...string) []string { return keys }
	tests := []struct {
		name string
		f    eye.EventFilter
		want []eye.Event
	}{
		{"string", eye.EventFilter{Data: filter(p("host"), "www.example.com")}, []eye.Event{d, c, a}},
		{"another string", eye.EventFilter{Data: filter(p("path"), "/cart")}, []eye.Event{b}},
		{"no match", eye.EventFilter{Data: filter(p("host"), "nowhere.example.com")}, nil},
		{"no such member", eye.EventFilter{Data: filter(p("referrer"), "www.example.com")}, nil},
		{"a string is not a prefix", eye.EventFilter{Data: filter(p("host"), "www")}, nil},
		{"case matters", eye.EventFilter{Data: filter(p("host"), "WWW.EXAMPLE.COM")}, nil},
		{"a number matches equal numbers", eye.EventFilter{Data: filter(p("count"), num("3"))}, []eye.Event{d, a}},
		{"a number does not match its text", eye.EventFilter{Data: filter(p("count"), num("30"))}, []eye.Event{c}},
		{"a string does not match a number", eye.EventFilter{Data: filter(p("count"), "3")}, []eye.Event{b}},
		{"a decimal", eye.EventFilter{Data: filter(p("price"), num("1.5"))}, []eye.Event{a}},
		{"a decimal with zeros", eye.EventFilter{Data: filter(p("price"), num("1.50"))}, []eye.Event{a}},
		{"a whole decimal", eye.EventFilter{Data: filter(p("price"), num("2.0"))}, []eye.Event{b}},
		{"an exponent", eye.EventFilter{Data: filter(p("price"), num("2e0"))}, []eye.Event{b}},
		{"a small negative", eye.EventFilter{Data: filter(p("small"), num("-1e-6"))}, []eye.Event{b}},
		{"a big integer", eye.EventFilter{Data: filter(p("big"), num("12345678901234567890123"))}, []eye.Event{a}},
		{"true", eye.EventFilter{Data: filter(p("ok"), true)}, []eye.Event{a}},
		{"false", eye.EventFilter{Data: filter(p("ok"), false)}, []eye.Event{b}},
		{"true is not 1", eye.EventFilter{Data: filter(p("ok"), num("1"))}, nil},
		{"1 is not true", eye.EventFilter{Data: filter(p("one"), true)}, nil},
		{"true is not a string", eye.EventFilter{Data: filter(p("ok"), "true")}, nil},
		{"null", eye.EventFilter{Data: filter(p("none"), nil)}, []eye.Event{a}},
		{"null is not absent", eye.EventFilter{Data: filter(p("absent"), nil)}, nil},
		{"nested", eye.EventFilter{Data: filter(p("form", "first_name"), "John")}, []eye.Event{a}},
		{"deep", eye.EventFilter{Data: filter(p("deep", "a", "b", "c", "d"), "e")}, []eye.Event{d}},
		{"an object is not a string", eye.EventFilter{Data: filter(p("form"), "John")}, nil},
		{"an array is not its element", eye.EventFilter{Data: filter(p("tags"), "x")}, nil},
		{"a path through a string", eye.EventFilter{Data: filter(p("host", "x"), "www.example.com")}, nil},
		{"a path through an array", eye.EventFilter{Data: filter(p("tags", "0"), "x")}, nil},
		{"two, both hold", eye.EventFilter{Data: filter(p("host"), "www.example.com", p("count"), num("3"))}, []eye.Event{d, a}},
		{"two, one holds", eye.EventFilter{Data: filter(p("host"), "www.example.com", p("path"), "/cart")}, nil},
		{"three", eye.EventFilter{Data: filter(p("host"), "www.example.com", p("count"), num("3"), p("path"), "/")}, []eye.Event{a}},
		{"with the category", eye.EventFilter{Category: "form interaction", Data: filter(p("host"), "www.example.com")}, []eye.Event{d}},
		{"with the name", eye.EventFilter{Name: "pageview", Data: filter(p("count"), num("3"))}, []eye.Event{a}},
		{"with the time range", eye.EventFilter{From: at(5), To: at(25), Data: filter(p("host"), "www.example.com")}, []eye.Event{c}},
		{"with the session", eye.EventFilter{SessionID: newSession(), Data: filter(p("host"), "www.example.com")}, nil},
		{"ascending", eye.EventFilter{Ascending: true, Data: filter(p("host"), "www.example.com")}, []eye.Event{a, c, d}},
	}
	// Keys with characters that a path syntax could read otherwise.
	for i, key := range []string{"a.b", `a"b`, `c\d`, "café", "<&>", "g h", "$", "[0]", "*", "'", "été", "line\nbreak"} {
		tests = append(tests, struct {
			name string
			f    eye.EventFilter
			want []eye.Event
		}{fmt.Sprintf("key %q", key), eye.EventFilter{Data: filter(p("keys", key), num(fmt.Sprint(i+1)))}, []eye.Event{c}})
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 100} {
			tt.f.Limit = limit
			got := listAll(t, s, tt.f)
			if !slices.Equal(ids(got), ids(tt.want)) {
				t.Errorf("%s, limit %d: Events(%+v) = %v, want %v", tt.name, limit, tt.f, ids(got), ids(tt.want))
			}
		}
	}
}

// testDataFilterPages checks that a data filter pages through many events
// with the others in between, in both orders.
func testDataFilterPages(t *testing.T, s eye.Store) {
	g := &gen{}
	sess := newSession()
	var all, want []eye.Event
	for i := range 60 {
		ev := g.event(sess, i/4) // four events per timestamp
		ev.Data = fmt.Appendf(nil, `{"i":%d,"even":%t}`, i, i%2 == 0)
		all = append(all, ev)
		if i%2 == 0 {
			want = append(want, ev)
		}
	}
	write(t, s, events(all...))
	f := eye.EventFilter{Data: []eye.DataFilter{{Path: []string{"even"}, Value: true}}, Ascending: true}
	for _, limit := range []int{1, 3, 7, 30, 31} {
		f.Limit, f.Ascending = limit, true
		if got := listAll(t, s, f); !slices.Equal(ids(got), ids(want)) {
			t.Errorf("ascending, limit %d: %d events, want %d in order", limit, len(got), len(want))
		}
		f.Ascending = false
		desc := slices.Clone(want)
		slices.Reverse(desc)
		if got := listAll(t, s, f); !slices.Equal(ids(got), ids(desc)) {
			t.Errorf("descending, limit %d: %d events, want %d in order", limit, len(got), len(want))
		}
	}
}

// testDataStats checks Stats with filters on members of data: the
// matching events are counted per interval by their timestamp, with the
// other filters, error records not at all; before 1970 too.
func testDataStats(t *testing.T, s eye.Store) {
	g := &gen{}
	ctx := context.Background()
	app := "stats-" + eye.NewID()
	day := time.Date(2022, 3, 4, 0, 0, 0, 0, time.UTC)
	old := time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC) // a negative timestamp
	mk := func(ts time.Time, category, data string) eye.Event {
		ev := g.event(newSession(), 0)
		ev.ApplicationID, ev.Timestamp, ev.Category, ev.Data = app, ts, category, []byte(data)
		return ev
	}
	rec := g.errorRecord(newSession(), eye.CodeEmptyData, 0)
	rec.ApplicationID, rec.ReceivedAt = app, day.Add(10*time.Minute)
	write(t, s, eye.Batch{Events: []eye.Event{
		mk(day.Add(10*time.Minute+5*time.Second), "page", `{"host":"a.example.com","n":1}`),
		mk(day.Add(10*time.Minute+59*time.Second), "page", `{"host":"a.example.com","n":2}`),
		mk(day.Add(10*time.Minute+30*time.Second), "page", `{"host":"b.example.com","n":1}`),
		mk(day.Add(2*time.Hour), "form", `{"host":"a.example.com","n":1}`),
		mk(old, "page", `{"host":"a.example.com","n":1}`),
	}, Errors: []eye.ErrorRecord{rec}})

	host := func(h string) []eye.DataFilter { return []eye.DataFilter{{Path: []string{"host"}, Value: h}} }
	whole := func(f eye.StatsFilter) eye.StatsFilter {
		f.ApplicationID, f.From, f.To = app, day, day.Add(24*time.Hour)
		return f
	}
	tests := []struct {
		f    eye.StatsFilter
		want string
	}{
		{whole(eye.StatsFilter{Interval: eye.IntervalMinute, Data: host("a.example.com")}), "2022-03-04 00:10 2/0, 2022-03-04 02:00 1/0"},
		{whole(eye.StatsFilter{Interval: eye.IntervalHour, Data: host("a.example.com")}), "2022-03-04 00:00 2/0, 2022-03-04 02:00 1/0"},
		{whole(eye.StatsFilter{Interval: eye.IntervalDay, Data: host("a.example.com")}), "2022-03-04 00:00 3/0"},
		{whole(eye.StatsFilter{Interval: eye.IntervalDay, Data: host("b.example.com")}), "2022-03-04 00:00 1/0"},
		{whole(eye.StatsFilter{Interval: eye.IntervalDay, Data: host("c.example.com")}), ""},
		{whole(eye.StatsFilter{Interval: eye.IntervalHour, Category: "form", Data: host("a.example.com")}), "2022-03-04 02:00 1/0"},
		{whole(eye.StatsFilter{Interval: eye.IntervalDay, Data: append(host("a.example.com"),
			eye.DataFilter{Path: []string{"n"}, Value: json.Number("1")})}), "2022-03-04 00:00 2/0"},
		{eye.StatsFilter{ApplicationID: app, Interval: eye.IntervalMinute, From: day.Add(10 * time.Minute), To: day.Add(11 * time.Minute),
			Data: host("a.example.com")}, "2022-03-04 00:10 2/0"},
		{eye.StatsFilter{ApplicationID: app, Interval: eye.IntervalMinute, From: day.Add(11 * time.Minute), To: day.Add(2 * time.Hour),
			Data: host("a.example.com")}, ""},
		{eye.StatsFilter{ApplicationID: app, Interval: eye.IntervalHour, From: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
			To: time.Date(1970, 1, 1, 1, 0, 0, 0, time.UTC), Data: host("a.example.com")}, "1969-12-31 23:00 1/0"},
		{eye.StatsFilter{ApplicationID: app, Interval: eye.IntervalDay, From: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
			To: time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), Data: host("a.example.com")}, "1969-12-31 00:00 1/0"},
	}
	for _, tt := range tests {
		got, err := s.Stats(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range got {
			out = append(out, fmt.Sprintf("%s %d/%d", b.Start.Format("2006-01-02 15:04"), b.Events, b.Errors))
		}
		if got := strings.Join(out, ", "); got != tt.want {
			t.Errorf("Stats(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}
