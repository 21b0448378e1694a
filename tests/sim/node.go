// The simulated shell around one node's engine: ticks with drift, pauses, crashes and restarts,
// and the persistence contract of the real shell.
//
// The contract (Raft paper Figure 2, "updated on stable storage before responding to RPCs";
// etcd-io/raft's Ready loop): take a Ready; write its hard state, snapshot and entries; wait for the
// fsync; only then send its messages, deliver its results, and Advance. A crash loses whatever was
// not yet synced and everything in memory; the node comes back from its disk alone.

package sim

import (
	"fmt"
	"math/rand"
	"slices"
	"time"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/raft"
	nodeengine "github.com/kanna-cluster/kanna/server/engine"
)

// node is one simulated server.
type node struct {
	s    *sim
	id   uint64
	rng  *rand.Rand // this node's own stream: engine seeds, fsync delays, tick phase
	disk *disk
	eng  engine // nil while crashed
	// gen counts incarnations: an event scheduled for an earlier one (a tick, an fsync) finds a
	// different gen and does nothing, which is how a crash discards in-flight work.
	gen      uint64
	tick     time.Duration // this node's tick period, drift included
	crashed  bool
	paused   bool
	inbox    []func() // input that arrived while paused, handled in order on resume
	syncing  bool     // a Ready is waiting for its fsync
	requests map[uint64]*attempt

	// The streams of the current incarnation's Raft core, game and gossip core: each start
	// reseeds them (rand.go), once the incarnation before, which drew from them, is gone.
	raftRand, gameRand, gossipRand *rand.Rand

	// The gossip core beside the engine (gossip.go): nil while crashed, and with Options.NoGossip.
	g     *gossip.Node
	grng  *rand.Rand    // gossip's own stream: core seeds, tick phase
	gtick time.Duration // the gossip tick period, drift included
	// gossipStarted is set once the first gossip core started: later ones are restarts.
	gossipStarted bool
	// damaged: storage damage struck this node and it has not yet recovered (storage.go).
	damaged bool

	role        raft.Role
	term        uint64
	maxCampaign uint64 // the highest term this node was seen campaigning in
	votedTerm   uint64 // the last durable (term, vote), to notice a new vote
	votedFor    uint64
	commit      uint64 // the commit index last observed

	logShadow logShadow // what the diagram's log panel last recorded (logview.go)

	// Membership (membership.go): the engine's policy, run on every tick; whether the node left
	// gracefully, and whether it has stopped for good since.
	policy   *nodeengine.Membership
	states   []gossip.MemberState // reused by reconcile
	view     []nodeengine.Member  // reused by reconcile
	status   raft.Status          // reused by reconcile
	leaving  bool
	departed bool
}

func newNode(s *sim, id uint64, nodeRng *rand.Rand) *node {
	n := &node{s: s, id: id, rng: rand.New(rand.NewSource(nodeRng.Int63())), requests: map[uint64]*attempt{}}
	n.disk = &disk{baseFor: s.check.chainFor}
	// The drift factor is drawn whether or not drift is on, so turning it on shifts no other draw.
	drift := 0.9 + 0.2*n.rng.Float64()
	n.tick = s.opts.Tick
	if s.mix.Drift {
		n.tick = time.Duration(float64(s.opts.Tick) * drift)
	}
	return n
}

// up reports whether the node runs: not crashed and not paused.
func (n *node) up() bool { return !n.crashed && !n.paused }

// start builds the engine, from the disk when it holds anything, and starts ticking.
func (n *node) start() error {
	n.raftRand = reseed(n.raftRand, n.rng.Int63())
	n.gameRand = reseed(n.gameRand, n.rng.Int63())
	cfg := engineConfig{
		ID:            n.id,
		RaftRand:      n.raftRand,
		GameRand:      n.gameRand,
		ElectionTick:  nodeengine.DefaultElectionTick,
		HeartbeatTick: nodeengine.DefaultHeartbeatTick,
		PreVote:       true,
		CheckQuorum:   true,
		SnapshotEvery: n.s.mix.SnapshotEvery,
		MaxSizePerMsg: n.s.mix.MaxSizePerMsg,
	}
	n.s.bug.configure(&cfg)
	founder := slices.Contains(n.s.founders, n.id)
	switch {
	case n.disk.wiped:
		// The real shell marks an empty folder that joins as lost (server/node.go); Peers is
		// there only for the core's teaching switch that ignores the loss and bootstraps anew.
		cfg.Restore = &raft.Restored{Lost: &raft.Lost{}}
		if founder {
			cfg.Peers = n.s.founders
		}
		n.disk.wiped, n.disk.recovering = false, true
		n.disk.promise = diskPromise{unknown: true, present: true}
	case n.disk.empty():
		// A founding node that crashed before its first fsync starts as one again; a node that
		// joined later starts with no configuration and waits for the leader to add it.
		if founder {
			cfg.Peers = n.s.founders
		}
	default:
		cfg.Restore = n.disk.restored(true)
	}
	if !n.disk.recovering {
		n.damaged = false
	}
	eng, err := newEngine(cfg)
	if err != nil {
		return fmt.Errorf("sim: start node %d from its disk (term %d, %d entries): %w",
			n.id, n.disk.hardState.Term, len(n.disk.entries), err)
	}
	n.eng, n.crashed, n.paused, n.syncing = eng, false, false, false
	n.role, n.term, n.commit = raft.Follower, 0, 0
	gen := n.gen
	n.s.q.afterAct(time.Duration(n.rng.Int63n(int64(n.tick))), &raftTicker{n: n, gen: gen})
	n.process()
	if n.s.opts.NoGossip {
		return nil
	}
	founding := !n.gossipStarted
	n.gossipStarted = true
	if err := n.startGossip(founding); err != nil {
		return err
	}
	if n.leaving {
		// Restarted while leaving: announce the departure again, as a node restarted by its
		// operator in the middle of a graceful leave would.
		if err := n.g.Leave(); err != nil {
			return fmt.Errorf("sim: node %d: leave again after a restart: %w", n.id, err)
		}
		n.flushGossip()
	}
	return nil
}

// raftTicker is the tick of one incarnation of a node: one value scheduled again and again, as
// a node ticks several times for every other event of a run.
type raftTicker struct {
	n   *node
	gen uint64
}

func (t *raftTicker) fire() {
	n := t.n
	if n.gen != t.gen || n.crashed {
		return
	}
	if !n.paused {
		n.eng.Tick()
		n.reconcile()
		n.process()
	}
	n.s.q.afterAct(n.tick, t)
}

// deliver hands the node a message that arrived from the network.
func (n *node) deliver(m raft.Message) {
	switch {
	case n.crashed:
		n.s.emitMsg(EventDrop, m, "receiver down")
	case n.s.net.blocked(m.From, m.To):
		n.s.emitMsg(EventDrop, m, "partition")
	case n.paused:
		n.stepLater(m)
	default:
		n.step(m)
	}
}

// stepLater queues a message that reached a paused node. It is apart from deliver so that only a
// queued message is copied to the heap, not every message delivered.
func (n *node) stepLater(m raft.Message) {
	queued := new(raft.Message)
	*queued = m
	n.inbox = append(n.inbox, func() { n.step(*queued) })
}

func (n *node) step(m raft.Message) {
	n.s.emitMsg(EventDeliver, m, "")
	n.eng.Step(m)
	n.process()
}

// request hands the node a client's request.
func (n *node) request(a *attempt) {
	switch {
	case n.crashed:
		// Lost: the client's timeout will resend it.
	case n.paused:
		n.inbox = append(n.inbox, func() { n.handle(a) })
	default:
		n.handle(a)
	}
}

func (n *node) handle(a *attempt) {
	var id uint64
	var err error
	if a.input.Kind == OpRead {
		id, err = n.eng.Read(a.input.Room)
	} else {
		cmd := a.command()
		cmd.Time = n.s.q.now.Milliseconds() // the log's clock, as a real leader's wall clock
		id, err = n.eng.Propose(cmd)
	}
	if err != nil {
		a.client.reply(a, result{Err: err})
	} else {
		n.requests[id] = a
	}
	n.process()
}

// process runs the Ready loop until the engine has nothing more or waits on an fsync.
func (n *node) process() {
	for !n.crashed && !n.paused {
		n.observe()
		if n.syncing || !n.eng.HasReady() {
			return
		}
		// Everything the core holds when it hands out this Ready is in it: once it is durable, a
		// core that left recovery by then holds its promise again on disk too.
		caughtUp := n.disk.recovering && !n.eng.Status().Recovering
		out := n.eng.Ready()
		if out.HardState.IsEmpty() && len(out.Entries) == 0 && out.Snapshot == nil && out.Compacted == nil && !caughtUp {
			n.finish(&out)
			continue
		}
		n.disk.write(write{hardState: out.HardState, snapshot: out.Snapshot, entries: out.Entries, compacted: out.Compacted,
			endRecovery: caughtUp})
		if !out.MustSync && !caughtUp {
			// Only the commit index changed: safe to lose, so no fsync to wait for.
			n.finish(&out)
			continue
		}
		if n.s.bug.sendBeforeSync {
			if n.sendEarly(&out); n.crashed {
				return
			}
		}
		n.awaitSync(&out)
		return
	}
}

// awaitSync finishes out once its fsync completes.
func (n *node) awaitSync(out *output) {
	n.syncing = true
	w := n.s.syncWait()
	w.n, w.gen, w.out = n, n.gen, *out
	n.s.q.afterAct(n.fsyncDelay(), w)
}

// fsyncWait is a Ready waiting for its fsync; its records are pooled, as messages in flight are.
type fsyncWait struct {
	s   *sim
	n   *node
	gen uint64
	out output
}

func (s *sim) syncWait() *fsyncWait {
	if w, ok := s.freeSync.take(); ok {
		return w
	}
	return &fsyncWait{s: s}
}

func (w *fsyncWait) fire() {
	// The record goes back to the pool only once its output is handled: synced may wait on the
	// next fsync, and takes another record for it.
	defer w.release()
	n := w.n
	switch {
	case n.gen != w.gen:
		// Crashed meanwhile: the write and the Ready are gone.
	case n.paused:
		n.syncLater(&w.out)
	default:
		n.synced(&w.out)
	}
}

func (w *fsyncWait) release() {
	w.n, w.out = nil, output{}
	w.s.freeSync.give(w)
}

// syncLater finishes a Ready whose fsync completed while the node was paused, once it resumes.
func (n *node) syncLater(out *output) {
	queued := new(output)
	*queued = *out
	n.inbox = append(n.inbox, func() { n.synced(queued) })
}

// sendEarly is the send-before-fsync bug: the messages leave before the state they depend on is
// durable, and a granted vote is sometimes followed at once by a crash that loses it.
func (n *node) sendEarly(out *output) {
	voted := false
	for _, m := range out.Messages {
		n.s.send(m)
		voted = voted || (m.Type == raft.MsgVoteResp && !m.Reject)
	}
	out.Messages = nil
	s := n.s
	if voted && !s.liveness && s.faultRng.Float64() < s.mix.CrashAfterVote && s.canCrash() {
		s.crashFor(n, time.Millisecond+time.Duration(s.faultRng.Int63n(int64(s.mix.MaxDowntime))))
	}
}

func (n *node) synced(out *output) {
	n.finish(out)
	n.process()
}

// fsyncDelay draws how long an fsync takes: usually a fraction of a millisecond on an SSD,
// sometimes several.
func (n *node) fsyncDelay() time.Duration {
	d := 200*time.Microsecond + time.Duration(n.rng.Int63n(int64(800*time.Microsecond)))
	if n.rng.Intn(20) == 0 {
		d += time.Duration(n.rng.Int63n(int64(10 * time.Millisecond)))
	}
	return d
}

// finish does what may happen only once a Ready is durable: check the durable log, send, apply,
// answer, Advance.
func (n *node) finish(out *output) {
	now := n.s.q.now
	n.s.check.durable(now, n.id, n.disk.sync())
	if n.damaged && !n.disk.recovering {
		n.damaged = false
	}
	if out.Snapshot != nil && !out.Snapshot.IsEmpty() {
		n.s.check.snapshotRestored(n.id, out.Snapshot.Meta.Index)
	}
	for _, err := range out.Errors {
		n.s.emit(Event{Kind: EventError, Node: n.id, Detail: err.Error()})
	}
	for _, m := range out.Messages {
		n.s.send(m)
	}
	for i := range out.Applied {
		a := &out.Applied[i]
		n.s.trace.commit(now, n.id, a)
		if n.s.check.apply(now, n.id, a) {
			n.s.checkCommitSafety(a.Index, a.Term)
		}
	}
	for _, r := range out.Results {
		if a, ok := n.requests[r.ID]; ok {
			delete(n.requests, r.ID)
			a.client.reply(a, r)
		}
	}
	n.syncing = false
	n.eng.Advance()
	n.eng.Recycle(out.Messages, out.Applied)
	n.maybeCrashAfterVote(out.HardState)
}

// maybeCrashAfterCommit sometimes crashes a leader right after its commit index advanced, before
// the new commit index reaches its followers.
func (n *node) maybeCrashAfterCommit() {
	s := n.s
	if s.liveness || s.mix.CrashAfterCommit == 0 || s.faultRng.Float64() >= s.mix.CrashAfterCommit || !s.canCrash() {
		return
	}
	gen := n.gen
	s.q.after(time.Millisecond, func() {
		if n.gen == gen && !s.liveness && s.canCrash() {
			s.crashFor(n, time.Millisecond+time.Duration(s.faultRng.Int63n(int64(s.mix.MaxDowntime))))
		}
	})
}

// maybeCrashAfterVote sometimes crashes a node right after its vote went out, and brings it back
// soon: with the vote on disk this is harmless, which is the point of persisting it.
func (n *node) maybeCrashAfterVote(hs raft.HardState) {
	s := n.s
	if hs.IsEmpty() || (hs.Term == n.votedTerm && hs.Vote == n.votedFor) {
		return
	}
	n.votedTerm, n.votedFor = hs.Term, hs.Vote
	if hs.Vote == raft.None || hs.Vote == n.id || s.liveness || s.mix.CrashAfterVote == 0 {
		return
	}
	if s.faultRng.Float64() >= s.mix.CrashAfterVote || !s.canCrash() {
		return
	}
	gen := n.gen
	s.q.after(time.Millisecond, func() {
		if n.gen == gen && !s.liveness && s.canCrash() {
			s.crashFor(n, time.Millisecond+time.Duration(s.faultRng.Int63n(int64(min(s.mix.MaxDowntime, 300*time.Millisecond)))))
		}
	})
}

// observe reports role, term and commit changes to the trace and the checkers. It runs after
// every event, so it reads the role, term and commit alone; the whole Status (a copy of the
// configuration and, on a leader, of every follower's progress) only when a checker or the
// diagram reads more.
func (n *node) observe() {
	soft, hard := n.eng.State()
	st := raft.Status{SoftState: soft, HardState: hard}
	full := false
	status := func() raft.Status {
		if !full {
			st, full = n.eng.Status(), true
		}
		return st
	}
	now := n.s.q.now
	if n.s.opts.KeepEvents {
		n.recordLog(status())
	}
	n.s.check.commit(now, n.id, st.Commit)
	if st.Role == raft.Leader {
		n.s.checkConfChanges(n, st.Term, st.Commit)
	}
	if st.Commit > n.commit {
		n.commit = st.Commit
		if st.Role == raft.Leader {
			if n.s.opts.Membership {
				n.s.checkCommitQuorum(n, status())
			}
			n.maybeCrashAfterCommit()
		}
	}
	if st.Role == n.role && st.Term == n.term {
		return
	}
	if st.Role == raft.Leader && n.s.opts.Membership {
		n.s.checkElectionQuorum(n, status())
	}
	prevRole, prevTerm := n.role, n.term
	n.role, n.term = st.Role, st.Term
	if st.Role == raft.Candidate && st.Term > n.maxCampaign {
		n.maxCampaign = st.Term
	}
	n.s.emit(Event{Kind: EventRole, Node: n.id, Term: st.Term, Detail: fmt.Sprintf("%s->%s lead=%d", prevRole, st.Role, st.Lead)})
	n.s.check.role(now, n.id, st.Term, st.Role == raft.Leader, st.Role == raft.Candidate, n.disk)
	n.s.watchLeader(n, prevRole, prevTerm)
	if st.Role == raft.Leader {
		n.s.leaderElected(n)
		n.s.maybeIsolateLeader(n)
	}
}

// crash loses the node's memory, its unsynced writes and its in-flight Ready.
func (n *node) crash() {
	if n.crashed {
		return
	}
	n.s.emit(Event{Kind: EventCrash, Node: n.id, Term: n.term})
	if n.role == raft.Leader {
		n.s.leaderCrashed(n)
	}
	n.gen++
	n.crashed, n.paused, n.syncing = true, false, false
	n.eng, n.inbox, n.g = nil, nil, nil
	n.requests = map[uint64]*attempt{}
	n.disk.crash()
}

// restart brings a crashed node back from its disk.
func (n *node) restart() {
	if !n.crashed || n.departed {
		return
	}
	r := n.disk.restored(false)
	n.s.emit(Event{Kind: EventRestart, Node: n.id, Term: r.HardState.Term,
		Detail: fmt.Sprintf("vote=%d commit=%d entries=%d snapshot=%d", r.HardState.Vote, r.HardState.Commit, len(r.Entries), r.Applied)})
	n.s.check.restarted(n.id, r.Applied, r.HardState.Commit)
	if err := n.start(); err != nil {
		n.s.check.fail(n.s.q.now, CheckRestart, n.id, "%v", err)
	}
}

// pause stops the node for d: no ticks, no input handled, fsyncs complete but are noticed later.
func (n *node) pause(d time.Duration) {
	if !n.up() {
		return
	}
	n.s.emit(Event{Kind: EventPause, Node: n.id, Detail: d.String()})
	n.paused = true
	gen := n.gen
	n.s.q.after(d, func() {
		if n.gen == gen {
			n.resume()
		}
	})
}

// resume handles what queued up while paused, in arrival order.
func (n *node) resume() {
	if !n.paused {
		return
	}
	n.s.emit(Event{Kind: EventResume, Node: n.id})
	n.paused = false
	inbox := n.inbox
	n.inbox = nil
	for _, f := range inbox {
		if n.crashed {
			return
		}
		f()
	}
	if !n.crashed {
		n.process()
	}
}
