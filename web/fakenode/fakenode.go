// Package fakenode is a stand-in Kanna cluster for testing the web frontend: real gRPC servers on
// loopback that implement the Game and Cluster services of proto/kanna/v1 over one shared
// game.State, with crashes, restarts, isolation and leader changes on demand.
//
// It is a test double, not a model of Raft: there is one log shared by every node in its
// majority, so a write is "committed" the moment it is applied. What it keeps from a real cluster
// is what the web server sees: commit indexes that only grow, per-client request ids applied once
// (the game package's sessions, thesis §6.3), Watch streams that end with Unavailable when a node
// dies, an isolated node that answers but falls behind and refuses writes, and a new leader in a
// higher term after the old one is lost.
package fakenode

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/internal/gamecode"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// Cluster is a set of fake nodes sharing one game state.
type Cluster struct {
	key string

	mu      sync.Mutex
	state   *game.State
	rnd     *rand.Rand
	index   uint64            // the last "committed" log index
	clock   int64             // the time the leader stamps on commands, in Unix ms (AdvanceClock)
	term    uint64            // the current term
	leader  uint64            // the current leader, 0 while none
	created map[string]uint64 // room -> index of the command that created it
	changed chan struct{}     // closed and replaced after every apply and every fault
	nodes   []*Node
	calls   map[string]int      // RPC name -> calls served, for tests
	log     []*kannapb.LogEntry // every entry "committed", from index 1
	wasUp   map[uint64]bool     // node -> connected at the last settle, for gossip events
}

// Node is one fake node.
type Node struct {
	ID   uint64
	Addr string

	c        *Cluster
	srv      *grpc.Server
	up       bool
	isolated bool
	applied  uint64 // frozen while isolated
	watchers int    // Watch streams open on this node
	boot     uint64 // this run's start, as a real node's Events stream stamps it
	events   []*kannapb.ClusterEvent
}

// Start starts n nodes on loopback, node 1 leading in term 1. A non-empty key is required on
// every call as "kanna-cluster-key", as a real node started with --cluster-key does.
func Start(n int, key string) (*Cluster, error) {
	c := &Cluster{key: key, state: game.NewState(), rnd: rand.New(rand.NewSource(1)), term: 1, leader: 1,
		created: map[string]uint64{}, changed: make(chan struct{}), calls: map[string]int{},
		wasUp: map[uint64]bool{}}
	for i := 1; i <= n; i++ {
		node := &Node{ID: uint64(i), c: c}
		c.nodes = append(c.nodes, node)
		if err := node.listen("127.0.0.1:0"); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// Addrs returns the nodes' addresses, node 1 first.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr
	}
	return out
}

// Leader returns the current leader's id, 0 while there is none.
func (c *Cluster) Leader() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// Calls returns how many calls of the named RPC ("Guess", "Watch", ...) the nodes have served.
func (c *Cluster) Calls(rpc string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[rpc]
}

// Watched returns the ids of the nodes that have a Watch stream open, in id order.
func (c *Cluster) Watched() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint64
	for _, n := range c.nodes {
		if n.watchers > 0 {
			out = append(out, n.ID)
		}
	}
	return out
}

// Stop stops every node.
func (c *Cluster) Stop() {
	c.mu.Lock()
	nodes := append([]*Node{}, c.nodes...)
	c.mu.Unlock()
	for _, n := range nodes {
		n.stop()
	}
}

// AdvanceClock moves the leader's clock, which it writes into every command it commits, by d: the
// log's clock, by which sessions expire (game/session.go).
func (c *Cluster) AdvanceClock(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock += d.Milliseconds()
}

// Crash stops node id at once: its streams end with Unavailable and its address refuses calls.
func (c *Cluster) Crash(id uint64) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.stop()
	return nil
}

// Restart starts node id again on its old address.
func (c *Cluster) Restart(id uint64) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	up := n.up
	c.mu.Unlock()
	if up {
		return fmt.Errorf("fakenode: node %d is already running", id)
	}
	return n.listen(n.Addr)
}

// Isolate cuts node id off from the others, as Cluster.DropTraffic on every peer would.
func (c *Cluster) Isolate(id uint64) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n.isolated = true
	c.settleLocked()
	return nil
}

func (c *Cluster) node(id uint64) (*Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.ID == id {
			return n, nil
		}
	}
	return nil, fmt.Errorf("fakenode: no node %d; ids run from 1 to %d", id, len(c.nodes))
}

func (n *Node) listen(addr string) error {
	var ln net.Listener
	var err error
	// A restarted node takes its old port back; the port may linger for a moment after Stop.
	for try := 0; try < 50; try++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("fakenode: node %d listen on %s: %w", n.ID, addr, err)
	}
	// A node's keepalive policy: the web frontend pings idle connections as it would a node's.
	srv := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(demo.KeepalivePolicy),
		grpc.UnaryInterceptor(n.c.checkKeyUnary), grpc.StreamInterceptor(n.c.checkKeyStream))
	kannapb.RegisterGameServer(srv, &gameServer{n: n})
	kannapb.RegisterClusterServer(srv, &clusterServer{n: n})
	n.c.mu.Lock()
	n.Addr, n.srv, n.up, n.isolated = ln.Addr().String(), srv, true, false
	n.boot, n.events = uint64(time.Now().UnixMicro()), nil
	n.tellLocked(kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_START, fmt.Sprintf("node %d started", n.ID))
	if n.ID == n.c.leader {
		n.tellLocked(kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_ROLE, fmt.Sprintf("node %d won the election for term %d and leads", n.ID, n.c.term))
	}
	n.c.settleLocked()
	n.c.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

func (n *Node) stop() {
	n.c.mu.Lock()
	srv := n.srv
	n.up, n.srv = false, nil
	n.c.settleLocked()
	n.c.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// connected reports whether n is in the majority's side of the network.
func (n *Node) connected() bool { return n.up && !n.isolated }

// settleLocked elects a new leader if the old one is down or cut off (the lowest connected id, in
// a new term), brings connected nodes up to the shared log, and wakes every watcher.
func (c *Cluster) settleLocked() {
	var connected []*Node
	for _, n := range c.nodes {
		if n.connected() {
			connected = append(connected, n)
			n.applied = c.index
		}
	}
	leaderOK := false
	for _, n := range connected {
		if n.ID == c.leader {
			leaderOK = true
		}
	}
	majority := 2*len(connected) > len(c.nodes)
	switch {
	case !majority:
		if c.leader != 0 {
			c.leader = 0
			c.term++
			for _, n := range connected {
				n.tellLocked(kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_TERM, fmt.Sprintf("node %d moved to term %d", n.ID, c.term))
			}
		}
	case !leaderOK:
		c.leader = connected[0].ID
		c.term++
		l := connected[0]
		l.tellLocked(kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_TERM, fmt.Sprintf("node %d moved to term %d", l.ID, c.term))
		l.tellLocked(kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_ROLE, fmt.Sprintf("node %d won the election for term %d and leads", l.ID, c.term))
		c.appendLocked(&kannapb.LogEntry{Kind: kannapb.LogEntryKind_LOG_ENTRY_KIND_NOOP, Text: "no-op of the new leader"})
		for _, n := range connected {
			n.applied = c.index
		}
	}
	for _, m := range c.nodes {
		if m.connected() == c.wasUp[m.ID] {
			continue
		}
		c.wasUp[m.ID] = m.connected()
		word := "is dead: the suspicion timed out unrefuted"
		if m.connected() {
			word = "is alive again: it refuted the suspicion"
		}
		for _, n := range connected {
			if n != m {
				n.tellLocked(kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_GOSSIP, fmt.Sprintf("node %d's gossip: node %d %s", n.ID, m.ID, word))
			}
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// apply "commits" cmd through node n: refused unless n is connected to a majority with a leader.
func (c *Cluster) apply(n *Node, cmd game.Command) (*kannapb.RoomState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !n.connected() || c.leader == 0 {
		return nil, status.Errorf(codes.Unavailable, "node %d knows no leader: retry on another node", n.ID)
	}
	if cmd.NeedsWord() {
		cmd.Word = game.PickWord(c.rnd)
	}
	cmd.Time = c.clock
	c.appendLocked(&kannapb.LogEntry{Kind: kannapb.LogEntryKind_LOG_ENTRY_KIND_COMMAND, Text: cmd.Describe()})
	res := c.state.ApplyAt(c.index, cmd)
	for _, m := range c.nodes {
		if m.connected() {
			m.applied = c.index
		}
	}
	if err := res.Error(); err != nil {
		return nil, status.Error(gamecode.GRPC(game.CodeOf(err)), err.Error())
	}
	if c.created[cmd.Room] == 0 {
		c.created[cmd.Room] = c.index
	}
	close(c.changed)
	c.changed = make(chan struct{})
	// The room as the command left it, as a real node answers (for a retry, the first answer's).
	return stateOf(n, *res.State), nil
}

// appendLocked "commits" an entry in the current term, as the leader tells it.
func (c *Cluster) appendLocked(e *kannapb.LogEntry) {
	c.index++
	e.Index, e.Term = c.index, c.term
	c.log = append(c.log, e)
	for _, m := range c.nodes {
		if m.ID == c.leader && m.connected() {
			m.tellLocked(kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_COMMIT, fmt.Sprintf("entry %d of term %d committed: %s", e.Index, e.Term, e.Text))
		}
	}
}

// tellLocked records an event on n's stream.
func (n *Node) tellLocked(kind kannapb.ClusterEventKind, text string) {
	n.events = append(n.events, &kannapb.ClusterEvent{Node: n.ID, Boot: n.boot, Seq: uint64(len(n.events) + 1),
		UnixMicros: time.Now().UnixMicro(), Kind: kind, Term: n.c.term, Text: text})
}

// roomLocked is room as node n shows it.
func (c *Cluster) roomLocked(n *Node, room string) (*kannapb.RoomState, error) {
	v, err := c.state.Room(room)
	if err != nil || c.created[room] > n.applied {
		return nil, status.Errorf(codes.NotFound, "room %q does not exist on node %d", room, n.ID)
	}
	return stateOf(n, v), nil
}

// stateOf is v as node n sends it.
func stateOf(n *Node, v game.RoomView) *kannapb.RoomState {
	s := &kannapb.RoomState{Room: v.Name, MaskedWord: v.Masked, LivesLeft: uint32(v.Lives), MaxLives: uint32(game.Lives),
		Round: v.Round, Word: v.Word, ServedBy: n.ID, CommitIndex: n.applied, Version: v.Version}
	for l := byte('a'); l <= 'z'; l++ {
		for i := 0; i < len(v.Guessed); i++ {
			if v.Guessed[i] == l {
				s.GuessedLetters = append(s.GuessedLetters, string(l))
				break
			}
		}
	}
	switch v.Status {
	case game.Won:
		s.Status = kannapb.RoundStatus_ROUND_STATUS_WON
	case game.Lost:
		s.Status = kannapb.RoundStatus_ROUND_STATUS_LOST
	default:
		s.Status = kannapb.RoundStatus_ROUND_STATUS_PLAYING
	}
	for _, p := range v.Players {
		s.Players = append(s.Players, &kannapb.Player{Name: p.Name, Score: int64(p.Score)})
	}
	return s
}

func (c *Cluster) count(rpc string) {
	c.mu.Lock()
	c.calls[rpc]++
	c.mu.Unlock()
}

func (c *Cluster) checkKey(ctx context.Context) error {
	if c.key == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get("kanna-cluster-key"); len(got) != 1 || got[0] != c.key {
		return status.Error(codes.Unauthenticated, "wrong or missing kanna-cluster-key: start both sides with the same --cluster-key")
	}
	return nil
}

func (c *Cluster) checkKeyUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := c.checkKey(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (c *Cluster) checkKeyStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := c.checkKey(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}
