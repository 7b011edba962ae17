// Command eye is The Eye: an event collector. One binary runs every part:
// ingest, the queue (embedded NATS JetStream), the workers, the store
// (SQLite, or PostgreSQL) and the query API.
//
//	eye serve     run the service
//	eye migrate   apply the store's migrations and exit
//	eye apps      create and list applications
//	eye keys      create, list and revoke API keys
//	eye users     create, list, delete users of the admin web UI, reset a password
//	eye schemas   check a folder of JSON Schemas, or push it into the store
//	eye backup    copy the embedded store while the service runs
//	eye restore   restore a backup into an empty data directory
//	eye store     copy one store into another (SQLite to PostgreSQL)
//	eye tail      follow what a running service stores and rejects
//	eye stats     print a running service's counts per interval
//	eye health    check a running service, for container health checks
//	eye version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Set at build time: -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var version, commit, date string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "eye:", err)
		}
		os.Exit(2)
	}
}

const usage = `The Eye collects behavioural events from applications.

Usage: eye <command> [flags]

Commands:
  serve     run the service (eye serve -h lists its settings)
  migrate   apply the store's migrations and exit
  apps      create NAME | list: applications, the trusted clients
  keys      create --app NAME --scope ingest[,read,admin] | list --app NAME | revoke ID
  users     create NAME | list | passwd NAME | delete NAME: users of the admin web UI (password from EYE_PASSWORD or a prompt)
  schemas   check DIR | push DIR: the JSON Schemas of event types, DIR/<category>/<name>.json
  backup    PATH: a consistent copy of the embedded store, made while the service runs
  restore   PATH: a backup into an empty data directory
  store     copy -from SQLITE_PATH -to postgres://…: move an installation's data to PostgreSQL
  tail      the live stream of a running service: a line per event stored (-errors: and rejected)
  stats     the counts of a running service per minute, hour or day
  export    -format ndjson|csv|parquet [-type errors] [filters] [-o FILE]: a running service's events, in one file
  health    exit 0 when a running service answers /healthz (-ready: /readyz), for container health checks
  version   print the version

apps, keys, users and schemas push work on the store directly; no server needs to run.
tail and stats talk to a running service (-url, -key; EYE_URL, EYE_KEY).
`

// run runs one command until it is done or ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		var c config
		if err := c.parse("serve", args[1:], getenv, stderr); err != nil {
			return err
		}
		return serve(ctx, c, stdout, stderr)
	case "migrate":
		var c config
		if err := c.parse("migrate", args[1:], getenv, stderr); err != nil {
			return err
		}
		return migrate(ctx, c, stderr)
	case "apps":
		return apps(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return keys(ctx, args[1:], getenv, stdout, stderr)
	case "users":
		return users(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "schemas":
		return schemas(ctx, args[1:], getenv, stdout, stderr)
	case "store":
		return storeCommand(ctx, args[1:], stdout, stderr)
	case "backup":
		return backup(ctx, args[1:], getenv, stdout, stderr)
	case "restore":
		return restore(ctx, args[1:], getenv, stdout, stderr)
	case "tail":
		return tail(ctx, args[1:], getenv, stdout, stderr)
	case "stats":
		return stats(ctx, args[1:], getenv, stdout, stderr)
	case "export":
		return exportCommand(ctx, args[1:], getenv, stdout, stderr)
	case "health":
		return health(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "eye", versionString())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// serve runs the service until ctx ends, then stops it gracefully.
func serve(ctx context.Context, c config, stdout, stderr io.Writer) error {
	a, err := start(ctx, c, stdout, stderr)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return a.stop()
}

func migrate(ctx context.Context, c config, stderr io.Writer) error {
	log := c.logger(stderr)
	s, err := openStore(ctx, c, log, true)
	if err != nil {
		return err
	}
	defer s.Close()
	log.Info("store migrated", "store", c.storeName())
	return nil
}

// build is what the binary knows of its build: the version and commit
// given at build time (-ldflags "-X main.version=… -X main.commit=… -X
// main.date=…", as make build does), or else what Go recorded: the
// module's version, and the commit and its time when built in a Git
// checkout.
type build struct {
	Version, Commit, Date string
}

func buildInfo() build {
	b := build{Version: version, Commit: commit, Date: date}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && b.Commit == "":
			b.Commit = s.Value[:min(len(s.Value), 12)]
		case s.Key == "vcs.time" && b.Date == "":
			b.Date = s.Value
		case s.Key == "vcs.modified" && s.Value == "true" && commit == "":
			b.Commit += "-dirty"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

func versionString() string {
	b := buildInfo()
	s := b.Version
	if b.Commit != "" {
		s += ", commit " + b.Commit
	}
	if b.Date != "" {
		s += ", built " + b.Date
	}
	return s
}
