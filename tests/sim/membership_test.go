// Tests of membership under faults (membership.go) and of its checkers (checker_membership.go): a
// run with members joining, leaving and being replaced holds every invariant and really changes the
// configuration, and each checker fires on the situation it exists for.

package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

func TestMembersJoinLeaveAndAreReplacedUnderFaultsWithEveryInvariantHeld(t *testing.T) {
	r, err := Execute(Options{Seed: 1, Nodes: 5, Duration: 60 * time.Second, Membership: true, KeepEvents: true})
	require.NoError(t, err)
	require.Empty(t, r.Violations)
	require.Equal(t, len(r.History), r.OpsOK, "every request completes")

	count := map[string]int{}
	for _, e := range r.Events {
		switch {
		case e.Kind == EventMember:
			count[strings.SplitN(e.Detail, ":", 2)[0]]++
		case e.Kind == EventCommit && strings.Contains(e.Detail, "AddLearner"), e.Kind == EventCommit && strings.Contains(e.Detail, "AddVoter") && e.Term > bootstrapTerm, e.Kind == EventCommit && strings.Contains(e.Detail, "RemoveNode"):
			count[strings.Fields(e.Detail)[1]]++
		}
	}
	for _, what := range []string{"join", "leave", "stop", "removed", "AddLearner", "AddVoter", "RemoveNode"} {
		require.Positive(t, count[what], "the run has no %q: %v", what, count)
	}
}

func TestMembershipNeedsGossip(t *testing.T) {
	_, err := Execute(Options{Seed: 1, Membership: true, NoGossip: true})
	require.ErrorContains(t, err, "--membership needs gossip")
}

// quorumSim is a simulator of three founding nodes whose disks the checker tests fill by hand.
func quorumSim(t *testing.T) *sim {
	t.Helper()
	s := newSim(Options{Seed: 1, Nodes: 3, Membership: true}.withDefaults(), Bug{}, nil)
	for _, id := range s.ids {
		s.nodes[id].disk.append([]raft.Entry{{Index: 1, Term: 2}, {Index: 2, Term: 2}})
	}
	return s
}

func leaderOf(term, commit uint64, voters ...uint64) raft.Status {
	st := raft.Status{ConfState: raft.ConfState{Voters: voters}}
	st.Role, st.Term, st.Commit = raft.Leader, term, commit
	return st
}

func TestVoterQuorumCatchesACommitThatNoMajorityOfVotersHolds(t *testing.T) {
	s := quorumSim(t)
	s.nodes[1].disk.append([]raft.Entry{{Index: 3, Term: 2}})
	s.checkCommitQuorum(s.nodes[1], leaderOf(2, 3, 1, 2, 3))
	require.Len(t, s.check.violations, 1, "only the leader holds entry 3")
	require.Equal(t, CheckVoterQuorum, s.check.violations[0].Checker)

	s = quorumSim(t)
	s.nodes[1].disk.append([]raft.Entry{{Index: 3, Term: 2}})
	s.nodes[2].disk.append([]raft.Entry{{Index: 3, Term: 2}})
	s.checkCommitQuorum(s.nodes[1], leaderOf(2, 3, 1, 2, 3))
	require.Empty(t, s.check.violations, "two of three voters hold entry 3")

	// A node outside the configuration (removed, or a learner) holds the entry: it does not count.
	s = quorumSim(t)
	s.nodes[1].disk.append([]raft.Entry{{Index: 3, Term: 2}})
	s.nodes[3].disk.append([]raft.Entry{{Index: 3, Term: 2}})
	s.checkCommitQuorum(s.nodes[1], leaderOf(2, 3, 1, 2, 4))
	require.Len(t, s.check.violations, 1, "node 3 is not a voter of {1, 2, 4}; 4 never ran")
}

func TestVoterQuorumCatchesALeaderElectedWithoutAMajorityOfVoters(t *testing.T) {
	s := quorumSim(t)
	s.nodes[1].disk.hardState = raft.HardState{Term: 3, Vote: 1}
	s.nodes[3].disk.hardState = raft.HardState{Term: 3, Vote: 1}
	s.checkElectionQuorum(s.nodes[1], leaderOf(3, 2, 1, 2))
	require.Len(t, s.check.violations, 1, "node 3 voted, but it is not a voter of {1, 2}")

	s = quorumSim(t)
	s.nodes[1].disk.hardState = raft.HardState{Term: 3, Vote: 1}
	s.nodes[2].disk.hardState = raft.HardState{Term: 3, Vote: 1}
	s.checkElectionQuorum(s.nodes[1], leaderOf(3, 2, 1, 2, 3))
	require.Empty(t, s.check.violations)

	s = quorumSim(t)
	s.nodes[1].disk.hardState = raft.HardState{Term: 3, Vote: 1}
	s.nodes[2].disk.hardState = raft.HardState{Term: 4, Vote: 3}
	s.checkElectionQuorum(s.nodes[1], leaderOf(3, 2, 1, 2, 3))
	require.Empty(t, s.check.violations, "node 2 moved on to term 4 and may have voted for 1 in term 3 before")
}

func TestOneConfChangeCatchesTwoUncommittedChangesOnALeader(t *testing.T) {
	s := quorumSim(t)
	add := raft.ConfChange{Type: raft.AddLearner, NodeID: 4}.Marshal()
	promote := raft.ConfChange{Type: raft.AddVoter, NodeID: 4}.Marshal()
	s.nodes[1].disk.append([]raft.Entry{
		{Index: 3, Term: 2, Type: raft.EntryConfChange, Data: add},
		{Index: 4, Term: 2},
		{Index: 5, Term: 2, Type: raft.EntryConfChange, Data: promote},
	})
	s.checkConfChanges(s.nodes[1], 2, 3)
	require.Empty(t, s.check.violations, "the first change is committed")
	s.checkConfChanges(s.nodes[1], 2, 2)
	require.Len(t, s.check.violations, 1)
	require.Equal(t, CheckOneConfChange, s.check.violations[0].Checker)
	require.Contains(t, s.check.violations[0].Detail, "[3 5]")
}

// A leader's own commit index is not all that is known committed. These once raised false alarms
// (seed 472475528 with --preset no-storage-recovery): a node whose hard state a storage fault
// damaged led with commit index 0 over the founding configuration entries.
func TestOneConfChangeCountsOnlyChangesNotKnownCommitted(t *testing.T) {
	s := newSim(Options{Seed: 1, Nodes: 3, Membership: true}.withDefaults(), Bug{}, nil)
	founding := make([]raft.Entry, 3)
	for i := range founding {
		cc := raft.ConfChange{Type: raft.AddVoter, NodeID: uint64(i + 1)}.Marshal()
		founding[i] = raft.Entry{Index: uint64(i + 1), Term: bootstrapTerm, Type: raft.EntryConfChange, Data: cc}
	}
	s.nodes[1].disk.append(founding)
	s.checkConfChanges(s.nodes[1], 4, 0)
	require.Empty(t, s.check.violations, "the founding configuration is committed by construction")

	add := raft.ConfChange{Type: raft.AddLearner, NodeID: 4}.Marshal()
	promote := raft.ConfChange{Type: raft.AddVoter, NodeID: 4}.Marshal()
	s.nodes[1].disk.append([]raft.Entry{
		{Index: 4, Term: 2, Type: raft.EntryConfChange, Data: add},
		{Index: 5, Term: 3, Type: raft.EntryConfChange, Data: promote},
	})
	s.check.committed = entryKey{index: 4, term: 2}
	s.checkConfChanges(s.nodes[1], 4, 3)
	require.Empty(t, s.check.violations, "index 4 was applied elsewhere, so it is committed whatever this leader's commit index says")

	s.check.committed = entryKey{index: 3, term: bootstrapTerm}
	s.checkConfChanges(s.nodes[1], 4, 3)
	require.Len(t, s.check.violations, 1, "neither change is known committed anywhere")
	require.Contains(t, s.check.violations[0].Detail, "[4 5]")
}
