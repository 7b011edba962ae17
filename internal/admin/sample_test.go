package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/theeye/eye"
)

// sample is the data a sample day wrote: its applications by name, and
// error records to act on.
type sample struct {
	apps      map[string]string // id by name
	future    string            // an open error record with a future timestamp
	emptyData int               // open error records with empty data
}

// fill writes a day of traffic ending now straight into the store:
// sessions of three applications (a few shared by two), shaped by the
// hour of the day, with pauses, and the error records a real day has,
// among them a burst of schema violations after a release. sessions sets
// its size.
func (e *env) fill(sessions int) sample {
	e.t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	s := sample{apps: map[string]string{}}
	for i, name := range []string{"web shop", "mobile app", "back office"} {
		a := eye.Application{ID: eye.NewID(), Name: name, CreatedAt: time.Now().Add(-30*24*time.Hour + time.Duration(i)*time.Hour).UTC(), Active: true}
		if err := e.store.CreateApplication(ctx, a); err != nil {
			e.t.Fatal(err)
		}
		s.apps[name] = a.ID
	}
	for _, sc := range []struct{ category, name, body string }{
		{"page interaction", "pageview", `{"type":"object","required":["host","path"]}`},
		{"page interaction", "pageview", `{"type":"object","required":["host","path"],"properties":{"host":{"type":"string","format":"hostname"},"path":{"type":"string","pattern":"^/"}}}`},
		{"form interaction", "submit", `{"type":"object","required":["host","path","form"],"properties":{"form":{"type":"object","required":["first_name","last_name"]}}}`},
		{"commerce", "add to cart", `{"type":"object","required":["sku","quantity"],"properties":{"quantity":{"type":"integer","minimum":1}}}`},
		{"app", "launch", `{"type":"object","required":["os","version"]}`},
	} {
		if _, err := e.store.PutSchema(ctx, eye.Schema{Category: sc.category, Name: sc.name, Body: []byte(sc.body),
			CreatedAt: time.Now().Add(-7 * 24 * time.Hour).UTC()}); err != nil {
			e.t.Fatal(err)
		}
	}

	now := time.Now().UTC().Add(-20 * time.Second)
	var batch eye.Batch
	seq := uint64(1 << 40)
	flush := func() {
		if batch.Len() == 0 {
			return
		}
		if _, err := e.store.Write(ctx, batch); err != nil {
			e.t.Fatal(err)
		}
		batch = eye.Batch{}
	}
	add := func(ev eye.Event) {
		seq++
		ev.ID, ev.Seq = eye.NewID(), seq
		ev.ReceivedAt = ev.Timestamp.Add(time.Duration(80+rng.IntN(400)) * time.Millisecond)
		batch.Events = append(batch.Events, ev)
		if batch.Len() >= 1000 {
			flush()
		}
	}
	fail := func(app, session, category, name string, at time.Time, payload map[string]any, reasons ...eye.Reason) string {
		seq++
		body, _ := json.Marshal(payload)
		rec := eye.ErrorRecord{ID: eye.NewID(), ReceivedAt: at, ApplicationID: app, Category: category, Name: name,
			SessionID: session, Reasons: reasons, Payload: body, Seq: seq, Status: eye.StatusOpen}
		batch.Errors = append(batch.Errors, rec)
		return rec.ID
	}

	// Traffic by hour of the day (UTC): quiet at night, busy in the evening.
	weight := func(t time.Time) float64 {
		h := float64(t.Hour()) + float64(t.Minute())/60
		return 0.15 + math.Pow(math.Max(0, math.Sin((h-6)/24*2*math.Pi)), 1.5) + 0.35*math.Exp(-math.Pow(h-20.5, 2)/3)
	}
	pages := []string{"/", "/shoes", "/shoes/trail-runner-2", "/bags", "/sale", "/cart", "/checkout", "/account"}
	elements := []string{"newsletter signup", "chat bubble", "size guide", "add to wishlist"}
	skus := []string{"TR-2-42", "TR-2-44", "BG-CITY-S", "SK-WOOL-3", "JK-RAIN-M"}
	screens := []string{"home", "search", "product", "cart", "orders"}
	release := now.Add(-5*time.Hour - 20*time.Minute) // a release broke the submit form for 25 minutes
	for range sessions {
		var start time.Time
		for {
			start = now.Add(-time.Duration(rng.Int64N(int64(24 * time.Hour))))
			if rng.Float64()*1.6 < weight(start) {
				break
			}
		}
		session := eye.NewID()
		app := "web shop"
		switch r := rng.Float64(); {
		case r < 0.22:
			app = "mobile app"
		case r < 0.3:
			app = "back office"
		}
		t := start
		steps := 3 + rng.IntN(14)
		for i := range steps {
			if t.After(now) {
				break
			}
			appID := s.apps[app]
			if app == "web shop" && i > 3 && rng.Float64() < 0.04 {
				app = "mobile app" // continues on the phone: one session, two applications
				appID = s.apps[app]
			}
			ev := eye.Event{ApplicationID: appID, SessionID: session, Timestamp: t.Truncate(time.Microsecond)}
			var data map[string]any
			switch app {
			case "web shop":
				path := pages[rng.IntN(len(pages))]
				switch r := rng.Float64(); {
				case i == 0 || r < 0.5:
					ev.Category, ev.Name = "page interaction", "pageview"
					data = map[string]any{"host": "www.example.com", "path": path}
					if i == 0 {
						data["referrer"] = []string{"https://www.google.com/", "https://news.example.org/", "direct"}[rng.IntN(3)]
					}
				case r < 0.68:
					ev.Category, ev.Name = "page interaction", "cta click"
					data = map[string]any{"host": "www.example.com", "path": path, "element": elements[rng.IntN(len(elements))]}
				case r < 0.86:
					ev.Category, ev.Name = "commerce", "add to cart"
					data = map[string]any{"sku": skus[rng.IntN(len(skus))], "quantity": 1 + rng.IntN(2), "price": json.Number(fmt.Sprintf("%d.90", 39+rng.IntN(120)))}
				case r < 0.94:
					ev.Category, ev.Name = "form interaction", "submit"
					data = map[string]any{"host": "www.example.com", "path": "/account", "form": map[string]any{"first_name": "Jo", "last_name": "Doe"}}
				default:
					ev.Category, ev.Name = "commerce", "checkout"
					data = map[string]any{"cart_value": json.Number(fmt.Sprintf("%d.80", 60+rng.IntN(300))), "currency": "EUR", "items": 1 + rng.IntN(4)}
				}
			case "mobile app":
				if i == 0 {
					ev.Category, ev.Name = "app", "launch"
					data = map[string]any{"os": []string{"iOS 18.2", "Android 15"}[rng.IntN(2)], "version": "4.12.0"}
				} else if rng.Float64() < 0.8 {
					ev.Category, ev.Name = "app", "screen view"
					data = map[string]any{"screen": screens[rng.IntN(len(screens))]}
				} else {
					ev.Category, ev.Name = "commerce", "add to cart"
					data = map[string]any{"sku": skus[rng.IntN(len(skus))], "quantity": 1, "price": json.Number("59.90")}
				}
			default:
				if rng.Float64() < 0.7 {
					ev.Category, ev.Name = "back office", "report view"
					data = map[string]any{"report": []string{"orders", "returns", "stock"}[rng.IntN(3)], "rows": 20 + rng.IntN(500)}
				} else {
					ev.Category, ev.Name = "back office", "export"
					data = map[string]any{"report": "orders", "format": "csv"}
				}
			}
			ev.Data, _ = json.Marshal(data)

			// What goes wrong on a real day.
			switch r := rng.Float64(); {
			case ev.Name == "submit" && t.After(release) && t.Before(release.Add(25*time.Minute)):
				data["form"] = map[string]any{"first_name": "Jo"}
				fail(appID, session, ev.Category, ev.Name, ev.Timestamp, map[string]any{"session_id": session, "category": ev.Category,
					"name": ev.Name, "data": data, "timestamp": eye.FormatTime(ev.Timestamp)},
					eye.Reason{Code: eye.CodeSchemaViolation, Field: "/form/last_name", Keyword: "required", Message: `missing property "last_name"`})
			case app == "mobile app" && r < 0.025:
				future := ev.Timestamp.Add(3 * time.Hour)
				id := fail(appID, session, ev.Category, ev.Name, ev.Timestamp, map[string]any{"session_id": session,
					"category": ev.Category, "name": ev.Name, "data": data, "timestamp": eye.FormatTime(future)},
					eye.Reason{Code: eye.CodeFutureTimestamp, Field: "timestamp", Message: fmt.Sprintf(
						"timestamp %s is in the future: later than received_at %s plus the tolerance of 1m0s", eye.FormatTime(future), eye.FormatTime(ev.Timestamp))})
				s.future = id
			case app == "web shop" && r < 0.012:
				fail(appID, session, ev.Category, ev.Name, ev.Timestamp, map[string]any{"session_id": session,
					"category": ev.Category, "name": ev.Name, "data": map[string]any{}, "timestamp": eye.FormatTime(ev.Timestamp)},
					eye.Reason{Code: eye.CodeEmptyData, Field: "data", Message: "data is an empty object"})
				s.emptyData++
			case app == "back office" && r < 0.02:
				fail(appID, "", "", "", ev.Timestamp, map[string]any{"session": "n/a", "category": ev.Category, "name": ev.Name, "data": data},
					eye.Reason{Code: eye.CodeMissingField, Field: "session_id", Message: "session_id is missing"},
					eye.Reason{Code: eye.CodeMissingField, Field: "timestamp", Message: "timestamp is missing"})
			default:
				add(ev)
			}
			gap := time.Duration(2+rng.ExpFloat64()*25) * time.Second
			if rng.Float64() < 0.05 {
				gap = time.Duration(6+rng.IntN(20)) * time.Minute // away for a while
			}
			t = t.Add(gap + time.Duration(rng.IntN(1000))*time.Millisecond)
		}
	}
	// The release that broke the submit form: its refusals pile up.
	for i := range 75 {
		at := release.Add(time.Duration(i)*20*time.Second + time.Duration(rng.IntN(15000))*time.Millisecond)
		session := eye.NewID()
		data := map[string]any{"host": "www.example.com", "path": "/account", "form": map[string]any{"first_name": "Sam"}}
		fail(s.apps["web shop"], session, "form interaction", "submit", at, map[string]any{"session_id": session,
			"category": "form interaction", "name": "submit", "data": data, "timestamp": eye.FormatTime(at)},
			eye.Reason{Code: eye.CodeSchemaViolation, Field: "/form/last_name", Keyword: "required", Message: `missing property "last_name"`})
	}
	// The sessions drawn depend on the hour of the day: a small sample may
	// hold no record of these two kinds, which the pages act on.
	if s.future == "" {
		session, at := eye.NewID(), now.Add(-time.Hour)
		future := at.Add(3 * time.Hour)
		s.future = fail(s.apps["mobile app"], session, "app", "screen view", at, map[string]any{"session_id": session,
			"category": "app", "name": "screen view", "data": map[string]any{"screen": "home"}, "timestamp": eye.FormatTime(future)},
			eye.Reason{Code: eye.CodeFutureTimestamp, Field: "timestamp", Message: fmt.Sprintf(
				"timestamp %s is in the future: later than received_at %s plus the tolerance of 1m0s", eye.FormatTime(future), eye.FormatTime(at))})
	}
	if s.emptyData == 0 {
		session, at := eye.NewID(), now.Add(-2*time.Hour)
		fail(s.apps["web shop"], session, "page interaction", "pageview", at, map[string]any{"session_id": session,
			"category": "page interaction", "name": "pageview", "data": map[string]any{}, "timestamp": eye.FormatTime(at)},
			eye.Reason{Code: eye.CodeEmptyData, Field: "data", Message: "data is an empty object"})
		s.emptyData++
	}
	flush()
	return s
}
