package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies (load balancers, TLS terminators) whose
// forwarding headers are believed: only a request that comes from one of
// them has its client address taken from X-Forwarded-For, its scheme from
// X-Forwarded-Proto and its host from X-Forwarded-Host. From anyone else
// those headers are removed, so that no client can pose as another address
// (to escape a rate limit) or as a secure connection.
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of CIDRs or addresses
// ("10.0.0.0/8, 127.0.0.1").
func ParseProxies(list string) (Proxies, error) {
	var p Proxies
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an address or a CIDR", item)
			}
			p = append(p, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		prefix, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or a CIDR", item)
		}
		p = append(p, prefix.Masked())
	}
	return p, nil
}

func (p Proxies) trusts(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, prefix := range p {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

type secureKey struct{}

// Secure reports whether the client reached the service over TLS: directly,
// or through a trusted proxy that says so (X-Forwarded-Proto: https).
func Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	secure, _ := r.Context().Value(secureKey{}).(bool)
	return secure
}

// Wrap returns next behind the forwarding headers: for a request from a
// trusted proxy, r.RemoteAddr becomes the client's address (the right-most
// address of X-Forwarded-For that is not a trusted proxy), r.Host the
// forwarded host, and Secure(r) reports the forwarded scheme; the headers
// are removed from every other request.
func (p Proxies) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || len(p) == 0 || !p.trusts(peer.Addr()) {
			if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Forwarded-Proto") != "" || r.Header.Get("X-Forwarded-Host") != "" {
				r = r.Clone(r.Context())
				r.Header.Del("X-Forwarded-For")
				r.Header.Del("X-Forwarded-Proto")
				r.Header.Del("X-Forwarded-Host")
			}
			next.ServeHTTP(w, r)
			return
		}
		r = r.Clone(r.Context())
		if client, ok := p.client(r.Header.Values("X-Forwarded-For")); ok {
			r.RemoteAddr = net.JoinHostPort(client.String(), "0")
		}
		if proto := lastValue(r.Header.Values("X-Forwarded-Proto")); strings.EqualFold(proto, "https") {
			r = r.WithContext(context.WithValue(r.Context(), secureKey{}, true))
		}
		if host := lastValue(r.Header.Values("X-Forwarded-Host")); saneHost(host) {
			r.Host = host
		}
		next.ServeHTTP(w, r)
	})
}

// client returns the right-most address of the X-Forwarded-For chain that
// is not a trusted proxy: every address to its right was added by a proxy
// the service trusts, so it was not made up by the client. When every
// address is a trusted proxy, the left-most.
func (p Proxies) client(values []string) (netip.Addr, bool) {
	var chain []string
	for _, v := range values {
		for a := range strings.SplitSeq(v, ",") {
			chain = append(chain, strings.TrimSpace(a))
		}
	}
	var last netip.Addr
	for i := len(chain) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(chain[i])
		if err != nil {
			if ap, err2 := netip.ParseAddrPort(chain[i]); err2 == nil {
				a = ap.Addr()
			} else {
				return last, last.IsValid() // a malformed entry: trust nothing left of it
			}
		}
		a = a.Unmap()
		if !p.trusts(a) {
			return a, true
		}
		last = a
	}
	return last, last.IsValid()
}

// lastValue is the value the nearest proxy set: the last of a list.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// saneHost accepts a host name or address with an optional port, nothing
// that could smuggle a path or a user into a URL.
func saneHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}
