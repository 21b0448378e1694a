package raft

import "errors"

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
)

// Node is one Raft core. It is not safe for concurrent use: one goroutine drives it.
type Node struct{}

// New builds a core from cfg.
func New(cfg Config) (*Node, error) { panic("raft.New: not written yet") }

// ID returns this server's id.
func (n *Node) ID() uint64 { panic("not written yet") }

// Tick advances the core's logical clock by one tick.
func (n *Node) Tick() { panic("not written yet") }

// Step hands the core one message received from a peer.
func (n *Node) Step(m Message) error { panic("not written yet") }

// Propose appends a command to the log when this server leads; it returns the entry's index and
// term, or a *NotLeaderError naming the leader it knows.
func (n *Node) Propose(data []byte) (index, term uint64, err error) { panic("not written yet") }

// ProposeConfChange proposes one membership change (thesis §4.1).
func (n *Node) ProposeConfChange(cc ConfChange) (index, term uint64, err error) {
	panic("not written yet")
}

// TransferLeadership asks the leader to hand leadership to the given server (thesis §3.10).
func (n *Node) TransferLeadership(to uint64) error { panic("not written yet") }

// ReadIndex asks for a linearizable read point; the answer comes as a ReadState carrying ctx.
func (n *Node) ReadIndex(ctx []byte) error { panic("not written yet") }

// Compact records a snapshot of the applied state at index and drops the log up to it.
func (n *Node) Compact(index uint64, data []byte) error { panic("not written yet") }

// HasReady reports whether Ready has anything.
func (n *Node) HasReady() bool { panic("not written yet") }

// Ready returns what the driver must persist, send and apply.
func (n *Node) Ready() Ready { panic("not written yet") }

// Advance acknowledges that rd was handled.
func (n *Node) Advance(rd Ready) { panic("not written yet") }

// Status returns a copy of the core's state.
func (n *Node) Status() Status { panic("not written yet") }
