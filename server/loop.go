// The loop: the one goroutine that drives the engine and the gossip core, and the order in which it
// persists, sends and answers.
//
// Each turn takes one input (a tick, a Raft message, a gossip message, or a call from a gRPC
// handler), then every other input already waiting (up to maxDrain), and only then asks the engine
// for one Ready: many proposals and acknowledgements share one append and one fsync (group commit,
// thesis §10.2). The Ready is handled in the order of the persistence contract (Raft paper
// Figure 2, "updated on stable storage before responding to RPCs"; DESIGN.md):
//
//  1. a leader whose term and vote are already durable sends its messages first and writes its
//     own entries in parallel with their replication (thesis §10.2.1): the engine counts its own
//     copy toward commitment only after Advance. It also answers its callers before that write:
//     the results are for committed entries, and committed means durable on a majority (its own
//     copy included, which was counted only once durable), so the write of the next batch need
//     not delay them;
//  2. otherwise the hard state, snapshot and entries are written, with an fsync when MustSync,
//     before any message leaves or any caller is answered: a vote or an acknowledgement promises
//     durable state;
//  3. results go to the callers waiting on them, and room states to watchers (before the write
//     on a leader, as in 1);
//  4. Advance.
package server

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/raft"
)

// rejoinTicks is how often a node that knows no live peer tries its seeds again: every two
// seconds at 100 ms ticks, so a node started before the rest of the cluster finds it soon after.
const rejoinTicks = 20

// loopState is the shell's own state, touched only by the loop goroutine.
type loopState struct {
	ticks int64
	saved raft.HardState // the hard state on disk
	role  raft.Role      // as of the last Ready

	waiters  map[ProposalID]chan waitResult
	watchers map[string]map[*watcher]struct{}
	members  membershipState
	seeds    []string
}

// waitResult is what a caller waiting on a proposal or read receives.
type waitResult struct {
	res     Result
	applied uint64 // the node's applied index when the result was delivered
	err     error
}

func (l *loopState) init(n *Node) {
	l.waiters = map[ProposalID]chan waitResult{}
	l.watchers = map[string]map[*watcher]struct{}{}
	l.members = newMembershipState()
	seen := map[string]bool{n.addr: true}
	for _, a := range n.cfg.Join {
		if !seen[a] {
			seen[a] = true
			l.seeds = append(l.seeds, a)
		}
	}
	for _, id := range n.book.ids() {
		if a := n.book.entries()[id]; id != n.id && !seen[a] {
			seen[a] = true
			l.seeds = append(l.seeds, a)
		}
	}
}

// run is the loop goroutine.
func (n *Node) run() {
	defer close(n.done)
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	n.joinSeeds()
	for {
		select {
		case <-n.stop:
			n.finish()
			return
		case <-ticker.C:
			n.tick()
		case m := <-n.raftIn:
			n.engine.Step(m)
		case g := <-n.gossipIn:
			n.stepGossip(g)
		case f := <-n.calls:
			f()
		}
		n.drain()
		n.flushGossip()
		if err := n.handleReady(); err != nil {
			n.fail(err)
			return
		}
	}
}

// drain takes every input already waiting, up to maxDrain, without blocking.
func (n *Node) drain() {
	for range maxDrain {
		select {
		case m := <-n.raftIn:
			n.engine.Step(m)
		case g := <-n.gossipIn:
			n.stepGossip(g)
		case f := <-n.calls:
			f()
		default:
			return
		}
	}
}

// finish handles what is left before the loop stops, so the log holds everything acknowledged.
func (n *Node) finish() {
	n.drain()
	if err := n.handleReady(); err != nil {
		n.fail(err)
	}
	for id, ch := range n.loop.waiters {
		ch <- waitResult{err: ErrStopped}
		delete(n.loop.waiters, id)
	}
}

// fail records a fatal error. The node stops: after a failed write the log's state on disk is
// unknown, and going on could acknowledge what is not durable.
func (n *Node) fail(err error) {
	n.errMu.Lock()
	n.err = err
	n.errMu.Unlock()
	n.logger().Error("node stopping on a fatal error", "err", err)
}

// tick advances both cores by one tick and lets the leader act on membership.
func (n *Node) tick() {
	n.loop.ticks++
	n.engine.Tick()
	n.gossip.Tick()
	if n.loop.ticks%rejoinTicks == 0 && n.alivePeers() == 0 {
		n.joinSeeds()
	}
	n.reconcileMembership()
}

// joinSeeds asks gossip to meet the cluster through the seed addresses.
func (n *Node) joinSeeds() {
	if len(n.loop.seeds) == 0 {
		return
	}
	if err := n.gossip.Join(n.loop.seeds...); err != nil {
		n.logger().Debug("gossip: join not sent", "err", err)
	}
}

// alivePeers counts the other members gossip believes alive.
func (n *Node) alivePeers() int {
	c := 0
	for _, m := range n.gossip.Members() {
		if m.ID != n.gossip.ID() && m.State == gossip.StateAlive {
			c++
		}
	}
	return c
}

// stepGossip hands a gossip message to the core; the answer to a push-pull goes back on the
// call that carried it instead of as a packet.
func (n *Node) stepGossip(g gossipInput) {
	if err := n.gossip.Step(g.msg); err != nil {
		n.logger().Warn("gossip: message refused", "from", g.msg.From, "err", err)
	}
	if g.reply == nil {
		return
	}
	out := n.gossip.Outbox()
	rest := out[:0]
	answered := false
	for _, m := range out {
		if !answered && m.Type == gossip.MsgPushPullReply && m.ToID == g.msg.From {
			g.reply <- m
			answered = true
			continue
		}
		rest = append(rest, m)
	}
	if !answered {
		// The core had nothing to say (it is leaving, or refused the message): an empty message
		// tells the waiting call so at once instead of at its deadline.
		g.reply <- gossip.Message{}
	}
	n.tr.sendGossip(rest)
}

// flushGossip sends what the gossip core wants sent and acts on its events.
func (n *Node) flushGossip() {
	n.tr.sendGossip(n.gossip.Outbox())
	for _, e := range n.gossip.Events() {
		id := parseID(e.Member.ID)
		n.logger().Info("gossip: member "+e.Type.String(), "member", e.Member.ID, "addr", e.Member.Addr, "incarnation", e.Member.Incarnation)
		if id == 0 || id == n.id {
			continue
		}
		if e.Type == gossip.EventJoined || e.Type == gossip.EventRecovered {
			n.loop.members.unbar(id)
		}
		addr := e.Member.Meta.RaftAddr
		if addr == "" {
			addr = e.Member.Addr
		}
		if n.tr.setAddr(id, addr) {
			if err := n.book.set(id, addr); err != nil {
				n.logger().Warn("cannot save the address book; a restart will rely on --join to find peers", "err", err)
			}
		}
	}
}

// handleReady handles every Ready the engine has, in the order the file comment gives.
func (n *Node) handleReady() error {
	for n.engine.HasReady() {
		out := n.engine.Ready()
		if out.SoftState != nil {
			n.loop.role = out.SoftState.Role
		}
		early := n.loop.role == raft.Leader && out.Snapshot == nil &&
			(out.HardState.IsEmpty() || (out.HardState.Term == n.loop.saved.Term && out.HardState.Vote == n.loop.saved.Vote))
		if early {
			n.tr.sendRaft(out.Messages)
			n.deliver(out)
		}
		if err := n.persist(out); err != nil {
			return err
		}
		if !early {
			n.tr.sendRaft(out.Messages)
			n.deliver(out)
		}
		n.engine.Advance(out)
	}
	return nil
}

// persist writes what out asks to keep: the leader's snapshot first (entries may follow it), then
// hard state and entries with one fsync, then a snapshot the engine took, which lets the log be
// compacted behind it.
func (n *Node) persist(out Output) error {
	if out.Snapshot != nil {
		if err := n.wal.SaveSnapshot(*out.Snapshot); err != nil {
			return fmt.Errorf("save the leader's snapshot at index %d: %w", out.Snapshot.Meta.Index, err)
		}
	}
	if err := n.wal.Save(out.HardState, out.Entries, out.MustSync); err != nil {
		return fmt.Errorf("save %d entries and hard state %+v: %w", len(out.Entries), out.HardState, err)
	}
	if out.Compacted != nil {
		if err := n.wal.SaveSnapshot(*out.Compacted); err != nil {
			return fmt.Errorf("save snapshot at index %d: %w", out.Compacted.Meta.Index, err)
		}
		n.logger().Info("snapshot saved; log compacted behind it", "index", out.Compacted.Meta.Index)
	}
	if !out.HardState.IsEmpty() {
		n.loop.saved = out.HardState
		if out.HardState.Term != n.term.Load() {
			n.term.Store(out.HardState.Term)
		}
	}
	return nil
}

// deliver answers the callers whose proposals or reads finished, pushes new room states to
// watchers and logs what the engine reported.
func (n *Node) deliver(out Output) {
	if s := out.SoftState; s != nil {
		n.logger().Info("raft: role "+s.Role.String(), "leader", s.Lead)
	}
	if out.Snapshot != nil {
		n.logger().Info("raft: installed the leader's snapshot", "index", out.Snapshot.Meta.Index)
	}
	for _, err := range out.Errors {
		n.logger().Warn("engine", "err", err)
	}
	applied := n.engine.Applied()
	for _, r := range out.Results {
		if ch, ok := n.loop.waiters[r.ID]; ok {
			ch <- waitResult{res: r, applied: applied}
			delete(n.loop.waiters, r.ID)
		}
	}
	for _, ae := range out.Applied {
		if ae.Type == raft.EntryConfChange {
			n.logger().Info("raft: configuration change applied", "change", ae.ConfChange.Type.String(), "member", ae.ConfChange.NodeID, "index", ae.Index)
		}
	}
	n.notifyWatchers(out)
}

// memberID is the gossip name of a Raft id.
func memberID(id uint64) string { return strconv.FormatUint(id, 10) }
