// Package metric holds The Eye's Prometheus metrics: exact counters of
// where every event went, latency and lag histograms, and gauges of the
// pipeline's state. Each process has its own registry (no global state);
// Prometheus sums the processes.
//
// The counters keep an invariant, once the queue is empty and no worker
// restarted mid-batch: accepted = stored + rejected + duplicates.
package metric

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// maxApplications bounds the application label: the first applications
// seen get their own series, the others share "other".
const maxApplications = 200

// Metrics are one process's metrics.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests counts HTTP requests by route pattern, method and status.
	Requests *prometheus.CounterVec
	// Accepted counts events answered 202, by application.
	Accepted *prometheus.CounterVec
	// Malformed counts bodies and batch elements refused as not JSON
	// objects (kept as error records, never accepted), by application.
	Malformed *prometheus.CounterVec
	// Stored counts events inserted, by application.
	Stored *prometheus.CounterVec
	// Rejected counts error records made from accepted events, by
	// application and the code of their first reason.
	Rejected *prometheus.CounterVec
	// Duplicates counts accepted events dropped by deduplication (in the
	// queue or in the store), by application.
	Duplicates *prometheus.CounterVec
	// Replayed counts error records stored as events by a replay.
	Replayed *prometheus.CounterVec
	// Redelivered counts records a worker found stored already in a
	// delivery the queue had made before (after a worker stopped between
	// commit and acknowledgement): not duplicates sent by applications.
	Redelivered prometheus.Counter

	// RetentionDeleted counts what the retention deleted, by kind: events,
	// errors (error records), sessions, audit (audit entries).
	RetentionDeleted *prometheus.CounterVec
	// RetentionLastRun is when this process last finished a run of the
	// retention, in Unix seconds (0: never).
	RetentionLastRun prometheus.Gauge

	// IngestSeconds is the latency of ingest answers, by route.
	IngestSeconds *prometheus.HistogramVec
	// BatchEvents is the number of records per worker transaction.
	BatchEvents prometheus.Histogram
	// LagSeconds is the time from received_at to stored, per event.
	LagSeconds prometheus.Histogram

	mu   sync.Mutex
	apps map[string]bool
}

// New returns a process's metrics on a fresh registry, with Go's runtime
// and process collectors.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), apps: map[string]bool{}}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.Registry.MustRegister(c)
		return c
	}
	m.Requests = counter("eye_http_requests_total", "HTTP requests by route, method and status.", "route", "method", "status")
	m.Accepted = counter("eye_events_accepted_total", "Events answered 202.", "application")
	m.Malformed = counter("eye_requests_malformed_total", "Bodies and batch elements refused as not JSON objects (kept as error records; not accepted).", "application")
	m.Stored = counter("eye_events_stored_total", "Events inserted in the store.", "application")
	m.Rejected = counter("eye_events_rejected_total", "Error records made from accepted events, by the code of their first reason.", "application", "code")
	m.Duplicates = counter("eye_events_duplicate_total", "Accepted events dropped as duplicates (same id), in the queue or the store.", "application")
	m.Replayed = counter("eye_events_replayed_total", "Error records stored as events by a replay.", "application")
	m.RetentionDeleted = counter("eye_retention_deleted_total", "Rows the retention deleted, by kind: events, errors, sessions, audit.", "kind")
	m.RetentionLastRun = prometheus.NewGauge(prometheus.GaugeOpts{Name: "eye_retention_last_run_timestamp_seconds",
		Help: "When this process last finished a run of the retention (Unix seconds; 0: never)."})
	m.Redelivered = prometheus.NewCounter(prometheus.CounterOpts{Name: "eye_records_redelivered_total",
		Help: "Records found stored already in a redelivered queue message (a worker stopped between commit and acknowledgement)."})
	m.IngestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "eye_ingest_duration_seconds",
		Help: "Time to answer an ingest request.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route"})
	m.BatchEvents = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "eye_worker_batch_records",
		Help: "Records per worker transaction.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)})
	m.LagSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "eye_event_lag_seconds",
		Help: "Time from an event's arrival (received_at) to its storage.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	m.Registry.MustRegister(m.Redelivered, m.RetentionLastRun, m.IngestSeconds, m.BatchEvents, m.LagSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// App returns the application label for an application id: the id
// itself for the first applications seen, "other" after that, so that the
// number of series stays bounded.
func (m *Metrics) App(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.apps[id] {
		return id
	}
	if len(m.apps) >= maxApplications {
		return "other"
	}
	m.apps[id] = true
	return id
}

// Gauge registers a gauge whose value is read when scraped.
func (m *Metrics) Gauge(name, help string, value func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value))
}
