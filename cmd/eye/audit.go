package main

import (
	"context"
	"log/slog"
	"os/user"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/audit"
)

// recordCLI records an admin action a command did on the store, once it
// succeeded: the actor is cli, named by the system user who ran it. A
// failure to record is logged and does not undo the action.
func recordCLI(ctx context.Context, s audit.Recorder, log *slog.Logger, action, target string, details any) {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	audit.Record(ctx, s, log, eye.AuditEntry{Actor: eye.ActorCLI, ActorName: name, Action: action, Target: target,
		Details: audit.Details(details)})
}
