// Who may pull the dashboard's levers. Crashing, isolating and healing nodes is a demo on one
// machine, so the levers answer only a caller that (1) reached the server by a loopback name, which
// a page of another site cannot fake even by pointing its own DNS name at 127.0.0.1 (DNS
// rebinding: its requests carry its own name in Host), (2) comes from a page of this server or
// from no page at all (the Origin header), and (3) knows the control key: a secret `kanna demo`
// and `kanna web` draw at start and print in the dashboard's URL. Opening that URL once stores the
// key in a cookie that only this server's own pages send (SameSite=Strict, HttpOnly).
package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
)

const (
	// ControlKeyHeader carries the control key on a request to the control endpoint (`kanna web
	// --control URL` sends it; so can curl).
	ControlKeyHeader = "Kanna-Control-Key"
	// ControlKeyParam is the query parameter of the URL the demo prints: a page opened with it
	// stores the key in the ControlKeyCookie.
	ControlKeyParam  = "key"
	ControlKeyCookie = "kanna-control-key"
)

// NewControlKey draws a control key: 24 random bytes, in base64url.
func NewControlKey() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// LoopbackHost reports whether host (a Host header or a listen address, with or without a port)
// names this machine's loopback interface: localhost, a name under .localhost, 127.0.0.0/8 or ::1.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether r carries no Origin (not a browser page) or the origin of the host r
// was sent to.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// keyMatches compares a presented key with the expected one in constant time; an empty expected
// key matches nothing.
func keyMatches(presented, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(want)) == 1
}

// presentedKey is the control key r carries, in the header or the cookie.
func presentedKey(r *http.Request) string {
	if k := r.Header.Get(ControlKeyHeader); k != "" {
		return k
	}
	if c, err := r.Cookie(ControlKeyCookie); err == nil {
		return c.Value
	}
	return ""
}

// GuardControl wraps a control endpoint (the demo's /nodes): every request must come by a loopback
// name (unless remote is set), from no page or a page of this host, and carry key in the
// Kanna-Control-Key header or the cookie.
func GuardControl(key string, remote bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !remote && !LoopbackHost(r.Host):
			http.Error(w, "control refused: Host "+r.Host+" is not a loopback name; open the URL kanna demo printed", http.StatusForbidden)
		case !sameOrigin(r):
			http.Error(w, "control refused: a page of another origin may not use the control endpoint", http.StatusForbidden)
		case !keyMatches(presentedKey(r), key):
			http.Error(w, "control refused: send the control key kanna demo printed in the "+ControlKeyHeader+" header", http.StatusUnauthorized)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// storeKey answers a page request that carries the control key in its URL: it sets the cookie and
// sends the browser to the same page without the key, so that the key leaves the address bar. It
// reports whether it answered.
func (s *Server) storeKey(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	k := q.Get(ControlKeyParam)
	if k == "" || !keyMatches(k, s.cfg.ControlKey) {
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: ControlKeyCookie, Value: k, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	q.Del(ControlKeyParam)
	u := *r.URL
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
	return true
}

// hostAllowed is the DNS-rebinding check for every request: a server told it serves loopback only
// answers only requests sent to a loopback name.
func (s *Server) hostAllowed(r *http.Request) bool {
	return !s.cfg.LoopbackOnly || LoopbackHost(r.Host)
}

// mayControl decides at the websocket upgrade whether the socket may pull the levers.
func (s *Server) mayControl(r *http.Request) bool {
	if !s.cfg.RemoteControl && !LoopbackHost(r.Host) {
		return false
	}
	return sameOrigin(r) && keyMatches(presentedKey(r), s.cfg.ControlKey)
}
