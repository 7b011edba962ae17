package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/lifecycle"
)

// retentionJSON is the retention as GET /status shows it: the period this
// process is configured with, and the last run of the deployment (from
// the audit log, whichever process ran it).
type retentionJSON struct {
	Period  *string           `json:"period"`
	LastRun *retentionRunJSON `json:"last_run"`
}

// retentionRunJSON is one run of the retention.
type retentionRunJSON struct {
	StartedAt       string   `json:"started_at"`
	FinishedAt      string   `json:"finished_at"`
	Cutoff          string   `json:"cutoff"`
	AuditCutoff     string   `json:"audit_cutoff"`
	DurationSeconds float64  `json:"duration_seconds"`
	Events          int64    `json:"events"`
	Errors          int64    `json:"errors"`
	Sessions        int64    `json:"sessions"`
	Audit           int64    `json:"audit"`
	Partitions      []string `json:"partitions"`
	Error           *string  `json:"error"`
}

// retentionStatus returns the retention's period and last run; the last
// run is null when there was none, or when the store cannot say (it is
// not asked when it is down: storeUp is false).
func (s *Server) retentionStatus(ctx context.Context, storeUp bool) *retentionJSON {
	out := &retentionJSON{}
	if s.cfg.Retention > 0 {
		p := lifecycle.FormatPeriod(s.cfg.Retention)
		out.Period = &p
	}
	if !storeUp {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	page, err := s.cfg.Store.Audit(ctx, eye.AuditFilter{Action: eye.ActionRetentionRun, Limit: 1})
	if err != nil || len(page.Items) == 0 {
		return out
	}
	e := page.Items[0]
	var rep lifecycle.Report
	if err := json.Unmarshal(e.Details, &rep); err != nil {
		s.log.Warn("read the last retention run", "entry", e.ID, "error", err)
		return out
	}
	partitions := rep.Partitions
	if partitions == nil {
		partitions = []string{}
	}
	out.LastRun = &retentionRunJSON{StartedAt: eye.FormatTime(rep.StartedAt), FinishedAt: eye.FormatTime(e.At),
		Cutoff: eye.FormatTime(rep.Cutoff), AuditCutoff: eye.FormatTime(rep.AuditCutoff), DurationSeconds: rep.Seconds,
		Events: rep.Events, Errors: rep.Errors, Sessions: rep.Sessions, Audit: rep.Audit, Partitions: partitions,
		Error: optional(rep.Error)}
	return out
}
