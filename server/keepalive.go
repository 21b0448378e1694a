// Keepalive: how a node's connections notice that the network under them is gone. A cut link
// leaves TCP and HTTP/2 believing in a connection that carries nothing, while TCP's retransmission
// backoff grows with the length of the cut; without these settings a node reconnected tens of
// seconds after a heal (docs/operations.md, "Real network partitions").
//
// gRPC's keepalive also sets TCP_USER_TIMEOUT to its Timeout on Linux, so any connection whose sent
// bytes stay unacknowledged that long is closed by the kernel and redialled, whether or not a
// keepalive ping is due. Raft sends a heartbeat every tick and gossip probes every second, so a
// cut link is noticed within about a second of it; an idle link, by the ping after Time.
package server

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"
)

const (
	// KeepaliveTime is how long a client connection may hear nothing before it pings: the least
	// gRPC allows a client (it raises anything shorter to 10 s).
	KeepaliveTime = 10 * time.Second
	// KeepaliveTimeout is how long a ping, or any sent byte, may go unanswered before the
	// connection is closed: ten round trips of a slow WAN, and shorter than a Raft election
	// timeout's double, so a cut is noticed before the cluster has moved on for long.
	KeepaliveTimeout = time.Second
	// KeepaliveMinTime is the most often the server lets a client ping: below KeepaliveTime, so
	// Kanna's own clients are never told to go away (ENHANCE_YOUR_CALM) for pinging.
	KeepaliveMinTime = 5 * time.Second
	// serverKeepaliveTime and serverKeepaliveTimeout are the server's own pings on a connection it
	// hears nothing on. The server answers, it does not redial, so it can afford a little longer.
	serverKeepaliveTime    = 5 * time.Second
	serverKeepaliveTimeout = 2 * time.Second
)

// ClientKeepalive is the keepalive of every connection a node opens to a peer; `kanna status`,
// the load generator and the web frontend use the same numbers (server/demo.Dial).
var ClientKeepalive = keepalive.ClientParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: true}

// reconnect is how a closed connection to a peer is redialled: the first retry at once, later ones
// at most a quarter second apart, each attempt given a second. After a heal the next attempt starts
// within 1.3 s at worst (a second of the failed attempt, then the back-off with its jitter), and at
// once when the peer reaches this node first (transport.reachedBy); gRPC's default back-off grows
// to two minutes.
var reconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 250 * time.Millisecond},
	MinConnectTimeout: time.Second,
}

// keepalivePolicy is which client pings a node admits. gRPC's default answers a ping every 10 s
// from an idle client with GOAWAY ENHANCE_YOUR_CALM ("too_many_pings"), which drops the
// connection; web/fakenode, which stands in for nodes in tests, admits the same (demo.KeepalivePolicy,
// held equal by a test).
var keepalivePolicy = keepalive.EnforcementPolicy{MinTime: KeepaliveMinTime, PermitWithoutStream: true}

// keepaliveServerOptions are a node's pings and its policy on clients' pings.
func keepaliveServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: serverKeepaliveTime, Timeout: serverKeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalivePolicy),
	}
}
