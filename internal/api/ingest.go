package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/theeye/eye"
)

// batchJSON is the answer to a batch: the id of each element in input
// order (null for an element refused as not a JSON object), and why each
// refused element was refused.
type batchJSON struct {
	Accepted int                 `json:"accepted"`
	IDs      []*string           `json:"ids"`
	Errors   []batchElementError `json:"errors"`
}

type batchElementError struct {
	Index   int    `json:"index"`
	ErrorID string `json:"error_id"`
	Code    string `json:"code"`
	Detail  string `json:"detail"`
}

// now is the arrival time of a request, at the stored precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// eventMessage makes the queue message of an event body, or says why the
// body is not a JSON object; valid says the body is known to be JSON. The event id is derived from the client's
// event_id when it sent one, so that a retried event keeps its id; it is
// random otherwise.
func eventMessage(app string, received time.Time, body []byte, valid bool) (eye.Message, string) {
	trimmed := eye.TrimJSONSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		_, why := isObject(trimmed)
		return eye.Message{}, why
	}
	if !valid && !json.Valid(trimmed) {
		return eye.Message{}, "is not valid JSON"
	}
	id := ""
	if raw := eye.Member(trimmed, "event_id"); len(raw) > 0 && raw[0] == '"' {
		var eventID string
		if json.Unmarshal(raw, &eventID) == nil && eventID != "" {
			id = eye.DerivedID(app, eventID)
		}
	}
	if id == "" {
		id = eye.NewID()
	}
	return eye.Message{Kind: eye.KindEvent, ID: id, ApplicationID: app, ReceivedAt: received, Payload: body}, ""
}

// malformedMessage makes the queue message that keeps a refused body as an
// error record.
func malformedMessage(app string, received time.Time, body []byte, detail string) eye.Message {
	return eye.Message{Kind: eye.KindMalformed, ID: eye.NewID(), ApplicationID: app, ReceivedAt: received,
		Payload: body, Detail: detail}
}

// isObject reports whether b is one valid JSON object, and if not, why
// (a predicate for "the body" or "element 3").
func isObject(b []byte) (bool, string) {
	b = eye.TrimJSONSpace(b)
	if len(b) == 0 {
		return false, "is empty"
	}
	if !json.Valid(b) {
		return false, "is not valid JSON"
	}
	if b[0] != '{' {
		return false, "is not a JSON object"
	}
	return true, ""
}

// postEvent accepts one event: 202 once the queue has persisted it.
// Nothing is checked here beyond the key, the size, and "a JSON object";
// the worker validates it.
func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	body, _, ok := readBody(w, r, s.cfg.MaxEventBytes, false)
	if !ok {
		return
	}
	app, received := applicationOf(r), now()
	if wait, ok := s.rates.allow(app, 1); !ok {
		limited(w, r, wait)
		return
	}
	m, why := eventMessage(app, received, body, false)
	if why != "" {
		s.refuse(w, r, malformedMessage(app, received, body, "the body "+why))
		return
	}
	dups, err := s.cfg.Queue.Publish(r.Context(), m)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	label := s.metrics.App(app)
	s.metrics.Accepted.WithLabelValues(label).Inc()
	s.metrics.Duplicates.WithLabelValues(label).Add(float64(dups))
	// The hottest answer, written without an encoder.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"accepted","id":"` + m.ID + "\"}\n"))
}

// refuse answers 400 for a body that is not a JSON object, after keeping it
// as an error record (through the queue, like everything ingest records).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, m eye.Message) {
	s.metrics.Malformed.WithLabelValues(s.metrics.App(m.ApplicationID)).Inc()
	p := &problem{ErrorID: m.ID}
	if _, err := s.cfg.Queue.Publish(r.Context(), m); err != nil {
		s.log.Warn("keep refused body", "error", err)
		p.ErrorID = ""
	}
	writeProblem(w, r, http.StatusBadRequest, eye.CodeMalformedJSON, sentence(m.Detail), p)
}

// postBatch accepts a JSON array or NDJSON of events. Each element stands
// alone: one that is not a JSON object is kept as an error record and its
// id is null; the others are accepted.
func (s *Server) postBatch(w http.ResponseWriter, r *http.Request) {
	body, media, ok := readBody(w, r, s.cfg.MaxBatchBytes, true)
	if !ok {
		return
	}
	app, received := applicationOf(r), now()
	var elems []json.RawMessage
	var err error
	valid := media != mediaNDJSON // the array was checked whole
	if media == mediaNDJSON {
		elems = splitNDJSON(body)
	} else {
		elems, err = splitArray(body)
	}
	if err != nil {
		s.refuse(w, r, malformedMessage(app, received, body, err.Error()))
		return
	}
	if len(elems) > s.cfg.MaxBatchEvents {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("The batch holds %d events, more than %d.", len(elems), s.cfg.MaxBatchEvents), nil)
		return
	}
	if wait, ok := s.rates.allow(app, len(elems)); !ok {
		limited(w, r, wait)
		return
	}
	res := batchJSON{IDs: make([]*string, len(elems)), Errors: []batchElementError{}}
	msgs := make([]eye.Message, len(elems))
	for i, elem := range elems {
		var why string
		msgs[i], why = eventMessage(app, received, elem, valid)
		if why != "" {
			msgs[i] = malformedMessage(app, received, elem, fmt.Sprintf("element %d %s", i, why))
			res.Errors = append(res.Errors, batchElementError{Index: i, ErrorID: msgs[i].ID,
				Code: eye.CodeMalformedJSON, Detail: msgs[i].Detail})
			continue
		}
		res.IDs[i] = &msgs[i].ID
		res.Accepted++
	}
	dups, err := s.cfg.Queue.Publish(r.Context(), msgs...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	label := s.metrics.App(app)
	s.metrics.Accepted.WithLabelValues(label).Add(float64(res.Accepted))
	s.metrics.Malformed.WithLabelValues(label).Add(float64(len(res.Errors)))
	s.metrics.Duplicates.WithLabelValues(label).Add(float64(dups))
	writeJSON(w, http.StatusAccepted, res)
}

// splitArray splits a JSON array into its elements, in one pass that also
// checks the whole body is JSON.
func splitArray(body []byte) ([]json.RawMessage, error) {
	trimmed := eye.TrimJSONSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return nil, fmt.Errorf("the body must be a JSON array of events (send one event to /events/)")
	}
	elems, err := eye.Elements(trimmed)
	if err != nil {
		return nil, fmt.Errorf("the body must be a JSON array of events: %w", err)
	}
	return elems, nil
}

// splitNDJSON splits newline-delimited JSON into its lines, skipping blank
// ones. A line that is not JSON stays an element: it becomes an error
// record of its own.
func splitNDJSON(body []byte) []json.RawMessage {
	var elems []json.RawMessage
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		line = eye.TrimJSONSpace(line)
		if len(line) > 0 {
			elems = append(elems, line)
		}
	}
	return elems
}

// postSession mints a session: 201 with its id once the queue has
// persisted it. The body, when there is one, must be a JSON object; its
// members are ignored.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request) {
	body, _, ok := readBody(w, r, s.cfg.MaxEventBytes, false)
	if !ok {
		return
	}
	if len(eye.TrimJSONSpace(body)) > 0 {
		if ok, why := isObject(body); !ok {
			writeProblem(w, r, http.StatusBadRequest, eye.CodeMalformedJSON, "The body "+why+".", nil)
			return
		}
	}
	m := eye.Message{Kind: eye.KindSession, ID: eye.NewID(), ApplicationID: applicationOf(r), ReceivedAt: now()}
	if _, err := s.cfg.Queue.Publish(r.Context(), m); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/sessions/"+m.ID+"/")
	writeJSON(w, http.StatusCreated, sessionToJSON(eye.Session{ID: m.ID, CreatedAt: m.ReceivedAt, ApplicationIDs: []string{}}))
}
