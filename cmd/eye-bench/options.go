package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// options are the benchmark's flags.
type options struct {
	Repo          string
	Duration      time.Duration
	Warmup        time.Duration
	Conns         int
	BatchEvents   int
	IngestWorkers int
	DrainWorkers  int
	Backlog       int
	LagRate       int
	LagBatch      int
	LagDuration   time.Duration
	Events        int
	QueryN        int
	Loadgen       string
	Phases        string
	Quick         bool
	Keep          bool
	PerfDir       string
	Postgres      string

	wrk string // the path of wrk when it is used
}

// Phases the benchmark knows.
const (
	phaseIngest  = "ingest"
	phaseProcess = "process"
	phaseQuery   = "query"
	phaseExport  = "export" // not run by default: it downloads the query store three times
)

func (o *options) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Repo, "repo", "", "The Eye's repository (default: the module of the working directory, from go env GOMOD)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured duration of each ingest load")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "warm-up before each ingest load, not measured")
	fs.IntVar(&o.Conns, "conns", 64, "keep-alive connections of the ingest loads")
	fs.IntVar(&o.BatchEvents, "batch-events", 100, "events per batch request")
	fs.IntVar(&o.IngestWorkers, "ingest-workers", 0, "EYE_WORKERS of the server under the ingest loads (0: ingest alone; processing is measured apart)")
	fs.IntVar(&o.DrainWorkers, "drain-workers", 1, "EYE_WORKERS of the server that drains the backlog and serves the lag load")
	fs.IntVar(&o.Backlog, "backlog", 300_000, "events queued (EYE_WORKERS=0) before the drain is timed")
	fs.IntVar(&o.LagRate, "lag-rate", 10_000, "offered events/s of the end-to-end lag phase")
	fs.IntVar(&o.LagBatch, "lag-batch", 10, "events per request of the end-to-end lag phase")
	fs.DurationVar(&o.LagDuration, "lag-duration", 10*time.Second, "duration of the end-to-end lag phase")
	fs.IntVar(&o.Events, "events", 10_000_000, "events generated into the store of the query phase")
	fs.IntVar(&o.QueryN, "query-n", 500, "timed requests of each query")
	fs.StringVar(&o.Loadgen, "loadgen", "auto", "load generator of the ingest loads: go, wrk, or auto (wrk when on PATH)")
	fs.StringVar(&o.Phases, "phases", "ingest,process,query", "phases to run, comma-separated: ingest, process, query, export "+
		"(export, not run by default, downloads every event of the query phase's store in each format while sampling the server's RSS)")
	fs.BoolVar(&o.Quick, "quick", false, "a short smoke run: 2s loads, small counts (flags given explicitly win)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (data, logs) and the -postgres databases, and print where they are")
	fs.StringVar(&o.PerfDir, "perf", "", "record CPU profiles of the server with perf (single ingest, drain) into this directory")
	fs.StringVar(&o.Postgres, "postgres", "", "run The Eye on PostgreSQL: a server URL (postgres://user@host:port/db?sslmode=disable) "+
		"whose user may CREATE DATABASE; each server gets a fresh database there, dropped at the end unless -keep (default: the embedded SQLite store)")
}

// parse reads args; -quick changes the defaults of the flags not given.
func (o *options) parse(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("eye-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Quick {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for name, v := range map[string]string{"duration": "2s", "warmup": "500ms", "backlog": "30000",
			"lag-duration": "2s", "events": "200000", "query-n": "100"} {
			if !given[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	return o.check()
}

func (o *options) check() error {
	var errs []error
	if o.Duration <= 0 || o.LagDuration <= 0 || o.Warmup < 0 {
		errs = append(errs, errors.New("durations must be positive"))
	}
	if o.Conns < 1 || o.BatchEvents < 1 || o.BatchEvents > 1000 || o.LagBatch < 1 || o.LagBatch > 1000 {
		errs = append(errs, errors.New("-conns must be at least 1, -batch-events and -lag-batch from 1 to 1000"))
	}
	if o.Backlog < 1000 || o.LagRate < 1 || o.QueryN < 1 {
		errs = append(errs, errors.New("-backlog must be at least 1000, -lag-rate and -query-n at least 1"))
	}
	if o.Events < 20_000 {
		errs = append(errs, errors.New("-events must be at least 20000"))
	}
	for _, p := range o.phases() {
		if !slices.Contains([]string{phaseIngest, phaseProcess, phaseQuery, phaseExport}, p) {
			errs = append(errs, fmt.Errorf("unknown phase %q (want ingest, process, query, export)", p))
		}
	}
	switch o.Loadgen {
	case "go":
	case "wrk", "auto":
		path, err := exec.LookPath("wrk")
		if err == nil {
			o.wrk = path
		} else if o.Loadgen == "wrk" {
			errs = append(errs, fmt.Errorf("-loadgen wrk: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("-loadgen must be go, wrk or auto, not %q", o.Loadgen))
	}
	if o.PerfDir != "" {
		if _, err := exec.LookPath("perf"); err != nil {
			errs = append(errs, fmt.Errorf("-perf: %w", err))
		}
	}
	if o.Postgres != "" {
		if err := checkServerURL(o.Postgres); err != nil {
			errs = append(errs, fmt.Errorf("-postgres: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (o *options) phases() []string {
	var ps []string
	for p := range strings.SplitSeq(o.Phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, p)
		}
	}
	return ps
}

// loadgen names the generator of the ingest loads.
func (o *options) loadgen() string {
	if o.wrk != "" {
		return "wrk (" + o.wrk + ")"
	}
	return "the Go generator of cmd/eye-bench (raw HTTP/1.1, one goroutine per connection)"
}
