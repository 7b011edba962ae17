package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// runWrk runs the same load as runLoad with wrk: a Lua script hands out
// the same pre-built requests in turn. wrk does not say which statuses it
// saw: answers that are not 2xx or 3xx are counted under status 0.
func runWrk(ctx context.Context, wrk, dir string, spec loadSpec) (loadResult, error) {
	script := filepath.Join(dir, "requests.lua")
	if err := os.WriteFile(script, []byte(wrkScript(spec.requests)), 0o600); err != nil {
		return loadResult{}, fmt.Errorf("write wrk script: %w", err)
	}
	if spec.warmup > 0 {
		if _, err := wrkOnce(ctx, wrk, script, spec.addr, spec.conns, spec.warmup); err != nil {
			return loadResult{}, err
		}
	}
	out, err := wrkOnce(ctx, wrk, script, spec.addr, spec.conns, spec.duration)
	if err != nil {
		return loadResult{}, err
	}
	return parseWrk(out, spec.duration)
}

func wrkOnce(ctx context.Context, wrk, script, addr string, conns int, d time.Duration) (string, error) {
	threads := min(2, conns)
	cmd := exec.CommandContext(ctx, wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second).Seconds()))), "--timeout", "10s", "--latency",
		"-s", script, "http://"+addr+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("wrk: %w: %s", err, out)
	}
	return string(out), nil
}

// wrkScript is a Lua script that sends reqs in turn, as they are.
func wrkScript(reqs [][]byte) string {
	var b strings.Builder
	b.WriteString("local reqs = {\n")
	for _, r := range reqs {
		b.WriteString(luaQuote(r))
		b.WriteString(",\n")
	}
	b.WriteString("}\nlocal i = 0\nrequest = function()\n  i = i % #reqs + 1\n  return reqs[i]\nend\n")
	return b.String()
}

// luaQuote quotes bytes as a Lua string literal (long brackets would turn
// CRLF into LF).
func luaQuote(s []byte) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03d", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// parseWrk reads wrk's summary.
func parseWrk(out string, window time.Duration) (loadResult, error) {
	r := loadResult{tool: "wrk", statuses: map[int]int{}, window: window}
	total, err := wrkInt(out, `(\d+) requests in`)
	if err != nil {
		return r, err
	}
	bad, _ := wrkInt(out, `Non-2xx or 3xx responses: (\d+)`)
	r.ok = total - bad
	r.statuses[200] = r.ok
	if bad > 0 {
		r.statuses[0] = bad
	}
	if m := regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`).FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.errors += n
		}
		r.firstErr = fmt.Errorf("wrk: %s", m[0])
	}
	if r.p50, err = wrkLatency(out, "50"); err != nil {
		return r, err
	}
	if r.p99, err = wrkLatency(out, "99"); err != nil {
		return r, err
	}
	return r, nil
}

func wrkInt(out, pattern string) (int, error) {
	m := regexp.MustCompile(pattern).FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("wrk output without %q:\n%s", pattern, out)
	}
	return strconv.Atoi(m[1])
}

// wrkLatency reads a percentile of the latency distribution (--latency).
func wrkLatency(out, p string) (time.Duration, error) {
	m := regexp.MustCompile(`(?m)^\s+` + p + `%\s+([\d.]+)(us|ms|s|m)\s*$`).FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("wrk output without the %s%% latency:\n%s", p, out)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("wrk latency %q: %w", m[0], err)
	}
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[m[2]]
	return time.Duration(v * float64(unit)), nil
}
