// Config: every setting of a real Kanna node (the shell around the engine), each default with the
// reason for its value.
//
// The Raft timing (server/engine/timing.go, where the simulator reads it too) follows the Raft
// paper §5.6 (broadcastTime ≪ electionTimeout ≪ MTBF): one tick of 25 ms drives both the Raft core
// and the gossip core, an election timeout is twelve ticks (0.3 to 0.6 seconds with randomization,
// thesis §9.3), and a leader heartbeats every tick. The gossip timings are hashicorp/memberlist's
// LAN defaults (gossip/config.go), in time, not ticks.
package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/kanna-cluster/kanna/server/engine"
)

// DevClusterKey is the cluster key a node uses when none is given. It is public, written here and
// in docs/operations.md, so it protects nothing: it only keeps nodes of two local clusters from
// talking to each other by mistake. Give every real cluster its own key with --cluster-key.
const DevClusterKey = "kanna-dev-cluster-key"

// MaxMessageBytes is the gRPC receive limit of every server and client of a node: 4 MiB, gRPC's
// own default, stated so that it is on purpose. Raft batches stay under 1 MiB and snapshot chunks
// under 512 KiB (raft.Config), so a larger message is a bug or an attack, refused with
// ResourceExhausted.
const MaxMessageBytes = 4 << 20

// The default timing (see the file comment and Config).
const (
	DefaultTickInterval = engine.DefaultTickMillis * time.Millisecond
	DefaultElectionTick = engine.DefaultElectionTick
)

// Config sets up one node.
type Config struct {
	// ID is the node's Raft id, also its gossip name (in decimal). Must be positive and unique in
	// the cluster.
	ID uint64

	// DataDir holds the write-ahead log, snapshots and the node's address book. An empty folder
	// (or one that does not exist) means a new node.
	DataDir string

	// Addr is where the node listens ("host:port"; port 0 picks a free one). Every service, gossip
	// included, is served there. Ignored when Listener is set.
	Addr string

	// Listener, when set, is used instead of listening on Addr (tests pass one bound to port 0).
	Listener net.Listener

	// Join names members of an existing cluster to meet through gossip. A node with an empty
	// DataDir and no Join bootstraps a new cluster with itself as the only voter; with Join it
	// waits for the leader to add it.
	Join []string

	// ClusterKey is required on every node-to-node and Cluster call. Empty means DevClusterKey.
	ClusterKey string

	// EnableFaultInjection allows Cluster.DropTraffic and Heal; without it they answer
	// FailedPrecondition, so a production node cannot be cut off by a stray call.
	EnableFaultInjection bool

	// ServerTLS and ClientTLS, when set, make every connection mutual TLS (see LoadTLS).
	ServerTLS *tls.Config
	ClientTLS *tls.Config

	// TickInterval is the length of one tick of both cores. Default 25 ms (see the file comment).
	TickInterval time.Duration

	// ElectionTick is the Raft election timeout in ticks. Default 12: followers wait 0.3 to 0.6 s
	// (thesis §9.3) at 25 ms ticks, so a crashed leader is replaced, and the next write
	// acknowledged, within a second (docs/benchmarks.md, "Failover"), while twelve heartbeats must go
	// missing in a row, far more than a loopback or LAN round trip and an fsync on a busy disk can
	// take, before anyone campaigns; pre-vote and check-quorum (thesis §9.6) keep a follower that
	// alone missed them from deposing a leader the others still hear.
	ElectionTick int

	// SnapshotEvery makes the node snapshot its game and compact its log after this many applied
	// entries. Default 10000: a snapshot of a few hundred rooms is small, and ten thousand entries
	// replay in well under a second at start-up.
	SnapshotEvery uint64

	// PromoteGap is how close, in entries, a learner's log must be to the leader's before the
	// leader promotes it to voter. Default 16: a few batches behind is caught up; promoting a
	// learner much further behind would stall commits until it caught up (thesis §4.2.1).
	PromoteGap uint64

	// ReapAfter, when positive, lets the leader remove a member that gossip has declared dead for
	// this long, as long as at least three voters remain. Zero (the default) never removes a
	// failed member on its own: removing it would shrink the quorum and hide a partition
	// (docs/design.md, "Membership"); an operator calls Cluster.RemoveServer instead.
	ReapAfter time.Duration

	// Seed seeds the randomness of the cores (election timeouts, probe order, words). Zero draws
	// one from the node id and the clock at start-up.
	Seed int64

	// Logger receives the node's log lines; each carries the node id and term. Nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with every unset field at its default, or an error naming the first
// field that cannot work.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.ID == 0 {
		return cfg, errors.New("node config: id must be a positive integer; give each node its own, e.g. --id 1")
	}
	if cfg.DataDir == "" {
		return cfg, errors.New("node config: data folder is empty; pass --data DIR, a folder this node alone uses")
	}
	if cfg.Listener == nil && cfg.Addr == "" {
		return cfg, errors.New("node config: no listen address; pass --addr HOST:PORT, e.g. 127.0.0.1:7001")
	}
	if cfg.ClusterKey == "" {
		cfg.ClusterKey = DevClusterKey
	}
	if (cfg.ServerTLS == nil) != (cfg.ClientTLS == nil) {
		return cfg, errors.New("node config: TLS must be set for both the server and the client side, or for neither")
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	if cfg.ElectionTick <= 0 {
		cfg.ElectionTick = DefaultElectionTick
	}
	if cfg.ElectionTick < 3 {
		return cfg, fmt.Errorf("node config: election timeout of %d ticks is too short; use at least 3 so heartbeats (every tick) fit in it", cfg.ElectionTick)
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = 10000
	}
	if cfg.PromoteGap == 0 {
		cfg.PromoteGap = 16
	}
	if cfg.ReapAfter < 0 {
		return cfg, fmt.Errorf("node config: reap-after %v is negative; use 0 to never remove failed members", cfg.ReapAfter)
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano() ^ int64(cfg.ID)<<32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
