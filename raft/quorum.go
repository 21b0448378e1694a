// Majorities: counting votes (paper §5.2), counting replicas to commit (paper §5.3, §5.4.2) and
// counting live followers for check-quorum (thesis §6.2).
//
// Only voters count. A quorum is floor(N/2)+1 of the N voters of the configuration in force, so
// any two quorums of one configuration share a server, and (thesis §4.1) so do any two quorums
// of configurations that differ by one server.

package raft

import (
	"slices"
)

// quorum returns the size of a majority of n voters.
func quorum(n int) int { return n/2 + 1 }

type voteResult uint8

const (
	votePending voteResult = iota
	voteWon
	voteLost
)

// poll records id's answer in the current round and says whether the round is decided. Answers
// from non-voters are ignored: they cannot make anybody leader.
//
//kanna:lab 1 "A candidate wins with votes from a majority of the voters, loses once a majority refused" §5.2
func (n *Node) poll(id uint64, granted bool) voteResult {
	if !n.conf.isVoter(id) {
		return votePending
	}
	if _, seen := n.votes[id]; !seen {
		n.votes[id] = granted
	}
	var yes, no int
	for _, v := range n.conf.voters {
		g, seen := n.votes[v]
		switch {
		case !seen:
		case g:
			yes++
		default:
			no++
		}
	}
	q := quorum(len(n.conf.voters))
	switch {
	case yes >= q:
		return voteWon
	case no > len(n.conf.voters)-q:
		return voteLost
	}
	return votePending
}

// committedIndex returns the highest index that a majority of voters hold: the leader's own copy
// counts once it is durable (thesis §10.2.1).
//
//kanna:lab 2 "An entry is stored on a majority when a majority of voters' matchIndex reach it" §5.3
func (n *Node) committedIndex() uint64 {
	if len(n.conf.voters) == 0 {
		return 0
	}
	matches := make([]uint64, 0, len(n.conf.voters))
	for _, id := range n.conf.voters {
		if pr := n.prs[id]; pr != nil && !pr.recovering {
			matches = append(matches, pr.match)
		} else {
			matches = append(matches, 0)
		}
	}
	slices.Sort(matches)
	slices.Reverse(matches)
	return matches[quorum(len(matches))-1]
}

// maybeCommit advances the leader's commit index to what a majority holds, but only through an
// entry of its own term (paper §5.4.2, Figure 8): an older entry on a majority can still be
// overwritten by a leader that never saw it, unless an entry of the current term covers it.
//
//kanna:lab 2 "Commit the highest index on a majority only if its entry is of the current term; older entries commit with it" §5.4.2, Figure 8
func (n *Node) maybeCommit() bool {
	if n.role != Leader {
		return false
	}
	index := n.committedIndex()
	if index <= n.log.committed {
		return false
	}
	if t, _ := n.log.term(index); t != n.term && !n.cfg.bugs.CommitOldTerm {
		return false
	}
	n.log.commitTo(index)
	n.commitPending = true
	n.onCommitAdvanced()
	return true
}

// onCommitAdvanced runs what waits on commitment in the leader's term: queued reads (thesis §6.4)
// and the departure of a leader that removed itself (thesis §4.2.2).
func (n *Node) onCommitAdvanced() {
	n.releasePendingReads()
	n.maybeStepDownRemoved()
}

// checkQuorumActive reports whether a majority of voters, the leader included if it votes, was
// heard from in the election timeout that just ended, and starts the next one.
//
//kanna:lab 5 "A leader that has not heard from a majority within an election timeout steps down" thesis §6.2
func (n *Node) checkQuorumActive() bool {
	active := 0
	for _, id := range n.conf.voters {
		pr := n.prs[id]
		if id == n.id || (pr != nil && pr.recentActive) {
			active++
		}
		if pr != nil && id != n.id {
			pr.recentActive = false
		}
	}
	return active >= quorum(len(n.conf.voters))
}
