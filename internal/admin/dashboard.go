package admin

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// topTypes is how many event types the dashboard lists.
const topTypes = 8

// dashboardData is the content of the dashboard.
type dashboardData struct {
	Status    api.PipelineStatus
	StoreSize int64
	SizeError string
	Hour, Day struct{ Events, Errors chart }
	Types     []eye.EventType // the most frequent, most first
	TypeMax   int64
	TypeCount int
	Apps      map[string]string // application names by id, for the live tail
}

// dashboard answers GET /admin/: events and errors per minute over the
// last hour and day (events by their timestamp, errors by their arrival),
// the pipeline's health, the store's size and the top event types.
func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	var d dashboardData
	end := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	dayStart, hourStart := end.Add(-24*time.Hour), end.Add(-time.Hour)
	buckets, err := h.cfg.Store.Stats(ctx, eye.StatsFilter{From: dayStart, To: end, Interval: eye.IntervalMinute})
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Hour.Events = newChart("Events per minute, last hour", "events", hourStart,
		series(buckets, hourStart, 60, false), 15*time.Minute, "15:04")
	d.Hour.Errors = newChart("Errors per minute, last hour", "errors", hourStart,
		series(buckets, hourStart, 60, true), 15*time.Minute, "15:04")
	d.Day.Events = newChart("Events per minute, last 24 hours", "events", dayStart,
		series(buckets, dayStart, 24*60, false), 4*time.Hour, "15:04")
	d.Day.Errors = newChart("Errors per minute, last 24 hours", "errors", dayStart,
		series(buckets, dayStart, 24*60, true), 4*time.Hour, "15:04")

	types, err := h.cfg.Store.EventTypes(ctx)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	slices.SortStableFunc(types, func(a, b eye.EventType) int { return cmp.Compare(b.Events, a.Events) })
	d.TypeCount = len(types)
	d.Types = types[:min(len(types), topTypes)]
	for _, t := range d.Types {
		d.TypeMax = max(d.TypeMax, t.Events)
	}

	apps, err := h.cfg.Store.Applications(ctx)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Apps = make(map[string]string, len(apps))
	for _, a := range apps {
		d.Apps[a.ID] = a.Name
	}
	d.Status = h.cfg.Status(ctx)
	if d.StoreSize, err = h.cfg.Store.Size(ctx); err != nil {
		d.SizeError = eye.ErrorMessage(err)
	}
	h.render(w, r, http.StatusOK, "dashboard", newView(s, "Dashboard", "dashboard", d))
}
