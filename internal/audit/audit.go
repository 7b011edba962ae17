// Package audit records admin actions in the store's audit log.
//
// An action is recorded after it succeeded, outside its transaction: a
// failure to record is logged at error level and does not undo the
// action, which is done and stays done.
package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/theeye/eye"
)

// Recorder is the part of the store that keeps the audit log.
type Recorder interface {
	RecordAudit(ctx context.Context, e eye.AuditEntry) error
}

// Record stores e, its id and time set when empty. It records even when
// ctx is canceled (the client went away after the action was done).
func Record(ctx context.Context, r Recorder, log *slog.Logger, e eye.AuditEntry) {
	if e.ID == "" {
		e.ID = eye.NewID()
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC().Truncate(time.Microsecond)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.RecordAudit(ctx, e); err != nil && log != nil {
		log.Error("record an audit entry; the action is done all the same", "action", e.Action, "target", e.Target,
			"actor", e.Actor, "error", err)
	}
}

// Details returns v as the details of an entry: a JSON object.
func Details(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil || len(b) == 0 || b[0] != '{' {
		return json.RawMessage(`{}`)
	}
	return b
}
