// Tests for ReadIndex (thesis §6.4): a read point confirmed by a heartbeat quorum.
package raft

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadIndexAnswersWithTheCommitIndexAfterAHeartbeatQuorum(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3, 4, 5}, 1)
	makeLeader(t, n)
	for _, id := range []uint64{2, 3} {
		step(t, n, Message{From: id, Type: MsgAppResp, Term: n.term, Index: n.log.lastIndex()})
	}
	sent(n)
	commit := n.log.committed

	require.NoError(t, n.ReadIndex([]byte("r1")))
	hbs := sentOfType(n, MsgHeartbeat)
	require.Len(t, hbs, 4)
	require.Equal(t, []byte("r1"), hbs[0].Context, "the heartbeat round carries the request")

	step(t, n, Message{From: 3, Type: MsgHeartbeatResp, Term: n.term, Context: []byte("r1")})
	step(t, n, Message{From: 4, Type: MsgHeartbeatResp, Term: n.term, Context: []byte("other")})
	require.Empty(t, ready(n).ReadStates, "the leader and one follower are not a majority of five")

	step(t, n, Message{From: 5, Type: MsgHeartbeatResp, Term: n.term, Context: []byte("r1")})
	rd := ready(n)
	require.Equal(t, []ReadState{{Index: commit, Context: []byte("r1")}}, rd.ReadStates)
}

func TestReadIndexWaitsUntilTheLeaderCommitsAnEntryOfItsTerm(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	require.NoError(t, n.ReadIndex([]byte("early")))
	require.Empty(t, sentOfType(n, MsgHeartbeat), "no read point before the no-op commits")

	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: n.log.lastIndex()})
	hbs := sentOfType(n, MsgHeartbeat)
	require.NotEmpty(t, hbs, "the waiting read starts once the no-op commits")
	step(t, n, Message{From: 2, Type: MsgHeartbeatResp, Term: n.term, Context: []byte("early")})
	rd := ready(n)
	require.Equal(t, []ReadState{{Index: n.log.committed, Context: []byte("early")}}, rd.ReadStates)
}

func TestReadIndexOnASingleVoterIsAnsweredAtOnce(t *testing.T) {
	nw := newNetwork(t, 1)
	nw.campaign(1)
	n := nw.nodes[1]
	require.NoError(t, n.ReadIndex([]byte("solo")))
	rd := ready(n)
	require.Equal(t, []ReadState{{Index: n.log.committed, Context: []byte("solo")}}, rd.ReadStates)
}

func TestReadIndexNeedsAContext(t *testing.T) {
	nw := newNetwork(t, 1)
	nw.campaign(1)
	require.ErrorContains(t, nw.nodes[1].ReadIndex(nil), "ctx is empty")
}

func TestReadIndexOnAFollowerNamesTheLeader(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	err := nw.nodes[2].ReadIndex([]byte("x"))
	var nle *NotLeaderError
	require.True(t, errors.As(err, &nle))
	require.Equal(t, uint64(1), nle.Leader)
}

func TestReadIndexConfirmsEarlierRequestsWithALaterRound(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	n := nw.nodes[1]
	nw.drop = func(m Message) bool { return m.Type == MsgHeartbeatResp && string(m.Context) == "a" }
	require.NoError(t, n.ReadIndex([]byte("a")))
	nw.stabilize()
	require.Empty(t, nw.readStates(1), "the answers to round a were lost")

	nw.drop = nil
	require.NoError(t, n.ReadIndex([]byte("b")))
	nw.stabilize()
	var got []string
	for _, rs := range nw.readStates(1) {
		got = append(got, string(rs.Context))
	}
	require.Equal(t, []string{"a", "b"}, got, "a majority for the later round confirms the earlier request too")
}

func TestDeposedLeaderCannotServeAReadIndex(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.isolate(1)
	require.NoError(t, nw.nodes[1].ReadIndex([]byte("stale")))
	nw.tick(2 * nw.nodes[1].cfg.ElectionTick)
	require.Empty(t, nw.readStates(1), "no majority answered, so the read is never confirmed")
	require.NotEqual(t, Leader, nw.nodes[1].role)
}

// readStates collects the ReadStates id's driver received since the last call.
func (nw *network) readStates(id uint64) []ReadState {
	return nw.stores[id].takeReadStates()
}

func TestReadIndexRoundIsRetriedByLaterHeartbeatsWhenItsAnswersAreLost(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: n.log.lastIndex()})
	sent(n)

	require.NoError(t, n.ReadIndex([]byte("r1")))
	require.NotEmpty(t, sentOfType(n, MsgHeartbeat), "the first round goes out, and every answer to it is lost")

	for i := 0; i < n.cfg.HeartbeatTick; i++ {
		n.Tick()
	}
	hbs := sentOfType(n, MsgHeartbeat)
	require.NotEmpty(t, hbs)
	require.Equal(t, []byte("r1"), hbs[0].Context, "the next periodic heartbeat asks again for the pending read")

	step(t, n, Message{From: 3, Type: MsgHeartbeatResp, Term: n.term, Context: hbs[0].Context})
	require.Equal(t, []ReadState{{Index: n.log.committed, Context: []byte("r1")}}, ready(n).ReadStates)
}
