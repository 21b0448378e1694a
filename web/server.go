// The HTTP side: the embedded pages, the websocket upgrade with its origin check, and the server's
// life from New to Close.
package web

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

//go:embed static
var staticFiles embed.FS

// Server is a running web frontend: pages, websockets, and the node connections behind them.
type Server struct {
	cfg  Config
	log  *slog.Logger
	pool *nodePool
	hub  *hub
	dash *dashboard

	ctx    context.Context
	cancel context.CancelFunc
	up     websocket.Upgrader
	http   *http.Server
	static http.Handler

	mu    sync.Mutex
	conns map[*conn]struct{}
	// creates is each browser host's room-creation quota, shared by all its sockets.
	creates map[string]*tokenBucket
	wg      sync.WaitGroup
}

// New connects to the configured nodes (lazily: a node down now is tried again later) and returns a
// server ready to Serve.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pool, err := newNodePool(cfg.Nodes, cfg.ClusterKey)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, pool: pool, ctx: ctx, cancel: cancel, conns: map[*conn]struct{}{}, creates: map[string]*tokenBucket{}}
	s.hub = newHub(ctx, pool, cfg)
	s.dash = newDashboard(s)
	s.up = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096, CheckOrigin: s.originAllowed}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		cancel()
		pool.close()
		return nil, err
	}
	s.static = http.FileServerFS(sub)
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.dash.run(ctx)
	}()
	return s, nil
}

// Handler returns the server's routes, for a caller that runs its own http.Server:
//
//	GET /              the lobby: rooms to join, a form to create one
//	GET /room/{name}   the game page of one room (a link to share)
//	GET /dashboard     the cluster dashboard
//	GET /static/...    the page's CSS and JavaScript modules
//	GET /ws            the websocket (docs/protocol.md, "Websocket protocol")
//	GET /healthz       "ok", for scripts waiting for the server to start
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	page := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if s.storeKey(w, r) {
				return
			}
			b, err := staticFiles.ReadFile("static/" + name)
			if err != nil {
				http.Error(w, "page missing from the binary: rebuild it", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(b)
		}
	}
	mux.HandleFunc("GET /{$}", page("index.html"))
	mux.HandleFunc("GET /room/{name}", page("index.html"))
	mux.HandleFunc("GET /dashboard", page("dashboard.html"))
	mux.Handle("GET /static/", http.StripPrefix("/static", s.static))
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r) {
			s.log.Warn("request refused: Host is not a loopback name", "host", r.Host, "path", r.URL.Path)
			http.Error(w, "Host "+r.Host+" is not a name of this server, which serves loopback only; open http://127.0.0.1:PORT/", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Serve answers HTTP on ln until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops serving, drops every browser (they reconnect to another web server, or to this one
// when it is back) and closes the node connections.
func (s *Server) Close() error {
	s.cancel()
	err := s.http.Close()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(websocket.CloseGoingAway, "web server shutting down")
	}
	s.wg.Wait()
	s.pool.close()
	return err
}

// originAllowed is the websocket's origin check: a page of this server (same host as the request),
// an origin in Config.AllowedOrigins, or a client that sends no Origin (not a browser, so not a
// page of another site riding on a visitor's browser).
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !s.originAllowed(r) {
		s.log.Warn("websocket refused: origin not allowed", "origin", r.Header.Get("Origin"), "host", r.Host)
		http.Error(w, "origin not allowed: open the page from this server, or start it with the origin allowed", http.StatusForbidden)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client already.
	}
	c := newConn(s, ws)
	c.control, c.loopback = s.mayControl(r), LoopbackHost(r.Host)
	c.host = r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		c.host = h
	}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.run()
}

// maxQuotaHosts bounds the per-host quotas kept: past it they start afresh, which only a flood of
// distinct hosts causes.
const maxQuotaHosts = 10000

// mayCreate spends one room creation from the socket's quota and its host's, and says whether both
// had one.
func (s *Server) mayCreate(c *conn) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.creates[c.host]
	if b == nil {
		if len(s.creates) >= maxQuotaHosts {
			clear(s.creates)
		}
		b = newTokenBucket(s.cfg.HostRoomsPerMinute/60, s.cfg.HostRoomBurst, now)
		s.creates[c.host] = b
	}
	return c.creates.take(now) && b.take(now)
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// openConns lists the open websockets.
func (s *Server) openConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// connections counts the open websockets; tests use it.
func (s *Server) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// attemptTimeout bounds one attempt of a call on one node. A node hangs a write only when it is,
// or forwards to, a leader cut off from its followers, which keeps taking proposals until
// check-quorum deposes it (thesis §6.2); a healthy commit takes milliseconds. So an attempt gets
// at most 1.5 s (a player notices, but plays on) and at most a third of the call's time, which
// leaves time to try two other nodes.
func (s *Server) attemptTimeout() time.Duration {
	return min(s.cfg.CallTimeout/3, 1500*time.Millisecond)
}
