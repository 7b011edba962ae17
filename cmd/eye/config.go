package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/lifecycle"
)

// config is the configuration of eye serve and eye migrate. Every setting
// is a flag with an environment twin (EYE_ and the flag's name in upper
// case): a flag wins over its twin, which wins over the default.
type config struct {
	Addr            string
	Role            string
	DataDir         string
	DatabaseURL     string
	NATSURL         string
	NATSReplicas    int
	NATSPrefix      string
	AdminKey        string
	FutureTolerance time.Duration
	QueueMaxBytes   int64
	BatchSize       int
	Workers         int
	ShutdownTimeout time.Duration
	Fsync           string
	RateLimit       float64
	RateBurst       int
	SchemasDir      string
	UnknownTypes    string
	Retention       string
	DebugAddr       string
	MetricsAddr     string
	TLSCert         string
	TLSKey          string
	TrustedProxies  string
	LogLevel        string
	LogFormat       string
}

// flags registers the settings on fs.
func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8000", "address to listen on")
	fs.StringVar(&c.Role, "role", "all", "what this process runs: all, or a comma-separated list of ingest, worker, api")
	fs.StringVar(&c.DataDir, "data-dir", "./eye-data", "directory of the embedded store and queue, and of the generated admin key")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "store: empty for SQLite in the data directory, sqlite:PATH, or postgres://user@host/db")
	fs.StringVar(&c.NATSURL, "nats-url", "", "queue: empty for NATS JetStream embedded in the process, or nats://HOST:PORT of a server or cluster")
	fs.StringVar(&c.NATSPrefix, "nats-prefix", "eye", "names the queue's stream (in upper case) and subjects, so that installations can share a NATS cluster")
	fs.IntVar(&c.NATSReplicas, "nats-replicas", 0, "replicas of the queue's stream on a cluster; 0: 3 when the cluster has at least 3 servers, else 1")
	fs.StringVar(&c.AdminKey, "admin-key", "", "a full-access API key; when empty, one is generated on first start into DATA_DIR/admin.key")
	fs.DurationVar(&c.FutureTolerance, "future-tolerance", 60*time.Second, "how far past its arrival an event's timestamp may be")
	fs.Int64Var(&c.QueueMaxBytes, "queue-max-bytes", 1<<30, "the queue's size limit in bytes; when full, ingest answers 503")
	fs.StringVar(&c.Fsync, "fsync", "1s", "how the embedded queue flushes to disk: an interval (an OS crash or power loss may lose acknowledged events of that last interval), or always (before each acknowledgement)")
	fs.Float64Var(&c.RateLimit, "rate-limit", 0, "events per second each application may send to this process (0: no limit); over it, 429 with Retry-After")
	fs.IntVar(&c.RateBurst, "rate-burst", 0, "events an application may send at once above its rate (0: two seconds of its rate, at least 1000)")
	fs.IntVar(&c.BatchSize, "batch-size", 1000, "messages a worker stores per transaction at most")
	fs.IntVar(&c.Workers, "workers", 1, "workers in this process (0: none, the queue keeps what ingest accepts); when not given, 1 on SQLite (one writer), 2 on PostgreSQL")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a stopping server waits for requests in flight and the batch in hand")
	fs.StringVar(&c.SchemasDir, "schemas-dir", "", "a folder of JSON Schemas, DIR/<category>/<name>.json, loaded at start")
	fs.StringVar(&c.UnknownTypes, "unknown-event-types", "accept", "accept or reject events of a type without a schema")
	fs.StringVar(&c.Retention, "retention", "", "delete events, error records and empty sessions older than this, such as 90d or 12h (at least 1h; empty: keep everything)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "a PEM certificate (chain) file: serve HTTPS (and HTTP/2) with it and -tls-key; read again when it changes")
	fs.StringVar(&c.TLSKey, "tls-key", "", "the PEM private key file of -tls-cert")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For, -Proto and -Host are believed (e.g. 10.0.0.0/8); none by default")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "an address serving /metrics without a key (the main address serves it with a read key)")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "an address for Go's profiler (/debug/pprof/), without authentication: keep it private (e.g. 127.0.0.1:6060)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
}

// envName is the environment twin of a flag.
func envName(flagName string) string {
	return "EYE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads args, then fills each flag not given from its environment
// twin. It refuses positional arguments.
func (c *config) parse(name string, args []string, getenv func(string) string, stderr io.Writer) error {
	rest, err := c.parseWith(name, "", args, getenv, stderr, nil)
	if err == nil && len(rest) > 0 {
		return fmt.Errorf("eye %s: unexpected arguments %q", name, rest)
	}
	return err
}

// parseWith is parse for a command with its own flags (registered by
// extra, with environment twins too) and positional arguments, which it
// returns.
func (c *config) parseWith(name, positional string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet("eye "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: eye %s [flags] %s\n\nEvery flag has an environment twin, shown in brackets; a flag wins over its twin.\n\n", name, positional)
		fs.VisitAll(func(f *flag.Flag) {
			def := f.DefValue
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(stderr, "  -%s [%s]\n    \t%s (default %s)\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	// Flags and positional arguments in any order.
	var positionals []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positionals = append(positionals, fs.Arg(0))
		args = fs.Args()[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Unless told, a process on PostgreSQL runs two workers: the store
	// takes concurrent writers, and each worker validates its next batch
	// while the other's transaction runs (measured in docs/benchmarks.md).
	workersGiven := false
	fs.Visit(func(f *flag.Flag) { workersGiven = workersGiven || f.Name == "workers" })
	if !workersGiven && c.postgres() {
		c.Workers = 2
	}
	return positionals, c.check()
}

func (c *config) check() error {
	var errs []error
	if c.FutureTolerance < 0 {
		errs = append(errs, errors.New("future-tolerance must not be negative"))
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		errs = append(errs, errors.New("batch-size must be from 1 to 10000"))
	}
	if _, _, err := c.fsync(); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseRoles(c.Role); err != nil {
		errs = append(errs, err)
	}
	if !validPrefix(c.NATSPrefix) {
		errs = append(errs, fmt.Errorf("nats-prefix %q: use letters, digits, - and _", c.NATSPrefix))
	}
	if c.NATSReplicas < 0 || c.NATSReplicas > 5 {
		errs = append(errs, errors.New("nats-replicas must be from 0 to 5"))
	}
	if c.RateLimit < 0 || c.RateBurst < 0 {
		errs = append(errs, errors.New("rate-limit and rate-burst must not be negative"))
	}
	if c.Workers < 0 || c.Workers > 64 {
		errs = append(errs, errors.New("workers must be from 0 to 64"))
	}
	if c.QueueMaxBytes < 1<<20 {
		errs = append(errs, errors.New("queue-max-bytes must be at least 1 MiB"))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !c.postgres() {
		// Not quoted: the URL may hold a password.
		errs = append(errs, errors.New("database-url: unsupported store (want empty, sqlite:PATH or postgres://…)"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls-cert and tls-key go together"))
	}
	if _, err := api.ParseProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted-proxies: %w", err))
	}
	if _, err := lifecycle.ParsePeriod(c.Retention); err != nil {
		errs = append(errs, err)
	}
	if c.UnknownTypes != "accept" && c.UnknownTypes != "reject" {
		errs = append(errs, fmt.Errorf("unknown-event-types must be accept or reject, not %q", c.UnknownTypes))
	}
	if _, err := c.logLevel(); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log-format must be text or json, not %q", c.LogFormat))
	}
	return errors.Join(errs...)
}

func (c *config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, fmt.Errorf("log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return l, nil
}

// logger returns the logger the configuration asks for.
func (c *config) logger(w io.Writer) *slog.Logger {
	level, _ := c.logLevel()
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// postgres reports whether the store is PostgreSQL.
func (c *config) postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// storeName names the store for logs: the SQLite file, or PostgreSQL's
// host and database, never its password.
func (c *config) storeName() string {
	if !c.postgres() {
		return c.databasePath()
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil {
		return "postgres"
	}
	return "postgres://" + u.Host + u.Path
}

// databasePath is the SQLite file of the store.
func (c *config) databasePath() string {
	if p, ok := strings.CutPrefix(c.DatabaseURL, "sqlite:"); ok && p != "" {
		return p
	}
	return c.DataDir + string(os.PathSeparator) + "eye.db"
}

// parseRoles reads a role list: all, or ingest, worker and api combined.
func parseRoles(list string) (api.Roles, error) {
	var r api.Roles
	for role := range strings.SplitSeq(list, ",") {
		switch strings.TrimSpace(role) {
		case "all":
			r = api.Roles{Ingest: true, Worker: true, Query: true}
		case "ingest":
			r.Ingest = true
		case "worker":
			r.Worker = true
		case "api":
			r.Query = true
		default:
			return r, fmt.Errorf("role: %q is not a role (all, ingest, worker, api)", role)
		}
	}
	return r, nil
}

// retention is the retention period (checked by check); 0: none.
func (c *config) retention() time.Duration {
	d, _ := lifecycle.ParsePeriod(c.Retention)
	return d
}

// roles is the process's roles (checked by check).
func (c *config) roles() api.Roles {
	r, _ := parseRoles(c.Role)
	return r
}

func validPrefix(p string) bool {
	if p == "" || len(p) > 32 {
		return false
	}
	for _, c := range p {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// fsync reads EYE_FSYNC: always, or an interval.
func (c *config) fsync() (interval time.Duration, always bool, err error) {
	if c.Fsync == "always" {
		return 0, true, nil
	}
	d, err := time.ParseDuration(c.Fsync)
	if err != nil || d <= 0 {
		return 0, false, fmt.Errorf("fsync must be always or an interval such as 1s, not %q", c.Fsync)
	}
	return d, false, nil
}
