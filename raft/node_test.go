// Tests for the public API of node.go: construction, restart, and the Ready/Advance contract
// (paper Figure 2: persistent state is on stable storage before a server answers).

package raft

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewRejectsAConfigWithoutIDOrRand(t *testing.T) {
	c := DefaultConfig()
	c.Rand = rand.New(rand.NewSource(1))
	_, err := New(c)
	require.ErrorContains(t, err, "ID must not be 0")

	c = DefaultConfig()
	c.ID = 1
	_, err = New(c)
	require.ErrorContains(t, err, "Rand is required")

	c.Rand = rand.New(rand.NewSource(1))
	c.HeartbeatTick, c.ElectionTick = 5, 5
	_, err = New(c)
	require.ErrorContains(t, err, "HeartbeatTick must be smaller")
}

func TestBootstrapWritesTheConfigurationIntoTheLog(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand, c.Peers = 2, rand.New(rand.NewSource(1)), []uint64{3, 1, 2}
	n, err := New(c)
	require.NoError(t, err)
	rd := n.Ready()
	require.Equal(t, HardState{Term: 1, Commit: 3}, rd.HardState)
	require.True(t, rd.MustSync)
	require.Len(t, rd.Entries, 3)
	require.Equal(t, rd.Entries, rd.CommittedEntries, "the founding configuration is committed from the start")
	for i, e := range rd.Entries {
		cc, err := UnmarshalConfChange(e.Data)
		require.NoError(t, err)
		require.Equal(t, ConfChange{Type: AddVoter, NodeID: uint64(i + 1)}, cc, "sorted, identical on every founder")
	}
	require.Nil(t, rd.SoftState, "a new server starts as a follower without a leader: the zero SoftState")
	n.Advance(rd)
	require.False(t, n.HasReady())
	require.Equal(t, ConfState{Voters: []uint64{1, 2, 3}}, n.Status().ConfState)
}

func TestRestartResumesTermVoteLogAndConfiguration(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.propose(1, "a")
	before := nw.nodes[2].Status()
	nw.crash(2)
	nw.restart(2)
	nw.stabilize()
	after := nw.nodes[2].Status()
	require.Equal(t, before.Term, after.Term)
	require.Equal(t, before.Vote, after.Vote)
	require.Equal(t, before.LastIndex, after.LastIndex)
	require.Equal(t, before.ConfState, after.ConfState)
	require.Equal(t, Follower, after.Role)
	require.Equal(t, []string{"a"}, nw.state(2), "committed entries were applied again from the log")
}

func TestRestoreRefusesAStoredLogWithAGap(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand = 1, rand.New(rand.NewSource(1))
	c.Restore = &Restored{HardState: HardState{Term: 2}, Entries: []Entry{{Index: 1, Term: 1}, {Index: 3, Term: 1}}}
	_, err := New(c)
	require.ErrorContains(t, err, "gap")

	c.Restore = &Restored{HardState: HardState{Term: 2, Commit: 5}, Entries: []Entry{{Index: 1, Term: 1}}}
	_, err = New(c)
	require.ErrorContains(t, err, "lost committed entries")

	c.Restore = &Restored{HardState: HardState{Term: 2}, Entries: []Entry{{Index: 1, Term: 1}}, Applied: 3}
	_, err = New(c)
	require.ErrorContains(t, err, "must be persisted before they are applied")
}

func TestRestartTrustsTheAppliedIndexOverAnUnsyncedCommitIndex(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand = 1, rand.New(rand.NewSource(1))
	// Commit-only HardState changes need no fsync, so the stored commit index may lag what the
	// state machine already applied.
	c.Restore = &Restored{HardState: HardState{Term: 2, Commit: 1},
		Entries: []Entry{{Index: 1, Term: 1}, {Index: 2, Term: 1}, {Index: 3, Term: 2}}, Applied: 2}
	n, err := New(c)
	require.NoError(t, err)
	require.Equal(t, uint64(2), n.Status().Commit)
	require.Empty(t, n.Ready().CommittedEntries, "nothing is applied twice")
}

func TestRestartAfterSnapshotStartsTheLogAfterIt(t *testing.T) {
	c := DefaultConfig()
	c.ID, c.Rand = 1, rand.New(rand.NewSource(1))
	snap := &Snapshot{Meta: SnapshotMeta{Index: 10, Term: 3, ConfState: ConfState{Voters: []uint64{1, 2, 3}}}, Data: []byte("s")}
	c.Restore = &Restored{HardState: HardState{Term: 4, Vote: 2, Commit: 11}, Snapshot: snap,
		Entries: []Entry{{Index: 9, Term: 3}, {Index: 10, Term: 3}, {Index: 11, Term: 4}, {Index: 12, Term: 4}}, Applied: 10}
	n, err := New(c)
	require.NoError(t, err)
	s := n.Status()
	require.Equal(t, uint64(11), s.FirstIndex, "entries the snapshot covers are dropped")
	require.Equal(t, uint64(12), s.LastIndex)
	require.Equal(t, HardState{Term: 4, Vote: 2, Commit: 11}, s.HardState)
	rd := n.Ready()
	require.True(t, rd.HardState.IsEmpty(), "nothing new to persist")
	require.Empty(t, rd.Entries)
	require.Equal(t, []Entry{{Index: 11, Term: 4}}, rd.CommittedEntries, "only what was committed and not applied")
}

func TestReadyHandsOutEachThingOnce(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	n := nw.nodes[1]
	_, _, err := n.Propose([]byte("x"))
	require.NoError(t, err)
	require.True(t, n.HasReady())
	rd := ready(n)
	require.Len(t, rd.Entries, 1)
	require.Len(t, rd.Messages, 2)
	require.False(t, n.HasReady(), "after Advance there is nothing left until something happens")
	require.Empty(t, n.Ready().Entries)
}

func TestRecycledMessagesAreNotOverwrittenWhileStillQueued(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	n := nw.nodes[1]
	n.bcastHeartbeat(nil)
	first := n.Ready()
	require.Len(t, first.Messages, 2)
	n.Advance(first)
	n.RecycleMessages(first.Messages)
	require.Empty(t, first.Messages[0].To, "a recycled array is cleared")

	_, _, err := n.Propose([]byte("x"))
	require.NoError(t, err)
	queued := n.Ready()
	require.Len(t, queued.Messages, 2)
	require.Same(t, &first.Messages[:1][0], &queued.Messages[0], "the next messages reuse the array")
	n.bcastHeartbeat(nil) // queued after this Ready, before its messages are sent
	n.RecycleMessages(queued.Messages)
	require.Len(t, queued.Messages[0].Entries, 1, "an array is not taken back while messages are queued")
	require.Equal(t, MsgHeartbeat, n.Ready().Messages[0].Type)
}

func TestMessagesLeaveInPeerOrder(t *testing.T) {
	nw := newNetwork(t, 7)
	nw.campaign(4)
	n := nw.nodes[4]
	n.bcastHeartbeat(nil)
	var to []uint64
	for _, m := range n.Ready().Messages {
		to = append(to, m.To)
	}
	require.Equal(t, []uint64{1, 2, 3, 5, 6, 7}, to)
}

func TestStatusShowsProgressOnlyOnTheLeader(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.propose(1, "a")
	s := nw.nodes[1].Status()
	require.Equal(t, Leader, s.Role)
	require.Len(t, s.Progress, 3)
	require.Equal(t, s.LastIndex, s.Progress[2].Match)
	require.Nil(t, nw.nodes[2].Status().Progress)
	require.Equal(t, uint64(1), nw.nodes[2].Status().Lead)
}

func TestStatusIntoReusesStorageAndLeavesNothingStale(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.propose(1, "a")
	var s Status
	nw.nodes[1].StatusInto(&s)
	require.Equal(t, nw.nodes[1].Status(), s)
	s.Progress[99] = Progress{Match: 7} // what a caller might leave in it
	progress := s.Progress
	nw.nodes[1].StatusInto(&s)
	require.Equal(t, nw.nodes[1].Status(), s, "a stale entry is gone")
	s.Progress[99] = Progress{}
	require.Contains(t, progress, uint64(99), "the same map was reused")

	nw.nodes[2].StatusInto(&s)
	require.Equal(t, nw.nodes[2].Status(), s, "a follower's status has no progress, whatever s held")
	require.Nil(t, s.Progress)
}

func TestStepRefusesMisroutedMessages(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	require.ErrorContains(t, n.Step(Message{Type: MsgHeartbeat, From: 2, To: 3, Term: 1}), "routing")
	require.ErrorContains(t, n.Step(Message{Type: MsgHeartbeat, To: 1, Term: 1}), "routing")
	require.Equal(t, None, n.lead, "a refused message changes nothing")
}

func TestStringers(t *testing.T) {
	require.Equal(t, "MsgTimeoutNow", MsgTimeoutNow.String())
	require.Equal(t, "MessageType(99)", MessageType(99).String())
	require.Equal(t, "PreCandidate", PreCandidate.String())
	require.Equal(t, "Noop", EntryNoop.String())
	require.Equal(t, "RemoveNode", RemoveNode.String())
	require.Contains(t, Message{Type: MsgApp, From: 1, To: 2}.String(), "MsgApp 1->2")
	require.Contains(t, (&NotLeaderError{}).Error(), "no leader is known")
}

func TestStatusReportsTheElectionTimerAndEntriesReadsTheLog(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 2, 1, 1, 2)
	st := n.Status()
	require.Equal(t, 0, st.ElectionElapsed)
	require.GreaterOrEqual(t, st.ElectionTimeout, n.cfg.ElectionTick)
	require.Less(t, st.ElectionTimeout, 2*n.cfg.ElectionTick)
	n.Tick()
	n.Tick()
	require.Equal(t, 2, n.Status().ElectionElapsed)

	ents, err := n.Entries(2, 100)
	require.NoError(t, err)
	require.Equal(t, []uint64{2, 3}, []uint64{ents[0].Index, ents[1].Index})
	require.Equal(t, []uint64{1, 2}, []uint64{ents[0].Term, ents[1].Term})
	ents[0].Term = 99
	again, _ := n.Entries(2, 3)
	require.Equal(t, uint64(1), again[0].Term, "Entries returns a copy")
	_, err = n.Entries(0, 2)
	require.ErrorIs(t, err, ErrCompacted)
}
