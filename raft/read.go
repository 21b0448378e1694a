// Linearizable reads without writing to the log: ReadIndex (thesis §6.4).
//
// A leader records its commit index as the read point, then proves it is still the leader by
// hearing back from a majority to a heartbeat round tagged with the request; any entry committed
// by a newer leader would have to be on that majority too, so it cannot exist yet. Once the state
// machine has applied the read point, a read sees every write acknowledged before the request.
// A leader does not know the full commit index until an entry of its own term commits (paper §8),
// so requests made before that wait for it.

package raft

import "errors"

// readRequest is one ReadIndex request awaiting its heartbeat round.
type readRequest struct {
	index uint64
	ctx   []byte
	acks  map[uint64]bool
}

// readQueue holds a leader's ReadIndex requests in arrival order.
type readQueue struct {
	waiting []*readRequest // confirmed by a heartbeat round, in order
	early   [][]byte       // made before an entry of this term committed
}

// ReadIndex asks for a linearizable read point; the answer comes as a ReadState carrying ctx in a
// later Ready. ctx must be unique among outstanding requests; a repeated ctx is answered once.
// On a follower it returns a *NotLeaderError: forward the request to the leader.
func (n *Node) ReadIndex(ctx []byte) error {
	if len(ctx) == 0 {
		return errors.New("raft: ReadIndex: ctx is empty; pass a unique request id, it is how the answer finds its request")
	}
	if n.role != Leader {
		return &NotLeaderError{Leader: n.lead}
	}
	if !n.committedInTerm() {
		n.reads.early = append(n.reads.early, ctx)
		return nil
	}
	n.startRead(ctx)
	return nil
}

func (n *Node) committedInTerm() bool {
	t, err := n.log.term(n.log.committed)
	return err == nil && t == n.term
}

func (n *Node) startRead(ctx []byte) {
	if len(n.conf.voters) == 1 && n.conf.isVoter(n.id) {
		// Nobody else could have been elected: the read point is good at once.
		n.readStates = append(n.readStates, ReadState{Index: n.log.committed, Context: ctx})
		return
	}
	for _, r := range n.reads.waiting {
		if string(r.ctx) == string(ctx) {
			return
		}
	}
	n.reads.waiting = append(n.reads.waiting, &readRequest{index: n.log.committed, ctx: ctx, acks: map[uint64]bool{n.id: true}})
	n.bcastHeartbeat(ctx)
}

// ackRead counts a heartbeat answer toward the request tagged ctx. A majority confirms that
// request and every one queued before it, whose rounds started earlier.
func (n *Node) ackRead(from uint64, ctx []byte) {
	for i, r := range n.reads.waiting {
		if string(r.ctx) != string(ctx) {
			continue
		}
		r.acks[from] = true
		votes := 0
		for _, id := range n.conf.voters {
			if r.acks[id] {
				votes++
			}
		}
		if votes < quorum(len(n.conf.voters)) {
			return
		}
		for _, done := range n.reads.waiting[:i+1] {
			n.readStates = append(n.readStates, ReadState{Index: done.index, Context: done.ctx})
		}
		n.reads.waiting = n.reads.waiting[i+1:]
		return
	}
}

// lastPending is the context of the newest request still waiting for its heartbeat round, or nil.
// Every periodic heartbeat carries it, so a round whose messages or answers were lost is asked
// again; a majority for the newest request confirms all the older ones too (ackRead).
func (q *readQueue) lastPending() []byte {
	if len(q.waiting) == 0 {
		return nil
	}
	return q.waiting[len(q.waiting)-1].ctx
}

// releasePendingReads starts the requests that waited for an entry of this term to commit.
func (n *Node) releasePendingReads() {
	if len(n.reads.early) == 0 || !n.committedInTerm() {
		return
	}
	early := n.reads.early
	n.reads.early = nil
	for _, ctx := range early {
		n.startRead(ctx)
	}
}
