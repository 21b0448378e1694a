// Helpers for the shell tests: real nodes in this process, each with its own data folder and a
// gRPC listener on 127.0.0.1:0, talking to each other over real gRPC. Ticks are 20 ms so that an
// election takes a few hundred milliseconds; every wait polls with require.Eventually.

package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

const (
	testTick = 20 * time.Millisecond
	// settle bounds every wait for the cluster to settle: far above the few election timeouts
	// (200-400 ms each) any step takes, so a slow CI machine under -race does not fail.
	settle = 15 * time.Second
	poll   = 20 * time.Millisecond
)

// testCluster is a set of in-process nodes.
type testCluster struct {
	t     testing.TB
	nodes map[uint64]*Node // the running ones
	dirs  map[uint64]string
	addrs map[uint64]string
	// root holds the nodes' data folders.
	root string
	// configure, when set, adjusts the config of every node started.
	configure func(*Config)
	// clientTLS, when set, is what the test's own clients dial with.
	clientTLS *tls.Config
}

// newTestCluster bootstraps node 1, then joins nodes 2..size through it and waits until all are
// voters.
func newTestCluster(t testing.TB, size int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, size, nil)
}

// newTestClusterWith is newTestCluster with every node's config adjusted by configure.
func newTestClusterWith(t testing.TB, size int, configure func(*Config)) *testCluster {
	t.Helper()
	return newTestClusterTLS(t, size, configure, nil)
}

// newTestClusterTLS is newTestClusterWith whose test clients dial with clientTLS.
func newTestClusterTLS(t testing.TB, size int, configure func(*Config), clientTLS *tls.Config) *testCluster {
	t.Helper()
	c := &testCluster{t: t, nodes: map[uint64]*Node{}, dirs: map[uint64]string{}, addrs: map[uint64]string{}, configure: configure, clientTLS: clientTLS}
	// The folder is made before the clean-up that stops the nodes is registered: clean-ups run
	// last-registered first, so every node has stopped writing before its folder is removed.
	c.root = t.TempDir()
	t.Cleanup(func() {
		for _, n := range c.nodes {
			_ = n.Kill()
		}
	})
	c.start(1)
	c.waitLeader()
	for id := uint64(2); id <= uint64(size); id++ {
		c.start(id, c.addrs[1])
	}
	for id := uint64(2); id <= uint64(size); id++ {
		c.waitVoter(id)
	}
	c.waitGossip()
	return c
}

// waitGossip waits until every running node's gossip view holds every running node alive.
func (c *testCluster) waitGossip() {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		for id := range c.nodes {
			st := c.status(id)
			if st == nil {
				return false
			}
			alive := 0
			for _, m := range st.GossipMembers {
				if c.nodes[m.Id] != nil && m.State == kannapb.MemberState_MEMBER_STATE_ALIVE {
					alive++
				}
			}
			if alive != len(c.nodes) {
				return false
			}
		}
		return true
	}, settle, poll, "gossip never converged")
}

// start starts node id: from its data folder if it ran before (on the same address), else new.
func (c *testCluster) start(id uint64, join ...string) *Node {
	c.t.Helper()
	if c.dirs[id] == "" {
		dir, err := os.MkdirTemp(c.root, fmt.Sprintf("node%d-", id))
		require.NoError(c.t, err)
		c.dirs[id] = dir
	}
	addr := c.addrs[id]
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	require.NoError(c.t, err, "listen for node %d", id)
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("KANNA_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := Config{
		ID: id, DataDir: c.dirs[id], Listener: lis, Join: join,
		EnableFaultInjection: true, TickInterval: testTick, Seed: int64(id), Logger: logger,
	}
	if c.configure != nil {
		c.configure(&cfg)
	}
	n, err := NewNode(cfg)
	require.NoError(c.t, err, "start node %d", id)
	n.Start()
	c.nodes[id] = n
	c.addrs[id] = n.Addr()
	return n
}

// kill stops node id as a crash would.
func (c *testCluster) kill(id uint64) {
	c.t.Helper()
	require.NoError(c.t, c.nodes[id].Kill())
	delete(c.nodes, id)
}

// conn opens a client connection to node id.
func (c *testCluster) conn(id uint64) *grpc.ClientConn {
	c.t.Helper()
	creds := insecure.NewCredentials()
	if c.clientTLS != nil {
		creds = credentials.NewTLS(c.clientTLS)
	}
	conn, err := grpc.NewClient(c.addrs[id], grpc.WithTransportCredentials(creds))
	require.NoError(c.t, err)
	c.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (c *testCluster) game(id uint64) kannapb.GameClient { return kannapb.NewGameClient(c.conn(id)) }

func (c *testCluster) cluster(id uint64) kannapb.ClusterClient {
	return kannapb.NewClusterClient(c.conn(id))
}

// ctx returns a context carrying the dev cluster key, cancelled at the end of the test.
func (c *testCluster) ctx() context.Context {
	ctx, cancel := context.WithTimeout(WithClusterKey(context.Background(), DevClusterKey), settle)
	c.t.Cleanup(cancel)
	return ctx
}

// status asks node id for its status over gRPC; nil when it does not answer.
func (c *testCluster) status(id uint64) *kannapb.NodeStatus {
	ctx, cancel := context.WithTimeout(WithClusterKey(context.Background(), DevClusterKey), time.Second)
	defer cancel()
	st, err := c.cluster(id).Status(ctx, &kannapb.StatusRequest{})
	if err != nil {
		return nil
	}
	return st
}

// leader returns the id of the node that leads as seen by the running nodes, or 0: a node counts
// when it says it leads and every other running node in its term agrees.
func (c *testCluster) leader() uint64 {
	for id := range c.nodes {
		if st := c.status(id); st != nil && st.Role == kannapb.NodeRole_NODE_ROLE_LEADER {
			return id
		}
	}
	return 0
}

// waitLeader waits until some running node leads, and returns it.
func (c *testCluster) waitLeader() uint64 {
	c.t.Helper()
	var lead uint64
	require.Eventually(c.t, func() bool { lead = c.leader(); return lead != 0 }, settle, poll, "no leader elected")
	return lead
}

// waitVoter waits until the leader counts id as a voter.
func (c *testCluster) waitVoter(id uint64) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		lead := c.leader()
		if lead == 0 {
			return false
		}
		st := c.status(lead)
		return st != nil && slices.Contains(st.Voters, id)
	}, settle, poll, "node %d never became a voter", id)
}

// follower returns a running node other than the leader.
func (c *testCluster) follower() uint64 {
	c.t.Helper()
	lead := c.waitLeader()
	for id := range c.nodes {
		if id != lead {
			return id
		}
	}
	c.t.Fatal("no follower running")
	return 0
}

// applied returns node id's applied index, or 0 when it does not answer.
func (c *testCluster) applied(id uint64) uint64 {
	if st := c.status(id); st != nil {
		return st.Applied
	}
	return 0
}
