// A small in-memory network for scenario tests: several cores, each with an in-memory "disk" that
// holds what its Ready asked to persist, wired by a message queue the test can cut, drop and
// heal. Everything runs on the test's goroutine, driven by explicit ticks, so scenarios replay
// exactly.

package raft

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// memStorage is one server's stable storage and state machine. The state machine is the list of
// applied commands; its snapshot is that list joined by commas.
type memStorage struct {
	hs      HardState
	snap    *Snapshot
	ents    []Entry
	applied uint64
	state   []string
	// reads holds the ReadStates received and not yet taken by the test.
	reads []ReadState
}

func (s *memStorage) takeReadStates() []ReadState {
	out := s.reads
	s.reads = nil
	return out
}

// persist writes what a Ready asks to be durable, the way a write-ahead log would.
func (s *memStorage) persist(rd Ready) {
	if !rd.HardState.IsEmpty() {
		s.hs = rd.HardState
	}
	if rd.Snapshot != nil {
		s.snap = rd.Snapshot
		s.ents = slices.DeleteFunc(s.ents, func(e Entry) bool { return e.Index <= rd.Snapshot.Meta.Index })
	}
	if len(rd.Entries) > 0 {
		first := rd.Entries[0].Index
		s.ents = slices.DeleteFunc(s.ents, func(e Entry) bool { return e.Index >= first })
		s.ents = append(s.ents, rd.Entries...)
	}
}

// apply hands a Ready's snapshot and committed entries to the state machine.
func (s *memStorage) apply(t testing.TB, rd Ready) {
	if rd.Snapshot != nil {
		s.state = nil
		if len(rd.Snapshot.Data) > 0 {
			s.state = strings.Split(string(rd.Snapshot.Data), ",")
		}
		s.applied = rd.Snapshot.Meta.Index
	}
	for _, e := range rd.CommittedEntries {
		require.Equal(t, s.applied+1, e.Index, "entries must be applied in order, without gaps")
		if e.Type == EntryNormal {
			s.state = append(s.state, string(e.Data))
		}
		s.applied = e.Index
	}
}

// compactData is the state machine's snapshot.
func (s *memStorage) compactData() []byte { return []byte(strings.Join(s.state, ",")) }

// restored is what the server reads back at restart. Entries already covered by the snapshot
// are dropped, as a real log would after compaction.
func (s *memStorage) restored() *Restored {
	r := &Restored{HardState: s.hs, Snapshot: s.snap, Applied: s.applied}
	for _, e := range s.ents {
		if s.snap == nil || e.Index > s.snap.Meta.Index {
			r.Entries = append(r.Entries, e)
		}
	}
	return r
}

// network wires cores together.
type network struct {
	t      testing.TB
	seed   int64
	cfgFn  func(*Config)
	nodes  map[uint64]*Node
	stores map[uint64]*memStorage
	queue  []Message
	cut    map[[2]uint64]bool // directed links that drop everything
	down   map[uint64]bool    // crashed servers
	// drop, when set, decides per message whether the network loses it.
	drop func(Message) bool
	// hold, when set, decides per message whether the network delays it to the next tick;
	// shuffle, when set, reorders each round of deliveries; dup duplicates what it returns true for.
	hold    func(Message) bool
	held    []Message
	shuffle *rand.Rand
	dup     func(Message) bool
	// delivered counts the messages that reached a server, by type.
	delivered map[MessageType]int
}

// newNetwork starts a cluster bootstrapped with voters 1..size. Options adjust every Config.
func newNetwork(t testing.TB, size int, opts ...func(*Config)) *network {
	nw := &network{
		t: t, seed: 1,
		nodes: map[uint64]*Node{}, stores: map[uint64]*memStorage{},
		cut: map[[2]uint64]bool{}, down: map[uint64]bool{}, delivered: map[MessageType]int{},
		cfgFn: func(c *Config) {
			for _, o := range opts {
				o(c)
			}
		},
	}
	var peers []uint64
	for id := uint64(1); id <= uint64(size); id++ {
		peers = append(peers, id)
	}
	for _, id := range peers {
		nw.start(id, peers, nil)
	}
	return nw
}

func (nw *network) config(id uint64, peers []uint64, restore *Restored) Config {
	c := DefaultConfig()
	c.ID = id
	c.Peers = peers
	c.Restore = restore
	c.Rand = rand.New(rand.NewSource(nw.seed*1000 + int64(id)))
	nw.cfgFn(&c)
	return c
}

func (nw *network) start(id uint64, peers []uint64, restore *Restored) {
	n, err := New(nw.config(id, peers, restore))
	require.NoError(nw.t, err)
	nw.nodes[id] = n
	if nw.stores[id] == nil {
		nw.stores[id] = &memStorage{}
	}
	delete(nw.down, id)
}

// addServer starts an empty server that knows no configuration, as a new member would.
func (nw *network) addServer(id uint64) { nw.start(id, nil, nil) }

// ids returns the servers, sorted.
func (nw *network) ids() []uint64 {
	var ids []uint64
	for id := range nw.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// drain runs one server's Ready loop: persist, send, apply, advance.
func (nw *network) drain(id uint64) {
	n := nw.nodes[id]
	st := nw.stores[id]
	for n.HasReady() {
		rd := n.Ready()
		st.persist(rd)
		for _, m := range rd.Messages {
			require.Equal(nw.t, id, m.From)
			if nw.cut[[2]uint64{m.From, m.To}] || (nw.drop != nil && nw.drop(m)) {
				continue
			}
			if nw.hold != nil && nw.hold(m) {
				nw.held = append(nw.held, m)
				continue
			}
			nw.queue = append(nw.queue, m)
			if nw.dup != nil && nw.dup(m) {
				nw.queue = append(nw.queue, m)
			}
		}
		st.apply(nw.t, rd)
		st.reads = append(st.reads, rd.ReadStates...)
		n.Advance(rd)
	}
}

// stabilize delivers messages until the network is quiet.
func (nw *network) stabilize() {
	for round := 0; ; round++ {
		require.Less(nw.t, round, 10000, "the network never went quiet")
		for _, id := range nw.ids() {
			if !nw.down[id] {
				nw.drain(id)
			}
		}
		if len(nw.queue) == 0 {
			return
		}
		batch := nw.queue
		nw.queue = nil
		if nw.shuffle != nil {
			nw.shuffle.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		}
		for _, m := range batch {
			nw.deliver(m)
		}
	}
}

func (nw *network) deliver(m Message) {
	n := nw.nodes[m.To]
	if n == nil || nw.down[m.To] || nw.cut[[2]uint64{m.From, m.To}] {
		return
	}
	nw.delivered[m.Type]++
	require.NoError(nw.t, n.Step(m))
}

// tick advances every running server's clock k times, letting the network settle after each.
func (nw *network) tick(k int) {
	for range k {
		nw.queue = append(nw.queue, nw.held...)
		nw.held = nil
		for _, id := range nw.ids() {
			if !nw.down[id] {
				nw.nodes[id].Tick()
			}
		}
		nw.stabilize()
	}
}

// tickUntilLeader ticks until exactly one running server that others follow leads, and returns it.
func (nw *network) tickUntilLeader() uint64 {
	for range 1000 {
		if l := nw.leader(); l != None {
			return l
		}
		nw.tick(1)
	}
	nw.t.Fatalf("no leader elected after 1000 ticks:\n%s", nw.describe())
	return None
}

// leader returns the running leader of the highest term, provided no running member of its
// configuration has passed that term (a leader that has not heard the news yet does not count;
// servers outside its configuration, such as removed ones, do not matter). Otherwise None.
func (nw *network) leader() uint64 {
	var lead uint64
	for _, id := range nw.ids() {
		n := nw.nodes[id]
		if !nw.down[id] && n.role == Leader && (lead == None || n.term >= nw.nodes[lead].term) {
			lead = id
		}
	}
	if lead == None {
		return None
	}
	l := nw.nodes[lead]
	for _, id := range l.conf.members() {
		if n, ok := nw.nodes[id]; ok && !nw.down[id] && n.term > l.term {
			return None
		}
	}
	return lead
}

// campaign makes id's election timer fire now.
func (nw *network) campaign(id uint64) {
	nw.nodes[id].hup()
	nw.stabilize()
}

// propose proposes data on id, which must be the leader, and lets it replicate.
func (nw *network) propose(id uint64, data string) uint64 {
	index, _, err := nw.nodes[id].Propose([]byte(data))
	require.NoError(nw.t, err)
	nw.stabilize()
	return index
}

// isolate cuts every link to and from id.
func (nw *network) isolate(id uint64) {
	for _, other := range nw.ids() {
		if other != id {
			nw.cutLink(id, other)
		}
	}
}

// cutLink cuts the link between a and b in both directions.
func (nw *network) cutLink(a, b uint64) {
	nw.cut[[2]uint64{a, b}] = true
	nw.cut[[2]uint64{b, a}] = true
}

// heal restores every link and stops random drops.
func (nw *network) heal() {
	nw.cut = map[[2]uint64]bool{}
	nw.drop, nw.hold, nw.dup, nw.shuffle = nil, nil, nil, nil
}

// crash stops id; what it had not persisted is lost with it.
func (nw *network) crash(id uint64) { nw.down[id] = true }

// restart brings id back from what its storage holds. The state machine lived in memory: it
// starts again from the stored snapshot and re-applies the committed entries after it.
func (nw *network) restart(id uint64) {
	st := nw.stores[id]
	st.state, st.applied = nil, 0
	if st.snap != nil {
		st.apply(nw.t, Ready{Snapshot: st.snap})
	}
	nw.start(id, nil, st.restored())
}

// compact makes id's application snapshot everything it applied, as a real one would from time
// to time, and store that snapshot.
func (nw *network) compact(id uint64) {
	n, st := nw.nodes[id], nw.stores[id]
	_, err := n.Compact(st.applied, st.compactData())
	require.NoError(nw.t, err)
	snap := n.log.snapshot
	st.snap = &snap
}

// state returns what id's state machine holds.
func (nw *network) state(id uint64) []string { return nw.stores[id].state }

// requireSameState checks that every running server applied the same commands, the given ones.
func (nw *network) requireSameState(want ...string) {
	for _, id := range nw.ids() {
		if !nw.down[id] {
			require.Equal(nw.t, want, nw.state(id), "state machine of server %d", id)
		}
	}
}

func withoutPreVote(c *Config)     { c.PreVote = false }
func withoutCheckQuorum(c *Config) { c.CheckQuorum = false }

func withBugs(b TeachingBugs) func(*Config) { return func(c *Config) { *c = WithTeachingBugs(*c, b) } }

func cmds(prefix string, k int) []string {
	var out []string
	for i := range k {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// describe summarizes every server, for failure messages.
func (nw *network) describe() string {
	var b strings.Builder
	for _, id := range nw.ids() {
		n := nw.nodes[id]
		fmt.Fprintf(&b, "server %d: down=%v %s term=%d lead=%d log=[%d,%d] commit=%d applied=%d\n",
			id, nw.down[id], n.role, n.term, n.lead, n.log.firstIndex(), n.log.lastIndex(), n.log.committed, n.log.applied)
	}
	return b.String()
}
