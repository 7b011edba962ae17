package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/theeye/eye"
)

// problem is an RFC 9457 problem document. Code is a machine-readable name
// of the problem; the other extension members appear when they apply.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Code     string       `json:"code"`
	Param    string       `json:"param,omitempty"`    // the query parameter at fault
	Errors   []reasonJSON `json:"errors,omitempty"`   // every reason an event is invalid
	ErrorID  string       `json:"error_id,omitempty"` // the error record kept of the body
}

// statusClientClosed is the status of a request whose client went away
// before its answer (nginx's 499).
const statusClientClosed = 499

// status maps a domain error code to its HTTP status. It is the one place
// where domain codes meet HTTP.
func status(code string) int {
	switch code {
	case eye.ENOTFOUND:
		return http.StatusNotFound
	case eye.EINVALID:
		return http.StatusBadRequest
	case eye.EUNPROCESSABLE:
		return http.StatusUnprocessableEntity
	case eye.ECONFLICT:
		return http.StatusConflict
	case eye.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// fail answers with the problem an error describes. Errors that are not
// the domain's are logged and answered with a generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away: nobody reads the answer. 499, as proxies
		// say, keeps it apart from the server's own errors in logs and
		// metrics.
		s.log.Debug("client went away", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "error", err)
		w.WriteHeader(statusClientClosed)
		return
	}
	code := eye.ErrorCode(err)
	st := status(code)
	switch {
	case st == http.StatusServiceUnavailable:
		s.log.Warn("unavailable", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "error", err)
	case st >= 500:
		s.log.Error("internal error", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "error", err)
	}
	var p problem
	var e *eye.Error
	if errors.As(err, &e) && len(e.Reasons) > 0 {
		p.Errors = reasonsJSON(e.Reasons)
	}
	writeProblem(w, r, st, code, eye.ErrorMessage(err), &p)
}

// writeProblem writes a problem document. extra carries extension members.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string, extra *problem) {
	p := problem{}
	if extra != nil {
		p = *extra
	}
	p.Type = "about:blank"
	p.Title = http.StatusText(status)
	p.Status = status
	p.Detail = detail
	p.Instance, _, _ = strings.Cut(r.RequestURI, "?")
	p.Code = code
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
}

// badParam answers 400 for a query parameter.
func badParam(w http.ResponseWriter, r *http.Request, param, detail string) {
	writeProblem(w, r, http.StatusBadRequest, "invalid_parameter", detail, &problem{Param: param})
}
