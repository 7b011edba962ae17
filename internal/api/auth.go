package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/theeye/eye"
)

// KeyPrefix starts every API key The Eye makes.
const KeyPrefix = "eye_"

// NewSecret returns a new API key secret (256 random bits) and its key
// record, without scopes or owner. Only the record is ever stored.
func NewSecret() (string, eye.Key) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	secret := KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(secret))
	return secret, eye.Key{
		ID:        eye.NewID(),
		Prefix:    secret[:len(KeyPrefix)+8],
		Hash:      h[:],
		CreatedAt: time.Now().UTC(),
	}
}

// Keyring answers "whose key is this?" from a snapshot of the store's keys,
// refreshed in the background, so that ingest keeps authenticating while
// the store is unreachable (with the last good snapshot).
type Keyring struct {
	store interface {
		Keys(context.Context) ([]eye.Key, error)
	}
	static map[[32]byte]eye.Key // keys given in the configuration
	log    *slog.Logger

	mu       sync.RWMutex
	snapshot map[[32]byte]eye.Key
}

// NewKeyring returns a keyring over the store's keys and the given static
// secrets (such as EYE_ADMIN_KEY), which need no store.
func NewKeyring(store interface {
	Keys(context.Context) ([]eye.Key, error)
}, log *slog.Logger, static ...eye.Key) *Keyring {
	k := &Keyring{store: store, log: log, static: map[[32]byte]eye.Key{}, snapshot: map[[32]byte]eye.Key{}}
	for _, key := range static {
		k.static[[32]byte(key.Hash)] = key
	}
	return k
}

// StaticKey returns the record of a key given as a secret in the
// configuration.
func StaticKey(secret, label string, scopes ...string) eye.Key {
	h := sha256.Sum256([]byte(secret))
	return eye.Key{ID: label, Prefix: prefixOf(secret), Hash: h[:], Scopes: scopes, Label: label}
}

func prefixOf(secret string) string {
	return secret[:min(len(secret), len(KeyPrefix)+8)]
}

// Refresh replaces the snapshot with the store's keys.
func (k *Keyring) Refresh(ctx context.Context) error {
	keys, err := k.store.Keys(ctx)
	if err != nil {
		return err
	}
	snap := make(map[[32]byte]eye.Key, len(keys))
	for _, key := range keys {
		if len(key.Hash) == 32 {
			snap[[32]byte(key.Hash)] = key
		}
	}
	k.mu.Lock()
	k.snapshot = snap
	k.mu.Unlock()
	return nil
}

// Run refreshes the snapshot every interval until ctx ends, keeping the
// last good one when the store fails.
func (k *Keyring) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Refresh(ctx); err != nil && ctx.Err() == nil {
				k.log.Warn("refresh keys; keeping the last good ones", "error", err)
			}
		}
	}
}

// Lookup returns the key whose secret this is.
func (k *Keyring) Lookup(secret string) (eye.Key, bool) {
	h := sha256.Sum256([]byte(secret))
	if key, ok := k.static[h]; ok {
		return key, true
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.snapshot[h]
	return key, ok
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
// "Authorization: Bearer <key>". The secret is never logged.
func (s *Server) authenticate(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="eye"`)
			writeProblem(w, r, http.StatusUnauthorized, "unauthorized",
				"Send an API key: Authorization: Bearer <key>.", nil)
			return
		}
		key, ok := s.cfg.Keys.Lookup(strings.TrimSpace(secret))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="eye", error="invalid_token"`)
			writeProblem(w, r, http.StatusUnauthorized, "unauthorized", "The API key is not valid.", nil)
			return
		}
		if !eye.Allows(key.Scopes, scope) {
			writeProblem(w, r, http.StatusForbidden, "forbidden",
				"This key lacks the "+scope+" scope.", nil)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, key)))
	})
}
