package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pgWatchInterval is how often pgWatch reads /proc.
const pgWatchInterval = 250 * time.Millisecond

// pgWatch follows the CPU time of the local PostgreSQL server's processes
// that work for this run — the backends of its databases and the server's
// own processes (postmaster, checkpointer, WAL writer, …) — so that the
// CPU meters count them apart from other work. Backends of other databases
// are other work. It reads /proc every pgWatchInterval: the time of a
// backend that ends (its server of The Eye stopped) is kept up to its last
// reading.
type pgWatch struct {
	prefix string // of this run's database names

	mu     sync.Mutex
	last   map[pgProcKey]cpuTimes // the last reading of each process followed
	total  cpuTimes               // their time since the watch started
	primed bool                   // the first reading is done

	done    chan struct{}
	stopped chan struct{}
}

// pgProcKey tells a process apart from a later one with the same pid.
type pgProcKey struct {
	pid   int
	start string // its start time, in clock ticks since boot
}

// startPGWatch starts following the processes of the run whose databases
// begin with prefix.
func startPGWatch(prefix string) *pgWatch {
	w := &pgWatch{prefix: prefix, last: map[pgProcKey]cpuTimes{}, done: make(chan struct{}), stopped: make(chan struct{})}
	w.read()
	go func() {
		defer close(w.stopped)
		t := time.NewTicker(pgWatchInterval)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.read()
			}
		}
	}()
	return w
}

// stop ends the watch.
func (w *pgWatch) stop() {
	close(w.done)
	<-w.stopped
}

// now reads /proc once more and returns the CPU time of the processes
// followed since the watch started.
func (w *pgWatch) now() cpuTimes {
	w.read()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total
}

// read reads the CPU time of every PostgreSQL process that works for the
// run, and adds what each used since its last reading. A process seen
// first after the watch started is counted from its start.
func (w *pgWatch) read() {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	type reading struct {
		key pgProcKey
		t   cpuTimes
	}
	var rs []reading
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, fields, err := readStat(pid)
		if err != nil || comm != "postgres" || len(fields) < 20 {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || pgRoleOf(strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")), w.prefix) == pgOther {
			continue
		}
		rs = append(rs, reading{pgProcKey{pid, fields[19]}, cpuTimes{user: ticks(fields[11]), sys: ticks(fields[12])}})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := make(map[pgProcKey]cpuTimes, len(rs))
	for _, r := range rs {
		prev, ok := w.last[r.key]
		if !ok && !w.primed {
			prev = r.t // running before the watch: counted from now
		}
		w.total = w.total.add(r.t.sub(prev))
		seen[r.key] = r.t
	}
	w.last, w.primed = seen, true
}

// pgRole is whose work a PostgreSQL process does.
type pgRole int

const (
	pgRun    pgRole = iota // a backend of one of the run's databases
	pgServer               // the server's own: postmaster, checkpointer, WAL writer, background writer, autovacuum, …
	pgOther                // a client backend of another database: other work
)

// pgRoleOf reads a PostgreSQL process's title (its command line, such as
// "postgres: 15/main: postgres eye_bench_x_1_query 127.0.0.1(51234) idle"):
// a title naming one of the run's databases is the run's; a client
// backend (its title holds the client's address, host(port) or [local])
// of any other database is other work; the rest is the server's own.
func pgRoleOf(title, prefix string) pgRole {
	switch {
	case strings.Contains(title, prefix):
		return pgRun
	case strings.Contains(title, "[local]") || hasPort(title):
		return pgOther
	default:
		return pgServer
	}
}

// hasPort says whether s holds a port in parentheses, "(51234)".
func hasPort(s string) bool {
	for {
		i := strings.IndexByte(s, '(')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		j := strings.IndexByte(s, ')')
		if j > 0 && strings.Trim(s[:j], "0123456789") == "" {
			return true
		}
	}
}
