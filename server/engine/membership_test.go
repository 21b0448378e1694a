// Tests of the membership policy (membership.go, thesis §4.1): what the leader proposes for each
// gossip view, one change at a time.

package engine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/raft"
)

// membershipOf builds the policy of node 1 with a promote gap of 16 entries.
func membershipOf(reapAfterTicks int64) *Membership {
	return NewMembership(1, MembershipConfig{PromoteGap: 16, ReapAfterTicks: reapAfterTicks})
}

func leaderStatus(voters, learners []uint64, last uint64, match map[uint64]uint64) raft.Status {
	st := raft.Status{ID: 1, LastIndex: last, ConfState: raft.ConfState{Voters: voters, Learners: learners}, Progress: map[uint64]raft.Progress{}}
	st.Role = raft.Leader
	for id, m := range match {
		st.Progress[id] = raft.Progress{Match: m}
	}
	return st
}

func gossipView(states map[uint64]gossip.State) []Member {
	var out []Member
	for id, s := range states {
		out = append(out, Member{ID: id, State: s})
	}
	return out
}

func TestLeaderAddsAnAliveUnknownMemberAsALearnerFirst(t *testing.T) {
	m := membershipOf(0)
	st := leaderStatus([]uint64{1, 2, 3}, nil, 50, nil)
	cc, _, ok := m.Tick(st, gossipView(map[uint64]gossip.State{1: gossip.StateAlive, 2: gossip.StateAlive, 3: gossip.StateAlive, 4: gossip.StateAlive}))
	require.True(t, ok)
	require.Equal(t, raft.ConfChange{Type: raft.AddLearner, NodeID: 4}, cc)

	m.Bar(4)
	_, _, ok = m.Tick(st, gossipView(map[uint64]gossip.State{1: gossip.StateAlive, 4: gossip.StateAlive}))
	require.False(t, ok, "a member an operator removed is not added back while it runs")
}

func TestLeaderPromotesALearnerOnlyOnceItsLogIsCaughtUp(t *testing.T) {
	m := membershipOf(0)
	states := gossipView(map[uint64]gossip.State{1: gossip.StateAlive, 2: gossip.StateAlive, 3: gossip.StateAlive, 4: gossip.StateAlive})
	_, _, ok := m.Tick(leaderStatus([]uint64{1, 2, 3}, []uint64{4}, 100, map[uint64]uint64{4: 80}), states)
	require.False(t, ok, "20 entries behind is not caught up")
	_, _, ok = m.Tick(leaderStatus([]uint64{1, 2, 3}, []uint64{4}, 5, map[uint64]uint64{4: 0}), states)
	require.False(t, ok, "a learner that never answered is not promoted, however short the log")
	cc, _, ok := m.Tick(leaderStatus([]uint64{1, 2, 3}, []uint64{4}, 100, map[uint64]uint64{4: 90}), states)
	require.True(t, ok)
	require.Equal(t, raft.ConfChange{Type: raft.AddVoter, NodeID: 4}, cc)
}

func TestLeaderRemovesAMemberThatLeftButNeverBelowThreeVoters(t *testing.T) {
	m := membershipOf(0)
	left := gossipView(map[uint64]gossip.State{1: gossip.StateAlive, 2: gossip.StateAlive, 3: gossip.StateAlive, 4: gossip.StateLeft})
	cc, _, ok := m.Tick(leaderStatus([]uint64{1, 2, 3, 4}, nil, 10, nil), left)
	require.True(t, ok)
	require.Equal(t, raft.ConfChange{Type: raft.RemoveNode, NodeID: 4}, cc)

	cc, _, _ = m.Tick(leaderStatus([]uint64{1, 2, 4}, nil, 10, nil), left)
	require.NotEqual(t, raft.RemoveNode, cc.Type, "removing a voter of three would leave two")
	cc, _, ok = m.Tick(leaderStatus([]uint64{1, 2, 3}, []uint64{4}, 10, nil), left)
	require.True(t, ok, "a learner that left is removed whatever the voter count")
	require.Equal(t, raft.ConfChange{Type: raft.RemoveNode, NodeID: 4}, cc)
}

func TestFollowerProposesNothingAndForgetsWhenMembersDied(t *testing.T) {
	dead := gossipView(map[uint64]gossip.State{1: gossip.StateAlive, 2: gossip.StateAlive, 3: gossip.StateAlive, 4: gossip.StateDead, 5: gossip.StateAlive})
	st := leaderStatus([]uint64{1, 2, 3, 4, 5}, nil, 10, nil)
	m := membershipOf(5)
	for range 4 {
		_, _, ok := m.Tick(st, dead)
		require.False(t, ok)
	}
	follower := st
	follower.Role = raft.Follower
	_, _, ok := m.Tick(follower, dead)
	require.False(t, ok, "only a leader proposes")
	for range 5 {
		_, _, ok = m.Tick(st, dead)
		require.False(t, ok, "a leader counts a member's death from when it, as leader, saw it: the earlier count was forgotten")
	}
	_, _, ok = m.Tick(st, dead)
	require.True(t, ok)
}

func TestLeaderNeverRemovesAFailedMemberWithoutReapAfter(t *testing.T) {
	dead := gossipView(map[uint64]gossip.State{1: gossip.StateAlive, 2: gossip.StateAlive, 3: gossip.StateAlive, 4: gossip.StateDead, 5: gossip.StateAlive})
	st := leaderStatus([]uint64{1, 2, 3, 4, 5}, nil, 10, nil)

	m := membershipOf(0)
	for range 10_000 {
		_, _, ok := m.Tick(st, dead)
		require.False(t, ok, "no reap time: a failed member stays")
	}

	m = membershipOf(600)
	// The first tick that sees the member dead starts the count; 600 ticks later it has been dead
	// for 600.
	for tick := 0; tick < 600; tick++ {
		_, _, ok := m.Tick(st, dead)
		require.False(t, ok, "dead for %d ticks of 600", tick)
	}
	cc, _, ok := m.Tick(st, dead)
	require.True(t, ok)
	require.Equal(t, raft.ConfChange{Type: raft.RemoveNode, NodeID: 4}, cc)

	cc, _, _ = m.Tick(leaderStatus([]uint64{1, 2, 4}, nil, 10, nil), dead)
	require.NotEqual(t, raft.RemoveNode, cc.Type, "reaping never leaves fewer than three voters")
}

func TestTransfereeIsTheVoterWithTheLongestMatchingLog(t *testing.T) {
	st := leaderStatus([]uint64{1, 2, 3}, []uint64{4}, 100, map[uint64]uint64{1: 100, 2: 90, 3: 99, 4: 100})
	to, err := PickTransferee(st)
	require.NoError(t, err)
	require.Equal(t, uint64(3), to)
	_, err = PickTransferee(leaderStatus([]uint64{1}, nil, 5, map[uint64]uint64{1: 5}))
	require.ErrorContains(t, err, "only voter")
}
