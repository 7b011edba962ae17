package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/theeye/eye"
	"github.com/theeye/eye/internal/admin"
	"github.com/theeye/eye/internal/api"
	"github.com/theeye/eye/internal/lifecycle"
	"github.com/theeye/eye/internal/metric"
	"github.com/theeye/eye/internal/natsq"
	"github.com/theeye/eye/internal/postgres"
	"github.com/theeye/eye/internal/replay"
	"github.com/theeye/eye/internal/schema"
	"github.com/theeye/eye/internal/sqlite"
	"github.com/theeye/eye/internal/worker"
)

// keyRefresh is how often a running service reloads the keys and the
// schemas, so that a key revoked or a schema changed elsewhere (another
// instance, the command line) takes effect here within five seconds.
const keyRefresh = 2 * time.Second

// keyUseFlush is how often a running service records when its keys were
// last used (last_used_at).
const keyUseFlush = time.Minute

// retentionInterval is how often the retention runs (EYE_RETENTION), the
// first time at start.
const retentionInterval = time.Hour

// app is a running service: the only place where concrete types meet.
type app struct {
	cfg      config
	log      *slog.Logger
	store    store
	queue    *natsq.Queue
	api      *api.Server
	worker   *worker.Worker
	replay   *replay.Replayer
	deleter  *lifecycle.Deleter
	http     *http.Server
	debug    *http.Server // the profiler, when asked for
	metrics  *http.Server // the metrics without a key, when asked for
	listener net.Listener

	cancel context.CancelFunc // stops the background work
	wg     sync.WaitGroup
}

// start opens the store and the queue, starts the worker and the key
// refresher, and listens.
func start(ctx context.Context, c config, stdout, stderr io.Writer) (a *app, err error) {
	log := c.logger(stderr)
	roles := c.roles()
	a = &app{cfg: c, log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	b := buildInfo()
	log.Info("starting", "version", b.Version, "commit", b.Commit, "built", b.Date, "roles", c.Role, "data_dir", c.DataDir, "store", c.storeName())
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	// An ingest process needs no store: it only reads the keys from it, and
	// keeps the last ones it read while the store is down.
	ingestOnly := roles == api.Roles{Ingest: true}
	if a.store, err = openStore(ctx, c, log, !ingestOnly); err != nil {
		return nil, err
	}
	static, err := a.adminKey(ctx, stdout, !ingestOnly)
	if err != nil {
		return nil, err
	}
	keys := api.NewKeyring(a.store, log, static...)
	if err := keys.Refresh(ctx); err != nil {
		if !ingestOnly {
			return nil, fmt.Errorf("load keys: %w", err)
		}
		log.Warn("load keys: the store is unreachable; only EYE_ADMIN_KEY works until it answers", "error", err)
	}
	syncEvery, syncAlways, _ := c.fsync()
	a.queue, err = natsq.Open(ctx, natsq.Options{
		SyncInterval: syncEvery,
		SyncAlways:   syncAlways,
		URL:          c.NATSURL,
		Dir:          filepath.Join(c.DataDir, "nats"),
		MaxBytes:     c.QueueMaxBytes,
		Replicas:     c.NATSReplicas,
		Prefix:       c.NATSPrefix,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	registry := schema.NewRegistry(a.store, log)
	if c.SchemasDir != "" && !ingestOnly {
		if err := loadSchemas(ctx, a.store, c.SchemasDir, log); err != nil {
			return nil, err
		}
	}
	if !ingestOnly {
		if err := registry.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("load schemas: %w", err)
		}
	}
	rules := eye.Rules{FutureTolerance: c.FutureTolerance, Schemas: registry, RejectUnknownTypes: c.UnknownTypes == "reject"}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	metrics := metric.New()
	a.replay = replay.New(bg, a.store, rules, log.With("component", "replay"), metrics)
	a.deleter = lifecycle.NewDeleter(bg, a.store, log.With("component", "deleter"), lifecycle.Pace{})
	if roles.Query {
		if err := a.replay.Resume(ctx); err != nil {
			return nil, fmt.Errorf("resume replay jobs: %w", err)
		}
		if err := a.deleter.Resume(ctx); err != nil {
			return nil, fmt.Errorf("resume deletion jobs: %w", err)
		}
	}
	a.api = api.New(api.Config{Queue: a.queue, Store: a.store, Keys: keys, Rules: rules, Schemas: registry,
		Replay: a.replay, Deleter: a.deleter, Logger: log, Metrics: metrics, Roles: roles, RateLimit: c.RateLimit, RateBurst: c.RateBurst,
		Retention: c.retention()})
	if roles.Query {
		a.api.HandleAdmin(admin.New(admin.Config{Store: a.store, Keys: keys, Replay: a.replay, Schemas: registry,
			Status: a.api.PipelineStatus, Logger: log.With("component", "admin")}))
	}
	a.worker = worker.New(worker.Config{Queue: a.queue, Store: a.store, Rules: rules, BatchSize: c.BatchSize,
		StopTimeout: c.ShutdownTimeout / 2, Logger: log.With("component", "worker"), Metrics: metrics,
		Notify: a.queue.Notify})

	proxies, _ := api.ParseProxies(c.TrustedProxies) // checked with the configuration
	a.listener, err = net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	a.http = &http.Server{
		Handler:           proxies.Wrap(a.api),
		ReadHeaderTimeout: 10 * time.Second, // slow clients cannot hold connections
		ReadTimeout:       60 * time.Second, // a whole request, body included
		WriteTimeout:      60 * time.Second, // a whole answer (the live stream lifts it)
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	a.http.RegisterOnShutdown(a.api.Shutdown)
	loaders := map[string]func(context.Context) error{"keys": keys.Refresh}
	if !ingestOnly {
		loaders["schemas"] = registry.Refresh
	}
	a.wg.Go(func() { refresh(bg, keyRefresh, log, loaders) })
	// Keys' uses are noted in memory and recorded every minute, in one
	// statement, and once more as the service stops.
	a.wg.Go(func() { keys.RecordUses(bg, keyUseFlush) })
	if pg, ok := a.store.(*postgres.Store); ok && !ingestOnly {
		a.wg.Go(func() { makePartitions(bg, pg, log) })
	}
	if roles.Worker && c.retention() > 0 {
		ret := lifecycle.NewRetention(a.store, c.retention(), log.With("component", "retention"), metrics, lifecycle.Pace{})
		a.wg.Go(func() { ret.Run(bg, retentionInterval) })
	}
	if roles.Worker {
		for range c.Workers {
			a.wg.Go(func() { _ = a.worker.Run(bg) })
		}
	}
	if c.TLSCert != "" {
		cert, err := loadCertificate(c.TLSCert, c.TLSKey, log)
		if err != nil {
			return nil, err
		}
		a.http.TLSConfig = tlsConfig(cert)
		a.listener = tls.NewListener(a.listener, a.http.TLSConfig)
	}
	go func() {
		if err := a.http.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "error", err)
		}
	}()
	if c.DebugAddr != "" {
		if err := a.serveDebug(c.DebugAddr); err != nil {
			return nil, err
		}
	}
	if c.MetricsAddr != "" {
		if err := a.serveMetrics(c.MetricsAddr); err != nil {
			return nil, err
		}
	}
	log.Info("listening", "addr", a.listener.Addr().String(), "tls", c.TLSCert != "")
	return a, nil
}

// serveMetrics serves the metrics, with no key, on their own address.
func (a *app) serveMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.api.MetricsHandler())
	a.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.metrics.Serve(ln) }()
	a.log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// serveDebug serves Go's profiler on its own address, apart from the API.
func (a *app) serveDebug(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.debug = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.debug.Serve(ln) }()
	a.log.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}

// addr is the address the service listens on.
func (a *app) addr() string { return a.listener.Addr().String() }

// stop stops gracefully: no new connections, requests in flight finish,
// the worker finishes the batch it holds, then the queue and the store
// close.
func (a *app) stop() error {
	a.log.Info("stopping")
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := a.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	for _, srv := range []*http.Server{a.debug, a.metrics} {
		if srv != nil {
			srv.Close()
		}
	}
	a.close()
	a.log.Info("stopped")
	return errors.Join(errs...)
}

// close stops the background work (the worker finishing its batch), then
// releases the queue and the store.
func (a *app) close() {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	if a.replay != nil {
		a.replay.Wait()
	}
	if a.deleter != nil {
		a.deleter.Wait()
	}
	if a.queue != nil {
		a.queue.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
}

// store is a store the command runs: eye.Store with its migrations.
type store interface {
	eye.Store
	Migrate(ctx context.Context) error
}

// openStore opens the store the configuration names (SQLite in the data
// directory, or PostgreSQL), and migrates it when migrate is set.
func openStore(ctx context.Context, c config, log *slog.Logger, migrate bool) (store, error) {
	var s store
	if c.postgres() {
		// Connections are made when needed: an ingest process starts while
		// the database is down.
		pg, err := postgres.Open(ctx, c.DatabaseURL, log.With("component", "store"))
		if err != nil {
			return nil, err
		}
		s = pg
	} else {
		if err := os.MkdirAll(filepath.Dir(c.databasePath()), 0o700); err != nil {
			return nil, fmt.Errorf("store directory: %w", err)
		}
		// FULL: a worker acknowledges queue messages only after its commit,
		// so the commit must survive what the queue's copy would have.
		lite, err := sqlite.Open(c.databasePath(), sqlite.Options{Synchronous: "FULL"})
		if err != nil {
			return nil, err
		}
		s = lite
	}
	if migrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	return s, nil
}

// generatedKeyLabel labels the admin key generated on first start.
const generatedKeyLabel = "admin (generated on first start)"

// adminKey returns the configured admin key, or makes sure a generated
// one exists: on first start its secret is written to DATA_DIR/admin.key
// (mode 0600) and only that file's path is printed; the store keeps its
// hash.
func (a *app) adminKey(ctx context.Context, stdout io.Writer, generate bool) ([]eye.Key, error) {
	if a.cfg.AdminKey != "" {
		return []eye.Key{api.StaticKey(a.cfg.AdminKey, "EYE_ADMIN_KEY", eye.ScopeAdmin)}, nil
	}
	if !generate {
		return nil, nil // the generated key, if any, comes with the store's keys
	}
	path := filepath.Join(a.cfg.DataDir, "admin.key")
	keys, err := a.store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	for _, k := range keys {
		if k.Label == generatedKeyLabel && k.ApplicationID == "" {
			a.log.Info("admin key", "file", path)
			return nil, nil
		}
	}
	secret, key := api.NewSecret()
	key.Scopes, key.Label = []string{eye.ScopeAdmin}, generatedKeyLabel
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write admin key: %w", err)
	}
	if err := a.store.CreateKey(ctx, key); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "An admin API key was generated: it is in %s\n", path)
	return nil, nil
}

// loadSchemas stores the schemas of a folder that differ from the active
// ones. A bad file stops the start: the tracking plan must be whole.
func loadSchemas(ctx context.Context, store store, dir string, log *slog.Logger) error {
	files, problems := schema.ReadDir(dir)
	if len(problems) > 0 {
		return fmt.Errorf("schemas in %s: %w", dir, errors.Join(problems...))
	}
	made, err := schema.Push(ctx, store, files)
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	log.Info("schemas loaded", "dir", dir, "files", len(files), "new_versions", len(made))
	return nil
}

// makePartitions makes the PostgreSQL store's partitions of the months to
// come every hour (Migrate made those around now at start), so that each
// exists long before its first event, whichever process gets there first.
func makePartitions(ctx context.Context, pg *postgres.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := pg.EnsurePartitions(ctx, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("make partitions; trying again in an hour", "error", err)
			}
		}
	}
}

// refresh reloads each thing every interval until ctx ends. When the store
// fails, what was loaded last stays in use; the failure is logged once, and
// the recovery too.
func refresh(ctx context.Context, interval time.Duration, log *slog.Logger, loaders map[string]func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for what, load := range loaders {
				err := load(ctx)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil && !failing[what]:
					log.Warn("refresh failed; keeping the last good ones until it works", "what", what, "error", err)
				case err != nil:
					log.Debug("refresh failed again", "what", what, "error", err)
				case failing[what]:
					log.Info("refresh works again", "what", what)
				}
				failing[what] = err != nil
			}
		}
	}
}
