// Paper-rule tests for terms and elections: paper §5.1, §5.2, §5.4.1, thesis §9.3 and §9.6.
// Each test is named after the rule it checks.

package raft

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFollowerCampaignsAfterRandomizedElectionTimeout(t *testing.T) {
	const et = 10
	seen := map[int]bool{}
	for seed := int64(0); seed < 50; seed++ {
		c := DefaultConfig()
		c.ID, c.Rand, c.PreVote = 1, rand.New(rand.NewSource(seed)), false
		n := newTestNodeWith(t, c, []uint64{1, 2, 3}, 1)
		ticks := 0
		for n.role == Follower {
			n.Tick()
			ticks++
			require.Less(t, ticks, 2*et, "seed %d: no election within 2*ElectionTick", seed)
		}
		require.GreaterOrEqual(t, ticks, et, "seed %d: campaigned before ElectionTick", seed)
		require.Equal(t, Candidate, n.role)
		require.Equal(t, uint64(2), n.term, "a candidate raises its term")
		require.Equal(t, uint64(1), n.vote, "a candidate votes for itself")
		seen[ticks] = true
	}
	require.Greater(t, len(seen), et/2, "timeouts must be spread over [ElectionTick, 2*ElectionTick)")
}

func TestQuorumIsMajorityOfVoters(t *testing.T) {
	for size := 1; size <= 7; size++ {
		q := size/2 + 1
		require.Equal(t, q, quorum(size), "size %d", size)

		var voters []uint64
		for id := uint64(1); id <= uint64(size); id++ {
			voters = append(voters, id)
		}
		c := DefaultConfig()
		c.ID, c.Rand, c.PreVote = 1, rand.New(rand.NewSource(1)), false
		n := newTestNodeWith(t, c, voters, 1)
		n.hup()
		// Grants from q-1 servers, the candidate's own vote included, do not win.
		for id := uint64(2); id < uint64(q); id++ {
			step(t, n, Message{From: id, Type: MsgVoteResp, Term: n.term})
		}
		if q > 1 {
			require.Equal(t, Candidate, n.role, "size %d: %d votes are not a majority", size, q-1)
			step(t, n, Message{From: uint64(q), Type: MsgVoteResp, Term: n.term})
		}
		require.Equal(t, Leader, n.role, "size %d: %d votes are a majority", size, q)
	}
}

func TestCandidateCountsOnlyVotersAnswers(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand, c.PreVote = 1, rand.New(rand.NewSource(1)), false
	n := newTestNodeWith(t, c, []uint64{1, 2, 3}, 1)
	n.conf.learners = []uint64{4, 5}
	n.hup()
	step(t, n, Message{From: 4, Type: MsgVoteResp, Term: n.term})
	step(t, n, Message{From: 5, Type: MsgVoteResp, Term: n.term})
	require.Equal(t, Candidate, n.role, "learners' votes make nobody leader")
	step(t, n, Message{From: 2, Type: MsgVoteResp, Term: n.term})
	require.Equal(t, Leader, n.role)
}

func TestCandidateReturnsToFollowerWhenMajorityRejects(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand, c.PreVote = 1, rand.New(rand.NewSource(1)), false
	n := newTestNodeWith(t, c, []uint64{1, 2, 3, 4, 5}, 1)
	n.hup()
	step(t, n, Message{From: 2, Type: MsgVoteResp, Term: 2, Reject: true})
	step(t, n, Message{From: 3, Type: MsgVoteResp, Term: 2, Reject: true})
	require.Equal(t, Candidate, n.role, "two rejections out of five do not decide")
	step(t, n, Message{From: 4, Type: MsgVoteResp, Term: 2, Reject: true})
	require.Equal(t, Follower, n.role)
	require.Equal(t, uint64(2), n.term)
}

func TestVoterGrantsAtMostOneVotePerTerm(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	step(t, n, Message{From: 2, Type: MsgVote, Term: 2})
	step(t, n, Message{From: 3, Type: MsgVote, Term: 2})
	step(t, n, Message{From: 2, Type: MsgVote, Term: 2}) // a retry gets the same answer
	resps := sentOfType(n, MsgVoteResp)
	require.Len(t, resps, 3)
	require.False(t, resps[0].Reject, "first candidate of the term gets the vote")
	require.True(t, resps[1].Reject, "second candidate of the same term is refused")
	require.False(t, resps[2].Reject, "a repeated request from the same candidate is granted again")
	require.Equal(t, uint64(2), n.vote)
}

func TestVoteIsPersistedBeforeTheGrantIsSent(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	step(t, n, Message{From: 2, Type: MsgVote, Term: 2})
	rd := n.Ready()
	require.Equal(t, HardState{Term: 2, Vote: 2}, rd.HardState, "the vote travels in the same Ready as the grant")
	require.True(t, rd.MustSync, "a new vote must be fsynced before the grant leaves")
	require.Len(t, rd.Messages, 1)
	require.False(t, rd.Messages[0].Reject)
}

func TestVoterRejectsCandidateWhoseLogIsLessUpToDate(t *testing.T) {
	// The voter's log ends with index 3 of term 2.
	tests := []struct {
		name                string
		lastIndex, lastTerm uint64
		granted             bool
	}{
		{"later last term wins even if shorter", 1, 3, true},
		{"same last term and longer", 4, 2, true},
		{"same last term and same length", 3, 2, true},
		{"same last term but shorter", 2, 2, false},
		{"earlier last term even if longer", 9, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNode(t, 1, []uint64{1, 2, 3}, 2, 1, 2, 2)
			step(t, n, Message{From: 2, Type: MsgVote, Term: 3, Index: tt.lastIndex, LogTerm: tt.lastTerm})
			resps := sentOfType(n, MsgVoteResp)
			require.Len(t, resps, 1)
			require.Equal(t, !tt.granted, resps[0].Reject)
		})
	}
}

func TestVoteWithoutLogCheckBugGrantsStaleCandidate(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand, c.bugs.VoteWithoutLogCheck = 1, rand.New(rand.NewSource(1)), true
	n := newTestNodeWith(t, c, []uint64{1, 2, 3}, 2, 1, 2, 2)
	step(t, n, Message{From: 2, Type: MsgVote, Term: 3, Index: 1, LogTerm: 1})
	resps := sentOfType(n, MsgVoteResp)
	require.Len(t, resps, 1)
	require.False(t, resps[0].Reject, "with the bug, a stale log gets the vote")
}

func TestServerAdoptsHigherTermAndBecomesFollower(t *testing.T) {
	for _, role := range []Role{Follower, Candidate, Leader} {
		t.Run(role.String(), func(t *testing.T) {
			n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
			switch role {
			case Candidate:
				n.becomeCandidate()
			case Leader:
				makeLeader(t, n)
			}
			step(t, n, Message{From: 2, Type: MsgApp, Term: 9, Index: n.log.lastIndex(), LogTerm: n.log.lastTerm()})
			require.Equal(t, Follower, n.role)
			require.Equal(t, uint64(9), n.term)
			require.Equal(t, uint64(2), n.lead)
			require.Equal(t, None, n.vote, "a new term starts with no vote")
		})
	}
}

func TestLeaderStepsDownOnAnAnswerFromAHigherTerm(t *testing.T) {
	for _, typ := range []MessageType{MsgAppResp, MsgHeartbeatResp, MsgVoteResp} {
		t.Run(typ.String(), func(t *testing.T) {
			n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
			makeLeader(t, n)
			step(t, n, Message{From: 2, Type: typ, Term: n.term + 1, Reject: true})
			require.Equal(t, Follower, n.role)
			require.Equal(t, uint64(3), n.term)
			require.Equal(t, None, n.lead, "an answer names no leader")
		})
	}
}

func TestStaleTermMessagesAreRejected(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 5, 1)
	step(t, n, Message{From: 2, Type: MsgApp, Term: 4, Index: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 4}}})
	require.Equal(t, uint64(1), n.log.lastIndex(), "entries from a deposed leader are not appended")
	resps := sentOfType(n, MsgAppResp)
	require.Len(t, resps, 1)
	require.Equal(t, uint64(5), resps[0].Term, "the answer tells the stale leader the current term")

	step(t, n, Message{From: 2, Type: MsgVote, Term: 4, Index: 9, LogTerm: 4})
	require.Equal(t, None, n.vote, "no vote for a candidate of an older term")
}

func TestCandidateStepsDownOnAppendFromLeaderOfItsTerm(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	n.becomeCandidate()
	step(t, n, Message{From: 2, Type: MsgApp, Term: n.term})
	require.Equal(t, Follower, n.role)
	require.Equal(t, uint64(2), n.lead)
}

func TestPreCandidateDoesNotRaiseItsTerm(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 4, 4)
	n.hup()
	require.Equal(t, PreCandidate, n.role)
	require.Equal(t, uint64(4), n.term)
	reqs := sentOfType(n, MsgPreVote)
	require.Len(t, reqs, 2)
	require.Equal(t, uint64(5), reqs[0].Term, "a pre-vote asks about the next term")

	step(t, n, Message{From: 2, Type: MsgPreVoteResp, Term: 5})
	require.Equal(t, Candidate, n.role, "a majority of pre-votes starts the real election")
	require.Equal(t, uint64(5), n.term)
}

func TestPreVoteDoesNotChangeTheVotersTermOrVote(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 4, 4)
	step(t, n, Message{From: 2, Type: MsgPreVote, Term: 5, Index: 1, LogTerm: 4})
	resps := sentOfType(n, MsgPreVoteResp)
	require.Len(t, resps, 1)
	require.False(t, resps[0].Reject)
	require.Equal(t, uint64(4), n.term)
	require.Equal(t, None, n.vote)
}

func TestFollowerThatHeardFromLeaderIgnoresVoteRequests(t *testing.T) {
	for _, typ := range []MessageType{MsgVote, MsgPreVote} {
		t.Run(typ.String(), func(t *testing.T) {
			n := newTestNode(t, 1, []uint64{1, 2, 3}, 2, 2)
			step(t, n, Message{From: 2, Type: MsgHeartbeat, Term: 2})
			sent(n)
			step(t, n, Message{From: 3, Type: typ, Term: 3, Index: 5, LogTerm: 3})
			require.Empty(t, sent(n), "no answer while the leader's lease runs")
			require.Equal(t, uint64(2), n.term)
			require.Equal(t, uint64(2), n.lead)
		})
	}
}

func TestLeaderStepsDownWhenItCannotHearFromAMajority(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	for range n.cfg.ElectionTick - 1 {
		n.Tick()
	}
	step(t, n, Message{From: 2, Type: MsgHeartbeatResp, Term: n.term})
	n.Tick()
	require.Equal(t, Leader, n.role, "itself and server 2 are a majority")
	for range n.cfg.ElectionTick {
		n.Tick()
	}
	require.Equal(t, Follower, n.role, "nobody answered for an election timeout")
}

func TestLeaderWithoutCheckQuorumKeepsLeadingAlone(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand, c.CheckQuorum = 1, rand.New(rand.NewSource(1)), false
	n := newTestNodeWith(t, c, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	for range 5 * n.cfg.ElectionTick {
		n.Tick()
	}
	require.Equal(t, Leader, n.role)
}

func TestLearnerNeverCampaigns(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand = 4, rand.New(rand.NewSource(1))
	n := newTestNodeWith(t, c, []uint64{1, 2, 3}, 1)
	n.conf.learners = []uint64{4}
	for range 10 * n.cfg.ElectionTick {
		n.Tick()
	}
	require.Equal(t, Follower, n.role)
	require.Empty(t, sent(n))
}

func TestEmptyServerWithoutConfigurationNeverCampaigns(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand = 9, rand.New(rand.NewSource(1))
	n, err := New(c)
	require.NoError(t, err)
	for range 10 * n.cfg.ElectionTick {
		n.Tick()
	}
	require.Equal(t, Follower, n.role)
	require.Equal(t, uint64(0), n.term)
}
