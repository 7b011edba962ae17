package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// errorsPerPage is the page size of the errors inbox; discardPage the
// records a bulk discard marks per transaction.
const (
	errorsPerPage = 50
	discardPage   = 500
)

// statusAny shows error records of every status (the inbox shows the
// open ones unless told otherwise).
const statusAny = "any"

// errorForm is the errors inbox's filters, as the URL (or a bulk action's
// form) holds them.
type errorForm struct {
	Code, Category, Name, Application, Session, Status string
}

// readErrorForm reads the filters of the inbox and the error filter they
// select; problem says what is wrong with them.
func readErrorForm(v url.Values) (form errorForm, f eye.ErrorFilter, problem string) {
	form = errorForm{Code: v.Get("code"), Category: v.Get("category"), Name: v.Get("name"),
		Application: v.Get("application"), Session: v.Get("session"), Status: v.Get("status")}
	if form.Status == "" {
		form.Status = eye.StatusOpen
	}
	f = eye.ErrorFilter{Code: form.Code, Category: form.Category, Name: form.Name, ApplicationID: form.Application,
		Status: form.Status}
	switch form.Status {
	case eye.StatusOpen, eye.StatusReplayed, eye.StatusDiscarded:
	case statusAny:
		f.Status = ""
	default:
		problem = fmt.Sprintf("The status %q is none of open, replayed, discarded, any.", form.Status)
	}
	if form.Session != "" {
		id, ok := eye.ParseUUID(form.Session)
		if !ok {
			problem = fmt.Sprintf("The session %q is not a UUID.", form.Session)
		}
		f.SessionID = id
	}
	return form, f, problem
}

// pairs are the filters as query parameters.
func (f errorForm) pairs() []string {
	return []string{"code", f.Code, "category", f.Category, "name", f.Name, "application", f.Application,
		"session", f.Session, "status", f.Status}
}

// codes are the validation codes, for the inbox's filter.
func codes() []string {
	return []string{eye.CodeMalformedJSON, eye.CodeMissingField, eye.CodeInvalidSessionID, eye.CodeInvalidType,
		eye.CodeTooLong, eye.CodeDataNotObject, eye.CodeEmptyData, eye.CodeTooDeep, eye.CodeInvalidTimestamp,
		eye.CodeFutureTimestamp, eye.CodeSchemaViolation, eye.CodeUnknownEventType, eye.CodeStoreRejected,
		eye.CodeUndecodable}
}

// errorsData is the content of the errors inbox.
type errorsData struct {
	Form    errorForm
	Problem string
	Records []eye.ErrorRecord
	Next    string
	First   string
	API     string
	Codes   []string
	choices
}

// errors answers GET /admin/errors: the error records matching the
// filters, newest first, with the actions on all of them.
func (h *Handler) errors(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	form, f, problem := readErrorForm(q)
	d := errorsData{Form: form, Problem: problem, Codes: codes()}
	f.Limit = errorsPerPage
	if c := q.Get("cursor"); c != "" {
		pos, _, ok := api.ParseCursor(api.ErrorList, c)
		if !ok && d.Problem == "" {
			d.Problem = "The page's position is not valid: start from the first page."
		}
		f.After = &pos
		d.First = withQuery("/admin/errors", form.pairs()...)
	}
	var err error
	if d.choices, err = h.choices(ctx); err != nil {
		h.fail(w, r, s, err)
		return
	}
	status := http.StatusOK
	if d.Problem != "" {
		status = http.StatusBadRequest
	} else {
		page, err := h.cfg.Store.Errors(ctx, f)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.Records = page.Items
		if page.Next != nil {
			d.Next = withQuery("/admin/errors", append(form.pairs(), "cursor", api.Cursor(api.ErrorList, false, *page.Next))...)
		}
	}
	d.API = withQuery("/errors/", "code", f.Code, "category", f.Category, "name", f.Name, "application", f.ApplicationID,
		"session", f.SessionID, "status", f.Status)
	v := newView(s, "Errors", "errors", d)
	if q.Get("outcome") == "discarded" {
		n, _ := strconv.Atoi(q.Get("n"))
		v.Outcome = &outcome{Kind: "ok", Text: fmt.Sprintf("%s open records discarded.", formatCount(int64(n)))}
	}
	h.render(w, r, status, "errors", v)
}

// errorData is the content of an error record's page.
type errorData struct {
	Record eye.ErrorRecord
	App    string
}

// errorRecord answers GET /admin/errors/{id}: a record's reasons beside
// the payload as it was received, and what can be done with it.
func (h *Handler) errorRecord(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		h.errorPage(w, r, s, http.StatusNotFound, "Not found", fmt.Sprintf("No error record has the id %q.", r.PathValue("id")))
		return
	}
	rec, err := h.cfg.Store.ErrorRecord(r.Context(), id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := errorData{Record: rec, App: rec.ApplicationID}
	if a, err := h.cfg.Store.Application(r.Context(), rec.ApplicationID); err == nil {
		d.App = a.Name
	}
	v := newView(s, "Error record", "errors", d)
	switch r.URL.Query().Get("outcome") {
	case "replayed":
		v.Outcome = &outcome{Kind: "ok", Text: "Replayed: the record is now an event.", Link: "/admin/events/" + rec.ID, What: "See the event"}
	case "invalid":
		v.Outcome = &outcome{Kind: "warn", Text: "Still invalid with today's rules and schemas: the reasons below are the new ones."}
	case "discarded":
		v.Outcome = &outcome{Kind: "ok", Text: "Discarded: bulk replays leave this record alone."}
	}
	h.render(w, r, http.StatusOK, "error-record", v)
}

// replayOne answers POST /admin/errors/{id}/replay: the record is checked
// with today's rules and schemas, and stored as an event when it passes.
func (h *Handler) replayOne(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		h.errorPage(w, r, s, http.StatusNotFound, "Not found", fmt.Sprintf("No error record has the id %q.", r.PathValue("id")))
		return
	}
	_, reasons, err := h.cfg.Replay.One(r.Context(), id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	result := "replayed"
	if len(reasons) > 0 {
		result = "invalid"
	}
	h.record(r, s, eye.ActionErrorReplay, id, map[string]any{"outcome": result})
	h.log.Info("admin: error record replayed", "user", s.user.Name, "error_id", id, "outcome", result)
	redirect(w, r, "/admin/errors/"+id+"?outcome="+result)
}

// discardOne answers POST /admin/errors/{id}/discard.
func (h *Handler) discardOne(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := eye.ParseUUID(r.PathValue("id"))
	if !ok {
		h.errorPage(w, r, s, http.StatusNotFound, "Not found", fmt.Sprintf("No error record has the id %q.", r.PathValue("id")))
		return
	}
	if err := h.cfg.Store.SetErrorStatus(r.Context(), id, eye.StatusDiscarded); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.record(r, s, eye.ActionErrorDiscard, id, nil)
	h.log.Info("admin: error record discarded", "user", s.user.Name, "error_id", id)
	redirect(w, r, "/admin/errors/"+id+"?outcome=discarded")
}

// replayAll answers POST /admin/errors/replay: a background job replays
// every open record matching the form's filters; its page follows it.
func (h *Handler) replayAll(w http.ResponseWriter, r *http.Request, s *session) {
	_, f, problem := readErrorForm(r.PostForm)
	if problem != "" {
		h.errorPage(w, r, s, http.StatusBadRequest, "Invalid filters", problem)
		return
	}
	f.Status = eye.StatusOpen
	j, err := h.cfg.Replay.Start(r.Context(), f)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.record(r, s, eye.ActionErrorsReplayJob, j.ID, map[string]any{"filter": filterDetails(f)})
	h.log.Info("admin: replay job started", "user", s.user.Name, "job", j.ID)
	redirect(w, r, "/admin/jobs/"+j.ID)
}

// discardAll answers POST /admin/errors/discard: every open record
// matching the form's filters is discarded, a page at a time.
func (h *Handler) discardAll(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	form, f, problem := readErrorForm(r.PostForm)
	if problem != "" {
		h.errorPage(w, r, s, http.StatusBadRequest, "Invalid filters", problem)
		return
	}
	f.Status, f.Limit = eye.StatusOpen, discardPage
	var n int64
	for {
		page, err := h.cfg.Store.Errors(ctx, f)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		ids := make([]string, len(page.Items))
		for i, rec := range page.Items {
			ids[i] = rec.ID
		}
		done, err := h.cfg.Store.DiscardErrors(ctx, ids)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		n += done
		if page.Next == nil {
			break
		}
		f.After = page.Next
	}
	h.record(r, s, eye.ActionErrorDiscard, "filter", map[string]any{"filter": filterDetails(f), "count": n})
	h.log.Info("admin: error records discarded", "user", s.user.Name, "count", n)
	form.Status = eye.StatusOpen
	redirect(w, r, withQuery("/admin/errors", append(form.pairs(), "outcome", "discarded", "n", strconv.FormatInt(n, 10))...))
}

// jobData is the content of a job's page.
type jobData struct {
	Job  eye.Job
	Back string // the inbox with the job's filters
}

// job answers GET /admin/jobs/{id}: a replay job's progress, which the
// page follows through the API until the job ends.
func (h *Handler) job(w http.ResponseWriter, r *http.Request, s *session) {
	j, err := h.cfg.Store.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	f := j.Filter
	back := withQuery("/admin/errors", "code", f.Code, "category", f.Category, "name", f.Name,
		"application", f.ApplicationID, "session", f.SessionID, "status", statusAny)
	h.render(w, r, http.StatusOK, "job", newView(s, "Replay job", "errors", jobData{Job: j, Back: back}))
}

// filterDetails is an error filter as the audit log keeps it: its set
// members.
func filterDetails(f eye.ErrorFilter) map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{"application": f.ApplicationID, "status": f.Status, "code": f.Code,
		"category": f.Category, "name": f.Name, "session": f.SessionID, "received__gte": apiTime(f.From),
		"received__lte": apiTime(f.To)} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}
