// A black-box harness for the lab graders (lab_test.go) and the interaction scripts
// (interaction_test.go): cores built and driven only through the exported API, each with an
// in-memory disk that holds what its Ready asked to persist, joined by a message queue the caller
// delivers, filters and cuts by hand.

package raft_test

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/kanna-cluster/kanna/raft"
)

// labDisk is one server's stable storage and state machine, as a driver would keep them.
type labDisk struct {
	hs      raft.HardState
	snap    *raft.Snapshot
	ents    []raft.Entry
	applied uint64
	cmds    []string // the applied commands, in order
}

func (d *labDisk) persist(rd raft.Ready) {
	if !rd.HardState.IsEmpty() {
		d.hs = rd.HardState
	}
	if rd.Snapshot != nil {
		d.snap = rd.Snapshot
		d.ents = slices.DeleteFunc(d.ents, func(e raft.Entry) bool { return e.Index <= rd.Snapshot.Meta.Index })
		d.applied = rd.Snapshot.Meta.Index
		d.cmds = []string{fmt.Sprintf("snapshot(%s)", rd.Snapshot.Data)}
	}
	if len(rd.Entries) > 0 {
		first := rd.Entries[0].Index
		d.ents = slices.DeleteFunc(d.ents, func(e raft.Entry) bool { return e.Index >= first })
		d.ents = append(d.ents, rd.Entries...)
	}
	for _, e := range rd.CommittedEntries {
		d.applied = e.Index
		if e.Type == raft.EntryNormal && len(e.Data) > 0 {
			d.cmds = append(d.cmds, string(e.Data))
		}
	}
}

func (d *labDisk) restored() *raft.Restored {
	return &raft.Restored{HardState: d.hs, Snapshot: d.snap, Entries: slices.Clone(d.ents), Applied: d.applied}
}

// labNet is a cluster of cores on one goroutine.
type labNet struct {
	t       testing.TB
	ids     []uint64
	nodes   map[uint64]*raft.Node
	disks   map[uint64]*labDisk
	queue   []raft.Message
	cut     map[uint64]bool // isolated servers: what they send and what is sent to them is lost
	tweak   func(*raft.Config)
	readies map[uint64][]raft.Ready // every Ready each server handed out, for the graders
	rngs    int64
}

// newLabNet starts servers 1..n of a new cluster; tweak, if not nil, changes every config.
func newLabNet(t testing.TB, n int, tweak func(*raft.Config)) *labNet {
	t.Helper()
	net := &labNet{t: t, nodes: map[uint64]*raft.Node{}, disks: map[uint64]*labDisk{}, cut: map[uint64]bool{},
		tweak: tweak, readies: map[uint64][]raft.Ready{}}
	for i := 1; i <= n; i++ {
		net.ids = append(net.ids, uint64(i))
	}
	for _, id := range net.ids {
		net.disks[id] = &labDisk{}
		net.start(id, net.ids, nil)
	}
	net.process()
	return net
}

// config is the configuration of server id: defaults, then the net's tweak.
func (net *labNet) config(id uint64, peers []uint64, restore *raft.Restored) raft.Config {
	cfg := raft.DefaultConfig()
	net.rngs++
	cfg.ID, cfg.Peers, cfg.Rand, cfg.Restore = id, peers, rand.New(rand.NewSource(int64(id)*1000+net.rngs)), restore
	if net.tweak != nil {
		net.tweak(&cfg)
	}
	return cfg
}

func (net *labNet) start(id uint64, peers []uint64, restore *raft.Restored) {
	net.t.Helper()
	n, err := raft.New(net.config(id, peers, restore))
	if err != nil {
		net.t.Fatalf("start server %d: %v", id, err)
	}
	net.nodes[id] = n
}

// restart replaces server id's core with one restored from its disk, as after a crash; messages
// on their way to it are lost.
func (net *labNet) restart(id uint64) {
	net.t.Helper()
	net.queue = slices.DeleteFunc(net.queue, func(m raft.Message) bool { return m.To == id })
	net.start(id, nil, net.disks[id].restored())
	net.ready(id)
}

// ready hands out server id's Readies until it has none: persist, send, apply, advance.
func (net *labNet) ready(id uint64) {
	n := net.nodes[id]
	for n.HasReady() {
		rd := n.Ready()
		net.readies[id] = append(net.readies[id], rd)
		net.disks[id].persist(rd)
		for _, m := range rd.Messages {
			if !net.cut[m.From] && !net.cut[m.To] {
				net.queue = append(net.queue, m)
			}
		}
		n.Advance(rd)
	}
}

// process hands out every server's Readies.
func (net *labNet) process() {
	for _, id := range net.ids {
		net.ready(id)
	}
}

// deliver delivers queued messages, and those they cause, until none is left; a message for which
// drop reports true is lost instead.
func (net *labNet) deliver(drop func(raft.Message) bool) {
	net.process()
	for steps := 0; len(net.queue) > 0; steps++ {
		if steps > 100000 {
			net.t.Fatalf("messages still flowing after 100000 deliveries: the cluster never settles")
		}
		m := net.queue[0]
		net.queue = net.queue[1:]
		if drop != nil && drop(m) || net.cut[m.To] || net.cut[m.From] {
			continue
		}
		if n := net.nodes[m.To]; n != nil {
			if err := n.Step(m); err != nil {
				net.t.Fatalf("server %d: step %s: %v", m.To, m, err)
			}
			net.ready(m.To)
		}
	}
}

// tickAll ticks every server that is not cut off k times, delivering after each round.
func (net *labNet) tickAll(k int) {
	for range k {
		for _, id := range net.ids {
			net.nodes[id].Tick()
		}
		net.deliver(nil)
	}
}

// elect ticks server id alone, delivering everything, until it leads.
func (net *labNet) elect(id uint64) {
	net.t.Helper()
	n := net.nodes[id]
	for range 200 {
		if n.Status().Role == raft.Leader {
			net.deliver(nil)
			return
		}
		n.Tick()
		net.deliver(nil)
	}
	st := n.Status()
	net.t.Fatalf("server %d ticked 200 times without becoming leader: it is %s in term %d", id, st.Role, st.Term)
}

// propose appends data on server id and delivers the result.
func (net *labNet) propose(id uint64, data string) uint64 {
	net.t.Helper()
	index, _, err := net.nodes[id].Propose([]byte(data))
	if err != nil {
		net.t.Fatalf("propose %q on server %d: %v", data, id, err)
	}
	net.deliver(nil)
	return index
}

// sent returns the messages server id handed out in Readies from the i-th on.
func (net *labNet) sent(id uint64, from int) []raft.Message {
	var out []raft.Message
	for _, rd := range net.readies[id][from:] {
		out = append(out, rd.Messages...)
	}
	return out
}

// mark is where sent(id, mark) starts: the Readies handed out so far.
func (net *labNet) mark(id uint64) int { return len(net.readies[id]) }

// tickUntilCampaign ticks node id, handling each Ready, until its election timeout makes it leave
// the follower role (at most 40 ticks).
func (net *labNet) tickUntilCampaign(id uint64) {
	n := net.nodes[id]
	for range 40 {
		if n.Status().Role != raft.Follower {
			return
		}
		n.Tick()
		net.ready(id)
	}
}

// bootLog is the log every founding member of a cluster of n starts with: one AddVoter entry per
// server, in term 1.
func bootLog(n int) []raft.Entry {
	ents := make([]raft.Entry, n)
	for i := range n {
		cc := raft.ConfChange{Type: raft.AddVoter, NodeID: uint64(i + 1)}
		ents[i] = raft.Entry{Term: 1, Index: uint64(i + 1), Type: raft.EntryConfChange, Data: cc.Marshal()}
	}
	return ents
}

// withLog is a three-server log: the founding entries, then one entry per term in terms.
func withLog(terms ...uint64) []raft.Entry {
	ents := bootLog(3)
	for _, t := range terms {
		ents = append(ents, raft.Entry{Term: t, Index: uint64(len(ents) + 1), Type: raft.EntryNormal, Data: fmt.Appendf(nil, "t%d", t)})
	}
	return ents
}

// single builds server id of a three-server cluster from a log and term read back from disk, and
// hands out its first Readies; it returns the core and its disk.
func single(t testing.TB, id uint64, term, commit uint64, ents []raft.Entry, tweak func(*raft.Config)) (*raft.Node, *labDisk) {
	t.Helper()
	cfg := raft.DefaultConfig()
	cfg.ID, cfg.Rand = id, rand.New(rand.NewSource(int64(id)))
	cfg.Restore = &raft.Restored{HardState: raft.HardState{Term: term, Commit: commit}, Entries: ents, Applied: commit}
	if tweak != nil {
		tweak(&cfg)
	}
	n, err := raft.New(cfg)
	if err != nil {
		t.Fatalf("start server %d: %v", id, err)
	}
	d := &labDisk{hs: cfg.Restore.HardState, ents: slices.Clone(ents), applied: commit}
	drain(n, d)
	return n, d
}

// drain hands out n's Readies into d until none is left, and returns their messages.
func drain(n *raft.Node, d *labDisk) []raft.Message {
	var msgs []raft.Message
	for n.HasReady() {
		rd := n.Ready()
		d.persist(rd)
		msgs = append(msgs, rd.Messages...)
		n.Advance(rd)
	}
	return msgs
}

// campaignAlone ticks a lone node until its election timeout makes it leave the follower role (at
// most 40 ticks), then drains what its campaign wrote and sent.
func campaignAlone(n *raft.Node, d *labDisk) {
	for range 40 {
		if n.Status().Role != raft.Follower {
			break
		}
		n.Tick()
	}
	drain(n, d)
}

// noGuards turns pre-vote and check-quorum off: the elections of the paper's §5.2 alone.
func noGuards(c *raft.Config) { c.PreVote, c.CheckQuorum = false, false }

// ofType keeps the messages of one type.
func ofType(msgs []raft.Message, t raft.MessageType) []raft.Message {
	return slices.DeleteFunc(slices.Clone(msgs), func(m raft.Message) bool { return m.Type != t })
}

// notWritten turns a stub's panic ("kanna lab N: ... is not written yet") into a failure of this
// test alone, so the other rules are still graded. Defer it first in every grading test.
func notWritten(t *testing.T) {
	if r := recover(); r != nil {
		t.Fatalf("%v", r)
	}
}
