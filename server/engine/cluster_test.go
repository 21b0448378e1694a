// A cluster of engines in memory for the engine tests: each engine has a "disk" that keeps what
// its Outputs asked to persist, messages travel through a queue the test can cut, and everything
// runs on the test's goroutine, driven by explicit ticks, so each scenario replays exactly.

package engine

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/stretchr/testify/require"
)

// memDisk is one node's stable storage.
type memDisk struct {
	hs   raft.HardState
	snap *raft.Snapshot
	ents []raft.Entry
}

func (d *memDisk) persist(out Output) {
	if !out.HardState.IsEmpty() {
		d.hs = out.HardState
	}
	for _, s := range []*raft.Snapshot{out.Snapshot, out.Compacted} {
		if s.IsEmpty() || (d.snap != nil && d.snap.Meta.Index >= s.Meta.Index) {
			continue
		}
		d.snap = s
		d.ents = slices.DeleteFunc(d.ents, func(e raft.Entry) bool { return e.Index <= s.Meta.Index })
	}
	if len(out.Entries) > 0 {
		first := out.Entries[0].Index
		d.ents = slices.DeleteFunc(d.ents, func(e raft.Entry) bool { return e.Index >= first })
		d.ents = append(d.ents, out.Entries...)
	}
}

func (d *memDisk) restored() *raft.Restored {
	return &raft.Restored{HardState: d.hs, Snapshot: d.snap, Entries: slices.Clone(d.ents)}
}

// cluster wires engines together.
type cluster struct {
	t             testing.TB
	seed          int64
	snapshotEvery uint64
	ids           []uint64
	engines       map[uint64]*Engine
	disks         map[uint64]*memDisk
	queue         []raft.Message
	cut           map[[2]uint64]bool
	down          map[uint64]bool
	// drop, when set, decides per message whether the network loses it.
	drop func(raft.Message) bool
	// recycle hands every Output's messages and applied entries back to the engine once drained.
	recycle bool
	// results and applied collect, per node, what its Outputs delivered; snapshots counts the
	// snapshots it received from a leader.
	results   map[uint64]map[ProposalID]Result
	applied   map[uint64][]AppliedEntry
	snapshots map[uint64]int
	compacted map[uint64][]raft.Snapshot
	errs      map[uint64][]error
}

// newCluster bootstraps engines 1..size.
func newCluster(t testing.TB, size int, snapshotEvery uint64) *cluster {
	return newSeededCluster(t, size, snapshotEvery, 1)
}

// newSeededCluster bootstraps engines 1..size whose randomness all follows from seed.
func newSeededCluster(t testing.TB, size int, snapshotEvery uint64, seed int64) *cluster {
	c := &cluster{
		t: t, seed: seed, snapshotEvery: snapshotEvery,
		engines: map[uint64]*Engine{}, disks: map[uint64]*memDisk{},
		cut: map[[2]uint64]bool{}, down: map[uint64]bool{},
		results: map[uint64]map[ProposalID]Result{}, applied: map[uint64][]AppliedEntry{},
		snapshots: map[uint64]int{}, compacted: map[uint64][]raft.Snapshot{}, errs: map[uint64][]error{},
	}
	for id := uint64(1); id <= uint64(size); id++ {
		c.ids = append(c.ids, id)
	}
	for _, id := range c.ids {
		c.disks[id] = &memDisk{}
		c.start(id, c.ids, nil)
	}
	return c
}

func (c *cluster) config(id uint64, peers []uint64, restore *raft.Restored) Config {
	rc := raft.DefaultConfig()
	rc.ID, rc.Peers, rc.Restore = id, peers, restore
	rc.Rand = rand.New(rand.NewSource(c.seed*1000 + int64(id)))
	return Config{Raft: rc, Rand: rand.New(rand.NewSource(c.seed*2000 + int64(id))), SnapshotEvery: c.snapshotEvery}
}

func (c *cluster) start(id uint64, peers []uint64, restore *raft.Restored) {
	e, err := New(c.config(id, peers, restore))
	require.NoError(c.t, err)
	c.engines[id] = e
	c.results[id] = map[ProposalID]Result{}
	delete(c.down, id)
}

// drain runs one node's Ready loop: persist, send, collect answers, advance.
func (c *cluster) drain(id uint64) {
	e := c.engines[id]
	for e.HasReady() {
		out := e.Ready()
		c.disks[id].persist(out)
		for _, m := range out.Messages {
			require.Equal(c.t, id, m.From)
			if !c.cut[[2]uint64{m.From, m.To}] && (c.drop == nil || !c.drop(m)) {
				c.queue = append(c.queue, m)
			}
		}
		for _, r := range out.Results {
			_, dup := c.results[id][r.ID]
			require.False(c.t, dup, "node %d answered request %d twice", id, r.ID)
			c.results[id][r.ID] = r
		}
		c.applied[id] = append(c.applied[id], out.Applied...)
		if !out.Snapshot.IsEmpty() {
			c.snapshots[id]++
		}
		if out.Compacted != nil {
			c.compacted[id] = append(c.compacted[id], *out.Compacted)
		}
		c.errs[id] = append(c.errs[id], out.Errors...)
		e.Advance(out)
		if c.recycle {
			e.RecycleMessages(out.Messages)
			e.RecycleApplied(out.Applied)
		}
	}
}

// stabilize delivers messages until the network is quiet.
func (c *cluster) stabilize() {
	for round := 0; ; round++ {
		require.Less(c.t, round, 10000, "the network never went quiet")
		for _, id := range c.ids {
			if !c.down[id] {
				c.drain(id)
			}
		}
		if len(c.queue) == 0 {
			return
		}
		batch := c.queue
		c.queue = nil
		for _, m := range batch {
			if e := c.engines[m.To]; e != nil && !c.down[m.To] && !c.cut[[2]uint64{m.From, m.To}] {
				e.Step(m)
			}
		}
	}
}

// tick advances every running node's clock k times, letting the network settle after each.
func (c *cluster) tick(k int) {
	for range k {
		for _, id := range c.ids {
			if !c.down[id] {
				c.engines[id].Tick()
			}
		}
		c.stabilize()
	}
}

// leader returns the running leader of the highest term, or raft.None.
func (c *cluster) leader() uint64 {
	var lead, term uint64
	for _, id := range c.ids {
		st := c.engines[id].Status()
		if !c.down[id] && st.Role == raft.Leader && st.Term >= term {
			lead, term = id, st.Term
		}
	}
	return lead
}

// tickUntilLeader ticks until some running node leads, and returns it.
func (c *cluster) tickUntilLeader() uint64 {
	for range 1000 {
		if l := c.leader(); l != raft.None {
			return l
		}
		c.tick(1)
	}
	c.t.Fatalf("no leader elected after 1000 ticks")
	return raft.None
}

// tickUntilLeaderOtherThan ticks until a running node other than old leads.
func (c *cluster) tickUntilLeaderOtherThan(old uint64) uint64 {
	for range 1000 {
		for _, id := range c.ids {
			if id != old && !c.down[id] && c.engines[id].Status().Role == raft.Leader {
				return id
			}
		}
		c.tick(1)
	}
	c.t.Fatalf("no new leader elected after 1000 ticks")
	return raft.None
}

// propose proposes cmd on node id, which must accept it, and lets the cluster settle.
func (c *cluster) propose(id uint64, cmd game.Command) ProposalID {
	pid, err := c.engines[id].Propose(cmd)
	require.NoError(c.t, err)
	c.stabilize()
	return pid
}

// mustResult returns node id's answer to request pid, requiring it to have been delivered.
func (c *cluster) mustResult(id uint64, pid ProposalID) Result {
	r, ok := c.results[id][pid]
	require.True(c.t, ok, "node %d has not answered request %d", id, pid)
	return r
}

// isolate cuts every link to and from id.
func (c *cluster) isolate(id uint64) {
	for _, other := range c.ids {
		if other != id {
			c.cut[[2]uint64{id, other}] = true
			c.cut[[2]uint64{other, id}] = true
		}
	}
}

// heal restores every link and stops dropping messages.
func (c *cluster) heal() {
	c.cut = map[[2]uint64]bool{}
	c.drop = nil
}

// crash stops id; only what its disk holds survives.
func (c *cluster) crash(id uint64) { c.down[id] = true }

// restart brings id back from its disk.
func (c *cluster) restart(id uint64) { c.start(id, nil, c.disks[id].restored()) }

// requireSameGame checks that every running node holds byte-identical game state.
func (c *cluster) requireSameGame() {
	var want []byte
	for _, id := range c.ids {
		if c.down[id] {
			continue
		}
		got := c.engines[id].Game().Snapshot()
		if want == nil {
			want = got
			continue
		}
		require.Equal(c.t, string(want), string(got), "game state of node %d", id)
	}
}

// client numbers a player's requests as a real client would.
type client struct {
	id  string
	seq uint64
}

func (cl *client) next(cmd game.Command) game.Command {
	cl.seq++
	cmd.ClientID, cmd.Seq = cl.id, cl.seq
	return cmd
}

func createRoom(room, word string) game.Command {
	return game.Command{Kind: game.KindCreateRoom, Room: room, Word: word}
}
func joinRoom(room, player string) game.Command {
	return game.Command{Kind: game.KindJoin, Room: room, Player: player}
}
func guessLetter(room, player, letter string) game.Command {
	return game.Command{Kind: game.KindGuess, Room: room, Player: player, Letter: letter}
}

// seedRoom creates room "den" guessing word with player kanna in it, through the leader.
func (c *cluster) seedRoom(lead uint64, cl *client, word string) {
	c.t.Helper()
	for _, cmd := range []game.Command{createRoom("den", word), joinRoom("den", "kanna")} {
		pid := c.propose(lead, cl.next(cmd))
		require.NoError(c.t, c.mustResult(lead, pid).Result.Error(), fmt.Sprintf("%+v", cmd))
	}
}
