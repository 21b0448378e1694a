// A three-node cluster on a network of its own, a steady write load on it, and what the tests read
// from it: statuses, a long-lived client's calls, and the gossip deaths in the node logs.
package netfault

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// formTimeout bounds the wait for a cluster to elect a leader and promote every joiner: an
// election takes one to two seconds, but the package starts several clusters at once on a shared
// machine.
const formTimeout = 90 * time.Second

// snapshotEvery is small so that a node cut off for a few seconds under the write load comes back
// behind the others' snapshots and catches up through one, the longest way back.
const snapshotEvery = "100"

type cluster struct {
	t   *testing.T
	net *network
	sup *demo.Supervisor

	mu      sync.Mutex
	clients map[uint64]*grpc.ClientConn // long-lived, as an application's would be

	writes atomic.Uint64 // writes the load generator got an answer to
}

// startCluster starts three nodes, one per namespace of a new network, and waits for them to form.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	w := newNetwork(t, 3)
	sup, err := demo.New(demo.Config{
		Binary: kannaBin, Dir: t.TempDir(),
		ExtraArgs: []string{"--snapshot-every", snapshotEvery},
		Place:     func(id uint64) (string, []string) { return w.addr(int(id)), w.exec(int(id)) },
	})
	require.NoError(t, err)
	c := &cluster{t: t, net: w, sup: sup, clients: map[uint64]*grpc.ClientConn{}}
	// Registered after the network's cleanup, so it runs before it: the nodes stop before their
	// namespaces go.
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs()
		}
		require.NoError(t, sup.Shutdown())
	})
	require.NoError(t, sup.StartCluster(3))
	ctx, cancel := context.WithTimeout(context.Background(), formTimeout)
	defer cancel()
	_, err = sup.WaitReady(ctx)
	require.NoError(t, err, "the cluster did not form on its network; is bridged traffic filtered on this host (bridge-nf-call-iptables with a FORWARD policy of DROP)?")
	return c
}

func (c *cluster) dumpLogs() {
	for _, n := range c.sup.Nodes() {
		c.t.Logf("--- node %d (%s) log tail ---", n.ID, n.LogFile)
		for _, l := range n.LogTail(60) {
			c.t.Log(l)
		}
	}
}

// client is a connection to node id opened once and kept, as an application keeps one.
func (c *cluster) client(id uint64) *grpc.ClientConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.clients[id]; ok {
		return conn
	}
	conn, err := demo.Dial(c.sup.Node(id).Addr, "")
	require.NoError(c.t, err)
	c.t.Cleanup(func() { _ = conn.Close() })
	c.clients[id] = conn
	return conn
}

// statuses asks every node for its status over a new connection each, so that what it reads is
// the node's state and not the state of a client's connection; a node that does not answer within
// 500 ms is missing.
func (c *cluster) statuses() map[uint64]*kannapb.NodeStatus {
	return c.sup.Statuses(context.Background(), 500*time.Millisecond)
}

// statusesOf is statuses for the nodes in ids only, so that a node cut off from the test, whose
// read waits out its timeout, does not slow the reading of the others.
func (c *cluster) statusesOf(ids ...uint64) map[uint64]*kannapb.NodeStatus {
	type answer struct {
		id uint64
		st *kannapb.NodeStatus
	}
	ch := make(chan answer, len(ids))
	for _, id := range ids {
		addr := c.sup.Node(id).Addr
		go func() { ch <- answer{id, statusOf(addr)} }()
	}
	out := map[uint64]*kannapb.NodeStatus{}
	for range ids {
		if a := <-ch; a.st != nil {
			out[a.id] = a.st
		}
	}
	return out
}

// leaderAmong returns the node that every one of ids follows and that leads in its own eyes, or 0.
func leaderAmong(st map[uint64]*kannapb.NodeStatus, ids ...uint64) uint64 {
	var leader uint64
	for _, id := range ids {
		s := st[id]
		if s == nil || s.Leader == 0 || (leader != 0 && s.Leader != leader) {
			return 0
		}
		leader = s.Leader
	}
	if l := st[leader]; l == nil || l.Role != kannapb.NodeRole_NODE_ROLE_LEADER {
		return 0
	}
	return leader
}

// load writes to the cluster's leader every 100 ms until ctx ends: each write creates a room, so
// the log grows by about ten entries a second, and the number answered is counted.
func (c *cluster) load(ctx context.Context) {
	var seq uint64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var leader uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if leader == 0 {
			leader = leaderAmong(c.statuses(), 1, 2, 3)
			if leader == 0 {
				continue
			}
		}
		seq++
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := kannapb.NewGameClient(c.client(leader)).CreateRoom(cctx, &kannapb.CreateRoomRequest{
			ClientId: "netfault-load", Seq: seq, Room: fmt.Sprintf("r%d", seq)})
		cancel()
		if err != nil {
			leader = 0
			continue
		}
		c.writes.Add(1)
	}
}

// firstCallAfter calls ListRooms on the long-lived client of node id every 50 ms, each call given
// 500 ms, until one succeeds or ctx ends, and returns when that call was made.
func (c *cluster) firstCallAfter(ctx context.Context, id uint64) (time.Time, error) {
	game := kannapb.NewGameClient(c.client(id))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := game.ListRooms(cctx, &kannapb.ListRoomsRequest{})
		cancel()
		if err == nil {
			return start, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("no call to node %d succeeded: last error %v", id, err)
		case <-tick.C:
		}
	}
}

// death is one "member failed" event a node logged: observer declared member dead at at.
type death struct {
	observer, member uint64
	at               time.Time
}

var failedLine = regexp.MustCompile(`^time=(\S+) .*msg="gossip: member failed" .*member=(\d+)`)

// deaths reads every gossip death from the node logs.
func (c *cluster) deaths() []death {
	var out []death
	for _, n := range c.sup.Nodes() {
		f, err := os.Open(n.LogFile)
		require.NoError(c.t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			m := failedLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, m[1])
			require.NoError(c.t, err, "node %d log: %s", n.ID, sc.Text())
			member, _ := strconv.ParseUint(m[2], 10, 64)
			out = append(out, death{observer: n.ID, member: member, at: at})
		}
		require.NoError(c.t, sc.Err())
		_ = f.Close()
	}
	return out
}

// allAlive reports whether every node's gossip view holds every node alive.
func allAlive(st map[uint64]*kannapb.NodeStatus, ids ...uint64) bool {
	for _, id := range ids {
		s := st[id]
		if s == nil || len(s.GossipMembers) != len(ids) {
			return false
		}
		for _, m := range s.GossipMembers {
			if m.State != kannapb.MemberState_MEMBER_STATE_ALIVE {
				return false
			}
		}
	}
	return true
}
