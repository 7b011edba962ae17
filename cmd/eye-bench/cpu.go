package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: 100
// on Linux everywhere.
const clockTicks = 100

// cpuTimes is CPU time spent in user mode and in the kernel; for the whole
// machine, steal is the time the hypervisor gave the cores to others.
type cpuTimes struct{ user, sys, steal time.Duration }

func (a cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{a.user - b.user, a.sys - b.sys, a.steal - b.steal}
}

func (a cpuTimes) add(b cpuTimes) cpuTimes {
	return cpuTimes{a.user + b.user, a.sys + b.sys, a.steal + b.steal}
}

func ticks(s string) time.Duration {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(n) * time.Second / clockTicks
}

// cpuTime is the CPU time the process has used so far.
func (p *proc) cpuTime() cpuTimes {
	_, fields, err := readStat(p.cmd.Process.Pid)
	if err != nil || len(fields) < 13 {
		return cpuTimes{}
	}
	return cpuTimes{user: ticks(fields[11]), sys: ticks(fields[12])}
}

// readStat reads /proc/<pid>/stat: the command name (in parentheses there)
// and the fields after it (state first; utime is fields[11], stime
// fields[12], starttime fields[19]).
func readStat(pid int) (string, []string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", nil, err
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return s[open+1 : end], strings.Fields(s[end+1:]), nil
}

// selfCPUTime is the CPU time this process has used so far, with that of
// its children that have ended (wrk, and every server of a finished phase).
func selfCPUTime() cpuTimes {
	var t cpuTimes
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err == nil {
			t.user += time.Duration(ru.Utime.Nano())
			t.sys += time.Duration(ru.Stime.Nano())
		}
	}
	return t
}

// machineCPUTime is the CPU time of the whole machine since boot, over
// every core, from /proc/stat: user (with nice), kernel (system, irq,
// softirq) and steal.
func machineCPUTime() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}
	}
	return cpuTimes{user: ticks(f[1]) + ticks(f[2]), sys: ticks(f[3]) + ticks(f[6]) + ticks(f[7]), steal: ticks(f[8])}
}

// cpuMeter measures the cores used over an interval: by a server (when
// there is one), by this process and its ended children, by the
// PostgreSQL server's processes working for the run (on PostgreSQL), and
// by the rest of the machine.
type cpuMeter struct {
	p                          *proc
	db                         *pgWatch
	start                      time.Time
	self, server, dbs, machine cpuTimes
}

func newCPUMeter(p *proc, db *pgWatch) cpuMeter {
	m := cpuMeter{p: p, db: db, start: time.Now(), self: selfCPUTime(), machine: machineCPUTime()}
	if p != nil {
		m.server = p.cpuTime()
	}
	if db != nil {
		m.dbs = db.now()
	}
	return m
}

// cpuMeter starts measuring the cores used, by p when not nil.
func (b *bench) cpuMeter(p *proc) cpuMeter { return newCPUMeter(p, b.dbCPU) }

// cpuUse is the average cores used over an interval.
type cpuUse struct {
	server, self float64 // user and kernel time of the server, of eye-bench and its ended children
	database     float64 // user and kernel time of the PostgreSQL processes working for the run
	hasDatabase  bool    // database was measured (the store is PostgreSQL)
	others       float64 // user time of other processes: other work on the machine
	kernel       float64 // kernel time charged to no process of ours: loopback networking, writeback, other processes
	steal        float64 // time the hypervisor gave the cores to other machines
}

func (m cpuMeter) stop() cpuUse {
	wall := time.Since(m.start).Seconds()
	cores := func(d time.Duration) float64 { return max(0, d.Seconds()/wall) }
	self, machine := selfCPUTime().sub(m.self), machineCPUTime().sub(m.machine)
	var server, dbs cpuTimes
	if m.p != nil {
		server = m.p.cpuTime().sub(m.server)
	}
	if m.db != nil {
		dbs = m.db.now().sub(m.dbs)
	}
	return cpuUse{server: cores(server.user + server.sys), self: cores(self.user + self.sys),
		database: cores(dbs.user + dbs.sys), hasDatabase: m.db != nil,
		others: cores(machine.user - self.user - server.user - dbs.user), kernel: cores(machine.sys - self.sys - server.sys - dbs.sys),
		steal: cores(machine.steal)}
}

func (u cpuUse) String() string {
	db := ""
	if u.hasDatabase {
		db = fmt.Sprintf(", PostgreSQL %.2f", u.database)
	}
	return fmt.Sprintf("CPU cores: server %.2f, eye-bench %.2f%s, other processes %.2f, other kernel work %.2f, stolen %.2f",
		u.server, u.self, db, u.others, u.kernel, u.steal)
}

// disturbed says whether other work on the machine may have changed the
// figures.
func (u cpuUse) disturbed() bool { return u.others > 0.15 || u.steal > 0.15 }
