// One browser's websocket: a reader that checks every message (size, rate, shape), a worker that
// carries out that browser's requests one at a time and in order, and a writer with a bounded
// queue. A browser that stops reading fills its queue and is dropped; it never slows the others,
// because nobody ever waits on its queue.
package web

import (
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// requestQueue bounds the requests of one browser waiting for the worker; with the rate limit in
// front of it, a full queue means a browser is sending faster than the cluster commits.
const requestQueue = 16

// conn is one browser.
type conn struct {
	srv  *Server
	ws   *websocket.Conn
	out  chan []byte
	reqs chan request
	done chan struct{}
	once sync.Once
	rate *tokenBucket
	// control: the socket may pull the dashboard's levers (security.go). Decided at the upgrade,
	// or by the key in hello; the worker's.
	control bool
	// loopback: the socket reached the server by a loopback name.
	loopback bool
	// host is the browser's address without the port: its room-creation quota is shared by every
	// socket it opens. creates is this socket's own quota. token is the player's secret, from
	// join_room or watch_room, sent with each guess. All three are the worker's.
	host    string
	creates *tokenBucket
	token   string

	// clientID belongs to the worker goroutine; room, player and cluster are shared with
	// teardown and the hub, under mu.
	mu       sync.Mutex
	clientID string
	room     string
	player   string
	cluster  bool
}

func newConn(s *Server, ws *websocket.Conn) *conn {
	return &conn{
		srv: s, ws: ws,
		out:     make(chan []byte, s.cfg.SendQueue),
		reqs:    make(chan request, requestQueue),
		done:    make(chan struct{}),
		rate:    newTokenBucket(s.cfg.RatePerSecond, s.cfg.Burst, time.Now()),
		creates: newTokenBucket(s.cfg.RoomsPerMinute/60, s.cfg.RoomBurst, time.Now()),
	}
}

// run starts the writer and the worker and reads until the browser goes away.
func (c *conn) run() {
	go c.writeLoop()
	go c.work()
	c.read()
}

// send queues msg for the browser, or drops the browser if its queue is full.
func (c *conn) send(msg []byte) {
	select {
	case <-c.done:
	case c.out <- msg:
	default:
		c.close(websocket.CloseTryAgainLater, "send queue full: the browser is not reading; reload the page")
	}
}

// reply queues an answer to one of this browser's own requests. Unlike send, it waits for room (up
// to WriteTimeout) instead of dropping the browser at once: only the worker waits, so a browser
// that sends faster than it reads slows its own requests and nobody else's.
func (c *conn) reply(msg []byte) {
	select {
	case <-c.done:
	case c.out <- msg:
	default:
		t := time.NewTimer(c.srv.cfg.WriteTimeout)
		defer t.Stop()
		select {
		case <-c.done:
		case c.out <- msg:
		case <-t.C:
			c.close(websocket.CloseTryAgainLater, "send queue full: the browser is not reading; reload the page")
		}
	}
}

// notify queues a notice that answers no work done (rate_limited, busy) when the queue has room
// to spare, and drops it otherwise: a browser that floods while it reads must not be taken for one
// that does not read, and it learns enough from the notices that do go out.
func (c *conn) notify(msg []byte) {
	if len(c.out) >= cap(c.out)/2 {
		return
	}
	c.send(msg)
}

// close ends the connection once. It returns at once, so that dropping a slow browser never holds
// up the fan-out that noticed it; telling the browser why, which may wait on its socket, happens in
// the background.
func (c *conn) close(code int, reason string) {
	c.once.Do(func() {
		close(c.done)
		go c.teardown(code, reason)
	})
}

func (c *conn) teardown(code int, reason string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = c.ws.Close()
	c.srv.forget(c)
	c.mu.Lock()
	room, cluster := c.room, c.cluster
	c.room, c.cluster = "", false
	c.mu.Unlock()
	if room != "" {
		c.srv.hub.unsubscribe(c, room)
	}
	if cluster {
		c.srv.dash.unsubscribe(c)
	}
	if code != websocket.CloseNormalClosure && code != websocket.CloseGoingAway {
		c.srv.log.Info("browser dropped", "remote", c.ws.RemoteAddr().String(), "reason", reason)
	}
}

// leftRoom forgets room without unsubscribing (the hub already dropped the feed).
func (c *conn) leftRoom(room string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.room == room {
		c.room, c.player = "", ""
	}
}

func (c *conn) read() {
	cfg := c.srv.cfg
	c.ws.SetReadLimit(cfg.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	})
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			code, reason := websocket.CloseGoingAway, "browser went away"
			if err == websocket.ErrReadLimit {
				code, reason = websocket.CloseMessageTooBig, "message larger than the read limit"
			} else if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				reason = "read failed: " + err.Error()
			}
			c.close(code, reason)
			return
		}
		// Any message shows the browser is alive, as a pong does.
		_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
		// Parsed before the rate check, so that even a refusal names the request it refuses.
		req, bad := parseRequest(data)
		if !c.rate.take(time.Now()) {
			c.notify(encode(errorMsg{Type: typeError, Seq: req.Seq, Code: codeRateLimited,
				Message: "too many messages: at most a few per second; this one was ignored: resend it in a moment"}))
			continue
		}
		if kind != websocket.TextMessage {
			bad = refuse(codeBadMessage, "binary messages are not part of the protocol; send JSON text")
			req = request{}
		}
		req.refusal = bad
		select {
		case c.reqs <- req:
		default:
			c.notify(encode(errorMsg{Type: typeError, Seq: req.Seq, Code: codeBusy,
				Message: "too many requests waiting for the cluster; this one was ignored: retry it after the others answer"}))
		}
	}
}

func (c *conn) work() {
	for {
		select {
		case <-c.done:
			return
		case req := <-c.reqs:
			c.handle(req)
		}
	}
}

func (c *conn) writeLoop() {
	cfg := c.srv.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.close(websocket.CloseGoingAway, "write failed: "+err.Error())
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				c.close(websocket.CloseGoingAway, "ping failed: "+err.Error())
				return
			}
		}
	}
}

// tokenBucket is a rate limit: rate tokens a second, up to burst saved.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	at     time.Time
}

func newTokenBucket(rate float64, burst int, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), at: now}
}

// take spends one token if there is one.
func (b *tokenBucket) take(now time.Time) bool {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
