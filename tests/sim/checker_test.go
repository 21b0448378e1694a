// Tests that each checker catches what it exists for (Raft paper Figure 3, §5.4.3, Figure 8;
// thesis §9.6), fed a corrupted cluster state.

package sim

import (
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

// Each test feeds one checker a corrupted cluster state and requires that exactly that checker
// fires: a checker that cannot fail proves nothing.

func firedOnly(t *testing.T, c *checkers, name string) {
	t.Helper()
	require.NotEmpty(t, c.violations, "checker %s did not fire", name)
	for _, v := range c.violations {
		require.Equal(t, name, v.Checker, "unexpected violation: %s", v)
	}
}

func TestElectionSafetyCatchesTwoLeadersInOneTerm(t *testing.T) {
	c := newCheckers()
	var d disk
	c.role(time.Second, 1, 5, true, false, &d)
	c.role(time.Second, 2, 6, true, false, &d)
	require.Empty(t, c.violations, "leaders of different terms are fine")
	c.role(2*time.Second, 3, 5, true, false, &d)
	firedOnly(t, c, CheckElectionSafety)
}

func TestLogMatchingCatchesEqualIndexAndTermWithDifferentPrefixes(t *testing.T) {
	c := newCheckers()
	var a, b disk
	a.write(write{entries: ents(1, 1, 3)})
	c.durable(0, 1, a.sync())
	b.write(write{entries: ents(1, 1, 3)})
	c.durable(0, 2, b.sync())
	require.Empty(t, c.violations)

	var bad disk
	corrupt := ents(1, 1, 3)
	corrupt[1].Data = []byte("a different entry 2")
	bad.write(write{entries: corrupt})
	c.durable(time.Second, 3, bad.sync())
	firedOnly(t, c, CheckLogMatching)
}

func TestLeaderCompletenessCatchesALeaderMissingACommittedEntry(t *testing.T) {
	c := newCheckers()
	var full, short disk
	full.write(write{entries: ents(1, 1, 5)})
	c.durable(0, 1, full.sync())
	c.apply(0, 1, guessAt(5, 1, "e"))
	short.write(write{entries: ents(1, 1, 3)})
	c.durable(0, 2, short.sync())

	c.role(time.Second, 1, 2, false, true, &full)
	c.role(time.Second, 1, 2, true, false, &full)
	require.Empty(t, c.violations, "a leader holding every committed entry is fine")

	c.role(2*time.Second, 2, 3, false, true, &short)
	c.role(2*time.Second, 2, 3, true, false, &short)
	firedOnly(t, c, CheckLeaderCompleteness)
}

// guessAt is a guess of letter applied at (index, term).
func guessAt(index, term uint64, letter string) *appliedEntry {
	return &appliedEntry{Index: index, Term: term, Type: raft.EntryNormal,
		Command: game.Command{Kind: game.KindGuess, ClientID: "c", Room: "den", Letter: letter}}
}

func TestStateMachineSafetyCatchesDifferentEntriesAppliedAtOneIndex(t *testing.T) {
	c := newCheckers()
	c.apply(0, 1, guessAt(7, 2, "a"))
	c.apply(0, 2, guessAt(7, 2, "a"))
	require.Empty(t, c.violations)
	c.apply(time.Second, 3, guessAt(7, 3, "b"))
	firedOnly(t, c, CheckStateMachineSafety)
}

func TestStateMachineSafetyCatchesADifferentCommandOfTheSameTerm(t *testing.T) {
	c := newCheckers()
	c.apply(0, 1, guessAt(7, 2, "a"))
	c.apply(time.Second, 2, guessAt(7, 2, "b"))
	firedOnly(t, c, CheckStateMachineSafety)
	require.Contains(t, c.violations[0].Detail, `"b"`, "the violation shows both digests")
	require.Contains(t, c.violations[0].Detail, `"a"`)
}

func TestStateMachineSafetyCatchesANodeApplyingOutOfOrder(t *testing.T) {
	c := newCheckers()
	c.apply(0, 1, guessAt(7, 2, "x"))
	c.apply(0, 1, guessAt(6, 2, "y"))
	firedOnly(t, c, CheckStateMachineSafety)
}

func TestCommitMonotonicCatchesACommitIndexGoingBack(t *testing.T) {
	c := newCheckers()
	c.commit(0, 1, 10)
	c.restarted(1, 0, 4)
	c.commit(time.Second, 1, 4)
	require.Empty(t, c.violations, "a restart may come back with an older commit index")
	c.commit(2*time.Second, 1, 3)
	firedOnly(t, c, CheckCommitMonotonic)
}

// disruptionSim builds just enough of a simulation for the disruption checker: nodes with roles
// and terms, and a network.
func disruptionSim() *sim {
	s := &sim{check: newCheckers(), nodes: map[uint64]*node{}, ids: fiveNodes}
	s.net = newNetwork(netConfig{}, rand.New(rand.NewSource(1)), fiveNodes)
	for _, id := range fiveNodes {
		s.nodes[id] = &node{s: s, id: id, role: raft.Follower, term: 2}
	}
	return s
}

func (s *sim) setRole(id uint64, role raft.Role, term uint64) {
	n := s.nodes[id]
	prevRole, prevTerm := n.role, n.term
	n.role, n.term = role, term
	if role == raft.Candidate && term > n.maxCampaign {
		n.maxCampaign = term
	}
	s.watchLeader(n, prevRole, prevTerm)
}

func TestDisruptionCatchesARejoiningNodeDeposingAHealthyLeader(t *testing.T) {
	s := disruptionSim()
	s.setRole(1, raft.Leader, 2)
	s.net.apply(isolatePartition(5, fiveNodes))
	s.faultChanged(false)
	s.setRole(5, raft.Candidate, 3) // cut off, it campaigns and raises its term
	s.setRole(5, raft.Candidate, 4)
	s.net.heal()
	s.faultChanged(false)
	s.setRole(1, raft.Follower, 4) // its vote request reaches the leader
	firedOnly(t, s.check, CheckDisruption)
}

func TestDisruptionIgnoresALeaderThatLostItsQuorum(t *testing.T) {
	s := disruptionSim()
	s.setRole(1, raft.Leader, 2)
	s.net.apply(symmetricPartition([]uint64{1, 2}, []uint64{3, 4, 5}))
	s.faultChanged(false)
	s.setRole(3, raft.Candidate, 3)
	s.net.heal()
	s.faultChanged(false)
	s.setRole(1, raft.Follower, 3)
	require.Empty(t, s.check.violations, "a leader cut from its quorum may rightly be replaced")
}

func TestCommitSafetyCatchesACommittedEntryANodeCouldStillOverwrite(t *testing.T) {
	// Raft paper Figure 8 (d): entry 2 of term 2 is on nodes 1, 2 and 3 of five, but node 5 holds
	// entry 2 of term 3 and nodes 3 and 4 would vote for it.
	c := newCheckers()
	disks := make([]*disk, 5)
	for i := range disks {
		disks[i] = &disk{}
	}
	for _, i := range []int{0, 1, 2} {
		disks[i].write(write{entries: append(ents(1, 1, 1), ents(2, 2, 2)...)})
		disks[i].sync()
	}
	disks[3].write(write{entries: ents(1, 1, 1)})
	disks[3].sync()
	disks[4].write(write{entries: append(ents(1, 1, 1), ents(3, 2, 2)...)})
	disks[4].sync()
	c.commitSafety(time.Second, 2, 2, fiveNodes, disks, everyNode(5))
	firedOnly(t, c, CheckCommitSafety)

	// Figure 8 (e): once an entry of term 4 covers it on a majority, node 5 cannot win.
	c = newCheckers()
	for _, i := range []int{0, 1, 2} {
		disks[i].write(write{entries: ents(4, 3, 3)})
		disks[i].sync()
	}
	c.commitSafety(time.Second, 3, 4, fiveNodes, disks, everyNode(5))
	require.Empty(t, c.violations)
}

func TestLivenessCatchesARequestThatNeverCompleted(t *testing.T) {
	s := &sim{check: newCheckers(), trace: newTracer(false, nil)}
	s.history = []Operation{{ClientID: "client-1", Input: Input{Kind: OpGuess, Room: "shrine", Letter: "k", Seq: 4}, Attempts: 9}}
	s.finalChecks()
	firedOnly(t, s.check, CheckLiveness)
	require.True(t, s.stopped)
}

// everyNode is the electorate of a fixed membership of n nodes: every node votes.
func everyNode(n int) func(int) ([]int, int) {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return func(int) ([]int, int) { return all, n }
}
