// Package web is Kanna's frontend server: it serves the game page and the cluster dashboard from
// files embedded in the binary, speaks JSON over one websocket per browser, and speaks gRPC to the
// nodes (the Game and Cluster services of proto/kanna/v1).
//
// It is a shell in the sense of docs/design.md: it holds no game state of its own. Every room a browser
// shows comes from a node's Game.Watch stream, and every move a player makes is a Game call that
// Raft commits (Raft paper §8, "Client interaction": clients retry with the same request id, and
// the state machine applies each request once). This file holds the configuration and the
// defaults, each with the reason for its value.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Config configures a Server. Only Nodes is required; every zero field takes the default below.
type Config struct {
	// Nodes are the gRPC addresses ("host:port") of the nodes to talk to. Any one of them can serve
	// every call; the others are where the server moves when one fails.
	Nodes []string
	// ClusterKey is sent as the "kanna-cluster-key" metadata on every call; empty sends none.
	ClusterKey string
	// Control crashes and restarts nodes for the dashboard's buttons; nil hides those buttons.
	// NewHTTPControl builds one for `kanna demo`'s control endpoint (`kanna web --control URL`).
	Control Control
	// ControlKey is the secret a socket must present (security.go) to crash, restart, isolate or
	// heal nodes; empty disables every lever.
	ControlKey string
	// LoopbackOnly refuses every request whose Host is not a loopback name: set it when serving on
	// a loopback address, so that a site that points its DNS name at 127.0.0.1 reaches nothing.
	LoopbackOnly bool
	// RemoteControl lets a socket that reached the server by a non-loopback name pull the levers
	// (with the key still). Off, only loopback names may.
	RemoteControl bool
	// AllowedOrigins lists extra origins ("https://example.org") whose pages may open a websocket.
	// A page served by this server is always allowed, whatever Host it was reached by.
	AllowedOrigins []string
	// Logger receives one line per connection opened or dropped and per node failure.
	Logger *slog.Logger

	// SendQueue bounds the messages waiting to be written to one browser.
	SendQueue int
	// WriteTimeout bounds one websocket write; a browser that cannot take a message in this time
	// is dropped.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings each browser; a browser that has not answered
	// within PongTimeout is dropped.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// ReadLimit bounds one message from a browser, in bytes.
	ReadLimit int64
	// RatePerSecond and Burst bound the messages one browser may send (a token bucket).
	RatePerSecond float64
	Burst         int
	// RoomsPerMinute and RoomBurst bound the rooms one socket may create; HostRoomsPerMinute and
	// HostRoomBurst the rooms all sockets of one browser host may create together.
	RoomsPerMinute     float64
	RoomBurst          int
	HostRoomsPerMinute float64
	HostRoomBurst      int
	// CallTimeout bounds one write to the cluster, retries across nodes included.
	CallTimeout time.Duration
	// StatusInterval is how often the dashboard polls every node's Status.
	StatusInterval time.Duration
	// StaleWatch is how long a room's Watch stream may lag behind a state that a write returned
	// before the server decides its node is cut off and moves the stream to another node.
	StaleWatch time.Duration
}

// Defaults, each chosen for one reason.
const (
	// DefaultSendQueue: a room changes a few times a second at most while people play; 64 pending
	// messages is seconds of backlog, which only a browser that has stopped reading accumulates.
	DefaultSendQueue = 64
	// DefaultWriteTimeout: a healthy browser takes a message of a few hundred bytes in
	// milliseconds; five seconds forgives a phone on a bad network, not a dead one.
	DefaultWriteTimeout = 5 * time.Second
	// DefaultPingInterval and DefaultPongTimeout: pings every 20 s keep proxies with a 30-60 s idle
	// timeout from cutting the socket; 45 s without a pong is two lost pings.
	DefaultPingInterval = 20 * time.Second
	DefaultPongTimeout  = 45 * time.Second
	// DefaultReadLimit: the largest valid message (a create with a 32-character name and a
	// 64-character client id) is under 300 bytes; 4 KiB leaves room and stops a flood of bytes.
	DefaultReadLimit = 4096
	// DefaultRatePerSecond and DefaultBurst: a person types at most ~10 letters a second; a burst
	// of 20 lets a page send its opening messages (hello, join, list) at once.
	DefaultRatePerSecond = 10
	DefaultBurst         = 20
	// DefaultRoomsPerMinute and DefaultRoomBurst: a player creates a room or two per sitting; a
	// few a minute leaves room for mistakes. The host quota lets a household or a classroom
	// behind one address start its rooms, and keeps ten scripted sockets from filling the
	// cluster's 1,000 rooms in seconds (issue 13: 924 rooms in 10 s).
	DefaultRoomsPerMinute     = 3
	DefaultRoomBurst          = 5
	DefaultHostRoomsPerMinute = 20
	DefaultHostRoomBurst      = 30
	// DefaultCallTimeout: an election takes one to two election timeouts (a second or so in the
	// demo); eight seconds covers one with retries and still answers a player in reasonable time.
	DefaultCallTimeout = 8 * time.Second
	// DefaultStatusInterval: the dashboard should show a new leader "within about a second"
	// (issue 6); polling four times a second gives that with room for the election itself.
	DefaultStatusInterval = 250 * time.Millisecond
	// DefaultStaleWatch: a healthy node applies a committed entry within a heartbeat or two; two
	// seconds behind a known newer state means the watched node is cut off from the leader.
	DefaultStaleWatch = 2 * time.Second
)

// withDefaults checks c and fills in every zero field.
func (c Config) withDefaults() (Config, error) {
	var nodes []string
	for _, n := range c.Nodes {
		if n = strings.TrimSpace(n); n != "" {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return c, errors.New("web: no node addresses: give at least one with --nodes host:port[,host:port]")
	}
	c.Nodes = nodes
	for _, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return c, fmt.Errorf("web: allowed origin %q is not scheme://host[:port]", o)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	setDefault(&c.SendQueue, DefaultSendQueue)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.PingInterval, DefaultPingInterval)
	setDefault(&c.PongTimeout, DefaultPongTimeout)
	setDefault(&c.ReadLimit, DefaultReadLimit)
	setDefault(&c.RatePerSecond, DefaultRatePerSecond)
	setDefault(&c.Burst, DefaultBurst)
	setDefault(&c.RoomsPerMinute, DefaultRoomsPerMinute)
	setDefault(&c.RoomBurst, DefaultRoomBurst)
	setDefault(&c.HostRoomsPerMinute, DefaultHostRoomsPerMinute)
	setDefault(&c.HostRoomBurst, DefaultHostRoomBurst)
	setDefault(&c.CallTimeout, DefaultCallTimeout)
	setDefault(&c.StatusInterval, DefaultStatusInterval)
	setDefault(&c.StaleWatch, DefaultStaleWatch)
	return c, nil
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}
