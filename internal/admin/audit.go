package admin

import (
	"net/http"
	"strings"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/api"
)

// auditPerPage is the audit log page's size.
const auditPerPage = 50

// auditForm is the audit log's filters, as the URL holds them.
type auditForm struct {
	Action, Actor, From, To string
}

func (f auditForm) pairs() []string {
	return []string{"action", f.Action, "actor", f.Actor, "from", f.From, "to", f.To}
}

// auditData is the content of the audit log page.
type auditData struct {
	Form    auditForm
	Problem string
	Entries []eye.AuditEntry
	Actions []string
	Actors  []actorChoice
	Next    string
	First   string
	API     string // the same query in the API
}

// actorChoice is an actor the filter offers.
type actorChoice struct {
	Value, Label string
}

// audit answers GET /admin/audit: the audit log, newest first, filtered by
// action, actor and time range.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	d := auditData{Form: auditForm{Action: q.Get("action"), Actor: q.Get("actor")}, Actions: eye.AuditActions()}
	users, err := h.cfg.Store.Users(ctx)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	for _, u := range users {
		d.Actors = append(d.Actors, actorChoice{Value: "user:" + u.ID, Label: "user " + u.Name})
	}
	d.Actors = append(d.Actors, actorChoice{Value: eye.ActorCLI, Label: "command line"},
		actorChoice{Value: eye.ActorRetention, Label: "retention"})
	f := eye.AuditFilter{Action: d.Form.Action, Actor: d.Form.Actor, Limit: auditPerPage}
	var problems []string
	if f.From, d.Form.From, err = formTime(q.Get("from")); err != nil {
		problems = append(problems, "From: "+err.Error())
	}
	if f.To, d.Form.To, err = formTime(q.Get("to")); err != nil {
		problems = append(problems, "To: "+err.Error())
	}
	if c := q.Get("cursor"); c != "" {
		pos, _, ok := api.ParseCursor(api.AuditList, c)
		if !ok {
			problems = append(problems, "The page's position is not valid: start from the first page.")
		}
		f.After = &pos
		d.First = withQuery("/admin/audit", d.Form.pairs()...)
	}
	status := http.StatusOK
	if len(problems) > 0 {
		d.Problem, status = strings.Join(problems, " "), http.StatusBadRequest
	} else {
		page, err := h.cfg.Store.Audit(ctx, f)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.Entries = page.Items
		if page.Next != nil {
			d.Next = withQuery("/admin/audit", append(d.Form.pairs(), "cursor", api.Cursor(api.AuditList, false, *page.Next))...)
		}
	}
	d.API = withQuery("/audit/", "action", f.Action, "actor", f.Actor, "timestamp__gte", apiTime(f.From), "timestamp__lte", apiTime(f.To))
	h.render(w, r, status, "audit", newView(s, "Audit log", "audit", d))
}
