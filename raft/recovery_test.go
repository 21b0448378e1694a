// Tests of recovery from lost storage (recovery.go): a server whose log lost what it acknowledged
// stays out of every quorum until the leader gives it back, and the leader resets its view of
// such a follower at once.

package raft

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// loseTail crashes id and cuts its stored log back to keep entries, as a disk that lost
// acknowledged writes would; it returns the Lost that storage able to detect this reports.
func (nw *network) loseTail(id uint64, keep uint64) *Lost {
	nw.crash(id)
	st := nw.stores[id]
	lost := &Lost{Index: st.ents[len(st.ents)-1].Index, Term: st.hs.Term}
	var kept []Entry
	for _, e := range st.ents {
		if e.Index <= keep {
			kept = append(kept, e)
		}
	}
	st.ents = kept
	return lost
}

// restartWith brings id back from its storage, with lost (nil: the loss went unseen).
func (nw *network) restartWith(id uint64, lost *Lost) {
	st := nw.stores[id]
	st.state, st.applied = nil, 0
	if st.snap != nil {
		st.apply(nw.t, Ready{Snapshot: st.snap})
	}
	r := st.restored()
	r.Lost = lost
	nw.start(id, nil, r)
}

// findingB runs the storage fault of finding B on five servers: W is acknowledged by 1, 2 and 3
// only; 3 loses it; 1 and 2 stop; 3, 4 and 5 run on. It returns the index of W's last entry.
func findingB(t *testing.T, nw *network, detect bool) uint64 {
	nw.campaign(1)
	nw.propose(1, "before")
	for _, a := range []uint64{1, 2, 3} {
		nw.cutLink(a, 4)
		nw.cutLink(a, 5)
	}
	pre := nw.nodes[3].log.lastIndex()
	var last uint64
	for _, w := range []string{"w1", "w2", "w3"} {
		last = nw.propose(1, w)
	}
	require.Equal(t, last, nw.nodes[1].log.committed, "W is committed by 1, 2 and 3")
	lost := nw.loseTail(3, pre)
	nw.crash(1)
	nw.crash(2)
	nw.heal()
	if !detect {
		// The WAL keeps a commit index that advanced alone in the log, so it went with W.
		lost = nil
		nw.stores[3].hs.Commit = pre
	}
	nw.restartWith(3, lost)
	return last
}

func TestFindingBRecoveringServerElectsNobodyAndWSurvives(t *testing.T) {
	nw := newNetwork(t, 5)
	last := findingB(t, nw, true)
	require.True(t, nw.nodes[3].Status().Recovering)
	nw.tick(100)
	require.Equal(t, None, nw.leader(), "3, 4 and 5 must not elect a leader that lacks W:\n%s", nw.describe())
	for _, id := range []uint64{1, 2} {
		delete(nw.down, id) // resumed, memory intact, as after SIGCONT
	}
	lead := nw.tickUntilLeader()
	require.Contains(t, []uint64{1, 2}, lead)
	nw.propose(lead, "after")
	nw.tick(5)
	for _, id := range nw.ids() {
		require.GreaterOrEqual(t, nw.nodes[id].log.lastIndex(), last)
		require.False(t, nw.nodes[id].Status().Recovering, "server %d", id)
	}
	nw.requireSameState("before", "w1", "w2", "w3", "after")
}

func TestFindingBUndetectedLossLetsALeaderWithoutWWin(t *testing.T) {
	nw := newNetwork(t, 5)
	last := findingB(t, nw, false)
	lead := nw.tickUntilLeader()
	require.Contains(t, []uint64{3, 4, 5}, lead)
	require.Less(t, nw.nodes[lead].log.lastIndex(), last,
		"without detection the loss elects a leader missing committed entries")
}

func TestTornTailFollowerIsCaughtUpByTheNextHeartbeat(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	for _, c := range cmds("x", 5) {
		nw.propose(1, c)
	}
	last := nw.nodes[1].log.lastIndex()
	lost := nw.loseTail(2, last-1)
	nw.restartWith(2, lost)
	require.Equal(t, last-1, nw.nodes[2].log.lastIndex())
	nw.tick(1)
	require.Equal(t, last, nw.nodes[2].log.lastIndex(), "one heartbeat round brings the torn tail back")
	require.False(t, nw.nodes[2].Status().Recovering)
	pr := nw.nodes[1].Status().Progress[2]
	require.Equal(t, last, pr.Match)
	require.False(t, pr.Recovering)
}

func TestRejectionFromALogThatWentBackwardsResetsProgress(t *testing.T) {
	l := newTestNode(t, 1, []uint64{1, 2, 3}, 1, 1, 1, 1, 1)
	makeLeader(t, l)
	last := l.log.lastIndex()
	step(t, l, Message{From: 2, Type: MsgAppResp, Term: l.term, Index: last})
	require.Equal(t, last, l.prs[2].match)
	sent(l)

	// A stale rejection at or below Match is ignored, as before...
	step(t, l, Message{From: 2, Type: MsgAppResp, Term: l.term, Index: last, Reject: true, RejectHint: 2})
	require.Equal(t, last, l.prs[2].match)
	// ...but one that says the log went backwards resets Match and probes from its true end.
	step(t, l, Message{From: 2, Type: MsgAppResp, Term: l.term, Index: last, Reject: true, RejectHint: 2, Recovering: true})
	require.Equal(t, uint64(0), l.prs[2].match)
	require.True(t, l.prs[2].recovering)
	apps := sentOfType(l, MsgApp)
	require.Len(t, apps, 1)
	require.Equal(t, uint64(2), apps[0].Index, "the probe starts after the follower's true last index")
	require.True(t, apps[0].Recovering)
}

func TestRecoveringAnswerPastTheLeadersLogDoesNotPanic(t *testing.T) {
	l := newTestNode(t, 1, []uint64{1, 2, 3}, 1, 1, 1)
	makeLeader(t, l)
	require.NotPanics(t, func() {
		step(t, l, Message{From: 2, Type: MsgAppResp, Term: l.term, Index: l.log.lastIndex() + 5, Recovering: true})
	})
	require.Equal(t, uint64(0), l.prs[2].match)
}

func TestRecoveringFollowerDoesNotCountTowardCommitment(t *testing.T) {
	l := newTestNode(t, 1, []uint64{1, 2, 3}, 1, 1)
	makeLeader(t, l)
	index, _, err := l.Propose([]byte("x"))
	require.NoError(t, err)
	sent(l)
	step(t, l, Message{From: 2, Type: MsgAppResp, Term: l.term, Index: index, Recovering: true})
	require.Less(t, l.log.committed, index, "a recovering follower's ack must not complete a majority")
	step(t, l, Message{From: 2, Type: MsgAppResp, Term: l.term, Index: index})
	require.Equal(t, index, l.log.committed, "once caught up it counts again")
}

func recoveringNode(t *testing.T, id uint64, lost Lost, logTerms ...uint64) *Node {
	c := DefaultConfig()
	c.ID = id
	c.Rand = newTestNode(t, id, nil, 0).cfg.Rand
	var ents []Entry
	for i, lt := range logTerms {
		ents = append(ents, Entry{Index: uint64(i + 1), Term: lt, Type: EntryConfChange,
			Data: ConfChange{Type: AddVoter, NodeID: uint64(i + 1)}.Marshal()})
	}
	c.Restore = &Restored{HardState: HardState{Term: lost.Term, Commit: 10}, Entries: ents, Lost: &lost}
	n, err := New(c)
	require.NoError(t, err)
	return n
}

func TestRecoveringServerNeitherVotesNorCampaigns(t *testing.T) {
	n := recoveringNode(t, 3, Lost{Index: 9, Term: 2}, 1, 1, 1)
	require.True(t, n.Status().Recovering)
	require.Equal(t, uint64(3), n.log.committed, "the commit index is clamped to the log left")
	for _, typ := range []MessageType{MsgPreVote, MsgVote} {
		step(t, n, Message{From: 1, Type: typ, Term: 3, Index: 20, LogTerm: 2})
		resp := sent(n)
		require.Len(t, resp, 1)
		require.True(t, resp[0].Reject, "%s", typ)
	}
	for range 100 {
		n.Tick()
	}
	require.Empty(t, sentOfType(n, MsgPreVote))
	require.Equal(t, Follower, n.role)
}

func TestRecoveryEndsPastTheMarkOrWithANewerLeader(t *testing.T) {
	// Same term as the promise: only a log past the mark ends recovery.
	n := recoveringNode(t, 3, Lost{Index: 5, Term: 2}, 1, 1, 1)
	step(t, n, Message{From: 1, Type: MsgApp, Term: 2, Index: 3, LogTerm: 1, Commit: 3,
		Entries: []Entry{{Index: 4, Term: 2}}})
	require.True(t, n.Status().Recovering)
	step(t, n, Message{From: 1, Type: MsgApp, Term: 2, Index: 4, LogTerm: 2, Commit: 3,
		Entries: []Entry{{Index: 5, Term: 2}}})
	require.False(t, n.Status().Recovering)
	require.Equal(t, uint64(1), n.vote, "a lost vote counts as given to the leader recovered from")
	resp := sentOfType(n, MsgAppResp)
	require.False(t, resp[len(resp)-1].Recovering)

	// A leader of a newer term holds every committed entry before its own.
	n = recoveringNode(t, 3, Lost{Index: 9, Term: 2}, 1, 1, 1)
	step(t, n, Message{From: 2, Type: MsgApp, Term: 4, Index: 3, LogTerm: 1, Commit: 4,
		Entries: []Entry{{Index: 4, Term: 4}}})
	require.False(t, n.Status().Recovering)
}

func TestWipedServerRejoinsWithoutBootstrappingOrVoting(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.propose(1, "a")
	nw.propose(1, "b")
	nw.crash(3)
	nw.stores[3] = &memStorage{}
	nw.start(3, []uint64{1, 2, 3}, &Restored{Lost: &Lost{}})
	n3 := nw.nodes[3]
	require.Equal(t, uint64(0), n3.log.lastIndex(), "a wiped server must not bootstrap a made-up log")
	require.True(t, n3.Status().Recovering)
	nw.tick(3)
	require.False(t, n3.Status().Recovering)
	require.Equal(t, nw.nodes[1].log.lastIndex(), n3.log.lastIndex())
	require.Equal(t, uint64(1), n3.vote)
	nw.requireSameState("a", "b")
}

func TestWipedServerWaitsForAnAppendSentAfterTheLeaderHeard(t *testing.T) {
	n := recoveringNode(t, 3, Lost{}, 1, 1, 1)
	step(t, n, Message{From: 1, Type: MsgApp, Term: 2, Index: 3, LogTerm: 1, Commit: 4,
		Entries: []Entry{{Index: 4, Term: 2}}})
	require.True(t, n.Status().Recovering, "without the leader's Recovering flag, stale acks may still count")
	step(t, n, Message{From: 1, Type: MsgApp, Term: 2, Index: 4, LogTerm: 2, Commit: 4, Recovering: true})
	require.False(t, n.Status().Recovering)
}
