package eye

import (
	"encoding/json"
	"time"
)

// AuditEntry records one admin action: who did what to what, when and from
// where. Entries hold ids, filters and counts, never event data.
type AuditEntry struct {
	ID        string
	At        time.Time
	Actor     string          // who: "key:<id>", "user:<id>" (a login of the admin UI), "cli" or "retention"
	ActorName string          // the key's label, the user's name, or the system user running the command
	Action    string          // such as event.delete (the Action constants)
	Target    string          // the id or the filter acted on
	Details   json.RawMessage // a JSON object: what changed, the filter, the counts
	Addr      string          // the client's address; "" for the command line and the service itself
}

// AuditFilter selects audit entries. Empty fields select everything.
type AuditFilter struct {
	Action string
	Actor  string
	From   time.Time // At >= From, when not zero
	To     time.Time // At <= To, when not zero
	Limit  int
	After  *Position // Time is At, Row the store's row number
}

// Audited actions.
const (
	ActionApplicationCreate     = "application.create"
	ActionApplicationUpdate     = "application.update"
	ActionApplicationDeactivate = "application.deactivate"
	ActionKeyCreate             = "key.create"
	ActionKeyRevoke             = "key.revoke"
	ActionUserCreate            = "user.create"
	ActionUserDelete            = "user.delete"
	ActionUserPasswordReset     = "user.password_reset"
	ActionEventUpdate           = "event.update"
	ActionEventDelete           = "event.delete"
	ActionSessionDelete         = "session.delete"
	ActionEventsDeleteJob       = "events.delete_job"
	ActionSchemaPut             = "schema.put"
	ActionSchemaDelete          = "schema.delete"
	ActionErrorReplay           = "error.replay"
	ActionErrorsReplayJob       = "errors.replay_job"
	ActionErrorDiscard          = "error.discard"
	ActionRetentionRun          = "retention.run"
)

// AuditActions returns every audited action, in the order of the Action
// constants.
func AuditActions() []string {
	return []string{ActionApplicationCreate, ActionApplicationUpdate, ActionApplicationDeactivate, ActionKeyCreate,
		ActionKeyRevoke, ActionUserCreate, ActionUserDelete, ActionUserPasswordReset, ActionEventUpdate, ActionEventDelete,
		ActionSessionDelete, ActionEventsDeleteJob, ActionSchemaPut, ActionSchemaDelete, ActionErrorReplay,
		ActionErrorsReplayJob, ActionErrorDiscard, ActionRetentionRun}
}

// Actors that are not keys or users.
const (
	ActorCLI       = "cli"       // a command run on the store directly
	ActorRetention = "retention" // the service's retention (EYE_RETENTION)
)

// DeleteResult counts what a deletion removed.
type DeleteResult struct {
	Events int64
	Errors int64 // error records
}
