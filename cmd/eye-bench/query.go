package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"time"
)

// The queried category, and the page of the deep pagination.
const (
	queryCategory = "page interaction"
	deepPage      = 50
	queryWarmup   = 10 // requests before each timed series
)

// queryStat is the latency of one query.
type queryStat struct {
	n        int
	p50, p99 time.Duration
}

func (q queryStat) String() string {
	return fmt.Sprintf("p50 %s, p99 %s (%d requests)", ms(q.p50), ms(q.p99), q.n)
}

// queryResult is what the query phase measured.
type queryResult struct {
	dir      dataDir // the store generated, which the export phase reuses
	gen      genResult
	prepared []string  // what was done to the store before the queries, and found
	timeline queryStat // GET /sessions/{id}/events/?limit=1000
	window   queryStat // first page of a category in a 1-hour window
	first    queryStat // first page of a category, limit=100
	deep     queryStat // page 50 of the same
	stats    queryStat // GET /stats/ of a category over the week by hour; n = 0 when there is no /stats/
}

// queryPhase generates the store, starts The Eye on it and times the
// queries over HTTP, one request at a time on one keep-alive connection.
func (b *bench) queryPhase(ctx context.Context) (err error) {
	dir, err := b.newDataDir(ctx, "query")
	if err != nil {
		return err
	}
	b.logf("query: generating %s events straight through Store.Write (this is the long part)", count(float64(b.opt.Events)))
	q := &b.res.query
	q.dir = dir
	if q.gen, err = b.generate(ctx, dir, b.opt.Events); err != nil {
		return err
	}
	if q.prepared, err = b.store.prepareQueries(ctx, dir); err != nil {
		return err
	}
	eyeP, err := b.startEye(ctx, "queries, EYE_WORKERS=1", dir, 1)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.stopEye(eyeP)) }()
	c, err := dial(eyeP.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	qc := queryConn{c: c, host: eyeP.addr, key: b.key}
	meter := b.cpuMeter(eyeP)
	if q.timeline, err = b.timeTimeline(qc, q.gen.timeline); err != nil {
		return err
	}
	if q.window, err = b.timeWindow(qc); err != nil {
		return err
	}
	if err := b.timeDeep(qc); err != nil {
		return err
	}
	if q.stats, err = b.timeStats(qc, q.gen.counts[queryCategory]); err != nil {
		return err
	}
	use := meter.stop()
	b.logf("query: %s", use)
	if use.disturbed() {
		b.note("queries measured beside other work: other processes used %.2f cores, and %.2f were stolen by the hypervisor", use.others, use.steal)
	}
	return nil
}

// queryConn asks The Eye for pages.
type queryConn struct {
	c         *conn
	host, key string
}

func (qc queryConn) req(target string) []byte { return request("GET", qc.host, target, qc.key, nil) }

// page gets one page of a list: its number of results and its next target.
func (qc queryConn) page(target string) (int, string, error) {
	status, err := qc.c.do(qc.req(target), true)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", target, err)
	}
	if status != 200 {
		return 0, "", fmt.Errorf("GET %s answered %d: %s", target, status, qc.c.body)
	}
	var p struct {
		Results []json.RawMessage `json:"results"`
		Next    *string           `json:"next"`
	}
	if err := json.Unmarshal(qc.c.body, &p); err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", target, err)
	}
	if p.Next == nil {
		return len(p.Results), "", nil
	}
	u, err := url.Parse(*p.Next)
	if err != nil {
		return 0, "", fmt.Errorf("next of GET %s: %w", target, err)
	}
	return len(p.Results), u.RequestURI(), nil
}

// time sends queryWarmup requests, then n timed ones, targets in turn;
// every answer must be 200.
func (qc queryConn) time(targets []string, n int) (queryStat, error) {
	reqs := make([][]byte, len(targets))
	for i, t := range targets {
		reqs[i] = qc.req(t)
	}
	lat := make([]time.Duration, 0, n)
	for i := range queryWarmup + n {
		begin := time.Now()
		status, err := qc.c.do(reqs[i%len(reqs)], false)
		d := time.Since(begin)
		if err != nil {
			return queryStat{}, fmt.Errorf("GET %s: %w", targets[i%len(targets)], err)
		}
		if status != 200 {
			return queryStat{}, fmt.Errorf("GET %s answered %d", targets[i%len(targets)], status)
		}
		if i >= queryWarmup {
			lat = append(lat, d)
		}
	}
	slices.Sort(lat)
	return queryStat{n: n, p50: percentile(lat, 50), p99: percentile(lat, 99)}, nil
}

// timeTimeline times the timeline of the session of exactly 1,000 events.
func (b *bench) timeTimeline(qc queryConn, session string) (queryStat, error) {
	target := "/sessions/" + session + "/events/?limit=1000"
	n, next, err := qc.page(target)
	if err != nil {
		return queryStat{}, err
	}
	if n != genTimelineLen || next != "" {
		return queryStat{}, fmt.Errorf("GET %s: %d events and next %q, want %d and none", target, n, next, genTimelineLen)
	}
	st, err := qc.time([]string{target}, b.opt.QueryN)
	b.logf("query: session timeline of %d events: %s", genTimelineLen, st)
	return st, err
}

// timeWindow times the first page of one category in 1-hour windows,
// 100 different hours in turn.
func (b *bench) timeWindow(qc queryConn) (queryStat, error) {
	r := rand.New(rand.NewPCG(8, 9))
	hours := int(genSpan/time.Hour) - 2
	targets := make([]string, 100)
	for i := range targets {
		from := genStart().Add(time.Duration(1+r.IntN(hours)) * time.Hour)
		targets[i] = "/events/?category=" + url.QueryEscape(queryCategory) +
			"&timestamp__gte=" + from.Format(time.RFC3339) + "&timestamp__lte=" + from.Add(time.Hour).Format(time.RFC3339)
	}
	if n, _, err := qc.page(targets[0]); err != nil {
		return queryStat{}, err
	} else if n != 100 {
		return queryStat{}, fmt.Errorf("GET %s: %d events, want a full page of 100", targets[0], n)
	}
	st, err := qc.time(targets, b.opt.QueryN)
	b.logf("query: %q in a 1-hour window, first page: %s", queryCategory, st)
	return st, err
}

// timeDeep follows next from the first page of a category to page 50, then
// times the first page and page 50.
func (b *bench) timeDeep(qc queryConn) error {
	first := "/events/?category=" + url.QueryEscape(queryCategory) + "&limit=100"
	target := first
	for page := 1; page < deepPage; page++ {
		n, next, err := qc.page(target)
		if err != nil {
			return err
		}
		if n != 100 || next == "" {
			return fmt.Errorf("page %d of %s: %d events and next %q, want 100 and more", page, first, n, next)
		}
		target = next
	}
	q := &b.res.query
	var err error
	if q.first, err = qc.time([]string{first}, b.opt.QueryN); err != nil {
		return err
	}
	b.logf("query: %q, first page of 100: %s", queryCategory, q.first)
	if q.deep, err = qc.time([]string{target}, b.opt.QueryN); err != nil {
		return err
	}
	b.logf("query: %q, page %d of 100: %s", queryCategory, deepPage, q.deep)
	return nil
}

// timeStats times GET /stats/ of the category over the generated week by
// hour (168 intervals), when the service has it, after checking that its
// counts add up to the events generated.
func (b *bench) timeStats(qc queryConn, want int) (queryStat, error) {
	from := genStart()
	target := "/stats/?interval=hour&category=" + url.QueryEscape(queryCategory) +
		"&from=" + from.Format(time.RFC3339) + "&to=" + from.Add(genSpan).Format(time.RFC3339)
	status, err := qc.c.do(qc.req(target), true)
	if err != nil {
		return queryStat{}, fmt.Errorf("GET %s: %w", target, err)
	}
	if status == 404 {
		b.logf("query: GET /stats/ answers 404: not measured")
		return queryStat{}, nil
	}
	var page struct {
		Results []struct {
			Events int `json:"events"`
		} `json:"results"`
	}
	if err := json.Unmarshal(qc.c.body, &page); status != 200 || err != nil {
		return queryStat{}, fmt.Errorf("GET %s answered %d (%v): %s", target, status, err, qc.c.body)
	}
	sum := 0
	for _, r := range page.Results {
		sum += r.Events
	}
	if sum != want {
		b.note("GET /stats/ counts %d %q events over the week in %d intervals; %d were stored", sum, queryCategory, len(page.Results), want)
	}
	st, err := qc.time([]string{target}, b.opt.QueryN)
	b.logf("query: GET /stats/ of %q by hour over the week: %s", queryCategory, st)
	return st, err
}
