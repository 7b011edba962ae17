package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// row is one line of the table.
type row struct {
	phase, measured, limit, ratio, target, met string
}

// Targets of the issue.
const (
	targetSingleRatio = 0.5
	targetSingleP99   = 25 * time.Millisecond
	targetBatchRatio  = 0.5
	targetBatchRate   = 200_000
	targetDrainRatio  = 0.7
	targetDrainRate   = 25_000
	targetLagP99      = time.Second
	targetTimelineP99 = 10 * time.Millisecond
	targetWindowP99   = 5 * time.Millisecond
	targetDeepRatio   = 2.0
	targetRSS         = 300_000_000
)

// report prints the table as text, then as Markdown, with the notes.
func (b *bench) report(w io.Writer) {
	rows := b.rows()
	if len(rows) == 0 {
		return
	}
	header := row{"Phase", "Measured", "Limit, same run", "Ratio", "Target", "Met"}
	fmt.Fprintln(w)
	writeText(w, header, rows)
	fmt.Fprintln(w)
	for _, l := range b.context() {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Markdown:")
	fmt.Fprintln(w)
	writeMarkdown(w, header, rows)
	fmt.Fprintln(w)
	for _, l := range b.context() {
		fmt.Fprintln(w, "- "+l)
	}
}

func (b *bench) rows() []row {
	var rows []row
	if b.res.ran[phaseIngest] {
		rows = append(rows, b.ingestRows()...)
	}
	if b.res.ran[phaseProcess] {
		rows = append(rows, b.processRows()...)
	}
	if b.res.ran[phaseQuery] {
		rows = append(rows, b.queryRows()...)
	}
	rows = append(rows, b.exportRows()...)
	if p, ok := b.res.peakRSS(); ok {
		rows = append(rows, row{"peak RSS of The Eye (max VmHWM of its processes)", mb(p.bytes),
			"in: " + p.what, "", "≤ 300 MB", met(p.bytes <= targetRSS)})
	}
	return rows
}

func (b *bench) ingestRows() []row {
	r := b.res
	s50, s99 := r.single.percentiles()
	sb50, sb99 := r.singleBare.percentiles()
	singleRatio := r.single.rate() / r.singleBare.rate()
	ev := float64(b.opt.BatchEvents)
	batchRatio := r.batch.rate() / r.batchBare.rate()
	b50, b99 := r.batch.percentiles()
	bb50, bb99 := r.batchBare.percentiles()
	conns := strconv.Itoa(b.opt.Conns) + " conns"
	return []row{
		{"single ingest, POST /events/, " + conns + ": requests/s", count(r.single.rate()), "bare: " + count(r.singleBare.rate()),
			pct(singleRatio), "≥ 50% of bare", met(singleRatio >= targetSingleRatio && r.single.failures() == 0)},
		{"single ingest: latency p50 / p99", pair(s50, s99), "bare: " + pair(sb50, sb99), "", "p99 ≤ 25 ms", met(s99 <= targetSingleP99)},
		{fmt.Sprintf("batch ingest, POST /events/batch/ (%d events), %s: events/s", b.opt.BatchEvents, conns),
			count(r.batch.rate() * ev), "bare: " + count(r.batchBare.rate()*ev), pct(batchRatio),
			"≥ 50% of bare and ≥ 200,000/s", met(batchRatio >= targetBatchRatio && r.batch.rate()*ev >= targetBatchRate && r.batch.failures() == 0)},
		{"batch ingest: latency p50 / p99", pair(b50, b99), "bare: " + pair(bb50, bb99), "", "", ""},
	}
}

func (b *bench) processRows() []row {
	r := b.res
	limit := r.raw[0]
	limitText := limit.label + ": " + count(limit.rate())
	ratio := r.drain.rate() / limit.rate()
	target := b.store.drainTarget()
	l50, l99 := percentile(r.lag.samples, 50), percentile(r.lag.samples, 99)
	lagOK := l99 <= targetLagP99 && r.lag.lost == 0 && r.lag.offered >= 0.95*float64(b.opt.LagRate) && len(r.lag.samples) > 0
	rows := []row{
		{fmt.Sprintf("processing: backlog of %s drained (EYE_WORKERS=%d): events stored/s", count(float64(r.backlog.accepted)), b.opt.DrainWorkers),
			count(r.drain.rate()), limitText, pct(ratio), target.text,
			met(target.met(ratio, r.drain.rate()) && r.drain.lost == 0)},
	}
	for _, raw := range r.raw[1:] {
		rows = append(rows, row{fmt.Sprintf("processing: %s into %s, batches of 1,000: events/s", raw.label, b.store.name()),
			count(raw.rate()), limitText, pct(raw.rate() / limit.rate()), "", ""})
	}
	return append(rows, row{fmt.Sprintf("end-to-end lag, received_at → queryable, %d samples: p50 / p99", len(r.lag.samples)), pair(l50, l99),
		"offered: " + count(r.lag.offered) + " events/s", "", "p99 ≤ 1 s at " + count(float64(b.opt.LagRate)) + "/s", met(lagOK)})
}

func (b *bench) queryRows() []row {
	q := b.res.query
	on := " (" + count(float64(q.gen.events)) + " events)"
	r50, r99 := ratioOf(q.deep.p50, q.first.p50), ratioOf(q.deep.p99, q.first.p99)
	return []row{
		{"session timeline, 1,000 events" + on + ": p50 / p99", pair(q.timeline.p50, q.timeline.p99), "", "", "p99 ≤ 10 ms",
			met(q.timeline.p99 <= targetTimelineP99)},
		{"category + 1-hour window, first page: p50 / p99", pair(q.window.p50, q.window.p99), "", "", "p99 ≤ 5 ms",
			met(q.window.p99 <= targetWindowP99)},
		{fmt.Sprintf("deep pagination, page %d of 100 by category: p50 / p99", deepPage), pair(q.deep.p50, q.deep.p99),
			"first page: " + pair(q.first.p50, q.first.p99), fmt.Sprintf("%.2f× / %.2f×", r50, r99), "≤ 2× the first page",
			met(r50 <= targetDeepRatio && r99 <= targetDeepRatio)},
		b.statsRow(),
	}
}

// exportRows are the exports downloaded in full, one row each: events/s,
// and the server's RSS before and during the download.
func (b *bench) exportRows() []row {
	var rows []row
	for _, e := range b.res.exports {
		if !e.complete {
			continue
		}
		rows = append(rows, row{
			fmt.Sprintf("export, GET /events/export?format=%s, %s events (%s): events/s", e.format, count(float64(e.rows)), mb(e.bytes)),
			count(e.rate()),
			fmt.Sprintf("server RSS before: %s; during, 1st / 2nd half: %s / %s", mb(e.rssBefore), mb(e.rssFirst), mb(e.rssSecond)),
			fmt.Sprintf("%.2f×", float64(e.rssSecond)/float64(max(1, e.rssFirst))),
			"RSS constant: 2nd half ≤ 1st half + 10%",
			met(e.constant() && e.rows == int64(b.res.query.gen.events)),
		})
	}
	return rows
}

// statsRow is GET /stats/, which the issue sets no target for (it did not
// exist yet).
func (b *bench) statsRow() row {
	q := b.res.query.stats
	if q.n == 0 {
		return row{"GET /stats/", "n/a", "", "", "", "n/a: the endpoint does not exist"}
	}
	return row{"GET /stats/, one category by hour over the week: p50 / p99", pair(q.p50, q.p99), "", "", "none set", ""}
}

// context lists how the figures were made, and every note.
func (b *bench) context() []string {
	r := b.res
	out := []string{"The Eye measured: commit " + b.version + "."}
	out = append(out, b.store.about()...)
	out = append(out, "Load generator of the ingest loads: "+b.opt.loadgen()+".")
	if r.ran[phaseIngest] {
		out = append(out, fmt.Sprintf("Ingest loads: %s measured after a %s warm-up, closed loop, %d keep-alive connections; The Eye with EYE_WORKERS=%d for single events, 1 for batches (a worker storing while it ingests).",
			b.opt.Duration, b.opt.Warmup, b.opt.Conns, b.opt.IngestWorkers))
	}
	if r.ran[phaseProcess] {
		out = append(out,
			fmt.Sprintf("Backlog: %s events queued in %s (%s events/s) with EYE_WORKERS=0; after the restart the store answered after %s with %s events stored; every event stored %s after the start; from the first answer on %s events/s.",
				count(float64(r.backlog.accepted)), r.backlog.elapsed.Round(time.Millisecond), count(float64(r.backlog.accepted)/r.backlog.elapsed.Seconds()),
				r.drain.readyAfter.Round(time.Millisecond), count(float64(r.drain.firstSeen)), r.drain.fromStart.Round(time.Millisecond), count(r.drain.rate())),
			fmt.Sprintf("End-to-end lag: batches of %d paced open-loop on %d connections; one event in %d batches polled every %s with GET /events/{id}/; max %s.",
				b.opt.LagBatch, lagSenders, max(1, b.opt.LagRate/b.opt.LagBatch/lagSamplesPerS), lagPollInterval, ms(percentile(r.lag.samples, 100))))
		if cps := b.checkpointsText(); cps != "" {
			out = append(out, cps)
		}
	}
	if r.ran[phaseQuery] {
		g := r.query.gen
		out = append(out, fmt.Sprintf("Query store: %s events in %s sessions over %s, generated with Store.Write in %s (%s events/s); each query timed %d times, one at a time on one connection, after %d untimed.",
			count(float64(g.events)), count(float64(g.sessions)), genSpan, g.elapsed.Round(time.Second), count(float64(g.events)/g.elapsed.Seconds()),
			b.opt.QueryN, queryWarmup))
		out = append(out, r.query.prepared...)
	}
	if len(r.exports) > 0 {
		out = append(out, fmt.Sprintf("Export: GET /events/export?format=… of every event of the query store, one format at a time, each on a new connection "+
			"without Accept-Encoding (no gzip), the body read as it comes, its bytes and lines counted and discarded, the rows read from the %s trailer; "+
			"the server's VmRSS sampled every %s, the ratio is the peak of the second half of the download over the first half's.", exportRowsTrailer, exportRSSInterval))
		for _, e := range r.exports {
			out = append(out, fmt.Sprintf("Export %s: %s rows, %s bytes in %s (%s events/s), first byte after %s; server RSS before %s, peak during %s; VmHWM %s before, %s after; %s.",
				e.format, count(float64(e.rows)), count(float64(e.bytes)), e.elapsed.Round(time.Second), count(e.rate()), ms(e.firstByte),
				mb(e.rssBefore), mb(e.rssDuring()), mb(e.hwmBefore), mb(e.hwmAfter), e.cpu))
		}
	}
	for _, p := range r.peaks {
		out = append(out, fmt.Sprintf("Peak RSS of %s: %s.", p.what, mb(p.bytes)))
	}
	if len(r.notes) == 0 {
		out = append(out, "Nothing suspicious: every answer was as expected and nothing was logged at warn or above.")
	}
	for _, n := range r.notes {
		out = append(out, "NOTE: "+n)
	}
	return out
}

// checkpointsText says how many checkpoints the store's server began
// during each raw insert and the drain, when they were counted.
func (b *bench) checkpointsText() string {
	var parts []string
	for _, raw := range b.res.raw {
		if raw.checkpoints >= 0 {
			parts = append(parts, fmt.Sprintf("%s %d", raw.label, raw.checkpoints))
		}
	}
	if b.res.drain.checkpoints >= 0 {
		parts = append(parts, fmt.Sprintf("the drain %d", b.res.drain.checkpoints))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Checkpoints the PostgreSQL server began (counted server-wide, pg_stat_bgwriter) during: " + strings.Join(parts, ", ") + "."
}

func writeText(w io.Writer, header row, rows []row) {
	all := append([]row{header}, rows...)
	widths := make([]int, 6)
	for _, r := range all {
		for i, c := range r.cells() {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for k, r := range all {
		var line []string
		for i, c := range r.cells() {
			line = append(line, c+strings.Repeat(" ", widths[i]-len([]rune(c))))
		}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(line, "  "), " "))
		if k == 0 {
			var rule []string
			for _, n := range widths {
				rule = append(rule, strings.Repeat("-", n))
			}
			fmt.Fprintln(w, strings.Join(rule, "  "))
		}
	}
}

func writeMarkdown(w io.Writer, header row, rows []row) {
	fmt.Fprintln(w, "| "+strings.Join(header.cells(), " | ")+" |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|")
	for _, r := range rows {
		fmt.Fprintln(w, "| "+strings.Join(r.cells(), " | ")+" |")
	}
}

func (r row) cells() []string {
	return []string{r.phase, r.measured, r.limit, r.ratio, r.target, r.met}
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// count formats a number with thousands separators.
func count(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ms formats a duration in milliseconds with three significant digits.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func pair(a, b time.Duration) string {
	return strings.TrimSuffix(ms(a), " ms") + " / " + ms(b)
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

func ratioOf(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// mb formats bytes in megabytes (10^6 bytes).
func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }
