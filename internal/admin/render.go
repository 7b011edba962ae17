package admin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/theeye/eye"
)

// pages are the parsed templates: each page is the layout with the page's
// own "content".
type pages map[string]*template.Template

// parsePages parses every page with the layout and the shared snippets.
// A template that does not parse is a bug, which the tests catch.
func parsePages(funcs template.FuncMap) pages {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html"))
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := pages{}
	for _, name := range names {
		file := path.Base(name)
		if file == "layout.html" || file == "parts.html" {
			continue
		}
		t := template.Must(base.Clone())
		p[strings.TrimSuffix(file, ".html")] = template.Must(t.ParseFS(files, name))
	}
	return p
}

// render writes a page, buffered so that a template error never sends
// half a page.
func (p pages) render(w http.ResponseWriter, r *http.Request, log *slog.Logger, status int, page string, v view) {
	t, ok := p[page]
	if !ok {
		panic("admin: no page " + page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		log.Error("admin: render", "page", page, "error", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// funcs are the templates' functions.
func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"static":     h.assets.url,
		"time":       formatTime,
		"exactTime":  func(t time.Time) string { return eye.FormatTime(t) },
		"ago":        ago,
		"duration":   formatDuration,
		"bytes":      func(n any) string { return formatBytes(integer(n)) },
		"count":      func(n any) string { return formatCount(integer(n)) },
		"pretty":     prettyJSON,
		"preview":    preview,
		"pathEscape": url.PathEscape,
		"typePath":   typePath,
		"query":      withQuery,
		"join":       strings.Join,
		"list":       func(s ...string) []string { return s },
		"short":      shortID,
		"span":       span,
		"plural":     plural,
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"percent": func(part, whole int64) float64 {
			if whole <= 0 {
				return 0
			}
			return 100 * float64(part) / float64(whole)
		},
	}
}

// integer converts the integers templates count.
func integer(n any) int64 {
	switch n := n.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case uint64:
		return int64(min(n, math.MaxInt64))
	}
	panic(fmt.Sprintf("admin: %T is not a count", n))
}

// formatTime shows a time in UTC to the second, "—" when it is zero.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// ago says how long ago a time was, roughly.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	if d < 0 {
		return "in " + roughDuration(-d)
	}
	if d < 5*time.Second {
		return "just now"
	}
	return roughDuration(d) + " ago"
}

// roughDuration says a duration in its largest unit.
func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days"
}

// formatDuration says a duration with two units at most: "850 ms",
// "4.2 s", "3 min 12 s", "2 h 5 min", "3 d 4 h".
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + formatDuration(-d)
	case d < time.Second:
		return strconv.Itoa(int(d.Milliseconds())) + " ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d %d h", int(d.Hours())/24, int(d.Hours())%24)
}

// formatBytes says a size in bytes with a binary unit.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + "KMGTPE"[exp:exp+1] + "iB"
}

// formatCount writes a count with thin spaces between thousands.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// prettyJSON indents a JSON document; anything else is returned as text
// (or, when it is not UTF-8, described).
func prettyJSON(b []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err == nil {
		return buf.String()
	}
	if !utf8.Valid(b) {
		return fmt.Sprintf("(%d bytes that are not UTF-8 text)", len(b))
	}
	return string(b)
}

// preview is a JSON document on one line, cut to about 120 characters.
func preview(b []byte) string {
	var buf bytes.Buffer
	s := string(b)
	if err := json.Compact(&buf, b); err == nil {
		s = buf.String()
	}
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:117]) + "…"
	}
	return s
}

// shortID shortens a UUID to its first and last characters: ids made at
// the same moment share their first ones (UUIDv7), and differ in the last.
func shortID(id string) string {
	if len(id) > 16 {
		return id[:8] + "…" + id[len(id)-6:]
	}
	return id
}

// span writes a time range, the day of its end left out when it is the
// day of its start.
func span(from, to time.Time) string {
	if from.IsZero() {
		return "—"
	}
	end := formatTime(to)
	if from.UTC().Format(time.DateOnly) == to.UTC().Format(time.DateOnly) {
		end = to.UTC().Format(time.TimeOnly)
	}
	return formatTime(from) + " → " + end
}

// plural writes a count and its noun, in the plural unless it is one.
func plural(n any, one, many string) string {
	c := integer(n)
	if c == 1 {
		return "1 " + one
	}
	return formatCount(c) + " " + many
}

// assets are the static files, with a version (a hash of the content) for
// their URLs, so that browsers may keep them until they change.
type assets map[string]asset

type asset struct {
	body    []byte
	version string
	ctype   string
}

func loadAssets() assets {
	names, err := fs.Glob(files, "static/*")
	if err != nil {
		panic(err)
	}
	a := assets{}
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(name))
		if path.Ext(name) == ".js" {
			ctype = "text/javascript; charset=utf-8"
		}
		a[path.Base(name)] = asset{body: b, version: hex.EncodeToString(sum[:6]), ctype: ctype}
	}
	return a
}

// url returns the versioned URL of a static file.
func (a assets) url(name string) (string, error) {
	f, ok := a[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/admin/static/" + name + "?v=" + f.version, nil
}

// static answers GET /admin/static/{file}: public, and cached by
// browsers for a day (its URL changes with its content).
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	f, ok := h.assets[r.PathValue("file")]
	if !ok {
		h.notFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Content-Length", strconv.Itoa(len(f.body)))
	hd.Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.body)
	}
}
