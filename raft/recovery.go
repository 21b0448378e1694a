// Recovery from lost storage: a server whose disk lost or damaged state it had acknowledged stays
// out of every quorum until the current leader has given that state back.
//
// Raft assumes a server keeps what it made durable (paper Figure 2). When it does not, its votes
// and acknowledgements are no longer backed by its log: a server that acknowledged entry e and
// then lost it can vote for a candidate lacking e, and if e was committed on a bare majority that
// counted it, e is gone. This follows Alagappan et al., "Protocol-Aware Recovery for
// Consensus-Based Storage" (FAST 2018), §4: the faulty server does not vote until it is fixed from
// a leader elected without it, so every election quorum is made of servers whose logs hold what
// they promised, and any such quorum meets every commit quorum in a server that still holds the
// entry. Storage reports the loss in Restored.Lost with the highest index it had acknowledged
// (its promise mark); the server then:
//   - grants no vote or pre-vote and never campaigns;
//   - says Recovering in its answers, so the leader drops the Match it held for it (which the
//     shortened log no longer backs) and probes from the follower's true last index at once,
//     without counting it toward commitment until it has caught up;
//   - leaves recovery once its log matches the leader's past the mark, or holds an entry of a
//     leader of a newer term than the one it promised in (that leader was elected without this
//     server and holds every committed entry before its own). With the mark unknown (the folder
//     was wiped), it waits for an append the leader sent after hearing of the loss whose commit
//     index it holds and whose last entry is of the leader's term.
//
// A server that rejoins with its vote unknown counts itself as having voted for the leader it
// recovered from, so it cannot grant a second vote in that term.

package raft

// recovery is a follower's record of what it lost; on is false in a healthy server.
type recovery struct {
	on bool
	// mark is the highest index this server acknowledged before the loss, 0 when unknown;
	// markTerm the term it held then.
	mark, markTerm uint64
}

// startRecovery puts a restarting server into recovery, as Restored.Lost asks.
func (n *Node) startRecovery(lost *Lost) {
	n.rec = recovery{on: true, mark: lost.Index, markTerm: lost.Term}
}

// maybeEndRecovery runs after this follower accepted from leader m.From a message that makes its
// log match the leader's up to matched.
func (n *Node) maybeEndRecovery(m Message, matched uint64) {
	if !n.rec.on || m.From != n.lead {
		return
	}
	t, _ := n.log.term(matched)
	ofLeaderTerm := t == n.term
	var caught bool
	if n.rec.mark > 0 {
		caught = matched >= n.rec.mark || (ofLeaderTerm && n.term > n.rec.markTerm)
	} else {
		caught = m.Recovering && ofLeaderTerm && matched >= m.Commit
	}
	if !caught {
		return
	}
	n.rec = recovery{}
	if n.vote == None {
		// The vote of this term may have been lost with the disk: count it as given to the
		// leader, which has already won, so that no other candidate can get it.
		n.vote = n.lead
	}
}

// noteRecovering updates the leader's view of a follower from the Recovering flag of its answer.
// The first answer that says so voids the follower's Match, which the lost log no longer backs;
// probing restarts at next (the leader's best guess of where the logs may still match).
func (pr *progress) noteRecovering(recovering bool, next uint64) {
	if !recovering {
		pr.recovering = false
		return
	}
	if pr.recovering {
		return
	}
	pr.recovering = true
	pr.match = 0
	pr.becomeProbe()
	pr.next = max(next, 1)
}
