// The loop: the one goroutine that drives the engine and the gossip core, and the order in which it
// persists, sends and answers.
//
// Each turn takes one input (a tick, a Raft message, a gossip message, a call from a gRPC handler,
// or the writer's report that earlier Outputs are durable), then every other input already waiting
// (up to maxDrain), and only then asks the engine for a Ready. The loop does not write: it hands
// each Output to the writer goroutine (writer.go), which makes it durable in order with one fsync
// for everything waiting, and goes on at once (AdvanceAsync), stepping acknowledgements and
// proposals as they come. While a write is in flight it asks for another Ready only when that
// would answer callers (newly committed entries, finished reads): everything else waits for the
// write to end and then shares one append and one fsync (group commit, thesis §10.2), so the pace
// of Readies follows the disk. The persistence contract (Raft paper Figure 2, "updated on stable
// storage before responding to RPCs"; docs/design.md) decides who sends an Output's messages:
//
//  1. a leader whose term and vote are already durable, and that has no earlier Output's messages
//     still waiting, sends its messages at once and writes its own entries in parallel with their
//     replication (thesis §10.2.1): the engine counts its own copy toward commitment only once the
//     writer reports it durable (StableTo). It also answers its callers before that write: the
//     results are for committed entries, and committed means durable on a majority (its own copy
//     included, which was counted only once durable), so the write need not delay them;
//  2. otherwise the writer sends the messages only after the fsync that covers the Output and every
//     one before it: a vote or an acknowledgement promises durable state. The loop then answers
//     the callers and pushes room states to watchers.
package server

import (
	"fmt"
	"github.com/kanna-cluster/kanna/server/engine"
	"time"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
)

// rejoinEvery is how often a node tries again to join the seeds its gossip view lacks, so a node
// started before the rest of the cluster finds it soon after.
const rejoinEvery = 2 * time.Second

// loopState is the shell's own state, touched only by the loop goroutine.
type loopState struct {
	ticks int64
	saved raft.HardState // the hard state on disk, as the writer last reported it
	role  raft.Role      // as of the last Ready
	// recovering: the core is recovering from lost storage (raft/recovery.go), as of the last Ready.
	recovering bool

	// inflight counts the Outputs handed to the writer and not yet reported durable; heldInflight
	// those among them whose messages wait for the write.
	inflight, heldInflight int

	waiters  map[engine.ProposalID]waiter
	watchers map[string]map[*watcher]struct{}
	members  *engine.Membership
	seeds    []string

	// What the Events stream and Status report: the role, leader and term last told, and message
	// counts since start.
	told                     raft.SoftState
	toldTerm                 uint64
	raftSent, raftReceived   uint64
	gossipSent, gossipRecved uint64
}

// waiter is where the loop delivers a proposal's or read's result: a channel with room for it, so
// the loop never blocks on a caller. call, set for a call of a Play stream (play.go), is handed
// back in the result so that one channel serves every call of the stream.
type waiter struct {
	ch   chan<- waitResult
	call *playCall
}

// waitResult is what a caller waiting on a proposal or read receives.
type waitResult struct {
	res     engine.Result
	applied uint64 // the node's applied index when the result was delivered
	err     error
	call    *playCall // the waiter's
}

func (l *loopState) init(n *Node) {
	l.waiters = map[engine.ProposalID]waiter{}
	l.watchers = map[string]map[*watcher]struct{}{}
	l.members = engine.NewMembership(n.id, engine.MembershipConfig{
		PromoteGap:     n.cfg.PromoteGap,
		ReapAfterTicks: int64(n.cfg.ReapAfter / n.cfg.TickInterval),
	})
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
	go n.newDiskWriter().run(n.toWriter, n.fromWriter)
	defer func() {
		// Let the writer finish and stop; nothing it reports now is acted on.
		close(n.toWriter)
		for range n.fromWriter {
		}
	}()
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	n.joinSeeds()
	for {
		select {
		case <-n.stop:
			n.finish()
			return
		case d := <-n.fromWriter:
			if err := n.completeWrites(d); err != nil {
				n.fail(err)
				return
			}
		case <-ticker.C:
			n.tick()
		case m := <-n.raftIn:
			n.loop.raftReceived++
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
			n.loop.raftReceived++
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
	for {
		if err := n.handleReady(); err != nil {
			n.fail(err)
			break
		}
		if n.loop.inflight == 0 {
			break
		}
		if err := n.awaitWrite(); err != nil {
			n.fail(err)
			break
		}
	}
	for id, w := range n.loop.waiters {
		w.ch <- waitResult{err: ErrStopped, call: w.call}
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
	if n.loop.ticks%max(int64(rejoinEvery/n.cfg.TickInterval), 1) == 0 {
		n.joinSeeds()
	}
	n.reconcileMembership()
}

// joinSeeds asks gossip to meet the seeds whose address no member of its view has, and the
// members it believes dead. Knowing one live peer is not enough: restarted nodes whose joins to
// each other were lost can form groups that each look complete, and push-pull, which picks among
// known members, never bridges them (the simulator found this: tests/testdata/seeds.txt, seed
// 492). And after a real partition heals, each side holds the other dead and neither probes nor
// gossips to it: only a push-pull across tells a member it is believed dead so it can refute, and
// the periodic one comes every 30 s at random; a push-pull to each dead member every two seconds
// brings the views together within about that of the heal (docs/operations.md).
func (n *Node) joinSeeds() {
	known := map[string]bool{}
	var missing []string
	for _, m := range n.gossip.Members() {
		known[m.Addr] = true
		if m.State == gossip.StateDead && m.ID != n.gossip.ID() {
			missing = append(missing, m.Addr)
		}
	}
	for _, a := range n.loop.seeds {
		if !known[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return
	}
	if err := n.gossip.Join(missing...); err != nil {
		n.logger().Debug("gossip: join not sent", "err", err)
	}
}

// stepGossip hands a gossip message to the core; the answer to a push-pull goes back on the
// call that carried it instead of as a packet.
func (n *Node) stepGossip(g gossipInput) {
	n.loop.gossipRecved++
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
	n.loop.gossipSent += uint64(len(rest))
	n.tr.sendGossip(rest)
}

// flushGossip sends what the gossip core wants sent and acts on its events.
func (n *Node) flushGossip() {
	out := n.gossip.Outbox()
	n.loop.gossipSent += uint64(len(out))
	n.tr.sendGossip(out)
	for _, e := range n.gossip.Events() {
		id := parseID(e.Member.ID)
		n.logger().Info("gossip: member "+e.Type.String(), "member", e.Member.ID, "addr", e.Member.Addr, "incarnation", e.Member.Incarnation)
		if e.Type != gossip.EventUpdated {
			n.events.add(eventRec{at: time.Now(), kind: kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_GOSSIP, term: n.term.Load(),
				text: fmt.Sprintf("node %d's gossip: node %s %s", n.id, e.Member.ID, gossipWords[e.Type])})
		}
		if id == 0 || id == n.id {
			continue
		}
		if e.Type == gossip.EventJoined || e.Type == gossip.EventRecovered {
			n.loop.members.Unbar(id)
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

// handleReady hands every Ready the engine has to the writer, in the order the file comment gives.
func (n *Node) handleReady() error {
	for n.engine.HasReady() {
		if n.loop.inflight >= maxInflightWrites || (n.loop.inflight > 0 && !n.engine.HasResults()) {
			// Pace Readies to the disk: what arrives during a write waits for the next one, and
			// shares its append and fsync. Only answers that callers wait for go out at once.
			return nil
		}
		out := n.engine.Ready()
		caughtUp := false
		if out.SoftState != nil {
			n.loop.role = out.SoftState.Role
			caughtUp = n.loop.recovering && !out.SoftState.Recovering
			n.loop.recovering = out.SoftState.Recovering
			if caughtUp {
				n.logger().Info("recovery: caught up from the leader past what this node had acknowledged; "+
					"voting and counting toward commitment again", "leader", out.SoftState.Lead)
			}
		}
		n.loop.raftSent += uint64(len(out.Messages))
		n.tellEvents(out)
		applied := n.engine.Applied()
		early := n.loop.role == raft.Leader && out.Snapshot == nil && n.loop.heldInflight == 0 &&
			(out.HardState.IsEmpty() || (out.HardState.Term == n.loop.saved.Term && out.HardState.Vote == n.loop.saved.Vote))
		nothingToWrite := out.Snapshot == nil && out.HardState.IsEmpty() && len(out.Entries) == 0 && out.Compacted == nil
		switch {
		case early || (nothingToWrite && n.loop.inflight == 0):
			// Nothing this Output says depends on a write still to come.
			n.tr.sendRaft(out.Messages)
			n.deliver(out, applied)
			if !nothingToWrite || caughtUp {
				n.loop.inflight++
				n.toWriter <- writeBatch{out: out, applied: applied, endRecovery: caughtUp}
			}
		default:
			n.loop.inflight++
			n.loop.heldInflight++
			n.toWriter <- writeBatch{out: out, held: true, applied: applied, endRecovery: caughtUp}
		}
		n.engine.AdvanceAsync(out)
	}
	return nil
}

// deliver answers the callers whose proposals or reads finished, pushes new room states to
// watchers and logs what the engine reported. applied is the engine's applied index as of out.
func (n *Node) deliver(out engine.Output, applied uint64) {
	if s := out.SoftState; s != nil {
		n.logger().Info("raft: role "+s.Role.String(), "leader", s.Lead, "recovering", s.Recovering)
		n.noteLeader(*s)
	}
	if out.Snapshot != nil {
		n.logger().Info("raft: installed the leader's snapshot", "index", out.Snapshot.Meta.Index)
	}
	for _, err := range out.Errors {
		n.logger().Warn("engine", "err", err)
	}
	for _, r := range out.Results {
		if w, ok := n.loop.waiters[r.ID]; ok {
			w.ch <- waitResult{res: r, applied: applied, call: w.call}
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

// gossipWords says a gossip event as the end of a sentence about the member.
var gossipWords = map[gossip.EventType]string{
	gossip.EventJoined:    "joined (alive)",
	gossip.EventSuspect:   "is suspect: a probe went unanswered",
	gossip.EventFailed:    "is dead: the suspicion timed out unrefuted",
	gossip.EventLeft:      "left",
	gossip.EventRecovered: "is alive again: it refuted the suspicion",
}

// tellEvents records, for the Events stream, what an Output shows happened: a new term, a new
// role or leader, and on the leader each entry committed.
func (n *Node) tellEvents(out engine.Output) {
	now := time.Now()
	term := n.loop.toldTerm
	if t := out.HardState.Term; t > term {
		term = t
		n.loop.toldTerm = t
		n.events.add(eventRec{at: now, kind: kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_TERM, term: t,
			text: fmt.Sprintf("node %d moved to term %d", n.id, t)})
	}
	if s := out.SoftState; s != nil && *s != n.loop.told {
		n.loop.told = *s
		n.events.add(eventRec{at: now, kind: kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_ROLE, term: term, text: roleText(n.id, *s, term)})
	}
	if n.loop.role != raft.Leader {
		return
	}
	for i := range out.Applied {
		ae := out.Applied[i]
		kind := kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_COMMIT
		if ae.Type == raft.EntryConfChange {
			kind = kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_MEMBERSHIP
		}
		n.events.add(eventRec{at: now, kind: kind, term: term, index: ae.Index, entry: &ae})
	}
}

// noteLeader records the leader and role of a Ready, waking every call that waits on the old ones.
func (n *Node) noteLeader(s raft.SoftState) {
	n.leadMu.Lock()
	defer n.leadMu.Unlock()
	if s == n.lead {
		return
	}
	n.lead = s
	close(n.leadMoved)
	n.leadMoved = make(chan struct{})
}

// leaderMoved returns a channel closed at the next change of leader or role.
func (n *Node) leaderMoved() <-chan struct{} {
	n.leadMu.Lock()
	defer n.leadMu.Unlock()
	return n.leadMoved
}
