// Package eye holds The Eye's domain: events, sessions, error records, the
// rules that decide whether an event is valid, and the interfaces of the
// queue and the store that the rest of the program implements.
//
// It imports only the standard library; concrete implementations live in
// internal packages named after what they wrap (sqlite, natsq, api, …).
package eye

import (
	"errors"
	"fmt"
)

// Error codes. One place (the api package) maps them to HTTP statuses.
const (
	ENOTFOUND      = "not_found"     // the thing asked for does not exist
	EINVALID       = "invalid"       // the request is malformed
	EUNPROCESSABLE = "unprocessable" // well-formed but fails validation; Reasons say why
	ECONFLICT      = "conflict"      // the request conflicts with what is stored
	EUNAVAILABLE   = "unavailable"   // a dependency (queue, store) is down; retry later
	EINTERNAL      = "internal"      // a bug
)

// Error is the error type of the domain: a machine-readable code and a
// message safe to show to the caller.
type Error struct {
	Code    string
	Message string
	// Reasons lists every validation failure when Code is EUNPROCESSABLE.
	Reasons []Reason
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("eye error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the *Error in err's chain, or a
// generic message for other errors (their text may hold internals).
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// Scopes of API keys.
const (
	ScopeIngest = "ingest" // send events and mint sessions
	ScopeRead   = "read"   // read events, sessions and error records of every application
	ScopeAdmin  = "admin"  // everything

	// ScopeBrowser is the scope of a key that web pages send events with:
	// public by nature, it ingests only, from its application's allowed
	// origins, and is never combined with another scope.
	ScopeBrowser = "browser"
)

// Allows reports whether a key with scopes may act in scope.
func Allows(scopes []string, scope string) bool {
	for _, s := range scopes {
		if s == scope || s == ScopeAdmin || s == ScopeBrowser && scope == ScopeIngest {
			return true
		}
	}
	return false
}
