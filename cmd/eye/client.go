package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/theeye/eye"
)

// clientConfig is how the commands that talk to a running service find
// it: its URL and a key, with environment twins.
type clientConfig struct {
	URL     string
	Key     string
	DataDir string
	filters map[string]*string
}

// clientFlags registers a client command's flags; the filter flags become
// query parameters.
func clientFlags(name string, getenv func(string) string, stderr io.Writer, filters ...string) (*clientConfig, *flag.FlagSet) {
	c := &clientConfig{filters: map[string]*string{}}
	fs := flag.NewFlagSet("eye "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", envOr(getenv, "EYE_URL", "http://127.0.0.1:8000"), "the service's URL (EYE_URL)")
	fs.StringVar(&c.Key, "key", getenv("EYE_KEY"), "an API key with the read scope (EYE_KEY; default: DATA_DIR/admin.key)")
	fs.StringVar(&c.DataDir, "data-dir", envOr(getenv, "EYE_DATA_DIR", "./eye-data"), "where to find admin.key when no key is given (EYE_DATA_DIR)")
	for _, f := range filters {
		c.filters[f] = fs.String(f, "", "the "+f+" parameter")
	}
	return c, fs
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// key returns the key to send: the one given, or the generated admin key.
func (c *clientConfig) key() (string, error) {
	if c.Key != "" {
		return c.Key, nil
	}
	b, err := os.ReadFile(filepath.Join(c.DataDir, "admin.key"))
	if err != nil {
		return "", errors.New("no key: give -key or EYE_KEY (a key with the read scope)")
	}
	return strings.TrimSpace(string(b)), nil
}

// get sends a GET with the key and returns the answer, or the problem it
// got as an error.
func (c *clientConfig) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	key, err := c.key()
	if err != nil {
		return nil, err
	}
	for name, v := range c.filters {
		if *v != "" {
			q.Set(name, *v)
		}
	}
	u := strings.TrimSuffix(c.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&p)
		return nil, fmt.Errorf("GET %s: %s: %s", path, res.Status, p.Detail)
	}
	return res, nil
}

// tail runs "eye tail": the live stream of a running service, one line per
// event stored or rejected.
func tail(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, fs := clientFlags("tail", getenv, stderr, "application", "session", "category", "name")
	errorsToo := fs.Bool("errors", false, "also the error records made")
	asJSON := fs.Bool("json", false, "print each notice as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q := url.Values{}
	if *errorsToo {
		q.Set("include", "errors")
	}
	res, err := c.get(ctx, "/events/stream", q)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	color := !*asJSON && isTerminal(stdout) && getenv("NO_COLOR") == ""
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			if event == "dropped" {
				return errors.New("the service ended the stream: this client fell behind")
			}
			if *asJSON {
				fmt.Fprintln(stdout, data)
				continue
			}
			var n eye.Notice
			if err := json.Unmarshal([]byte(data), &n); err != nil {
				continue
			}
			fmt.Fprintln(stdout, noticeLine(n, color))
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	return errors.New("the service ended the stream")
}

// noticeLine renders a notice on one line.
func noticeLine(n eye.Notice, color bool) string {
	outcome := fmt.Sprintf("%-8s", n.Outcome)
	if color {
		code := "32" // green
		if n.Outcome == eye.OutcomeRejected {
			code = "31" // red
		}
		outcome = "\x1b[" + code + "m" + outcome + "\x1b[0m"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s / %s", n.ReceivedAt, outcome, n.Category, n.Name)
	if n.SessionID != "" {
		fmt.Fprintf(&b, "  session=%s", n.SessionID)
	}
	fmt.Fprintf(&b, "  app=%s  id=%s", n.ApplicationID, n.ID)
	if n.Outcome == eye.OutcomeRejected {
		fmt.Fprintf(&b, "  %s: %s", strings.Join(n.Codes, ","), n.Message)
	}
	return b.String()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// stats runs "eye stats": the counts of a running service per interval.
func stats(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, fs := clientFlags("stats", getenv, stderr, "from", "to", "interval", "category", "name", "application")
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := c.get(ctx, "/stats/", url.Values{})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var out struct {
		Results []struct {
			T      string `json:"t"`
			Events int64  `json:"events"`
			Errors int64  `json:"errors"`
		} `json:"results"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return fmt.Errorf("read /stats/: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "INTERVAL\tEVENTS\tERRORS\t")
	var events, errs int64
	for _, b := range out.Results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", b.T, b.Events, b.Errors)
		events += b.Events
		errs += b.Errors
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t\n", events, errs)
	return tw.Flush()
}

// health runs "eye health": it asks a running service's /healthz (or
// /readyz with -ready) and exits 0 when it answers 200, for container
// health checks on images with no shell or curl.
func health(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eye health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scheme, port := "http", "8000"
	if getenv("EYE_TLS_CERT") != "" {
		scheme = "https"
	}
	if _, p, err := net.SplitHostPort(getenv("EYE_ADDR")); err == nil {
		port = p
	}
	def := scheme + "://127.0.0.1:" + port
	base := fs.String("url", envOr(getenv, "EYE_URL", def), "the service's URL (EYE_URL; default: 127.0.0.1 on EYE_ADDR's port)")
	ready := fs.Bool("ready", false, "ask /readyz (can it do its job?) rather than /healthz (is it up?)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(*base, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	client := http.DefaultClient
	if req.URL.Scheme == "https" && req.URL.Hostname() == "127.0.0.1" {
		// The service's own certificate names its public host, not the
		// loopback address this check reaches it on.
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d: %s", path, res.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	return nil
}
