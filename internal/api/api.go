// Package api is The Eye's HTTP API: ingest (events, batches, sessions),
// the query API of the data team, corrections, and health.
//
// Every route is registered in routes(), with the scope it needs. Paths are
// normalized before routing, so that /events and /events/ are one route for
// every method, and every error is RFC 9457 application/problem+json.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/lifecycle"
	"github.com/theeye/eye/internal/metric"
	"github.com/theeye/eye/internal/replay"
)

// Config holds what the API needs.
type Config struct {
	Queue   eye.Queue
	Store   eye.Store
	Keys    *Keyring
	Rules   eye.Rules // with the schema registry as Rules.Schemas
	Schemas Refresher // the schema registry, refreshed after a change
	Replay  *replay.Replayer
	Deleter *lifecycle.Deleter // runs deletion jobs (nil: one whose jobs run until the process ends)
	Logger  *slog.Logger
	Metrics *metric.Metrics // nil: counted nowhere
	Roles   Roles           // the zero value: all of them

	MaxEventBytes  int64 // body limit of one event (default 32 KiB)
	MaxBatchBytes  int64 // body limit of a batch (default 1 MiB)
	MaxBatchEvents int   // events in a batch at most (default 1000)

	// FailedAuthBurst is how many wrong keys one client address may
	// present at once before it is answered 429 (default 20); after that,
	// one every FailedAuthInterval (default 3s).
	FailedAuthBurst    int
	FailedAuthInterval time.Duration

	// RateLimit is the events per second each application may send to
	// this process, with a burst of RateBurst (0: 2 s of events, at least
	// 1,000); 0 sets no limit.
	RateLimit float64
	RateBurst int

	// Retention is the retention period (EYE_RETENTION) that GET /status
	// shows; 0: no retention.
	Retention time.Duration

	// MaxBodyBytes bounds the bytes of ingest bodies held at once (default
	// 256 MiB); over it, ingest answers 503 with Retry-After.
	MaxBodyBytes int64
}

// Roles are the parts of The Eye a process runs: ingest (the POST routes),
// workers (no routes: they only change what /readyz checks) and the query
// API (every other route). The zero value runs them all.
type Roles struct {
	Ingest, Worker, Query bool
}

// Refresher reloads something from the store at once.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// Server is the HTTP API.
type Server struct {
	cfg      Config
	roles    Roles
	log      *slog.Logger
	mux      *http.ServeMux
	metrics  *metric.Metrics
	failures *failureLimiter // failed authentications per client address
	rates    *appLimiter     // events per application; nil: no limit
	bodies   *bodyBudget     // bytes of ingest bodies in memory
	pipeline *pipeline       // the pipeline's health, for /status and gauges
	hub      *hub            // live stream clients
	tracker  string          // the entity tag of /eye.js
	openapi  openAPI         // the OpenAPI document, and the patterns registered (docs.go)
}

// New returns the API server.
func New(cfg Config) *Server {
	if cfg.MaxEventBytes == 0 {
		cfg.MaxEventBytes = eye.MaxEventBytes
	}
	if cfg.MaxBatchBytes == 0 {
		cfg.MaxBatchBytes = 1 << 20
	}
	if cfg.MaxBatchEvents == 0 {
		cfg.MaxBatchEvents = 1000
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 256 << 20
	}
	if cfg.FailedAuthBurst == 0 {
		cfg.FailedAuthBurst = 20
	}
	if cfg.FailedAuthInterval == 0 {
		cfg.FailedAuthInterval = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metric.New()
	}
	if cfg.Deleter == nil {
		cfg.Deleter = lifecycle.NewDeleter(context.Background(), cfg.Store, cfg.Logger, lifecycle.Pace{})
	}
	if cfg.Roles == (Roles{}) {
		cfg.Roles = Roles{Ingest: true, Worker: true, Query: true}
	}
	s := &Server{cfg: cfg, roles: cfg.Roles, log: cfg.Logger, mux: http.NewServeMux(), metrics: cfg.Metrics,
		failures: newFailureLimiter(cfg.FailedAuthBurst, cfg.FailedAuthInterval),
		rates:    newAppLimiter(cfg.RateLimit, cfg.RateBurst),
		bodies:   &bodyBudget{max: cfg.MaxBodyBytes},
		pipeline: &pipeline{queue: cfg.Queue, store: cfg.Store},
		hub:      &hub{queue: cfg.Queue, log: cfg.Logger, clients: map[*streamClient]bool{}},
		tracker:  trackerETag()}
	s.routes()
	s.registerGauges()
	return s
}

// routes registers every route. Paths are written without their trailing
// slash: requests are normalized to that form before routing.
func (s *Server) routes() {
	// Public: no key needed.
	s.public("GET /healthz", s.healthz)
	s.public("GET /readyz", s.readyz)
	s.docsRoutes() // GET /openapi.json, /openapi.yaml, /docs/
	s.public("GET /eye.js", s.serveTracker)

	// Every process: its metrics, and the pipeline's health.
	s.handle("GET /metrics", eye.ScopeRead, s.getMetrics)
	s.handle("GET /status", eye.ScopeRead, s.getStatus)

	if s.roles.Ingest {
		s.handle("POST /events", eye.ScopeIngest, s.budgeted(s.cfg.MaxEventBytes, s.postEvent))
		s.handle("POST /events/batch", eye.ScopeIngest, s.budgeted(s.cfg.MaxBatchBytes, s.postBatch))
		s.handle("POST /sessions", eye.ScopeIngest, s.budgeted(s.cfg.MaxEventBytes, s.postSession))
		// CORS preflights of pages that send with a browser key.
		s.public("OPTIONS /events", s.preflight)
		s.public("OPTIONS /events/batch", s.preflight)
		s.public("OPTIONS /sessions", s.preflight)
	}
	if !s.roles.Query {
		return
	}

	// Queries.
	s.handle("GET /events", eye.ScopeRead, s.listEvents)
	s.handle("GET /events/{id}", eye.ScopeRead, s.getEvent)
	s.handle("GET /events/export", eye.ScopeRead, s.exportEvents)
	s.handle("GET /sessions", eye.ScopeRead, s.listSessions)
	s.handle("GET /sessions/{id}", eye.ScopeRead, s.getSession)
	s.handle("GET /sessions/{id}/events", eye.ScopeRead, s.listSessionEvents)
	s.handle("GET /errors", eye.ScopeRead, s.listErrors)
	s.handle("GET /errors/{id}", eye.ScopeRead, s.getError)
	s.handle("GET /errors/export", eye.ScopeRead, s.exportErrors)
	s.handle("GET /event-types", eye.ScopeRead, s.listEventTypes)
	s.handle("GET /events/stream", eye.ScopeRead, s.streamEvents)
	s.handle("GET /stats", eye.ScopeRead, s.getStats)
	s.handle("GET /schemas", eye.ScopeRead, s.listSchemas)
	s.handle("GET /schemas/{category}/{name}", eye.ScopeRead, s.getSchema)
	s.handle("GET /schemas/{category}/{name}/versions/{version}", eye.ScopeRead, s.getSchemaVersion)

	// Corrections.
	s.handle("PUT /events/{id}", eye.ScopeAdmin, s.putEvent)
	s.handle("PATCH /events/{id}", eye.ScopeAdmin, s.patchEvent)
	s.handle("DELETE /events/{id}", eye.ScopeAdmin, s.deleteEvent)

	// Schemas, and replay of what they refused.
	s.handle("PUT /schemas/{category}/{name}", eye.ScopeAdmin, s.putSchema)
	s.handle("DELETE /schemas/{category}/{name}", eye.ScopeAdmin, s.deleteSchema)
	s.handle("POST /errors/{id}/replay", eye.ScopeAdmin, s.replayOne)
	s.handle("POST /errors/replay", eye.ScopeAdmin, s.replayMany)
	s.handle("DELETE /errors/{id}", eye.ScopeAdmin, s.discardError)
	s.handle("GET /jobs/{id}", eye.ScopeAdmin, s.getJob)

	// Deletion, and the audit log of admin actions.
	s.handle("DELETE /sessions/{id}", eye.ScopeAdmin, s.deleteSession)
	s.handle("POST /events/delete", eye.ScopeAdmin, s.deleteEvents)
	s.handle("GET /audit", eye.ScopeAdmin, s.listAudit)

	// Applications and their keys.
	s.handle("POST /applications", eye.ScopeAdmin, s.createApplication)
	s.handle("GET /applications", eye.ScopeAdmin, s.listApplications)
	s.handle("GET /applications/{id}", eye.ScopeAdmin, s.getApplication)
	s.handle("PATCH /applications/{id}", eye.ScopeAdmin, s.patchApplication)
	s.handle("DELETE /applications/{id}", eye.ScopeAdmin, s.deleteApplication)
	s.handle("POST /applications/{id}/keys", eye.ScopeAdmin, s.createKey)
	s.handle("GET /applications/{id}/keys", eye.ScopeAdmin, s.listKeys)
	s.handle("DELETE /applications/{id}/keys/{key_id}", eye.ScopeAdmin, s.revokeKey)
}

// handle registers a route that needs a key with scope.
func (s *Server) handle(pattern, scope string, h http.HandlerFunc) {
	s.openapi.patterns = append(s.openapi.patterns, pattern)
	s.mux.Handle(pattern, s.authenticate(scope, h))
}

// HandleAdmin serves the admin web UI at /admin/: h gets every request
// under /admin, its path normalized like the API's (no trailing slash).
// h authenticates its own requests: its login page and static files are
// public.
func (s *Server) HandleAdmin(h http.Handler) {
	s.mux.Handle("/admin", h)
	s.mux.Handle("/admin/", h)
}

// PipelineStatus is the pipeline's health, as GET /status reports it.
type PipelineStatus struct {
	Health    string       // ok, degraded, stalled or down
	Reasons   []string     // why it is not ok
	Store     string       // "ok", or why the store is unreachable
	Queue     *QueueStatus // nil when the queue is unreachable
	CheckedAt time.Time
}

// QueueStatus is what the queue holds and how its workers are doing.
type QueueStatus struct {
	Messages   uint64        // queue messages not yet processed (each may hold many events)
	Bytes      uint64        // their size
	MaxBytes   int64         // the size at which the queue refuses new messages (0: no limit)
	Lag        time.Duration // the age of the oldest unprocessed message: the processing lag
	InProgress int           // messages workers hold, not yet acknowledged
	Waiting    int           // workers waiting for messages
}

// PipelineStatus returns the pipeline's health, checked at most once a
// second however often it is asked.
func (s *Server) PipelineStatus(ctx context.Context) PipelineStatus {
	st := s.pipeline.status(ctx)
	out := PipelineStatus{Health: st.Status, Reasons: st.Reasons, Store: st.Store}
	out.CheckedAt, _ = eye.ParseTime(st.CheckedAt)
	if q := st.Queue; q != nil {
		out.Queue = &QueueStatus{Messages: q.Messages, Bytes: q.Bytes, MaxBytes: q.MaxBytes, InProgress: q.InProgress,
			Waiting: q.WorkersWaiting}
		if q.OldestAgeSecs != nil {
			out.Queue.Lag = time.Duration(*q.OldestAgeSecs * float64(time.Second))
		}
	}
	return out
}

// CursorList names a list whose pages a cursor continues.
type CursorList byte

// The lists with cursors.
const (
	EventList   CursorList = cursorEvents
	SessionList CursorList = cursorSessions
	ErrorList   CursorList = cursorErrors
	AuditList   CursorList = cursorAudit
)

// Cursor returns the opaque cursor of the API's "next" URLs for a position
// in a list, so that other pages (the admin UI's) page as the API does.
func Cursor(list CursorList, ascending bool, pos eye.Position) string {
	return encodeCursor(byte(list), ascending, pos)
}

// ParseCursor reads a cursor made by Cursor for the list; ok is false when
// it is not one.
func ParseCursor(list CursorList, s string) (pos eye.Position, ascending, ok bool) {
	return decodeCursor(byte(list), s)
}

// Shutdown ends the live streams, whose connections would otherwise keep a
// stopping server waiting; register it with http.Server.RegisterOnShutdown.
func (s *Server) Shutdown() { s.hub.close() }

// ServeHTTP normalizes the path, routes the request, and answers the
// router's own 404 and 405 with problem documents. Every answer carries
// the request's id (X-Request-Id: the client's when it sent a sane one),
// which its log lines carry too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !saneRequestID(id) {
		id = eye.NewID()
	}
	w.Header().Set("X-Request-Id", id)
	securityHeaders(w.Header(), Secure(r))
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { // a handler cut its answer off on purpose (a failed export)
				s.observe(r, sw.status, time.Since(start))
				panic(v)
			}
			s.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeProblem(sw, r, http.StatusInternalServerError, eye.EINTERNAL, "Internal error.", nil)
			}
		}
		s.observe(r, sw.status, time.Since(start))
	}()

	normalize(r)
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.notRouted(sw, r)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// apiPolicy is the content security policy of every answer but the pages
// (the docs and the admin UI set their own): JSON and problem documents
// load nothing, and nothing may frame them.
const apiPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders sets the headers every answer carries; pages replace the
// content security policy with their own. Strict-Transport-Security only
// over TLS (direct, or through a trusted proxy that says so).
func securityHeaders(h http.Header, secure bool) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", apiPolicy)
	if secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// observe counts and logs a request once answered.
func (s *Server) observe(r *http.Request, status int, d time.Duration) {
	route := r.Pattern // set by the router; "" when no route matched
	if route == "" {
		route = "unmatched"
	}
	s.metrics.Requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
	if route == "POST /events" || route == "POST /events/batch" {
		s.metrics.IngestSeconds.WithLabelValues(route).Observe(d.Seconds())
	}
	s.logRequest(r, status, d)
}

// notRouted answers a request no route matches: 405 with Allow when the
// path exists for other methods, 404 otherwise.
func (s *Server) notRouted(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	probe := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeProblem(w, r, http.StatusMethodNotAllowed, "method_not_allowed",
			"The method "+r.Method+" is not allowed here; allowed: "+probe.header.Get("Allow")+".", nil)
		return
	}
	writeProblem(w, r, http.StatusNotFound, eye.ENOTFOUND, "No such path: "+r.URL.Path+".", nil)
}

// normalize cleans the path (duplicate slashes, dot segments) and drops the
// trailing slash, so that "/events/" and "/events" reach one route for
// every method. Go's router would otherwise redirect, and clients resend a
// redirected POST as a GET, losing the event.
func normalize(r *http.Request) {
	clean := func(p string) string {
		if p == "" {
			return "/"
		}
		return path.Clean("/" + p)
	}
	r.URL.Path = clean(r.URL.Path)
	if r.URL.RawPath != "" {
		r.URL.RawPath = clean(r.URL.RawPath)
	}
}

// logRequest writes the access log line of a request: at debug level, or
// warn for a server error.
func (s *Server) logRequest(r *http.Request, status int, d time.Duration) {
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	s.log.Log(r.Context(), level, "request", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path,
		"status", status, "duration_ms", float64(d.Microseconds())/1000, "remote_addr", r.RemoteAddr)
}

type requestIDKey struct{}

// requestID returns the id of a request.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// saneRequestID accepts a client's request id of up to 64 letters, digits,
// dashes, underscores and dots.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// headerRecorder captures the status and headers the router would send.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(status int)      { h.status = status }
