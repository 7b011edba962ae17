package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// Page sizes of the UI's lists.
const (
	eventsPerPage   = 50
	sessionsPerPage = 50
	timelinePerPage = 200
)

// longGap is the pause in a session that its timeline marks.
const longGap = 5 * time.Minute

// eventForm is the events explorer's filters, as the URL holds them.
type eventForm struct {
	Session, Category, Name, Application, From, To, Order string
	Data                                                  []string // filters on members of data: path=value
}

// eventsData is the content of the events explorer.
type eventsData struct {
	Form    eventForm
	Problem string // why the filters are wrong
	Events  []eye.Event
	Next    string // the URL of the next page
	First   string // the URL of the first page, on a later page
	API     string // the same query in the API
	choices
}

// events answers GET /admin/events: the events explorer. Its URL holds
// the filters and the page, so that any view can be shared.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	d := eventsData{Form: eventForm{Session: q.Get("session"), Category: q.Get("category"), Name: q.Get("name"),
		Application: q.Get("application"), Order: q.Get("order")}}
	f := eye.EventFilter{Category: d.Form.Category, Name: d.Form.Name, ApplicationID: d.Form.Application,
		Ascending: d.Form.Order == "asc", Limit: eventsPerPage}
	var problems []string
	if d.Form.Session != "" {
		id, ok := eye.ParseUUID(d.Form.Session)
		if !ok {
			problems = append(problems, fmt.Sprintf("The session %q is not a UUID.", d.Form.Session))
		}
		f.SessionID = id
	}
	var apiData []string // the data filters as the API's query parameters
	for _, pv := range q["data"] {
		if pv = strings.TrimSpace(pv); pv == "" {
			continue
		}
		d.Form.Data = append(d.Form.Data, pv)
		path, value, ok := strings.Cut(pv, "=")
		df, err := api.ParseDataFilter(path, value)
		if !ok || err != nil {
			why := "no ="
			if ok {
				why = err.Error()
			}
			problems = append(problems, fmt.Sprintf("Data %q: %s (write path=value, such as form.first_name=John).", pv, why))
			continue
		}
		f.Data = append(f.Data, df)
		apiData = append(apiData, "data."+path, value)
	}
	if len(d.Form.Data) > api.MaxDataFilters {
		problems = append(problems, fmt.Sprintf("At most %d data filters may be given, not %d.", api.MaxDataFilters, len(d.Form.Data)))
	}
	var err error
	if f.From, d.Form.From, err = formTime(q.Get("from")); err != nil {
		problems = append(problems, "From: "+err.Error())
	}
	if f.To, d.Form.To, err = formTime(q.Get("to")); err != nil {
		problems = append(problems, "To: "+err.Error())
	}
	if c := q.Get("cursor"); c != "" {
		pos, asc, ok := api.ParseCursor(api.EventList, c)
		if !ok || asc != f.Ascending {
			problems = append(problems, "The page's position is not valid: start from the first page.")
		}
		f.After = &pos
		d.First = withQuery("/admin/events", d.Form.pairs()...)
	}
	if d.choices, err = h.choices(ctx); err != nil {
		h.fail(w, r, s, err)
		return
	}
	status := http.StatusOK
	if len(problems) > 0 {
		d.Problem = problems[0]
		status = http.StatusBadRequest
	} else {
		page, err := h.cfg.Store.Events(ctx, f)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.Events = page.Items
		if page.Next != nil {
			d.Next = withQuery("/admin/events", append(d.Form.pairs(), "cursor", api.Cursor(api.EventList, f.Ascending, *page.Next))...)
		}
	}
	d.API = withQuery("/events/", append([]string{"session", f.SessionID, "category", f.Category, "name", f.Name,
		"application", f.ApplicationID, "timestamp__gte", apiTime(f.From), "timestamp__lte", apiTime(f.To), "order", d.Form.Order},
		apiData...)...)
	h.render(w, r, status, "events", newView(s, "Events", "events", d))
}

// pairs are the filters as query parameters.
func (f eventForm) pairs() []string {
	pairs := []string{"session", f.Session, "category", f.Category, "name", f.Name, "application", f.Application,
		"from", f.From, "to", f.To, "order", f.Order}
	for _, pv := range f.Data {
		pairs = append(pairs, "data", pv)
	}
	return pairs
}

// formTime reads a time of a filter: what a datetime-local input sends
// (read as UTC), or any timestamp events may have. It returns the time and
// its form for the input.
func formTime(s string) (time.Time, string, error) {
	if s == "" {
		return time.Time{}, "", nil
	}
	if len(s) == len("2006-01-02T15:04") {
		s += ":00"
	}
	t, err := eye.ParseTime(s)
	if err != nil {
		return time.Time{}, s, fmt.Errorf("%q is not a time: use YYYY-MM-DD HH:MM[:SS] (UTC) or RFC 3339", s)
	}
	return t, t.Format("2006-01-02T15:04:05"), nil
}

// apiTime writes a time for the API's query string, "" for zero.
func apiTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return eye.FormatTime(t)
}

// choices are what the filter forms offer: the applications (and their
// names by id), and the categories and names of the event types.
type choices struct {
	Apps       map[string]string
	AppList    []eye.Application
	Categories []string
	Names      []string
}

func (h *Handler) choices(ctx context.Context) (choices, error) {
	var c choices
	apps, err := h.cfg.Store.Applications(ctx)
	if err != nil {
		return c, err
	}
	c.AppList, c.Apps = apps, make(map[string]string, len(apps))
	for _, a := range apps {
		c.Apps[a.ID] = a.Name
	}
	types, err := h.cfg.Store.EventTypes(ctx)
	if err != nil {
		return c, err
	}
	for _, t := range types {
		if !slices.Contains(c.Categories, t.Category) {
			c.Categories = append(c.Categories, t.Category)
		}
		if !slices.Contains(c.Names, t.Name) {
			c.Names = append(c.Names, t.Name)
		}
	}
	slices.Sort(c.Names)
	return c, nil
}

// eventData is the content of an event's page.
type eventData struct {
	Event eye.Event
	App   string
}

// event answers GET /admin/events/{id}: one event, its data pretty-printed.
func (h *Handler) event(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		h.errorPage(w, r, s, http.StatusNotFound, "Not found", fmt.Sprintf("No event has the id %q.", r.PathValue("id")))
		return
	}
	ev, err := h.cfg.Store.Event(r.Context(), id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := eventData{Event: ev, App: ev.ApplicationID}
	if a, err := h.cfg.Store.Application(r.Context(), ev.ApplicationID); err == nil {
		d.App = a.Name
	}
	h.render(w, r, http.StatusOK, "event", newView(s, ev.Category+" / "+ev.Name, "events", d))
}

// sessionsData is the content of the sessions list.
type sessionsData struct {
	Application string
	Find        string
	Problem     string
	Sessions    []eye.Session
	Next, First string
	choices
}

// sessions answers GET /admin/sessions: the sessions, most recent
// activity first, and a box to open one by its id.
func (h *Handler) sessions(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	d := sessionsData{Application: q.Get("application"), Find: q.Get("id")}
	if d.Find != "" {
		if id, ok := eye.ParseUUID(d.Find); ok {
			redirect(w, r, "/admin/sessions/"+id)
			return
		}
		d.Problem = fmt.Sprintf("%q is not a session id (a UUID).", d.Find)
	}
	var err error
	if d.choices, err = h.choices(ctx); err != nil {
		h.fail(w, r, s, err)
		return
	}
	f := eye.SessionFilter{ApplicationID: d.Application, Limit: sessionsPerPage}
	if c := q.Get("cursor"); c != "" {
		pos, _, ok := api.ParseCursor(api.SessionList, c)
		if !ok {
			d.Problem = "The page's position is not valid: start from the first page."
		}
		f.After = &pos
		d.First = withQuery("/admin/sessions", "application", d.Application)
	}
	status := http.StatusOK
	if d.Problem != "" {
		status = http.StatusBadRequest
	} else {
		page, err := h.cfg.Store.Sessions(ctx, f)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.Sessions = page.Items
		if page.Next != nil {
			d.Next = withQuery("/admin/sessions", "application", d.Application, "cursor", api.Cursor(api.SessionList, false, *page.Next))
		}
	}
	h.render(w, r, status, "sessions", newView(s, "Sessions", "sessions", d))
}

// timelineData is the content of a session's timeline.
type timelineData struct {
	Session  eye.Session
	Duration time.Duration
	Apps     []timelineApp
	AppNames map[string]string
	Rows     []timelineRow
	Next     string
	First    string
	Later    bool // a later page: the first row's gap is from the last page
}

// timelineApp is an application of a session, with its colour.
type timelineApp struct {
	ID, Name string
	Colour   int
}

// timelineRow is one event of a timeline, with the time since the one
// before it.
type timelineRow struct {
	Event  eye.Event
	Gap    time.Duration
	HasGap bool
	Long   bool          // a pause worth marking
	Offset time.Duration // since the session's first event
	Colour int           // its application's
}

// timeline answers GET /admin/sessions/{id}: the session's events in the
// order they occurred, with the time between them and the applications
// that sent them.
func (h *Handler) timeline(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		h.errorPage(w, r, s, http.StatusNotFound, "Not found", fmt.Sprintf("No session has the id %q.", r.PathValue("id")))
		return
	}
	sess, err := h.cfg.Store.Session(ctx, id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := timelineData{Session: sess, AppNames: map[string]string{}}
	if !sess.FirstSeen.IsZero() {
		d.Duration = sess.LastSeen.Sub(sess.FirstSeen)
	}
	colours := map[string]int{}
	for i, app := range sess.ApplicationIDs {
		name := app
		if a, err := h.cfg.Store.Application(ctx, app); err == nil {
			name = a.Name
		}
		colours[app] = i % 6
		d.AppNames[app] = name
		d.Apps = append(d.Apps, timelineApp{ID: app, Name: name, Colour: i % 6})
	}
	f := eye.EventFilter{SessionID: id, Ascending: true, Limit: timelinePerPage}
	var prev time.Time
	if c := r.URL.Query().Get("cursor"); c != "" {
		pos, asc, ok := api.ParseCursor(api.EventList, c)
		if !ok || !asc {
			h.errorPage(w, r, s, http.StatusBadRequest, "Invalid page", "The page's position is not valid: start from the first page.")
			return
		}
		f.After, prev, d.Later = &pos, pos.Time, true
		d.First = "/admin/sessions/" + id
	}
	page, err := h.cfg.Store.Events(ctx, f)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	for i, ev := range page.Items {
		row := timelineRow{Event: ev, Offset: ev.Timestamp.Sub(sess.FirstSeen), Colour: colours[ev.ApplicationID]}
		if i > 0 || d.Later {
			row.HasGap, row.Gap = true, ev.Timestamp.Sub(prev)
			row.Long = row.Gap >= longGap
		}
		prev = ev.Timestamp
		d.Rows = append(d.Rows, row)
	}
	if page.Next != nil {
		d.Next = "/admin/sessions/" + id + "?" + url.Values{"cursor": {api.Cursor(api.EventList, true, *page.Next)}}.Encode()
	}
	h.render(w, r, http.StatusOK, "timeline", newView(s, "Session "+shortID(id), "sessions", d))
}
