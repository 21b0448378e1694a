// Client side of the local cluster: dialling a node with the cluster key, and waiting until the
// cluster has formed: one leader (Raft paper §5.2, leader election) that every running node
// follows, and every running node a voter (Ongaro's thesis §4.2.1: new servers join as
// non-voting members and are promoted once caught up).

package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// ClusterKeyHeader is the gRPC metadata entry that carries the cluster key (docs/protocol.md,
// "Authentication: the cluster key").
const ClusterKeyHeader = "kanna-cluster-key"

// DefaultClusterKey is the key a node uses when started without --cluster-key (server.DevClusterKey,
// repeated here so that this package does not pull in the whole node). Dial sends it when given no
// key, so a client and a node that were both given none agree.
const DefaultClusterKey = "kanna-dev-cluster-key"

// clusterKey sends the key as metadata on every call, streams included.
type clusterKey string

func (k clusterKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{ClusterKeyHeader: string(k)}, nil
}

// RequireTransportSecurity is false: loopback demos run without TLS, and the key is a guard
// against mistakes, not a secret (docs/protocol.md).
func (clusterKey) RequireTransportSecurity() bool { return false }

// Keepalive and Reconnect are how a client's connection to a node notices a cut link and comes
// back after it heals: the same numbers as a node's connections to its peers (server.ClientKeepalive
// and the node's redial; a server test holds them equal), which a node's keepalive policy admits.
// Keepalive's Timeout also becomes the socket's TCP_USER_TIMEOUT, so a connection whose bytes go
// unacknowledged for a second is closed and redialled rather than left to TCP's growing
// retransmission backoff; Reconnect retries at most a quarter second apart, where gRPC's default
// back-off grows to two minutes. docs/operations.md, "Real network partitions", has the timings.
// KeepalivePolicy is the pings a node admits from its clients (the server's policy, held equal by
// the same test), for servers that stand in for nodes (web/fakenode).
var (
	KeepalivePolicy = keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}
	Keepalive       = keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second, PermitWithoutStream: true}
	Reconnect       = grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 250 * time.Millisecond},
		MinConnectTimeout: time.Second,
	}
)

// Dial opens a plaintext gRPC connection to a node, sending key (DefaultClusterKey when empty) on
// every call, with Keepalive and Reconnect (opts may override them). The connection is lazy: an
// unreachable address shows up as Unavailable on the first call.
func Dial(addr, key string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if key == "" {
		key = DefaultClusterKey
	}
	all := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(clusterKey(key)),
		grpc.WithKeepaliveParams(Keepalive),
		grpc.WithConnectParams(Reconnect),
	}
	conn, err := grpc.NewClient(addr, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: dial %s: %w; check the address is host:port", addr, err)
	}
	return conn, nil
}

// Statuses calls Cluster.Status on every running node at once and returns the answers by id; a
// node that did not answer within timeout is missing from the map.
func (s *Supervisor) Statuses(ctx context.Context, timeout time.Duration) map[uint64]*kannapb.NodeStatus {
	type answer struct {
		id uint64
		st *kannapb.NodeStatus
	}
	var live []NodeInfo
	for _, n := range s.Nodes() {
		if n.Running {
			live = append(live, n)
		}
	}
	ch := make(chan answer, len(live))
	for _, n := range live {
		go func() {
			ch <- answer{n.ID, s.status(ctx, n.Addr, timeout)}
		}()
	}
	out := map[uint64]*kannapb.NodeStatus{}
	for range live {
		if a := <-ch; a.st != nil {
			out[a.id] = a.st
		}
	}
	return out
}

// status asks one node for its status, or returns nil.
func (s *Supervisor) status(ctx context.Context, addr string, timeout time.Duration) *kannapb.NodeStatus {
	conn, err := Dial(addr, s.cfg.ClusterKey)
	if err != nil {
		return nil
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := kannapb.NewClusterClient(conn).Status(cctx, &kannapb.StatusRequest{})
	if err != nil {
		return nil
	}
	return st
}

// Formed reports whether the statuses show a formed cluster: every running node answered, all
// follow one leader that leads in its own eyes, and that leader's configuration has exactly the
// running nodes as voters and no learners. It returns the leader's id, or a description of what
// is still missing.
func (s *Supervisor) Formed(statuses map[uint64]*kannapb.NodeStatus) (leader uint64, missing string) {
	var want []uint64
	for _, n := range s.Nodes() {
		if n.Running {
			want = append(want, n.ID)
		}
	}
	var silent []string
	for _, id := range want {
		if statuses[id] == nil {
			silent = append(silent, fmt.Sprint(id))
		}
	}
	if len(silent) > 0 {
		return 0, "no answer yet from node(s) " + strings.Join(silent, ", ")
	}
	for _, id := range want {
		st := statuses[id]
		if st.Leader == 0 {
			return 0, fmt.Sprintf("node %d knows no leader (term %d, %s)", id, st.Term, roleName(st.Role))
		}
		if leader != 0 && st.Leader != leader {
			return 0, fmt.Sprintf("nodes disagree on the leader (%d and %d)", leader, st.Leader)
		}
		leader = st.Leader
	}
	ls := statuses[leader]
	if ls == nil || ls.Role != kannapb.NodeRole_NODE_ROLE_LEADER {
		return 0, fmt.Sprintf("node %d is named leader but does not lead yet", leader)
	}
	if !slices.Equal(ls.Voters, want) || len(ls.Learners) > 0 {
		return 0, fmt.Sprintf("leader %d (term %d) has voters %v and learners %v; waiting for voters %v",
			leader, ls.Term, ls.Voters, ls.Learners, want)
	}
	return leader, ""
}

// WaitReady polls the running nodes until Formed holds, writing each new reason for waiting to
// Config.Progress, and returns the leader's id. It fails when ctx ends first, saying what was still
// missing and where the logs are, and at once when a node exits that nobody stopped (a node that
// cannot bind its port or refuses its data folder).
func (s *Supervisor) WaitReady(ctx context.Context) (uint64, error) {
	last := ""
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if failed := s.failed(); len(failed) > 0 {
			return 0, fmt.Errorf("demo: cluster cannot form: %s", strings.Join(failed, "; "))
		}
		leader, missing := s.Formed(s.Statuses(ctx, time.Second))
		if missing == "" {
			st := s.Node(leader)
			fmt.Fprintf(s.cfg.Progress, "cluster formed: node %d leads at %s\n", leader, st.Addr)
			return leader, nil
		}
		if missing != last {
			fmt.Fprintf(s.cfg.Progress, "waiting: %s\n", missing)
			last = missing
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("demo: cluster did not form: %s (%w); see the node logs in %s", missing, ctx.Err(), s.dir)
		case <-tick.C:
		}
	}
}

// roleName is a role as people say it: "leader", "pre-candidate".
func roleName(r kannapb.NodeRole) string {
	name := strings.TrimPrefix(r.String(), "NODE_ROLE_")
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}
