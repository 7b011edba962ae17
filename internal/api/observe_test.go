package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/theeye/eye"
)

// TestCountersInvariant sends every kind of event and checks the counters
// exactly, and that accepted = stored + rejected + duplicates.
func TestCountersInvariant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	invalid := pageview(session)
	invalid["data"] = map[string]any{}
	retried := pageview(session)
	retried["event_id"] = "retried-1"
	retriedBad := pageview(session)
	retriedBad["event_id"] = "retried-bad"
	retriedBad["timestamp"] = "not a time"

	for _, ev := range []any{pageview(session), pageview(session), invalid, retried, retried, retriedBad, retriedBad} {
		e.accepted(ev)
	}
	// A batch: 3 good (one a retry of an earlier event), 1 invalid, 2 malformed elements.
	res := e.admin("POST", "/events/batch/", []any{pageview(session), pageview(session), retried, invalid, 7, "x"})
	if res.status != 202 {
		t.Fatalf("batch: %d %s", res.status, res.body)
	}
	// Two malformed bodies: never accepted.
	e.admin("POST", "/events/", "[1]")
	e.admin("POST", "/events/", "{")

	m := e.metrics
	// total sums a counter's series.
	total := func(name string) float64 {
		mfs, _ := m.Registry.Gather()
		sum := 0.0
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, metric := range mf.GetMetric() {
				sum += metric.GetCounter().GetValue()
			}
		}
		return sum
	}
	// 7 single + 4 batch elements accepted; stored: 2 + 1 (retried) + 2 (batch) = 5;
	// rejected: invalid (x2: single and batch) + retriedBad once = 3;
	// duplicates: retried (single again, batch) + retriedBad again = 3.
	deadline := time.Now().Add(15 * time.Second)
	for total("eye_events_stored_total")+total("eye_events_rejected_total")+total("eye_events_duplicate_total") < 11 &&
		time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got := map[string]float64{}
	for _, name := range []string{"eye_events_accepted_total", "eye_events_stored_total", "eye_events_rejected_total",
		"eye_events_duplicate_total", "eye_requests_malformed_total"} {
		got[name] = total(name)
	}
	want := map[string]float64{"eye_events_accepted_total": 11, "eye_events_stored_total": 5, "eye_events_rejected_total": 3,
		"eye_events_duplicate_total": 3, "eye_requests_malformed_total": 4}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %v, want %v", name, got[name], w)
		}
	}
	if got["eye_events_accepted_total"] != got["eye_events_stored_total"]+got["eye_events_rejected_total"]+got["eye_events_duplicate_total"] {
		t.Errorf("accepted != stored + rejected + duplicates: %v", got)
	}
	if v := testutil.ToFloat64(m.Rejected.WithLabelValues("default", eye.CodeEmptyData)); v != 2 {
		t.Errorf("rejected{code=empty_data} = %v", v)
	}

	// The same, as Prometheus reads it, with a read key only.
	res = e.admin("GET", "/metrics", nil)
	if res.status != 200 || !strings.Contains(string(res.body), `eye_events_stored_total{application="default"} 5`) ||
		!strings.Contains(string(res.body), "eye_pipeline_status 0") {
		t.Errorf("/metrics: %d\n%s", res.status, res.body)
	}
	wantProblem(t, e.do("GET", "/metrics", "", nil), 401, "unauthorized")
}

func TestStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session := eye.NewID()
	for i, ts := range []string{"2021-01-01T09:15:27Z", "2021-01-01T09:15:59Z", "2021-01-01T09:17:00Z", "2021-01-01T11:00:00Z"} {
		ev := pageview(session)
		ev["timestamp"] = ts
		if i == 3 {
			ev["category"] = "form interaction"
		}
		e.accepted(ev)
	}
	e.waitEvents("/events/?session="+session, 4)
	res := e.admin("GET", "/stats/?from=2021-01-01T09:15:00Z&to=2021-01-01T09:18:00Z", nil)
	if res.status != 200 {
		t.Fatalf("stats: %d %s", res.status, res.body)
	}
	var out struct {
		Results []struct {
			T      string `json:"t"`
			Events int64  `json:"events"`
			Errors int64  `json:"errors"`
		} `json:"results"`
	}
	json.Unmarshal(res.body, &out)
	var got []string
	for _, b := range out.Results {
		got = append(got, fmt.Sprintf("%s=%d", b.T[11:16], b.Events))
	}
	if strings.Join(got, " ") != "09:15=2 09:16=0 09:17=1 09:18=0" {
		t.Errorf("per minute: %v", got)
	}
	res = e.admin("GET", "/stats/?interval=hour&from=2021-01-01T09:00:00Z&to=2021-01-01T11:59:59Z&category=page%20interaction", nil)
	json.Unmarshal(res.body, &out)
	got = nil
	for _, b := range out.Results {
		got = append(got, fmt.Sprintf("%s=%d", b.T[11:13], b.Events))
	}
	if strings.Join(got, " ") != "09=3 10=0 11=0" {
		t.Errorf("per hour of a category: %v", got)
	}
	// Defaults: the last hour, minute by minute.
	res = e.admin("GET", "/stats/", nil)
	json.Unmarshal(res.body, &out)
	if res.status != 200 || len(out.Results) < 60 || len(out.Results) > 61 {
		t.Errorf("default range: %d buckets", len(out.Results))
	}
	wantProblem(t, e.admin("GET", "/stats/?interval=week", nil), 400, "invalid_parameter")
	wantProblem(t, e.admin("GET", "/stats/?from=2021-01-02T00:00:00Z&to=2021-01-01T00:00:00Z", nil), 400, "invalid_parameter")
	wantProblem(t, e.admin("GET", "/stats/?from=2000-01-01T00:00:00Z&to=2021-01-01T00:00:00Z", nil), 400, "invalid_parameter")
}

func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.admin("GET", "/status", nil)
	var st struct {
		Status  string   `json:"status"`
		Reasons []string `json:"reasons"`
		Queue   *struct {
			WorkersWaiting int `json:"workers_waiting"`
		} `json:"queue"`
	}
	json.Unmarshal(res.body, &st)
	if res.status != 200 || st.Status != "ok" || st.Queue == nil {
		t.Errorf("status: %d %s", res.status, res.body)
	}
	e.store.Close()
	time.Sleep(1100 * time.Millisecond) // the status is checked at most once a second
	json.Unmarshal(e.admin("GET", "/status", nil).body, &st)
	if st.Status != "down" || len(st.Reasons) == 0 {
		t.Errorf("with the store down: %+v", st)
	}
}

// stream opens the live stream and returns its events as they come.
func (e *env) stream(query string) (<-chan [2]string, func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/events/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	res, err := e.srv.Client().Do(req)
	if err != nil || res.StatusCode != 200 {
		e.t.Fatalf("stream: %v %v", err, res)
	}
	out := make(chan [2]string, 10000)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				out <- [2]string{event, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	return out, cancel
}

func next(t *testing.T, events <-chan [2]string) (string, map[string]any) {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		var m map[string]any
		json.Unmarshal([]byte(ev[1]), &m)
		return ev[0], m
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the stream within 10s")
	}
	return "", nil
}

func TestStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	session, other := eye.NewID(), eye.NewID()
	all, stopAll := e.stream("?include=errors&session=" + session)
	defer stopAll()
	stored, stopStored := e.stream("?category=page%20interaction")
	defer stopStored()

	first := e.accepted(pageview(session))
	bad := pageview(session)
	bad["data"] = map[string]any{}
	badID := e.accepted(bad)
	e.accepted(pageview(other)) // not this session
	third := e.accepted(pageview(session))

	for _, want := range []struct{ event, id string }{{"stored", first}, {"rejected", badID}, {"stored", third}} {
		event, n := next(t, all)
		if event != want.event || n["id"] != want.id || n["outcome"] != want.event {
			t.Errorf("got %s %v, want %s %s", event, n, want.event, want.id)
		}
		if event == "rejected" && fmt.Sprint(n["codes"]) != "[empty_data]" {
			t.Errorf("rejected notice %v", n)
		}
		if event == "stored" && fmt.Sprint(n["data"]) != "map[host:www.example.com path:/]" {
			t.Errorf("stored notice %v", n)
		}
	}
	// Without include=errors, only stored events, of any session here.
	for range 3 {
		if event, n := next(t, stored); event != "stored" || n["id"] == badID {
			t.Errorf("stored-only stream: %s %v", event, n)
		}
	}
	wantProblem(t, e.admin("GET", "/events/stream?include=everything", nil), 400, "invalid_parameter")
}

// TestSlowStreamClient: a client that reads nothing holds nothing up:
// every event is accepted and stored while it sleeps. (That it is dropped
// once its buffer is full is checked in TestHubDropsSlowClients: here the
// sockets' buffers may hold all it was sent.)
func TestSlowStreamClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	session := eye.NewID()
	for range 10 {
		var batch []any
		for range 1000 {
			batch = append(batch, pageview(session))
		}
		if r := e.admin("POST", "/events/batch/", batch); r.status != 202 {
			t.Fatalf("batch: %d", r.status)
		}
	}
	e.wait("/sessions/"+session+"/", func(r response) bool { return r.status == 200 && r.json(t)["event_count"] == float64(10000) })
}
