// Checkers of membership changes (Raft thesis §4.1 and §4.2.1), run after every event beside the
// safety checkers of checker.go:
//
//   - One change at a time: a leader's log never holds two configuration entries past what is
//     known committed. Single-server changes are safe only one at a time: the majorities of two
//     configurations a single server apart always overlap, those of three need not.
//   - Quorums of voters: an entry is committed only once a majority of the voters of the leader's
//     configuration hold it, and a leader is elected only with the votes of a majority of its
//     configuration's voters. A server that was removed, or is only a learner, never counts.
//
// Two leaders in one term, across configurations, are caught by Election Safety (checker.go),
// which sees every node that ever ran, founding or joined later.

package sim

import (
	"slices"

	"github.com/kanna-cluster/kanna/raft"
)

// The membership checkers' names, as they appear in violations and docs/simulation.md.
const (
	CheckOneConfChange = "one-conf-change"
	CheckVoterQuorum   = "voter-quorum"
)

// checkConfChanges counts the configuration entries in a leader's durable log past everything
// known committed: its own commit index, or the highest entry applied anywhere, whichever is
// higher. A leader's own index can lag far behind: a new leader learns it only with its first
// commit, and a node whose hard state a storage fault damaged restarts with none. The founding
// configuration (term 1) is committed by construction. The walk goes back from the end, so it
// costs only the uncommitted tail.
func (s *sim) checkConfChanges(n *node, term, commit uint64) {
	commit = max(commit, s.check.committed.index)
	d := n.disk
	var pending []uint64
	for i := len(d.entries) - 1; i >= 0 && d.entries[i].Index > commit; i-- {
		if d.entries[i].Type == raft.EntryConfChange && d.entries[i].Term > bootstrapTerm {
			pending = append(pending, d.entries[i].Index)
		}
	}
	if len(pending) > 1 {
		slices.Reverse(pending)
		s.check.fail(s.q.now, CheckOneConfChange, n.id,
			"leader %d of term %d holds configuration changes at indexes %v, all past its commit index and the highest index applied anywhere (%d): only one change may be uncommitted at a time",
			n.id, term, pending, commit)
	}
}

// checkCommitQuorum runs when a leader's commit index advanced: a majority of the voters of its
// configuration must hold the entry at the new commit index durably (or have it inside a snapshot).
func (s *sim) checkCommitQuorum(n *node, st raft.Status) {
	term, ok := n.disk.termAt(st.Commit)
	if !ok || term <= bootstrapTerm {
		return // not yet durable here, or the founding configuration, committed by fiat
	}
	voters := st.ConfState.Voters
	var holders []uint64
	for _, v := range voters {
		o, known := s.nodes[v]
		if !known {
			continue
		}
		if st.Commit < o.disk.firstIndex() {
			holders = append(holders, v) // compacted into its snapshot: it held the entry
			continue
		}
		if t, ok := o.disk.termAt(st.Commit); ok && t == term {
			holders = append(holders, v)
		}
	}
	if len(holders) <= len(voters)/2 {
		s.check.fail(s.q.now, CheckVoterQuorum, n.id,
			"leader %d of term %d committed entry %d of term %d, yet only %v of its voters %v hold it: no majority of the configuration",
			n.id, st.Term, st.Commit, term, holders, voters)
	}
}

// checkElectionQuorum runs when a node becomes leader: a majority of the voters of its
// configuration must have made their vote for it durable in its term. A voter already in a later
// term may have voted for it before moving on; it is given the benefit of the doubt.
func (s *sim) checkElectionQuorum(n *node, st raft.Status) {
	voters := st.ConfState.Voters
	var granted, unknown []uint64
	for _, v := range voters {
		o, known := s.nodes[v]
		if !known {
			continue
		}
		hs := o.disk.hardState
		switch {
		case hs.Term == st.Term && hs.Vote == n.id:
			granted = append(granted, v)
		case hs.Term > st.Term:
			unknown = append(unknown, v)
		}
	}
	if len(granted)+len(unknown) <= len(voters)/2 {
		s.check.fail(s.q.now, CheckVoterQuorum, n.id,
			"node %d became leader of term %d with durable votes from only %v of its voters %v",
			n.id, st.Term, granted, voters)
	}
}
