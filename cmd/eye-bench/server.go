package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// moduleRoot returns the directory of The Eye's go.mod: repo when given,
// else the module of the working directory.
func moduleRoot(ctx context.Context, repo string) (string, error) {
	if repo == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOMOD: %w", err)
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			return "", errors.New("not inside a Go module: run from The Eye's repository or pass -repo")
		}
		repo = filepath.Dir(gomod)
	}
	if _, err := os.Stat(filepath.Join(repo, "cmd", "eye", "main.go")); err != nil {
		return "", fmt.Errorf("%s is not The Eye's repository (no cmd/eye): %w", repo, err)
	}
	return repo, nil
}

// buildEye builds The Eye's binary into dir.
func buildEye(ctx context.Context, repo, dir string) (string, error) {
	bin := filepath.Join(dir, "eye")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/eye")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/eye: %w\n%s", err, out)
	}
	return bin, nil
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// proc is a server process: The Eye or a bare handler.
type proc struct {
	name    string
	addr    string
	logPath string
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	waitErr error

	mu      sync.Mutex
	peakKiB int64         // the highest VmHWM read
	peakAt  time.Duration // when it was first read, since the start
}

// startProc starts bin with args and extra environment (on top of this
// process's, less every EYE_ variable), its output to logPath.
func startProc(name, bin string, args, env []string, addr, logPath string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, addr: addr, logPath: logPath, cmd: cmd, started: time.Now(), exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	go p.watchMemory()
	return p, nil
}

// cleanEnv is this process's environment without The Eye's settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EYE_") {
			env = append(env, kv)
		}
	}
	return env
}

// watchMemory reads the process's peak RSS every 250 ms while it runs.
func (p *proc) watchMemory() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.exited:
			return
		case <-t.C:
			p.readPeak()
		}
	}
}

// readPeak reads VmHWM, the peak resident set size, from /proc.
func (p *proc) readPeak() {
	hwm := readVm(p.cmd.Process.Pid, "VmHWM:")
	p.mu.Lock()
	defer p.mu.Unlock()
	if kib := hwm / 1024; kib > p.peakKiB {
		p.peakKiB, p.peakAt = kib, time.Since(p.started)
	}
}

// peak is the peak RSS seen, and when it was reached (within 250 ms).
func (p *proc) peak() (int64, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peakKiB * 1024, p.peakAt
}

// waitReady waits until GET /readyz answers 200.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	req := request("GET", p.addr, "/readyz", "", nil)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); its log:\n%s", p.name, p.waitErr, tail(p.logPath, 20))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if c, err := dial(p.addr); err == nil {
			status, err := c.do(req, false)
			c.Close()
			if err == nil && status == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; its log:\n%s", p.name, timeout, tail(p.logPath, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop reads the peak RSS a last time, sends SIGTERM and waits for the
// process to exit (killing it after two minutes).
func (p *proc) stop() error {
	p.readPeak()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within 2 minutes of SIGTERM: killed", p.name)
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s exited with %w; its log:\n%s", p.name, p.waitErr, tail(p.logPath, 20))
	}
	return nil
}

// kill ends the process at once (after a failure).
func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// logLines returns the lines the process logged (at warn and above for
// The Eye).
func (p *proc) logLines() []string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return nil
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// describeRepo names the commit of the repository measured, and the files
// changed since, if any.
func describeRepo(ctx context.Context, repo string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", repo, "log", "-1", "--format=%h (%s)").Output()
	if err != nil {
		return "unknown (" + repo + " is not a git checkout)"
	}
	s := strings.TrimSpace(string(out))
	st, err := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(bytes.TrimSpace(st)) > 0 {
		var files []string
		for l := range strings.Lines(string(st)) {
			files = append(files, strings.TrimSpace(l[min(3, len(l)):]))
		}
		s += " with uncommitted changes to " + strings.Join(files, ", ")
	}
	return s
}
