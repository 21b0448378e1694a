// The public face of the core: building a Node, feeding it ticks, messages and proposals, and the
// Ready/Advance handshake through which it asks its driver to persist, send and apply.
//
// Paper Figure 2 lists the state every server keeps; this file owns it (the Node struct) and the
// rules for handing it out: what must be durable before which message leaves (Figure 2, "updated
// on stable storage before responding to RPCs"), and thesis §10.2.1, which lets a leader write its
// own entries while it sends them, counting its own copy only once the driver reports it durable.

package raft

import (
	"errors"
	"fmt"
	"slices"
)

// Errors a caller of the core can act on.
var (
	// ErrProposalDropped: the proposal was not appended (a leadership transfer is in progress, or
	// this leader is being removed); retry later.
	ErrProposalDropped = errors.New("raft: proposal dropped; retry")
	// ErrConfChangePending: only one membership change may be uncommitted at a time (thesis §4.1).
	ErrConfChangePending = errors.New("raft: a configuration change is already in progress; retry after it commits")
	// ErrCompacted: the index asked for is already inside a snapshot.
	ErrCompacted = errors.New("raft: index is already compacted into a snapshot")
	// ErrUnavailable: the index asked for is beyond what is applied.
	ErrUnavailable = errors.New("raft: index is not yet applied")
	// ErrInvalidConfChange: the membership change makes no sense for the current configuration
	// (the wrapping error says why); do not retry it as it is.
	ErrInvalidConfChange = errors.New("raft: invalid configuration change")
)

// Node is one Raft core. It is not safe for concurrent use: one goroutine drives it.
type Node struct {
	id  uint64
	cfg Config

	// Persistent state (paper Figure 2): currentTerm, votedFor, and the log.
	term uint64
	vote uint64
	log  *raftLog

	role Role
	lead uint64
	conf config // the latest configuration in the log, committed or not (thesis §4.1)

	// step and tick are the role's handlers, set on every role change.
	step func(n *Node, m Message) error
	tick func(n *Node)

	electionElapsed  int // ticks since the last valid leader contact (followers) or the last quorum check (leader)
	heartbeatElapsed int
	// randomizedElectionTimeout is drawn from [ElectionTick, 2*ElectionTick) on every role change.
	randomizedElectionTimeout int

	votes map[uint64]bool // (pre-)candidate: the answers received in this round

	prs              map[uint64]*progress // leader: one entry per member, itself included
	pendingConfIndex uint64               // leader: index of the last configuration change it appended
	leadTransferee   uint64               // leader: the target of a transfer in progress, or None
	reads            readQueue            // leader: ReadIndex requests (read.go)

	snapRecv *snapshotReceiver // follower: the snapshot being reassembled from chunks
	rec      recovery          // storage lost acknowledged state: out of every quorum (recovery.go)

	// bcastPending and commitPending defer appends to the next Ready, so that many proposals made
	// between two Ready calls travel as one MsgApp (batching).
	bcastPending  bool
	commitPending bool

	msgs       []Message
	readStates []ReadState

	prevSoft SoftState
	prevHard HardState
}

// New builds a core from cfg. With cfg.Restore holding state, the core resumes from it; otherwise
// cfg.Peers, if not empty, bootstraps a new cluster: the log starts with one committed AddVoter
// entry per peer, in term 1, identical on every founding server, so the configuration is in the
// log and survives restarts like any other entry. Those entries reach the state machine in the
// first Ready's CommittedEntries. With neither, the server waits to be sent the log.
func New(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{id: cfg.ID, cfg: cfg, log: &raftLog{}, lead: None}
	if r := cfg.Restore; r != nil && !restoredIsEmpty(r) {
		if err := n.restore(r); err != nil {
			return nil, err
		}
	} else if r != nil && r.Lost != nil && !cfg.bugs.IgnoreLostStorage {
		// The whole folder is gone: bootstrapping again would make up a history; wait for the
		// leader to send the real one.
		n.startRecovery(r.Lost)
	} else if len(cfg.Peers) > 0 {
		n.bootstrap(cfg.Peers)
	}
	n.conf = n.configAt(n.log.lastIndex())
	n.prevHard = n.hardState()
	if cfg.Restore == nil || restoredIsEmpty(cfg.Restore) {
		// A new server has persisted nothing; its first Ready must carry its HardState.
		n.prevHard = HardState{}
	}
	n.becomeFollower(n.term, None)
	n.prevSoft = n.softState()
	return n, nil
}

func restoredIsEmpty(r *Restored) bool {
	return r.HardState.IsEmpty() && r.Snapshot.IsEmpty() && len(r.Entries) == 0
}

func (n *Node) bootstrap(peers []uint64) {
	ids := slices.Clone(peers)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ents := make([]Entry, len(ids))
	for i, id := range ids {
		cc := ConfChange{Type: AddVoter, NodeID: id}
		ents[i] = Entry{Term: 1, Index: uint64(i + 1), Type: EntryConfChange, Data: cc.Marshal()}
	}
	n.log.append(ents)
	n.log.commitTo(uint64(len(ents)))
	n.term = 1
}

//
//kanna:lab 3 "On restart, resume from the currentTerm, votedFor and log on stable storage" Figure 2
func (n *Node) restore(r *Restored) error {
	if r.Snapshot != nil && !r.Snapshot.IsEmpty() {
		n.log.snapshot = *r.Snapshot
	}
	// Entries the snapshot covers may still be in the driver's log; they are not needed.
	ents := slices.Clone(r.Entries)
	ents = slices.DeleteFunc(ents, func(e Entry) bool { return e.Index <= n.log.snapshot.Meta.Index })
	want := n.log.firstIndex()
	for _, e := range ents {
		if e.Index != want {
			return fmt.Errorf("raft: restore: entry %d follows entry %d; the stored log has a gap or is out of order, repair storage or restore from a peer", e.Index, want-1)
		}
		want++
	}
	n.log.entries = ents
	n.log.stabled = n.log.lastIndex()
	n.log.written = n.log.stabled
	hs := r.HardState
	if r.Lost != nil {
		// The entries the lost commit index covered are gone; the leader will send them again.
		hs.Commit = min(hs.Commit, n.log.lastIndex())
		if !n.cfg.bugs.IgnoreLostStorage {
			n.startRecovery(r.Lost)
		}
	}
	if hs.Commit > n.log.lastIndex() {
		return fmt.Errorf("raft: restore: commit index %d is past the last stored entry %d; the log lost committed entries, restore from a peer", hs.Commit, n.log.lastIndex())
	}
	if r.Applied > n.log.lastIndex() {
		return fmt.Errorf("raft: restore: the state machine applied %d but the stored log ends at %d; entries must be persisted before they are applied, restore from a peer", r.Applied, n.log.lastIndex())
	}
	// What the state machine applied was committed, even if the HardState recording the commit
	// index was not synced before the crash.
	n.log.committed = max(hs.Commit, n.log.snapshot.Meta.Index, r.Applied)
	n.log.applied = max(r.Applied, n.log.snapshot.Meta.Index)
	n.term = hs.Term
	n.vote = hs.Vote
	if n.cfg.bugs.ForgetVoteOnRestart {
		n.vote = None
	}
	return nil
}

// ID returns this server's id.
func (n *Node) ID() uint64 { return n.id }

// Tick advances the core's logical clock by one tick.
func (n *Node) Tick() { n.tick(n) }

// Propose appends a command to the log when this server leads; it returns the entry's index and
// term, or a *NotLeaderError naming the leader it knows.
func (n *Node) Propose(data []byte) (index, term uint64, err error) {
	if err := n.checkProposal(); err != nil {
		return 0, 0, err
	}
	e := n.appendLeaderEntry(Entry{Type: EntryNormal, Data: data})
	return e.Index, e.Term, nil
}

// checkProposal says whether this server may append a client's entry now.
func (n *Node) checkProposal() error {
	if n.role != Leader {
		return &NotLeaderError{Leader: n.lead}
	}
	if n.leadTransferee != None || !n.conf.isMember(n.id) {
		return ErrProposalDropped
	}
	return nil
}

// appendLeaderEntry stamps e with the leader's term and the next index, appends it, and schedules
// its replication for the next Ready.
func (n *Node) appendLeaderEntry(e Entry) Entry {
	e.Term = n.term
	e.Index = n.log.lastIndex() + 1
	n.appendToLog([]Entry{e})
	n.bcastPending = true
	return e
}

func (n *Node) softState() SoftState {
	return SoftState{Lead: n.lead, Role: n.role, Recovering: n.rec.on}
}

//
//kanna:lab 3 "currentTerm and votedFor (and the commit index) are the state to persist" Figure 2
func (n *Node) hardState() HardState {
	return HardState{Term: n.term, Vote: n.vote, Commit: n.log.committed}
}

// HasReady reports whether Ready has anything.
func (n *Node) HasReady() bool {
	return n.bcastPending || n.commitPending || len(n.msgs) > 0 || len(n.readStates) > 0 ||
		n.softState() != n.prevSoft || n.hardState() != n.prevHard ||
		n.log.pending != nil || n.log.written < n.log.lastIndex() ||
		n.log.committed > max(n.log.applied, n.log.snapshot.Meta.Index)
}

// HasCommittedToApply reports whether Ready would hand out committed entries to apply.
func (n *Node) HasCommittedToApply() bool {
	return n.log.committed > max(n.log.applied, n.log.snapshot.Meta.Index)
}

// Ready returns what the driver must persist, send and apply. Call Advance before the next Ready.
func (n *Node) Ready() Ready {
	n.flushAppends()
	rd := Ready{
		ReadStates:       n.readStates,
		Entries:          n.log.unstable(),
		Snapshot:         n.log.pending,
		CommittedEntries: n.log.toApply(),
		Messages:         n.msgs,
	}
	n.msgs, n.readStates = nil, nil
	if soft := n.softState(); soft != n.prevSoft {
		// Allocated here, not by taking soft's address, which would put soft on the heap on every
		// Ready, changed or not.
		rd.SoftState = new(SoftState)
		*rd.SoftState = soft
		n.prevSoft = soft
	}
	if hs := n.hardState(); hs != n.prevHard {
		rd.HardState = hs
	}
	rd.MustSync = n.mustSync(rd)
	return rd
}

// RecycleMessages hands back the Messages of a Ready the driver is done with (every message sent
// or copied): the core queues later messages in the same array instead of allocating one per
// Ready. Calling it is optional; a driver that does must not read msgs afterwards. The array is
// taken only while no message is queued, so messages queued since that Ready stay where they are.
func (n *Node) RecycleMessages(msgs []Message) {
	if len(n.msgs) > 0 || cap(msgs) <= cap(n.msgs) {
		return
	}
	clear(msgs) // drop the entries and snapshots the old messages point at
	n.msgs = msgs[:0]
}

// mustSync says whether rd's writes must reach stable storage before its messages leave: a vote
// or a term promised, an entry acknowledged, is a promise a crash must not undo. A new commit
// index alone need not be synced; a restarted server learns it again from the leader.
//
//kanna:lab 3 "Update currentTerm, votedFor and the log on stable storage before responding to RPCs" Figure 2
func (n *Node) mustSync(rd Ready) bool {
	return len(rd.Entries) > 0 || rd.Snapshot != nil ||
		(!rd.HardState.IsEmpty() && (rd.HardState.Term != n.prevHard.Term || rd.HardState.Vote != n.prevHard.Vote))
}

// Advance acknowledges that rd was handled: its state is durable and its entries applied.
func (n *Node) Advance(rd Ready) {
	n.AdvanceAsync(rd)
	if len(rd.Entries) > 0 {
		last := rd.Entries[len(rd.Entries)-1]
		n.StableTo(last.Index, last.Term)
	}
}

// AdvanceAsync acknowledges rd as Advance does, for a driver that writes rd.Entries in the
// background: the core will not hand them out again, but counts them as durable only once StableTo
// says so. rd.CommittedEntries must be applied as for Advance. The writes (HardState, Snapshot,
// Entries) may still be in the driver's hands, provided rd.Messages wait until they are durable,
// in order with every earlier Ready's writes; the one exception is a leader whose term and vote are
// already durable, which may send its appends while it writes them (thesis §10.2.1).
func (n *Node) AdvanceAsync(rd Ready) {
	if !rd.HardState.IsEmpty() {
		n.prevHard = rd.HardState
	}
	if s := rd.Snapshot; s != nil {
		if p := n.log.pending; p != nil && p.Meta.Index == s.Meta.Index {
			n.log.pending = nil
		}
		n.log.appliedTo(s.Meta.Index)
	}
	if len(rd.Entries) > 0 {
		last := rd.Entries[len(rd.Entries)-1]
		n.log.writtenTo(last.Index, last.Term)
	}
	if len(rd.CommittedEntries) > 0 {
		if first := rd.CommittedEntries[0].Index; first != n.log.applied+1 {
			// The state machine must apply every entry once, in log order: a Ready advanced twice,
			// or out of turn, would skip or repeat commands.
			panic(invariantf("committed entries from index %d applied after index %d", first, n.log.applied))
		}
		n.log.appliedTo(rd.CommittedEntries[len(rd.CommittedEntries)-1].Index)
	}
}

// StableTo reports that the log is durable up to the entry at index with term: the last entry of
// a Ready passed to AdvanceAsync, reported in the order the Readies came. A report about entries
// that have since been replaced is ignored.
func (n *Node) StableTo(index, term uint64) {
	n.log.stableTo(index, term)
	if n.role == Leader {
		// Thesis §10.2.1: the leader's own copy counts toward a majority once it is durable.
		if pr := n.prs[n.id]; pr != nil && pr.maybeUpdate(n.log.stabled) {
			n.maybeCommit()
		}
	}
}

// SoftState returns the role and the leader this server knows: what Status says about them,
// without the cost of copying the leader's progress.
func (n *Node) SoftState() SoftState { return n.softState() }

// HardState returns the core's term, vote and commit index as they are now (durable or not): the
// cheap part of Status, for callers that ask after every step.
func (n *Node) HardState() HardState { return n.hardState() }

// Status returns a copy of the core's state.
func (n *Node) Status() Status {
	var s Status
	n.StatusInto(&s)
	return s
}

// StatusInto writes what Status returns into s, reusing the storage of s's Progress map and
// configuration slices: for a caller that reads the whole status on every tick and keeps none of
// it. Whatever s held before is overwritten.
func (n *Node) StatusInto(s *Status) {
	progress, voters, learners := s.Progress, s.ConfState.Voters, s.ConfState.Learners
	*s = Status{
		ID:         n.id,
		HardState:  n.hardState(),
		SoftState:  n.softState(),
		Applied:    n.log.applied,
		LastIndex:  n.log.lastIndex(),
		FirstIndex: n.log.firstIndex(),
		ConfState:  ConfState{Voters: appendIDs(voters[:0], n.conf.voters), Learners: appendIDs(learners[:0], n.conf.learners)},

		ElectionElapsed: n.electionElapsed,
		ElectionTimeout: n.randomizedElectionTimeout,
	}
	if n.role == Leader {
		s.ElectionTimeout = n.cfg.ElectionTick // the check-quorum period (thesis §6.2)
		if progress == nil {
			progress = make(map[uint64]Progress, len(n.prs))
		}
		clear(progress)
		for id, pr := range n.prs {
			progress[id] = pr.public()
		}
		s.Progress = progress
	}
}

// appendIDs appends ids to dst; nil when both are empty, as the configuration's copy is.
func appendIDs(dst, ids []uint64) []uint64 {
	if len(ids) == 0 {
		return nil
	}
	return append(dst, ids...)
}

// Entries returns a copy of the log's entries [lo, hi), durable or not, for a dashboard to draw:
// hi is capped at the last index plus one, and lo below the first index (compacted into the
// snapshot) is an ErrCompacted.
func (n *Node) Entries(lo, hi uint64) ([]Entry, error) {
	ents, err := n.log.slice(lo, hi, noLimit)
	return slices.Clone(ents), err
}

// send queues m for the next Ready, stamped with this server as sender and, unless the caller set
// one, its current term.
func (n *Node) send(m Message) {
	m.From = n.id
	if m.Term == 0 {
		m.Term = n.term
	}
	n.msgs = append(n.msgs, m)
}
