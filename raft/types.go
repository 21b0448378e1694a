// Package raft is Kanna's Raft consensus core: a pure, deterministic state machine.
//
// It implements the algorithm of Ongaro and Ousterhout, "In Search of an Understandable Consensus
// Algorithm" (the Raft paper, 2014), with the extensions of Ongaro's PhD thesis "Consensus:
// Bridging Theory and Practice" (2014): pre-vote and check-quorum (§9.6), single-server membership
// changes (§4.1), leadership transfer (§3.10), ReadIndex reads (§6.4) and snapshots (§5).
//
// The core does no I/O. Time arrives as Tick, network input as Step, client input as Propose;
// everything the core wants done comes back in a Ready, in the shape of etcd-io/raft:
//
//	for node.HasReady() {
//		rd := node.Ready()
//		persist(rd.HardState, rd.Entries, rd.Snapshot) // durable before any message leaves
//		send(rd.Messages)
//		apply(rd.Snapshot, rd.CommittedEntries)
//		node.Advance(rd)
//	}
//
// This file holds the types that cross the boundary between the core and the code that drives it.
package raft

import "fmt"

// None is the zero node id: "no leader", "voted for nobody".
const None uint64 = 0

// EntryType says how the state machine treats an entry.
type EntryType uint8

const (
	// EntryNormal carries an application command in Data.
	EntryNormal EntryType = iota
	// EntryNoop is appended by every new leader (paper §5.4.2, §8): committing an entry of its own
	// term is how a leader learns which older entries are committed.
	EntryNoop
	// EntryConfChange carries an encoded ConfChange in Data (thesis §4.1).
	EntryConfChange
)

func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "Normal"
	case EntryNoop:
		return "Noop"
	case EntryConfChange:
		return "ConfChange"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one slot of the replicated log.
type Entry struct {
	Term  uint64
	Index uint64
	Type  EntryType
	Data  []byte
}

// HardState is what must be on stable storage before the node answers any RPC (paper Figure 2:
// currentTerm, votedFor) plus the commit index, which is safe to lose but saves re-work.
type HardState struct {
	Term   uint64
	Vote   uint64
	Commit uint64
}

// IsEmpty reports whether h is the zero HardState.
func (h HardState) IsEmpty() bool { return h == HardState{} }

// ConfState is a cluster configuration: who votes, and who only receives the log.
type ConfState struct {
	Voters   []uint64 // sorted
	Learners []uint64 // non-voting members catching up (thesis §4.2.1); sorted
}

// ConfChangeType names the single-server change a ConfChange makes (thesis §4.1).
type ConfChangeType uint8

const (
	// AddLearner adds a non-voting member that receives the log but does not count in quorums.
	AddLearner ConfChangeType = iota
	// AddVoter adds a voting member, or promotes an existing learner.
	AddVoter
	// RemoveNode removes a member, voter or learner.
	RemoveNode
)

func (t ConfChangeType) String() string {
	switch t {
	case AddLearner:
		return "AddLearner"
	case AddVoter:
		return "AddVoter"
	case RemoveNode:
		return "RemoveNode"
	}
	return fmt.Sprintf("ConfChangeType(%d)", uint8(t))
}

// ConfChange is one membership change. It travels in the log as an EntryConfChange entry, encoded
// with Marshal, and takes effect on each server as soon as it is appended to that server's log.
type ConfChange struct {
	Type   ConfChangeType
	NodeID uint64
}

// SnapshotMeta names the last entry a snapshot covers and the configuration at that point.
type SnapshotMeta struct {
	Index     uint64
	Term      uint64
	ConfState ConfState
}

// Snapshot is a compacted prefix of the log: the state machine's bytes up to Meta.Index.
type Snapshot struct {
	Meta SnapshotMeta
	Data []byte
}

// IsEmpty reports whether s holds no snapshot.
func (s *Snapshot) IsEmpty() bool { return s == nil || s.Meta.Index == 0 }

// MessageType names a Raft RPC or its response.
type MessageType uint8

const (
	MsgApp           MessageType = iota // AppendEntries (paper §5.3)
	MsgAppResp                          // AppendEntries response
	MsgVote                             // RequestVote (paper §5.2)
	MsgVoteResp                         // RequestVote response
	MsgPreVote                          // pre-vote request (thesis §9.6): would you vote for me?
	MsgPreVoteResp                      // pre-vote response
	MsgHeartbeat                        // empty AppendEntries carrying commit and a ReadIndex context
	MsgHeartbeatResp                    // heartbeat response
	MsgSnap                             // InstallSnapshot, one chunk (paper §7)
	MsgSnapResp                         // InstallSnapshot response
	MsgTimeoutNow                       // leadership transfer: start an election now (thesis §3.10)
	numMessageTypes
)

var messageTypeNames = [...]string{
	"MsgApp", "MsgAppResp", "MsgVote", "MsgVoteResp", "MsgPreVote", "MsgPreVoteResp",
	"MsgHeartbeat", "MsgHeartbeatResp", "MsgSnap", "MsgSnapResp", "MsgTimeoutNow",
}

func (t MessageType) String() string {
	if t < numMessageTypes {
		return messageTypeNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Message is one RPC between two cores. Which fields mean something depends on Type; the field
// comments say which.
type Message struct {
	Type MessageType
	From uint64
	To   uint64
	Term uint64 // sender's term; for MsgPreVote, the term the sender would campaign in

	// MsgApp: index and term of the entry just before Entries (prevLogIndex, prevLogTerm).
	// MsgVote, MsgPreVote: index and term of the candidate's last entry.
	Index   uint64
	LogTerm uint64

	Entries []Entry // MsgApp
	Commit  uint64  // MsgApp, MsgHeartbeat: leader's commit index

	// Responses. Reject is a refused vote or a failed consistency check. For a MsgAppResp that
	// rejects, RejectHint and ConflictTerm let the leader skip a whole term of mismatched entries
	// at once (paper §5.3, "fast backtracking"); for one that accepts, Index is the last index the
	// follower now holds that matches the leader.
	Reject       bool
	RejectHint   uint64
	ConflictTerm uint64

	// MsgSnap: one chunk of a snapshot. Snapshot.Meta names the snapshot; Snapshot.Data holds
	// this chunk's bytes, which start at Offset; Done marks the last chunk. MsgSnapResp: Index
	// names the snapshot and Offset the chunk the follower wants next (Reject when the chunk it
	// got was out of order); the last chunk is answered with a MsgAppResp instead.
	Snapshot *Snapshot
	Offset   uint64
	Done     bool

	// Recovering, on a follower's MsgAppResp or MsgHeartbeatResp: this server's storage lost
	// state it had acknowledged, so Match values the leader holds for it are void (recovery.go).
	// On a leader's MsgApp or MsgSnap: the leader has heard so, and its Commit covers every
	// acknowledgement it counted from before the loss.
	Recovering bool

	// MsgHeartbeat, MsgHeartbeatResp: the ReadIndex request this round confirms leadership for.
	// MsgVote: "CampaignTransfer" when a leadership transfer started the election, which voters
	// grant even while they still hear from the old leader.
	Context []byte
}

func (m Message) String() string {
	return fmt.Sprintf("%s %d->%d term=%d index=%d logterm=%d commit=%d entries=%d reject=%v",
		m.Type, m.From, m.To, m.Term, m.Index, m.LogTerm, m.Commit, len(m.Entries), m.Reject)
}

// Role is a server's part in the protocol.
type Role uint8

const (
	Follower Role = iota
	PreCandidate
	Candidate
	Leader
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "Follower"
	case PreCandidate:
		return "PreCandidate"
	case Candidate:
		return "Candidate"
	case Leader:
		return "Leader"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// SoftState is volatile state worth showing but never persisted.
type SoftState struct {
	Lead uint64
	Role Role
	// Recovering: storage lost state this server had acknowledged; it neither votes nor
	// campaigns until it holds the current leader's log past what it had promised (recovery.go).
	Recovering bool
}

// ReadState answers a ReadIndex request: once the state machine has applied Index, a read that
// sees it is linearizable (thesis §6.4). Context is the caller's request, handed back.
type ReadState struct {
	Index   uint64
	Context []byte
}

// Ready is everything the core asks of its driver since the last Advance.
//
// The driver must, in this order: write HardState, Snapshot and Entries to stable storage (fsync
// when MustSync); then send Messages; then apply Snapshot and CommittedEntries to the state
// machine; then call Advance. A leader may write its own entries in parallel with sending its
// MsgApp messages (thesis §10.2.1): the core counts its own copy toward commitment only after
// Advance reports it durable.
//
// Entries, CommittedEntries and the Entries of Messages share the core's memory: read them, copy
// them, but never modify them.
type Ready struct {
	*SoftState // nil when unchanged
	HardState  // zero when unchanged
	ReadStates []ReadState

	Entries          []Entry   // to append to stable storage; may overwrite a suffix there
	Snapshot         *Snapshot // received from the leader: persist, then restore the state machine
	CommittedEntries []Entry   // to apply, in order
	Messages         []Message // to send after the above is durable

	MustSync bool // HardState's term or vote changed, or Entries or Snapshot is not empty
}

// Progress is the leader's view of one follower's log (paper Figure 2: nextIndex, matchIndex).
type Progress struct {
	Match, Next  uint64
	Learner      bool
	Inflight     int  // appends sent and not yet acknowledged
	Snapshotting bool // an InstallSnapshot is in progress
	RecentActive bool // heard from during the current election timeout (check-quorum)
	Recovering   bool // said its storage lost state; not counted toward commitment meanwhile
}

// Status is a read-only picture of a core, for dashboards and tests.
type Status struct {
	ID uint64
	HardState
	SoftState
	Applied    uint64
	LastIndex  uint64
	FirstIndex uint64
	ConfState  ConfState
	Progress   map[uint64]Progress // only on the leader

	// ElectionElapsed counts the ticks since a follower last heard from a valid leader (or since
	// a candidate started its round); on the leader, since its last check-quorum. When it reaches
	// ElectionTimeout, a follower or candidate starts an election (paper §5.2).
	ElectionElapsed int
	// ElectionTimeout is this term's randomized election timeout, in ticks (paper §5.2: drawn
	// anew so that split votes are rare).
	ElectionTimeout int
}

// NotLeaderError is returned when a follower or candidate is asked to do what only a leader can.
// Leader names the leader this node knows of, or None, so the caller can forward the request.
type NotLeaderError struct {
	Leader uint64
}

func (e *NotLeaderError) Error() string {
	if e.Leader == None {
		return "raft: not the leader, and no leader is known; retry after an election"
	}
	return fmt.Sprintf("raft: not the leader; forward to node %d", e.Leader)
}
