// Tests for single-server membership changes and learners (thesis §4.1, §4.2).
package raft

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfChangeMarshalRoundTrips(t *testing.T) {
	for _, cc := range []ConfChange{{AddLearner, 4}, {AddVoter, 1 << 40}, {RemoveNode, 7}} {
		got, err := UnmarshalConfChange(cc.Marshal())
		require.NoError(t, err)
		require.Equal(t, cc, got)
	}
	_, err := UnmarshalConfChange([]byte{1, 2})
	require.ErrorIs(t, err, errBadConfChange)
	_, err = UnmarshalConfChange(ConfChange{Type: 9, NodeID: 1}.Marshal())
	require.ErrorContains(t, err, "unknown type 9")
}

// propose proposes cc on the leader and lets the cluster settle.
func (nw *network) changeConf(lead uint64, cc ConfChange) {
	_, _, err := nw.nodes[lead].ProposeConfChange(cc)
	require.NoError(nw.t, err)
	nw.stabilize()
}

func TestLearnerReceivesTheLogButDoesNotCountTowardCommit(t *testing.T) {
	nw := newNetwork(t, 1)
	nw.campaign(1)
	nw.propose(1, "a")
	nw.addServer(2)
	nw.changeConf(1, ConfChange{Type: AddLearner, NodeID: 2})
	nw.propose(1, "b")
	nw.requireSameState("a", "b")
	require.Equal(t, ConfState{Voters: []uint64{1}, Learners: []uint64{2}}, nw.nodes[2].Status().ConfState)

	// As a learner, 2 never campaigns, even with no leader to hear from.
	nw.crash(1)
	nw.tick(10 * nw.nodes[2].cfg.ElectionTick)
	require.Equal(t, Follower, nw.nodes[2].role)
}

func TestLearnerAnswersDoNotCommitEntries(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	n.conf.learners = []uint64{4}
	makeLeader(t, n)
	require.True(t, n.prs[4].learner)
	n.prs[1].match = 0 // the leader's own copy is not durable yet
	step(t, n, Message{From: 4, Type: MsgAppResp, Term: n.term, Index: 1})
	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: 1})
	require.Equal(t, uint64(0), n.log.committed, "a voter and a learner are not a majority of three voters")
	step(t, n, Message{From: 3, Type: MsgAppResp, Term: n.term, Index: 1})
	require.Equal(t, uint64(1), n.log.committed)
}

func TestAddVoterPromotesALearner(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.addServer(4)
	nw.changeConf(1, ConfChange{Type: AddLearner, NodeID: 4})
	nw.changeConf(1, ConfChange{Type: AddVoter, NodeID: 4})
	for _, id := range nw.ids() {
		require.Equal(t, ConfState{Voters: []uint64{1, 2, 3, 4}}, nw.nodes[id].Status().ConfState, "server %d", id)
	}
	// Four voters need three. With 1 down, 2, 3 and 4 elect a leader and commit, which needs
	// 4's vote and its copy.
	nw.crash(1)
	lead := nw.tickUntilLeader()
	nw.propose(lead, "x")
	require.Equal(t, []string{"x"}, nw.state(4))

	// With a second voter down, two of four are not a majority: nothing commits.
	other := uint64(2)
	if lead == 2 {
		other = 3
	}
	nw.crash(other)
	_, _, err := nw.nodes[lead].Propose([]byte("y"))
	require.NoError(t, err)
	nw.tick(3)
	require.Equal(t, []string{"x"}, nw.state(lead))
}

func TestConfigurationTakesEffectWhenAppendedNotWhenCommitted(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: n.log.lastIndex()})
	index, _, err := n.ProposeConfChange(ConfChange{Type: AddLearner, NodeID: 4})
	require.NoError(t, err)
	require.Greater(t, index, n.log.committed, "not committed yet")
	require.True(t, n.conf.isLearner(4), "in force on the leader as soon as it is in its log")
	require.NotNil(t, n.prs[4], "the leader starts replicating to the learner at once")

	f := newTestNode(t, 2, []uint64{1, 2, 3}, 1)
	step(t, f, Message{From: 1, Type: MsgApp, Term: n.term, Entries: n.log.entries})
	require.True(t, f.conf.isLearner(4), "and on a follower as soon as it is in its log")
}

func TestTruncatedConfChangeIsRolledBack(t *testing.T) {
	f := newTestNode(t, 2, []uint64{1, 2, 3}, 2, 1)
	cc := ConfChange{Type: RemoveNode, NodeID: 3}
	step(t, f, Message{From: 1, Type: MsgApp, Term: 2, Index: 1, LogTerm: 1,
		Entries: []Entry{{Index: 2, Term: 2, Type: EntryConfChange, Data: cc.Marshal()}}})
	require.Equal(t, []uint64{1, 2}, f.conf.voters)

	// A new leader of term 3 never had that entry and overwrites it.
	step(t, f, Message{From: 3, Type: MsgApp, Term: 3, Index: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 3}}})
	require.Equal(t, []uint64{1, 2, 3}, f.conf.voters, "the configuration before the truncated entry is back")
}

func TestOnlyOneConfChangeMayBeUncommitted(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	n := nw.nodes[1]
	nw.addServer(4)
	nw.addServer(5)
	_, _, err := n.ProposeConfChange(ConfChange{Type: AddLearner, NodeID: 4})
	require.NoError(t, err)
	_, _, err = n.ProposeConfChange(ConfChange{Type: AddLearner, NodeID: 5})
	require.ErrorIs(t, err, ErrConfChangePending)
	nw.stabilize()
	_, _, err = n.ProposeConfChange(ConfChange{Type: AddLearner, NodeID: 5})
	require.NoError(t, err, "once the first commits, the next may go")
}

func TestNewLeaderChangesNoConfigurationUntilItsNoopCommits(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	_, _, err := n.ProposeConfChange(ConfChange{Type: AddLearner, NodeID: 4})
	require.ErrorIs(t, err, ErrConfChangePending)
	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: n.log.lastIndex()})
	_, _, err = n.ProposeConfChange(ConfChange{Type: AddLearner, NodeID: 4})
	require.NoError(t, err)
}

func TestInvalidConfChangesAreRefused(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1}, 1)
	makeLeader(t, n)
	ready(n)
	for _, cc := range []ConfChange{{AddVoter, None}, {AddLearner, 1}, {RemoveNode, 9}, {RemoveNode, 1}, {ConfChangeType(7), 2}} {
		_, _, err := n.ProposeConfChange(cc)
		require.ErrorIs(t, err, ErrInvalidConfChange, "%v", cc)
	}
	f := newTestNode(t, 2, []uint64{1, 2}, 1)
	_, _, err := f.ProposeConfChange(ConfChange{Type: AddLearner, NodeID: 3})
	var nle *NotLeaderError
	require.True(t, errors.As(err, &nle))
}

func TestLeaderRemovingItselfStepsDownAfterTheChangeCommits(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	n := nw.nodes[1]
	removal, _, err := n.ProposeConfChange(ConfChange{Type: RemoveNode, NodeID: 1})
	require.NoError(t, err)
	require.Equal(t, Leader, n.role, "it keeps leading while the removal replicates")
	_, _, err = n.Propose([]byte("x"))
	require.ErrorIs(t, err, ErrProposalDropped, "a leader on its way out takes no new commands")
	require.Equal(t, uint64(0), n.committedIndexWithout(), "it no longer counts itself")

	nw.stabilize()
	require.Equal(t, Follower, n.role)
	for _, id := range []uint64{2, 3} {
		require.Equal(t, []uint64{2, 3}, nw.nodes[id].conf.voters)
		require.GreaterOrEqual(t, nw.nodes[id].log.committed, removal, "server %d learned the removal committed", id)
	}
	// It handed over with MsgTimeoutNow: a new leader is there without waiting for a timeout.
	require.Equal(t, 1, nw.delivered[MsgTimeoutNow])
	lead := nw.leader()
	require.Contains(t, []uint64{2, 3}, lead)
	nw.propose(lead, "y")
	require.Equal(t, []string{"y"}, nw.state(2))
	nw.tick(10 * n.cfg.ElectionTick)
	require.Equal(t, Follower, n.role, "a removed server never campaigns")
	require.Equal(t, lead, nw.leader())
}

func TestLeaderStepsDownTheMomentItsRemovalCommits(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: n.log.lastIndex()})
	removal, _, err := n.ProposeConfChange(ConfChange{Type: RemoveNode, NodeID: 1})
	require.NoError(t, err)
	sent(n)

	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: removal})
	require.Equal(t, Leader, n.role, "of the new voters {2, 3}, only 2 holds the removal")
	step(t, n, Message{From: 3, Type: MsgAppResp, Term: n.term, Index: removal})
	require.Equal(t, removal, n.log.committed)
	require.Equal(t, Follower, n.role, "committed: it steps down at once")
	msgs := sent(n)
	require.Equal(t, MsgTimeoutNow, msgs[len(msgs)-1].Type, "and hands over to a voter holding its whole log")
	require.Equal(t, uint64(2), msgs[len(msgs)-1].To)
}

func TestLeaderRemovingItselfStaysUntilTheRemovalItselfCommits(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3, 4}, 1, 1)
	makeLeader(t, n)
	for _, id := range []uint64{2, 3, 4} {
		step(t, n, Message{From: id, Type: MsgAppResp, Term: n.term, Index: n.log.lastIndex()})
	}
	noop := n.log.committed
	x, _, err := n.Propose([]byte("x"))
	require.NoError(t, err)
	sent(n)
	n.prs[1].match = noop // the leader's own disk is slow (thesis §10.2.1)
	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: x})
	step(t, n, Message{From: 3, Type: MsgAppResp, Term: n.term, Index: x})
	require.Equal(t, noop, n.log.committed, "two of four voters are not a majority")

	index, _, err := n.ProposeConfChange(ConfChange{Type: RemoveNode, NodeID: 1})
	require.NoError(t, err)
	require.Equal(t, x, n.log.committed, "without the leader, two of three voters commit x")
	require.Equal(t, Leader, n.role, "but the removal itself (index %d) is not committed yet", index)
}

// committedIndexWithout returns what the leader could commit if only its own durable copy
// counted, to show whether it still counts itself.
func (n *Node) committedIndexWithout() uint64 {
	saved := map[uint64]uint64{}
	for id, pr := range n.prs {
		if id != n.id {
			saved[id] = pr.match
			pr.match = 0
		}
	}
	defer func() {
		for id, m := range saved {
			n.prs[id].match = m
		}
	}()
	return n.committedIndex()
}

func TestRemovedFollowerNoLongerReceivesAppends(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.changeConf(1, ConfChange{Type: RemoveNode, NodeID: 3})
	nw.propose(1, "a")
	require.Equal(t, []string{"a"}, nw.state(2))
	require.Empty(t, nw.state(3))
	require.Nil(t, nw.nodes[1].prs[3])
}

func FuzzUnmarshalConfChange(f *testing.F) {
	f.Add(ConfChange{Type: AddVoter, NodeID: 3}.Marshal())
	f.Add([]byte{})
	f.Add([]byte{9, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, err := UnmarshalConfChange(b)
		if err != nil {
			require.ErrorIs(t, err, errBadConfChange)
			return
		}
		require.Equal(t, b, cc.Marshal(), "whatever decodes encodes back to the same bytes")
	})
}
