package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The export phase: GET /events/export in each format, every event of the
// query phase's store, its bytes counted and discarded while the server's
// RSS is sampled.
const (
	exportTarget      = "/events/export?format="
	exportRSSInterval = 100 * time.Millisecond
	exportReadStall   = 2 * time.Minute // the longest the client waits for the next bytes
	exportGrowthSlack = 0.10            // the second half's peak RSS may exceed the first half's by this share
	exportRowsTrailer = "X-Eye-Export-Count"
)

// exportFormats are the formats exported, in order.
func exportFormats() []string { return []string{"ndjson", "csv", "parquet"} }

// exportResult is one export, downloaded in full.
type exportResult struct {
	format    string
	bytes     int64
	lines     int64 // lines of ndjson and csv (csv's header among them); 0 for parquet
	rows      int64 // the rows the server counted in its trailer; -1 without one
	firstByte time.Duration
	elapsed   time.Duration
	rssBefore int64 // VmRSS just before the request
	rssFirst  int64 // the highest VmRSS sampled in the first half of the download
	rssSecond int64 // the highest VmRSS sampled in the second half
	hwmBefore int64 // VmHWM just before the request
	hwmAfter  int64 // VmHWM at the end
	samples   int
	cpu       cpuUse
	complete  bool // the trailer arrived: the export is complete
}

func (r exportResult) rate() float64 { return float64(r.rows) / r.elapsed.Seconds() }

// rssDuring is the highest VmRSS sampled during the download.
func (r exportResult) rssDuring() int64 { return max(r.rssFirst, r.rssSecond) }

// constant says whether the server's RSS did not grow with the export:
// the second half's peak within exportGrowthSlack of the first half's.
func (r exportResult) constant() bool {
	return float64(r.rssSecond) <= float64(r.rssFirst)*(1+exportGrowthSlack)
}

// exportPhase starts The Eye on the query phase's store (generating one
// when the query phase did not run) and downloads the full export of its
// events in each format, one at a time.
func (b *bench) exportPhase(ctx context.Context) (err error) {
	q := &b.res.query
	if q.dir.path == "" {
		if q.dir, err = b.newDataDir(ctx, "query"); err != nil {
			return err
		}
		b.logf("export: generating %s events straight through Store.Write (no query phase ran before)", count(float64(b.opt.Events)))
		if q.gen, err = b.generate(ctx, q.dir, b.opt.Events); err != nil {
			return err
		}
		if q.prepared, err = b.store.prepareQueries(ctx, q.dir); err != nil {
			return err
		}
	} else {
		b.logf("export: on the query phase's store of %s events, %s", count(float64(q.gen.events)), q.dir)
	}
	eyeP, err := b.startEye(ctx, "export, EYE_WORKERS=0", q.dir, 0)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.stopEye(eyeP)) }()
	// One small query first, so that "before" is a server that has
	// answered a read, not one that has only started.
	c, err := dial(eyeP.addr)
	if err != nil {
		return err
	}
	qc := queryConn{c: c, host: eyeP.addr, key: b.key}
	_, _, err = qc.page("/events/?limit=100")
	c.Close()
	if err != nil {
		return err
	}
	b.res.exports = nil
	for _, format := range exportFormats() {
		r, err := b.exportOnce(ctx, eyeP, format)
		b.res.exports = append(b.res.exports, r)
		if err != nil {
			return err
		}
		if r.rows != int64(q.gen.events) {
			b.note("export %s: %d rows, %d events stored", format, r.rows, q.gen.events)
		}
		if !r.constant() {
			b.note("export %s: the server's RSS grew during the export: peak %s in its first half, %s in its second",
				format, mb(r.rssFirst), mb(r.rssSecond))
		}
	}
	return nil
}

// exportOnce downloads one full export, sampling the server's RSS.
func (b *bench) exportOnce(ctx context.Context, p *proc, format string) (exportResult, error) {
	res := exportResult{format: format, rows: -1}
	pid := p.cmd.Process.Pid
	res.rssBefore, res.hwmBefore = readVm(pid, "VmRSS:"), readVm(pid, "VmHWM:")
	b.logf("export %s: GET %s%s (server RSS %s, peak so far %s)", format, exportTarget, format, mb(res.rssBefore), mb(res.hwmBefore))

	type sample struct {
		at  time.Duration
		rss int64
	}
	var (
		mu      sync.Mutex
		samples []sample
		done    = make(chan struct{})
		stopped = make(chan struct{})
	)
	start := time.Now()
	go func() {
		defer close(stopped)
		t := time.NewTicker(exportRSSInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if rss := readVm(pid, "VmRSS:"); rss > 0 {
					mu.Lock()
					samples = append(samples, sample{time.Since(start), rss})
					mu.Unlock()
				}
			}
		}
	}()
	meter := b.cpuMeter(p)
	dl, err := download(ctx, p.addr, request("GET", p.addr, exportTarget+format, b.key, nil), b.progress(format))
	res.elapsed = time.Since(start)
	close(done)
	<-stopped
	res.cpu = meter.stop()
	res.hwmAfter = readVm(pid, "VmHWM:")
	res.bytes, res.firstByte = dl.bytes, dl.firstByte
	if format != "parquet" {
		res.lines = dl.lines
	}
	if v, ok := dl.trailers[strings.ToLower(exportRowsTrailer)]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			res.rows, res.complete = n, true
		}
	}
	res.samples = len(samples)
	for _, s := range samples {
		if s.at < res.elapsed/2 {
			res.rssFirst = max(res.rssFirst, s.rss)
		} else {
			res.rssSecond = max(res.rssSecond, s.rss)
		}
	}
	if err != nil {
		return res, fmt.Errorf("export %s: %w", format, err)
	}
	if dl.status != 200 {
		return res, fmt.Errorf("export %s: GET %s%s answered %d", format, exportTarget, format, dl.status)
	}
	if !res.complete {
		return res, fmt.Errorf("export %s: the answer ended without its %s trailer (%s bytes): cut off", format, exportRowsTrailer, count(float64(res.bytes)))
	}
	if format == "ndjson" && res.lines != res.rows || format == "csv" && res.lines != res.rows+1 {
		b.note("export %s: %d lines for %d rows in the trailer", format, res.lines, res.rows)
	}
	b.logf("export %s: %s rows, %s bytes in %s (%s events/s, %s/s; first byte after %s); server RSS before %s, "+
		"peak during %s (first half %s, second half %s, %d samples), VmHWM %s → %s; %s",
		format, count(float64(res.rows)), count(float64(res.bytes)), res.elapsed.Round(time.Millisecond), count(res.rate()),
		mb(int64(float64(res.bytes)/res.elapsed.Seconds())), ms(res.firstByte), mb(res.rssBefore), mb(res.rssDuring()),
		mb(res.rssFirst), mb(res.rssSecond), res.samples, mb(res.hwmBefore), mb(res.hwmAfter), res.cpu)
	if res.cpu.disturbed() {
		b.note("export %s measured beside other work: other processes used %.2f cores, and %.2f were stolen by the hypervisor",
			format, res.cpu.others, res.cpu.steal)
	}
	return res, nil
}

// progress logs a download's progress every 30 s.
func (b *bench) progress(format string) func(bytes, lines int64) {
	last := time.Now()
	return func(n, lines int64) {
		if time.Since(last) < 30*time.Second {
			return
		}
		last = time.Now()
		if format == "parquet" {
			b.logf("export %s: %s bytes so far", format, count(float64(n)))
			return
		}
		b.logf("export %s: %s bytes, %s lines so far", format, count(float64(n)), count(float64(lines)))
	}
}

// downloaded is what download read of an answer.
type downloaded struct {
	status    int
	bytes     int64 // of the body, as sent (after the chunked encoding is removed)
	lines     int64 // newlines in the body
	firstByte time.Duration
	trailers  map[string]string // names in lower case
}

// download sends req on a new connection and reads the whole answer,
// counting the bytes and newlines of its body and keeping none of it.
// It asks for no compression.
func download(ctx context.Context, addr string, req []byte, progress func(bytes, lines int64)) (downloaded, error) {
	var res downloaded
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return res, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	start := time.Now()
	_ = nc.SetDeadline(time.Now().Add(exportReadStall))
	if _, err := nc.Write(req); err != nil {
		return res, fmt.Errorf("write: %w", err)
	}
	r := bufio.NewReaderSize(&stallReader{c: nc}, 256<<10)
	if _, err := r.Peek(1); err != nil {
		return res, fmt.Errorf("read the answer: %w", err)
	}
	res.firstByte = time.Since(start)
	line, err := r.ReadSlice('\n')
	if err != nil {
		return res, fmt.Errorf("read status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return res, fmt.Errorf("malformed status line %q", line)
	}
	if res.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return res, fmt.Errorf("malformed status line %q", line)
	}
	var head response
	length, chunked, err := readHeaders(r, &head)
	if err != nil {
		return res, err
	}
	add := func(n int64, lines int64) {
		res.bytes += n
		res.lines += lines
		if progress != nil {
			progress(res.bytes, res.lines)
		}
	}
	switch {
	case chunked:
		res.trailers, err = countChunked(r, add)
	case length >= 0:
		err = countN(r, int64(length), add)
	default:
		err = errors.New("an answer without Content-Length nor chunked encoding")
	}
	return res, err
}

// stallReader reads from a connection, moving its deadline forward before
// each read: a download may take minutes, but no read more than
// exportReadStall.
type stallReader struct{ c net.Conn }

func (s *stallReader) Read(p []byte) (int, error) {
	_ = s.c.SetReadDeadline(time.Now().Add(exportReadStall))
	return s.c.Read(p)
}

// countN reads n bytes, counting them and their newlines.
func countN(r *bufio.Reader, n int64, count func(bytes, lines int64)) error {
	for n > 0 {
		buf, err := r.Peek(int(min(n, int64(r.Size()))))
		if len(buf) > 0 {
			count(int64(len(buf)), int64(bytes.Count(buf, []byte{'\n'})))
			_, _ = r.Discard(len(buf))
			n -= int64(len(buf))
		}
		if err != nil && n > 0 {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read body: %w", err)
		}
	}
	return nil
}

// countChunked reads a chunked body, counting its bytes and newlines, and
// returns its trailers.
func countChunked(r *bufio.Reader, count func(bytes, lines int64)) (map[string]string, error) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("read chunk size: %w", err)
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("malformed chunk size %q", line)
		}
		if n == 0 {
			return readTrailers(r)
		}
		if err := countN(r, n, count); err != nil {
			return nil, err
		}
		if _, err := r.Discard(2); err != nil { // the CRLF after the chunk
			return nil, fmt.Errorf("read chunk end: %w", err)
		}
	}
}

// readTrailers reads the trailer lines up to the blank line.
func readTrailers(r *bufio.Reader) (map[string]string, error) {
	trailers := map[string]string{}
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return trailers, fmt.Errorf("read trailer: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return trailers, nil
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok {
			trailers[strings.ToLower(string(bytes.TrimSpace(name)))] = string(bytes.TrimSpace(value))
		}
	}
}

// readVm reads a memory field of /proc/<pid>/status, such as "VmRSS:", in
// bytes; 0 when it cannot be read.
func readVm(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kib * 1024
		}
	}
	return 0
}
