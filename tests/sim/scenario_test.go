// Scenario tests: stories of pre-vote and check-quorum (thesis §9.6) and of a minority partition
// (Raft paper §5.2, §5.3), told on a simulated cluster.

package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

// Scenario tests script the network by hand on a cluster with no random faults, and read like the
// story they tell: cut this node off, wait, heal, expect this leader.

// quietSim builds a simulation with no random faults, clients playing as usual.
func quietSim(t *testing.T, bug string, duration time.Duration) *sim {
	t.Helper()
	opts := Options{Seed: 1, Nodes: 5, Duration: duration, Bug: bug}.withDefaults()
	b, err := lookupBug(bug)
	require.NoError(t, err)
	s := newSim(opts, b, map[string]bool{})
	s.mix = FaultMix{} // no loss, no reordering, no scheduled faults: only what the story does
	s.net.cfg = s.mix.net()
	return s
}

// leaderNow returns the leader every node follows, and its term.
func (s *sim) leaderNow(t *testing.T) (uint64, uint64) {
	lead, ok := s.agreedLeader()
	require.True(t, ok, "at %v the nodes do not agree on a leader", s.q.now)
	return lead, s.nodes[lead].term
}

// rejoinStory isolates a follower for three seconds (fifteen election timeouts), heals, and
// reports the leader and term before the cut and after the heal, and the follower's highest term.
func rejoinStory(t *testing.T, bug string) (before, after [2]uint64, followerTerm uint64, s *sim) {
	s = quietSim(t, bug, 12*time.Second)
	var follower uint64
	s.q.at(2*time.Second, func() {
		lead, term := s.leaderNow(t)
		before = [2]uint64{lead, term}
		follower = s.ids[0]
		if follower == lead {
			follower = s.ids[1]
		}
		s.net.apply(isolatePartition(follower, s.ids))
		s.faultChanged(false)
	})
	s.q.at(5*time.Second, func() {
		followerTerm = s.nodes[follower].term
		s.heal()
	})
	s.q.at(7*time.Second, func() {
		lead, term := s.leaderNow(t)
		after = [2]uint64{lead, term}
	})
	require.NoError(t, s.run())
	return before, after, followerTerm, s
}

func TestPreVoteKeepsAHealthyLeaderWhenAnIsolatedFollowerRejoins(t *testing.T) {
	before, after, followerTerm, s := rejoinStory(t, "")
	require.Equal(t, before, after, "same leader, same term: the rejoining follower disrupted nothing")
	require.Equal(t, before[1], followerTerm, "cut off, the follower's pre-votes failed and its term stayed put (thesis §9.6)")
	require.Empty(t, s.check.violations)
}

func TestWithoutPreVoteAnIsolatedFollowerDeposesTheLeaderWhenItRejoins(t *testing.T) {
	before, _, followerTerm, s := rejoinStory(t, "no-prevote-no-checkquorum")
	require.Greater(t, followerTerm, before[1], "cut off, the follower campaigned again and again")
	// The disruption checker stops the run the moment the leader is deposed.
	require.NotEmpty(t, s.check.violations)
	require.Equal(t, CheckDisruption, s.check.violations[0].Checker)
	require.Greater(t, s.q.now, 5*time.Second, "deposed after the heal, not before")
	require.Greater(t, s.nodes[before[0]].term, before[1], "the rejoining follower's higher term deposed the leader")
}

func TestAMinorityCutOffCannotCommitAndCatchesUpAfterTheHeal(t *testing.T) {
	s := quietSim(t, "", 14*time.Second)
	var minority []uint64
	var leadBefore uint64
	var committedBefore uint64
	s.q.at(2*time.Second, func() {
		leadBefore, _ = s.leaderNow(t)
		minority = []uint64{leadBefore, without(s.ids, leadBefore)[0]}
		s.net.apply(symmetricPartition(minority, without(without(s.ids, minority[0]), minority[1])))
	})
	s.q.at(2*time.Second+100*time.Millisecond, func() {
		// Acknowledgements already received before the cut may still complete a commit while the
		// leader's own fsync finishes; after that, nothing more can commit on this side.
		committedBefore = s.nodes[leadBefore].eng.Status().Commit
	})
	s.q.at(5*time.Second, func() {
		old := s.nodes[leadBefore].eng.Status()
		require.Equal(t, committedBefore, old.Commit, "the old leader, cut from its quorum, commits nothing new")
		require.NotEqual(t, raft.Leader, old.Role, "check-quorum made it step down")
		s.heal()
	})
	require.NoError(t, s.run())
	require.Empty(t, s.check.violations)
	st := s.nodes[leadBefore].eng.Status()
	require.Equal(t, s.nodes[s.ids[0]].eng.Status().Applied, st.Applied, "after the heal the old leader caught up")
}
