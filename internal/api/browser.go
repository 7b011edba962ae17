package api

// Browser keys. A web page sends events with a key of the scope "browser",
// which is public by nature (it is in the page's source), so such a key
// only ingests, and only from the web origins its application lists:
// requests without an Origin, or with Origin: null, are refused. Because
// navigator.sendBeacon cannot set headers, a browser key may come as
// ?key= in the URL (any other key there is refused, so that server secrets
// never end up in access logs), and a text/plain body is read as JSON.
// CORS answers name only allowed origins; server keys never need CORS.

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/theeye/eye"
)

//go:embed eye.js
var trackerScript []byte

// origins holds the allowed origins of the applications, for browser keys.
type origins struct {
	byApp map[string][]string // application id → its allowed origins, active applications only
	any   map[string]bool     // the origins of every active application, for CORS preflights
}

func originsOf(apps []eye.Application) origins {
	o := origins{byApp: map[string][]string{}, any: map[string]bool{}}
	for _, a := range apps {
		if !a.Active || len(a.AllowedOrigins) == 0 {
			continue
		}
		o.byApp[a.ID] = a.AllowedOrigins
		for _, origin := range a.AllowedOrigins {
			o.any[origin] = true
		}
	}
	return o
}

// OriginAllowed reports whether the application lets its browser keys send
// events from pages of origin.
func (k *Keyring) OriginAllowed(applicationID, origin string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Contains(k.origins.byApp[applicationID], origin)
}

// anyOriginAllowed reports whether some application lets its browser keys
// send events from pages of origin: a preflight carries no key to say which.
func (k *Keyring) anyOriginAllowed(origin string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.origins.any[origin]
}

// browserOnly reports whether a key is a browser key.
func browserOnly(k eye.Key) bool { return slices.Contains(k.Scopes, eye.ScopeBrowser) }

// urlKey returns the key a request carries as ?key=, or "".
func urlKey(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get("key")
}

// keyInURL reports whether a request's URL holds something that looks
// like a key, other than a browser key's ?key= (checked once known).
func keyInURL(r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return false
	}
	for name, values := range r.URL.Query() {
		lower := strings.ToLower(name)
		switch {
		case name == "key" && len(values) == 1:
			continue
		case lower == "key", lower == "api_key", lower == "apikey", lower == "access_token", lower == "token":
			return true
		}
		for _, v := range values {
			if strings.HasPrefix(v, KeyPrefix) {
				return true
			}
		}
	}
	return false
}

// admitBrowser checks a request made with a browser key: an ingest route,
// from an allowed origin. When it passes, the answer names the origin for
// CORS and a text/plain body (a beacon's) is read as JSON; otherwise it
// answers the request itself and returns false.
func (s *Server) admitBrowser(w http.ResponseWriter, r *http.Request, key eye.Key, scope string) bool {
	w.Header().Add("Vary", "Origin")
	if scope != eye.ScopeIngest {
		writeProblem(w, r, http.StatusForbidden, "forbidden", "A browser key only sends events.", nil)
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		writeProblem(w, r, http.StatusForbidden, "origin_required",
			"A browser key is accepted only from a web page: the request has no Origin (or Origin: null).", nil)
		return false
	}
	if !s.cfg.Keys.OriginAllowed(key.ApplicationID, origin) {
		writeProblem(w, r, http.StatusForbidden, "origin_not_allowed",
			fmt.Sprintf("The origin %s is not among the allowed origins of this key's application.", origin), nil)
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	if mediaType(r.Header.Get("Content-Type")) == "text/plain" {
		r.Header.Set("Content-Type", mediaJSON) // navigator.sendBeacon cannot send application/json
	}
	return true
}

// preflight answers a CORS preflight of an ingest route 204, with the
// CORS headers that let the browser go on only for an origin that some
// application allows (the preflight carries no key to say which); for any
// other origin the browser stops there.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" && s.cfg.Keys.anyOriginAllowed(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
		h.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
}

// trackerETag is the entity tag of the tracker script.
func trackerETag() string {
	h := sha256.Sum256(trackerScript)
	return `"` + base64.RawURLEncoding.EncodeToString(h[:12]) + `"`
}

// serveTracker answers GET /eye.js: the browser tracker, cached by
// browsers for an hour and revalidated by its entity tag.
func (s *Server) serveTracker(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", s.tracker)
	h.Set("Cross-Origin-Resource-Policy", "cross-origin") // other sites' pages load it
	http.ServeContent(w, r, "eye.js", time.Time{}, bytes.NewReader(trackerScript))
}

// readOrigins reads an optional list of allowed origins: each
// scheme://host[:port], normalized as browsers send it (lower case,
// without the scheme's default port). ok is false when the member is
// absent.
func (b *body) readOrigins(field string) (list []string, ok bool) {
	raw, present := b.fields[field]
	if !present {
		return nil, false
	}
	var in []string
	if err := json.Unmarshal(raw, &in); err != nil {
		b.fail(eye.CodeInvalidType, field, "%s must be an array of origins such as \"https://www.example.com\"", field)
		return nil, false
	}
	code := eye.CodeInvalidValue
	if len(in) > eye.MaxAllowedOrigins {
		code = eye.CodeTooLong
	}
	list, err := NormalizeOrigins(in)
	if err != nil {
		b.fail(code, field, "%s: %v", field, err)
		return nil, false
	}
	return list, true
}

// NormalizeOrigins returns a list of allowed origins normalized by
// NormalizeOrigin, without repeats (never nil), or the first reason it is
// not one: an entry that is not an origin, or more than
// eye.MaxAllowedOrigins of them.
func NormalizeOrigins(in []string) ([]string, error) {
	if len(in) > eye.MaxAllowedOrigins {
		return nil, fmt.Errorf("more than %d origins", eye.MaxAllowedOrigins)
	}
	list := []string{}
	for _, o := range in {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("%q is not an origin: %w", o, err)
		}
		if !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	return list, nil
}

// NormalizeOrigin returns an origin (scheme://host[:port]) as browsers
// send it in the Origin header, or why it is not one.
func NormalizeOrigin(s string) (string, error) {
	if s == "*" || s == "null" {
		return "", fmt.Errorf("name each origin (scheme://host[:port])")
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("unparsable")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("the scheme must be http or https")
	case u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("it has no host")
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("an origin is scheme://host[:port], with no user, path, query or fragment")
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); port == "" && strings.HasSuffix(host, ":") ||
		u.Scheme == "https" && port == "443" || u.Scheme == "http" && port == "80" {
		host = strings.TrimSuffix(strings.TrimSuffix(host, port), ":")
	}
	return u.Scheme + "://" + host, nil
}
