package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bench is one run of the benchmark.
type bench struct {
	opt     options
	log     io.Writer
	began   time.Time
	tmp     string
	eyeBin  string
	selfBin string
	key     string // the admin key every server is started with
	dirs    int    // data directories made so far
	version string // the commit measured
	store   storeKind
	dbCPU   *pgWatch // the PostgreSQL server's processes working for the run; nil on SQLite
	res     results
}

// results is everything a run measured.
type results struct {
	single, singleBare loadResult
	batch, batchBare   loadResult
	backlog            backlogResult
	raw                []rawResult // the first is the drain's limit
	drain              drainResult
	lag                lagResult
	query              queryResult
	exports            []exportResult // the export phase's downloads, one per format
	peaks              []peak         // peak RSS of each server process of The Eye
	notes              []string       // anything that went wrong or looked wrong
	ran                map[string]bool
}

// peak is the peak RSS of one server process.
type peak struct {
	what  string
	bytes int64
}

func newBench(ctx context.Context, o options, log io.Writer) (*bench, error) {
	b := &bench{opt: o, log: log, began: time.Now(), res: results{ran: map[string]bool{}}}
	repo, err := moduleRoot(ctx, o.Repo)
	if err != nil {
		return nil, err
	}
	if b.selfBin, err = os.Executable(); err != nil {
		return nil, fmt.Errorf("find eye-bench's own binary: %w", err)
	}
	if b.tmp, err = os.MkdirTemp("", "eye-bench-"); err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	b.store = sqliteKind{tmp: b.tmp}
	if o.Postgres != "" {
		pg, err := newPostgresKind(ctx, o.Postgres, b.logf)
		if err != nil {
			os.RemoveAll(b.tmp)
			return nil, err
		}
		b.store, b.dbCPU = pg, startPGWatch(databasePrefix(pg.run))
	}
	b.version = describeRepo(ctx, repo)
	b.logf("building ./cmd/eye in %s: %s", repo, b.version)
	if b.eyeBin, err = buildEye(ctx, repo, b.tmp); err != nil {
		b.cleanup()
		return nil, err
	}
	var k [24]byte
	_, _ = rand.Read(k[:])
	b.key = "eye_bench_" + hex.EncodeToString(k[:])
	if o.PerfDir != "" {
		if err := os.MkdirAll(o.PerfDir, 0o755); err != nil {
			return nil, fmt.Errorf("-perf: %w", err)
		}
	}
	return b, nil
}

// cleanup removes the temporary directory and the store's databases
// unless -keep.
func (b *bench) cleanup() {
	if b.dbCPU != nil {
		b.dbCPU.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := b.store.close(ctx, b.opt.Keep); err != nil {
		b.logf("%v", err)
	}
	if b.opt.Keep {
		b.logf("kept %s", b.tmp)
		return
	}
	if err := os.RemoveAll(b.tmp); err != nil {
		b.logf("remove %s: %v", b.tmp, err)
	}
}

// logf prints a line of progress to standard error.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "[%6.1fs] %s\n", time.Since(b.began).Seconds(), fmt.Sprintf(format, args...))
}

// note records something that went wrong or looked wrong, for the report.
func (b *bench) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	b.res.notes = append(b.res.notes, s)
	b.logf("NOTE: %s", s)
}

// runPhases runs the phases asked for, in order; a failing phase stops
// the run, with what was measured so far reported.
func (b *bench) runPhases(ctx context.Context) error {
	b.logf("load generator: %s", b.opt.loadgen())
	for _, p := range b.opt.phases() {
		var err error
		meter := b.cpuMeter(nil)
		switch p {
		case phaseIngest:
			err = b.ingestPhase(ctx)
		case phaseProcess:
			err = b.processPhase(ctx)
		case phaseQuery:
			err = b.queryPhase(ctx)
		case phaseExport:
			err = b.exportPhase(ctx)
		}
		if err != nil {
			b.note("phase %s failed: %v", p, err)
			return fmt.Errorf("phase %s: %w", p, err)
		}
		b.res.ran[p] = true
		// Every process the phase started has ended: its CPU time is
		// counted in this process's children's.
		use := meter.stop()
		b.logf("phase %s done in %s; %s", p, time.Since(meter.start).Round(time.Second), use)
		if use.disturbed() {
			b.note("phase %s ran beside other work: other processes used %.2f cores on average, and %.2f were stolen by the hypervisor", p, use.others, use.steal)
		}
	}
	return nil
}

// newDataDir makes a fresh data directory, and its store (a database of
// its own on PostgreSQL).
func (b *bench) newDataDir(ctx context.Context, name string) (dataDir, error) {
	b.dirs++
	dir := dataDir{path: filepath.Join(b.tmp, fmt.Sprintf("data-%d-%s", b.dirs, name))}
	if err := os.MkdirAll(dir.path, 0o700); err != nil {
		return dir, fmt.Errorf("data directory: %w", err)
	}
	var err error
	dir.dbURL, err = b.store.newStore(ctx, name)
	return dir, err
}

// startEye starts The Eye on dir with workers workers and waits until it
// is ready.
func (b *bench) startEye(ctx context.Context, what string, dir dataDir, workers int) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := append([]string{"EYE_ADDR=" + addr, "EYE_ADMIN_KEY=" + b.key,
		"EYE_LOG_LEVEL=warn", "EYE_QUEUE_MAX_BYTES=" + strconv.FormatInt(16<<30, 10),
		"EYE_WORKERS=" + strconv.Itoa(workers)}, dir.env()...)
	logPath := filepath.Join(b.tmp, fmt.Sprintf("eye-%d.log", b.dirs))
	for i := 0; fileExists(logPath); i++ {
		logPath = filepath.Join(b.tmp, fmt.Sprintf("eye-%d-%d.log", b.dirs, i))
	}
	p, err := startProc("eye ("+what+")", b.eyeBin, []string{"serve"}, env, addr, logPath)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, 5*time.Minute); err != nil {
		p.kill()
		return nil, err
	}
	b.logf("started %s on %s, EYE_WORKERS=%d, data %s (ready in %s)", p.name, addr, workers, dir,
		time.Since(p.started).Round(time.Millisecond))
	return p, nil
}

// stopEye stops The Eye, keeps its peak RSS, and notes whatever it logged
// (it logs at warn level: every line is worth a look).
func (b *bench) stopEye(p *proc) error {
	err := p.stop()
	rss, at := p.peak()
	b.res.peaks = append(b.res.peaks, peak{p.name, rss})
	b.logf("stopped %s after %s: peak RSS %s, reached %s after its start", p.name,
		time.Since(p.started).Round(time.Millisecond), mb(rss), at.Round(250*time.Millisecond))
	if lines := p.logLines(); len(lines) > 0 {
		b.note("%s logged %d lines at warn or above; the first: %s", p.name, len(lines),
			strings.Join(lines[:min(3, len(lines))], " | "))
	}
	return err
}

// startBare starts the bare handlers (this binary, as eye-bench bare).
func (b *bench) startBare(ctx context.Context) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProc("bare handler", b.selfBin, []string{"bare", "-addr", addr}, nil, addr,
		filepath.Join(b.tmp, "bare.log"))
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, time.Minute); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// perf records a CPU profile of a process with perf until the returned
// function is called, when -perf is set.
func (b *bench) perf(p *proc, name string) func() {
	if b.opt.PerfDir == "" {
		return func() {}
	}
	out := filepath.Join(b.opt.PerfDir, name+".perf.data")
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(p.cmd.Process.Pid), "-o", out)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		b.note("perf record: %v", err)
		return func() {}
	}
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				b.note("perf record: %v", err)
			}
		}
		b.logf("CPU profile of %s: %s (perf report -i %s --no-children --sort sym)", p.name, out, out)
	}
}

// checkLoad notes answers that were not 2xx and connection errors.
func (b *bench) checkLoad(what string, r loadResult) {
	if bad := r.failures(); bad > 0 {
		b.note("%s: %d answers were not 2xx (statuses %v)", what, bad, r.statuses)
	}
	if r.errors > 0 {
		b.note("%s: %d connection errors, the first: %v", what, r.errors, r.firstErr)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// peakRSS is the highest peak RSS of The Eye over the run, and where.
func (r results) peakRSS() (peak, bool) {
	if len(r.peaks) == 0 {
		return peak{}, false
	}
	return slices.MaxFunc(r.peaks, func(a, b peak) int { return int(a.bytes - b.bytes) }), true
}
