package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

var (
	// ErrClosed is returned by Track, Flush and CreateSession once Close
	// has been called.
	ErrClosed = errors.New("eye: client closed")

	// ErrBufferFull is the cause of the events dropped because the buffer
	// was full, with the policy Drop.
	ErrBufferFull = errors.New("eye: buffer full")

	// ErrInvalidEvent is returned by Track for an event the API would
	// refuse: a session id that is not a UUID, a blank category or name,
	// empty data, a member too long, data that does not encode as JSON, an
	// event over 32 KiB.
	ErrInvalidEvent = errors.New("eye: invalid event")
)

// A DeliveryError reports events that were not delivered and will not be
// sent again: dropped because the buffer was full (Err is ErrBufferFull),
// refused by the API (Err is an *APIError), still failing when the retries
// ran out (Err is the last failure), or still buffered when Close gave up
// (Err is the error of Close's context).
type DeliveryError struct {
	Events []Event // the events as they were sent, with their Timestamp and EventID; numbers in Data are json.Numbers
	Err    error   // why
}

// Error describes the failure.
func (e *DeliveryError) Error() string {
	cause := "unknown cause"
	if e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), "eye: ")
	}
	if len(e.Events) == 1 {
		return fmt.Sprintf("eye: event %s not delivered: %s", e.Events[0].EventID, cause)
	}
	return fmt.Sprintf("eye: %d events not delivered: %s", len(e.Events), cause)
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// An APIError is an answer of the API that is not a success, from its
// problem document (RFC 9457); or, with a 2xx StatusCode, the refusal of one
// event inside an accepted batch.
type APIError struct {
	StatusCode int    // the HTTP status
	Code       string // the machine-readable code, such as "unauthorized" or "malformed_json"
	Detail     string // the explanation for people
	ErrorID    string // the id of the error record that keeps a refused body, when the API made one
	RequestID  string // the answer's X-Request-Id, which the server's logs carry
}

// Error describes the answer.
func (e *APIError) Error() string {
	s := fmt.Sprintf("eye: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// retryable reports whether an answer of this status is worth retrying.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}
