// Command eye-bench is The Eye's load benchmark. It builds The Eye, runs
// it as a separate process on temporary data directories, drives it over
// real HTTP, and prints one table of what it measured beside the limit
// measured in the same run (a bare HTTP handler, raw store inserts) and
// the targets:
//
//	go run ./cmd/eye-bench            # the full run (10 million stored events for the queries)
//	go run ./cmd/eye-bench -quick     # a short smoke run
//	go run ./cmd/eye-bench -postgres 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// The Eye runs on its embedded SQLite store, or with -postgres on a
// PostgreSQL server, each server on a fresh database that the benchmark
// creates there (and drops at the end); the queue stays the embedded one.
//
// The phases: single-event and batch ingest against bare handlers;
// processing (a backlog drained, against raw Store.Write inserts, or raw
// COPY on PostgreSQL) and the
// end-to-end lag at a fixed rate; queries on a large store; the server's
// peak RSS; and, asked for with -phases …,export, the full export of the
// query store in each format with the server's RSS sampled meanwhile. Progress goes to standard error, the table to standard output,
// first as text, then as Markdown for docs/benchmarks.md.
//
// eye-bench bare -addr ADDR serves the bare handlers; the benchmark starts
// it as a process of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		if err := runBare(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "eye-bench bare:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "eye-bench:", err)
		}
		os.Exit(1)
	}
}

// run parses the flags, runs the phases asked for, and prints the table.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	if err := o.parse(args, stderr); err != nil {
		return err
	}
	b, err := newBench(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer b.cleanup()
	runErr := b.runPhases(ctx)
	b.report(stdout)
	return runErr
}
