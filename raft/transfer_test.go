// Tests for leadership transfer (thesis §3.10): catch the target up, then MsgTimeoutNow; no
// proposals meanwhile; give up after an election timeout.

package raft

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLeadershipTransferHandsOverToACaughtUpFollower(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.crash(3)
	nw.propose(1, "a")
	nw.restart(3) // behind: its log lacks "a"

	require.NoError(t, nw.nodes[1].TransferLeadership(3))
	_, _, err := nw.nodes[1].Propose([]byte("during"))
	require.ErrorIs(t, err, ErrProposalDropped, "no proposals while the transfer runs")
	nw.stabilize()
	require.Equal(t, uint64(3), nw.leader(), "3 was caught up, then told to campaign at once")
	require.Equal(t, 1, nw.delivered[MsgTimeoutNow])
	nw.propose(3, "b")
	nw.requireSameState("a", "b")
}

func TestLeadershipTransferIsAbortedAfterAnElectionTimeout(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.isolate(3)
	n := nw.nodes[1]
	require.NoError(t, n.TransferLeadership(3))
	require.Equal(t, uint64(3), n.leadTransferee)
	nw.tick(n.cfg.ElectionTick)
	require.Equal(t, None, n.leadTransferee)
	require.Equal(t, Leader, n.role)
	nw.propose(1, "resumed")
	require.Equal(t, []string{"resumed"}, nw.state(2))
}

func TestLeadershipTransferRefusesNonVotersAndFollowers(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	require.ErrorContains(t, nw.nodes[1].TransferLeadership(9), "not a voter")
	var nle *NotLeaderError
	require.True(t, errors.As(nw.nodes[2].TransferLeadership(3), &nle))
	require.NoError(t, nw.nodes[1].TransferLeadership(1), "to itself: nothing to do")
}
