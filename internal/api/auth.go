package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/theeye/eye"
)

// KeyPrefix starts every API key The Eye makes.
const KeyPrefix = "eye_"

// prefixLen is how many characters of a key are kept in clear, to tell
// keys apart in lists and to find a key's record without its secret.
const prefixLen = len(KeyPrefix) + 8

// NewSecret returns a new API key secret (256 random bits) and its key
// record, without scopes or owner. Only the record is ever stored.
func NewSecret() (string, eye.Key) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	secret := KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(secret))
	return secret, eye.Key{
		ID:        eye.NewID(),
		Prefix:    prefixOf(secret),
		Hash:      h[:],
		CreatedAt: time.Now().UTC(),
	}
}

// StaticKey returns the record of a key given as a secret in the
// configuration, such as EYE_ADMIN_KEY.
func StaticKey(secret, label string, scopes ...string) eye.Key {
	h := sha256.Sum256([]byte(secret))
	return eye.Key{ID: label, Prefix: prefixOf(secret), Hash: h[:], Scopes: scopes, Label: label}
}

func prefixOf(secret string) string { return secret[:min(len(secret), prefixLen)] }

// keyLister is the part of the store a Keyring reads.
type keyLister interface {
	Keys(ctx context.Context) ([]eye.Key, error)
	Applications(ctx context.Context) ([]eye.Application, error)
	RecordKeyUses(ctx context.Context, uses map[string]time.Time) error // see FlushUses
}

// Keyring answers "whose key is this?" from a snapshot of the store's
// working keys, refreshed periodically by its owner and at once after a
// change made through this process. While the store is unreachable the
// last good snapshot stays, so that a store outage never stops ingest.
type Keyring struct {
	store  keyLister
	static map[string][]eye.Key // by prefix: keys given in the configuration
	log    *slog.Logger

	mu       sync.RWMutex
	snapshot map[string][]eye.Key // by prefix
	origins  origins              // the allowed origins of browser keys

	uses keyUses // the uses of the store's keys not yet recorded
}

// NewKeyring returns a keyring over the store's keys and the given static
// keys, which need no store.
func NewKeyring(store keyLister, log *slog.Logger, static ...eye.Key) *Keyring {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keyring{store: store, log: log, static: byPrefix(static), snapshot: map[string][]eye.Key{}}
}

func byPrefix(keys []eye.Key) map[string][]eye.Key {
	m := make(map[string][]eye.Key, len(keys))
	for _, k := range keys {
		m[k.Prefix] = append(m[k.Prefix], k)
	}
	return m
}

// Refresh replaces the snapshot with the store's working keys.
func (k *Keyring) Refresh(ctx context.Context) error {
	keys, err := k.store.Keys(ctx)
	if err != nil {
		return err
	}
	apps, err := k.store.Applications(ctx)
	if err != nil {
		return err
	}
	snap, origins := byPrefix(keys), originsOf(apps)
	k.mu.Lock()
	k.snapshot, k.origins = snap, origins
	k.mu.Unlock()
	return nil
}

// Lookup returns the key whose secret this is. The secret's hash is
// compared in constant time with each key sharing its prefix. An expired
// key is refused, even before the next refresh drops it. A key of the
// store that is found is noted as used, in memory (see FlushUses).
func (k *Keyring) Lookup(secret string) (eye.Key, bool) {
	h := sha256.Sum256([]byte(secret))
	prefix := prefixOf(secret)
	k.mu.RLock()
	candidates := k.snapshot[prefix]
	k.mu.RUnlock()
	var found eye.Key
	ok, stored := false, false
	for i, list := range [][]eye.Key{k.static[prefix], candidates} {
		for _, key := range list {
			if subtle.ConstantTimeCompare(key.Hash, h[:]) == 1 {
				found, ok, stored = key, true, i == 1
			}
		}
	}
	if !ok {
		return eye.Key{}, false
	}
	now := time.Now()
	if found.Expired(now) {
		return eye.Key{}, false
	}
	if stored {
		k.uses.note(found.ID, now) // in memory; FlushUses records it
	}
	return found, true
}

type keyContext struct{}

// keyOf returns the key that authenticated the request.
func keyOf(r *http.Request) eye.Key {
	k, _ := r.Context().Value(keyContext{}).(eye.Key)
	return k
}

// applicationOf returns the application a request's events belong to.
func applicationOf(r *http.Request) string {
	if app := keyOf(r).ApplicationID; app != "" {
		return app
	}
	return eye.DefaultApplicationID
}

// authenticate lets a request through when it carries a key with scope:
// "Authorization: Bearer <key>", or, without that header, the session
// cookie of the admin web UI, whose requests with unsafe methods must
// also carry the session's CSRF token. A key in the URL is refused (URLs
// end up in logs and browser histories), but for a browser key's ?key=
// (see browser.go); the secret is never logged. Repeated failures from one
// address are answered 429, while valid keys from that address keep
// working.
func (s *Server) authenticate(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keyInURL(r) {
			s.unauthorized(w, r, true, "An API key in the URL is refused: send it in the Authorization header (Bearer).")
			return
		}
		secret, cookie := credentials(r)
		inURL := false
		if k := urlKey(r); k != "" {
			if r.Header.Get("Authorization") != "" {
				s.unauthorized(w, r, false, "Send one key: in the Authorization header, or (a browser key) as ?key=, not both.")
				return
			}
			secret, cookie, inURL = k, false, true
		}
		if secret == "" {
			s.unauthorized(w, r, false, "Send an API key: Authorization: Bearer <key>.")
			return
		}
		key, ok := s.cfg.Keys.Lookup(secret)
		if !ok {
			if cookie {
				s.unauthorized(w, r, true, "The session is not valid (expired, or logged out): log in again.")
				return
			}
			s.unauthorized(w, r, true, "The API key is not valid (unknown, revoked, or of a deactivated application).")
			return
		}
		if inURL && !browserOnly(key) {
			s.unauthorized(w, r, true, "Only a browser key may be sent in the URL (?key=): send this key in the Authorization "+
				"header, and replace it, since it may now be in access logs.")
			return
		}
		if browserOnly(key) && !s.admitBrowser(w, r, key, scope) {
			return
		}
		if cookie && !safeMethod(r.Method) && !CheckCSRF(r, secret) {
			writeProblem(w, r, http.StatusForbidden, "csrf_failed",
				"A request authenticated by the session cookie must carry the session's CSRF token in the "+CSRFHeader+" header.", nil)
			return
		}
		if !eye.Allows(key.Scopes, scope) {
			writeProblem(w, r, http.StatusForbidden, "forbidden", "This key lacks the "+scope+" scope.", nil)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, key)))
	})
}

// credentials returns the secret a request authenticates with: the
// bearer key of its Authorization header or, when it has none, the value
// of its session cookie (cookie is then true). The secret is "" when there
// is neither.
func credentials(r *http.Request) (secret string, cookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		return strings.TrimSpace(key), false
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// SessionCookie is the cookie holding the secret of a login session of the
// admin web UI. A login session is a key of the user's, with an expiry:
// the cookie authenticates the API's requests like a bearer key.
const SessionCookie = "eye_session"

// CSRFHeader and CSRFField carry the CSRF token of a session: requests
// authenticated by the session cookie with an unsafe method must carry it,
// in the header, or in the form field for the admin UI's HTML forms.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// CSRFToken returns the CSRF token of the session whose secret this is:
// base64url(SHA-256("eye-csrf:" + secret)). A page from the server holds
// it; another site, which cannot read the cookie, cannot make it.
func CSRFToken(secret string) string {
	h := sha256.Sum256([]byte("eye-csrf:" + secret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// CheckCSRF reports whether a request carries the CSRF token of the
// session whose secret this is: in the X-CSRF-Token header or, for a form
// body, in the csrf_token field. Tokens are compared in constant time.
func CheckCSRF(r *http.Request, secret string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" && isForm(r) {
		got = r.PostFormValue(CSRFField)
	}
	want := CSRFToken(secret)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// isForm reports whether a request's body is an HTML form.
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// safeMethod reports whether a method only reads.
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// unauthorized answers 401, or 429 once the client has presented too many
// wrong keys. A request without a key guesses nothing and is not counted.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, guessed bool, detail string) {
	if !guessed {
		w.Header().Set("WWW-Authenticate", `Bearer realm="eye"`)
		writeProblem(w, r, http.StatusUnauthorized, "unauthorized", detail, nil)
		return
	}
	if wait, limited := s.failures.fail(clientAddr(r), time.Now()); limited {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeProblem(w, r, http.StatusTooManyRequests, "too_many_failures",
			"Too many failed authentications from this address; retry later.", nil)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="eye", error="invalid_token"`)
	writeProblem(w, r, http.StatusUnauthorized, "unauthorized", detail, nil)
}

// clientAddr is the address failures are counted by.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// AttemptLimiter limits the attempts of each client address (such as the
// admin UI's logins) with a token bucket: a client may try burst times at
// once, then once every interval. It forgets clients whose bucket refilled.
type AttemptLimiter struct {
	l *failureLimiter
}

// NewAttemptLimiter returns a limiter of burst attempts, then one every
// interval, per client address.
func NewAttemptLimiter(burst int, interval time.Duration) *AttemptLimiter {
	return &AttemptLimiter{l: newFailureLimiter(burst, interval)}
}

// Attempt records an attempt from the request's client address. It
// reports whether the attempt is allowed and, when it is not, how long
// until the next one is.
func (a *AttemptLimiter) Attempt(r *http.Request) (time.Duration, bool) {
	wait, limited := a.l.fail(clientAddr(r), time.Now())
	return wait, !limited
}

// failureLimiter counts failed authentications per client address with a
// token bucket: a client may fail burst times at once, then once every
// interval.
type failureLimiter struct {
	burst    float64
	interval time.Duration
	max      int // addresses remembered at most

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFailureLimiter(burst int, interval time.Duration) *failureLimiter {
	return &failureLimiter{burst: float64(burst), interval: interval, max: 100_000, clients: map[string]*bucket{}}
}

// fail records a failure from addr. It reports whether the client is over
// its limit, and how long until it may fail again.
func (l *failureLimiter) fail(addr string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[addr]
	if b == nil {
		if len(l.clients) >= l.max {
			l.forget(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.clients[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()/l.interval.Seconds())
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, false
	}
	return time.Duration((1 - b.tokens) * float64(l.interval)), true
}

// forget drops the clients whose bucket has refilled: they are as new.
func (l *failureLimiter) forget(now time.Time) {
	full := time.Duration(l.burst * float64(l.interval))
	for addr, b := range l.clients {
		if now.Sub(b.last) >= full {
			delete(l.clients, addr)
		}
	}
	if len(l.clients) >= l.max {
		// All recent: start afresh rather than grow without bound.
		clear(l.clients)
	}
}
