package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"math"
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
	snap := byPrefix(keys)
	k.mu.Lock()
	k.snapshot = snap
	k.mu.Unlock()
	return nil
}

// Lookup returns the key whose secret this is. The secret's hash is
// compared in constant time with each key sharing its prefix.
func (k *Keyring) Lookup(secret string) (eye.Key, bool) {
	h := sha256.Sum256([]byte(secret))
	prefix := prefixOf(secret)
	k.mu.RLock()
	candidates := k.snapshot[prefix]
	k.mu.RUnlock()
	var found eye.Key
	ok := false
	for _, list := range [][]eye.Key{k.static[prefix], candidates} {
		for _, key := range list {
			if subtle.ConstantTimeCompare(key.Hash, h[:]) == 1 {
				found, ok = key, true
			}
		}
	}
	return found, ok
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
// "Authorization: Bearer <key>". A key in the URL is refused (URLs end up
// in logs and browser histories); the secret is never logged. Repeated
// failures from one address are answered 429, while valid keys from that
// address keep working.
func (s *Server) authenticate(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keyInURL(r) {
			s.unauthorized(w, r, true, "An API key in the URL is refused: send it in the Authorization header (Bearer).")
			return
		}
		scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		secret = strings.TrimSpace(secret)
		if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
			s.unauthorized(w, r, false, "Send an API key: Authorization: Bearer <key>.")
			return
		}
		key, ok := s.cfg.Keys.Lookup(secret)
		if !ok {
			s.unauthorized(w, r, true, "The API key is not valid (unknown, revoked, or of a deactivated application).")
			return
		}
		if !eye.Allows(key.Scopes, scope) {
			writeProblem(w, r, http.StatusForbidden, "forbidden", "This key lacks the "+scope+" scope.", nil)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, key)))
	})
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

// keyInURL reports whether the query string seems to carry an API key.
func keyInURL(r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return false
	}
	for name, values := range r.URL.Query() {
		switch strings.ToLower(name) {
		case "key", "api_key", "apikey", "access_token", "token":
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

// clientAddr is the address failures are counted by.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
