// Package e2e tests Kanna end to end: real `kanna node` processes of the built binary on loopback,
// driven through the gRPC API, crashed with SIGKILL, cut apart by fault injection, joined and
// stopped, fed damaged write-ahead logs and bad requests. The rules they check are the Raft
// paper's safety and liveness promises (§5.2 election, §5.3-5.4 log matching and leader
// completeness, §8 linearizable client semantics), the thesis's membership changes (§4.1-4.2) and
// the persistence contract of docs/design.md.
//
// This file builds the binary once for the whole package and holds the cluster helpers.
package e2e

import (
	"context"
	"fmt"
	"github.com/kanna-cluster/kanna/internal/kannabin"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/protobuf/proto"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// kannaBin is the binary TestMain built.
var kannaBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	bin, dir, err := kannabin.Build("kanna-e2e-bin-", filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kannaBin = bin
	return m.Run()
}

// formTimeout bounds the wait for a cluster to elect a leader and promote every joiner: an
// election takes under a second; under -race on two cores, nodes start slowly.
const formTimeout = 60 * time.Second

// cluster is a running test cluster and clients for each node.
type cluster struct {
	t   *testing.T
	sup *demo.Supervisor

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // by address, reused across polls
}

// startCluster starts n nodes with fault injection and extra flags, and waits until one leads
// and all vote. On failure the node logs are printed.
func startCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	sup, err := demo.New(demo.Config{Binary: kannaBin, Dir: t.TempDir(), FaultInjection: true, ExtraArgs: extra})
	require.NoError(t, err)
	c := &cluster{t: t, sup: sup, conns: map[string]*grpc.ClientConn{}}
	t.Cleanup(func() {
		require.NoError(t, sup.Shutdown())
		if t.Failed() {
			c.dumpLogs()
		}
	})
	require.NoError(t, sup.StartCluster(n))
	c.waitFormed()
	return c
}

// waitFormed waits until one node leads and every running node votes, and returns the leader.
func (c *cluster) waitFormed() uint64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), formTimeout)
	defer cancel()
	leader, err := c.sup.WaitReady(ctx)
	require.NoError(c.t, err)
	return leader
}

// dumpLogs prints the last lines of every node's log into the test output.
func (c *cluster) dumpLogs() {
	for _, n := range c.sup.Nodes() {
		if _, err := os.Stat(n.LogFile); err != nil {
			continue
		}
		lines := n.LogTail(40)
		c.t.Logf("--- node %d (%s) log tail ---", n.ID, n.LogFile)
		for _, l := range lines {
			c.t.Log(l)
		}
	}
}

// conn returns a connection to node id with the development key, one per address for the whole
// test, so that polling does not dial again and again.
func (c *cluster) conn(id uint64) *grpc.ClientConn {
	addr := c.sup.Node(id).Addr
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.conns[addr]; ok {
		return conn
	}
	conn := dialKey(c.t, addr, "")
	c.conns[addr] = conn
	return conn
}

// quickReconnect keeps gRPC's reconnect back-off short, so that a connection to a node that was
// killed and restarted on the same address comes back within a fraction of a second rather than
// after gRPC's default back-off of up to two minutes.
var quickReconnect = grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 250 * time.Millisecond},
	MinConnectTimeout: time.Second,
})

func dialKey(t *testing.T, addr, key string) *grpc.ClientConn {
	t.Helper()
	conn, err := demo.Dial(addr, key, quickReconnect)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (c *cluster) game(id uint64) kannapb.GameClient { return kannapb.NewGameClient(c.conn(id)) }

func (c *cluster) admin(id uint64) kannapb.ClusterClient { return kannapb.NewClusterClient(c.conn(id)) }

// status asks node id for its status, or returns nil when it does not answer within half a second.
func (c *cluster) status(id uint64) *kannapb.NodeStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	st, err := c.admin(id).Status(ctx, &kannapb.StatusRequest{})
	if err != nil {
		return nil
	}
	return st
}

// leaderOf returns the leader that every node in ids agrees on and that leads in its own eyes, or
// 0.
func (c *cluster) leaderOf(ids ...uint64) uint64 {
	var leader uint64
	for _, id := range ids {
		st := c.status(id)
		if st == nil || st.Leader == 0 || (leader != 0 && st.Leader != leader) {
			return 0
		}
		leader = st.Leader
	}
	if !slices.Contains(ids, leader) {
		return 0
	}
	if st := c.status(leader); st == nil || st.Role != kannapb.NodeRole_NODE_ROLE_LEADER {
		return 0
	}
	return leader
}

// rooms returns node id's rooms without the fields that say which node answered, and false when
// the node does not answer.
func (c *cluster) rooms(id uint64) ([]*kannapb.RoomState, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := c.game(id).ListRooms(ctx, &kannapb.ListRoomsRequest{})
	if err != nil {
		return nil, false
	}
	for _, r := range resp.Rooms {
		r.ServedBy, r.CommitIndex = 0, 0
	}
	return resp.Rooms, true
}

// converged reports whether every node in ids has applied the same index as the others and holds
// the same rooms.
func (c *cluster) converged(ids ...uint64) bool {
	var applied uint64
	var rooms []*kannapb.RoomState
	for i, id := range ids {
		st := c.status(id)
		r, ok := c.rooms(id)
		if st == nil || !ok {
			return false
		}
		if i == 0 {
			applied, rooms = st.Applied, r
			continue
		}
		if st.Applied != applied || len(r) != len(rooms) {
			return false
		}
		for j := range r {
			if !proto.Equal(r[j], rooms[j]) {
				return false
			}
		}
	}
	return true
}

// others returns the running node ids other than skip.
func (c *cluster) others(skip uint64) []uint64 {
	var ids []uint64
	for _, n := range c.sup.Nodes() {
		if n.ID != skip && n.Running {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

// ids returns every running node id.
func (c *cluster) ids() []uint64 { return c.others(0) }
