// Tests for log compaction and InstallSnapshot in chunks (paper §7).
package raft

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompactOnlyAnAppliedIndexAfterTheLastSnapshot(t *testing.T) {
	nw := newNetwork(t, 1)
	nw.campaign(1)
	for _, c := range cmds("c", 3) {
		nw.propose(1, c)
	}
	n := nw.nodes[1]
	applied := n.log.applied

	_, err := n.Compact(applied+1, nil)
	require.True(t, errors.Is(err, ErrUnavailable), "cannot snapshot what is not applied: %v", err)

	_, err = n.Compact(applied-1, nw.stores[1].compactData())
	require.NoError(t, err)
	require.Equal(t, applied, n.log.firstIndex(), "the log now starts after the snapshot")
	_, err = n.log.term(applied - 2)
	require.True(t, errors.Is(err, ErrCompacted))

	_, err = n.Compact(applied-1, nil)
	require.True(t, errors.Is(err, ErrCompacted), "compacting twice to the same index fails: %v", err)
	require.Contains(t, err.Error(), "already starts after snapshot")

	s := n.Status()
	require.Equal(t, applied, s.FirstIndex)
	require.Equal(t, []uint64{1}, n.log.snapshot.Meta.ConfState.Voters, "the snapshot records the configuration")
}

func TestLaggingFollowerIsSentTheSnapshotInChunks(t *testing.T) {
	const chunk = 16
	nw := newNetwork(t, 3, func(c *Config) { c.SnapshotChunkSize = chunk })
	nw.campaign(1)
	nw.crash(3)
	want := cmds("command-", 20)
	for _, c := range want {
		nw.propose(1, c)
	}
	nw.compact(1)
	data := nw.nodes[1].log.snapshot.Data

	nw.restart(3)
	nw.delivered = map[MessageType]int{}
	nw.tick(3)
	wantChunks := (len(data) + chunk - 1) / chunk
	require.Equal(t, wantChunks, nw.delivered[MsgSnap], "one MsgSnap per chunk")
	require.Equal(t, wantChunks-1, nw.delivered[MsgSnapResp], "each chunk but the last is acknowledged")
	nw.requireSameState(want...)

	// The log carries on after the snapshot.
	nw.propose(1, "after-snapshot")
	nw.requireSameState(append(want, "after-snapshot")...)
	require.Equal(t, nw.nodes[1].log.lastIndex(), nw.nodes[3].log.lastIndex())
}

func TestLostSnapshotChunksAreResent(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.SnapshotChunkSize = 8 })
	nw.campaign(1)
	nw.crash(3)
	want := cmds("v", 12)
	for _, c := range want {
		nw.propose(1, c)
	}
	nw.compact(1)
	nw.restart(3)

	// Every third chunk is lost on its first trip.
	seen := map[uint64]bool{}
	nw.drop = func(m Message) bool {
		if m.Type != MsgSnap || seen[m.Offset] {
			return false
		}
		seen[m.Offset] = true
		return m.Offset%24 == 0
	}
	nw.tick(20)
	nw.requireSameState(want...)
}

func TestFollowerThatHoldsTheSnapshotsLastEntryKeepsTheRestOfItsLog(t *testing.T) {
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 2, 1, 1, 2, 2)
	step(t, n, Message{From: 1, Type: MsgSnap, Term: 2, Done: true,
		Snapshot: &Snapshot{Meta: SnapshotMeta{Index: 3, Term: 2, ConfState: ConfState{Voters: []uint64{1, 2, 3}}}}})
	require.Equal(t, uint64(4), n.log.lastIndex(), "entries after the snapshot are kept (paper Figure 13, step 6)")
	require.Equal(t, uint64(3), n.log.committed)
	require.Nil(t, n.log.pending, "no state machine restore is needed")
}

func TestInstalledSnapshotReachesTheDriverAndReplacesTheLog(t *testing.T) {
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 2, 1, 1, 1)
	meta := SnapshotMeta{Index: 5, Term: 2, ConfState: ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}}
	step(t, n, Message{From: 1, Type: MsgSnap, Term: 2, Snapshot: &Snapshot{Meta: meta, Data: []byte("ab")}})
	step(t, n, Message{From: 1, Type: MsgSnap, Term: 2, Offset: 2, Done: true, Snapshot: &Snapshot{Meta: meta, Data: []byte("cd")}})
	rd := n.Ready()
	require.NotNil(t, rd.Snapshot)
	require.Equal(t, "abcd", string(rd.Snapshot.Data), "the chunks are reassembled in order")
	require.Equal(t, meta, rd.Snapshot.Meta)
	require.True(t, rd.MustSync)
	require.Empty(t, rd.CommittedEntries, "entries inside the snapshot are not applied one by one")
	require.Equal(t, uint64(5), rd.Messages[len(rd.Messages)-1].Index, "the answer says the log now ends at the snapshot")
	n.Advance(rd)
	require.Equal(t, uint64(5), n.Status().Applied)
	require.Equal(t, []uint64{4}, n.conf.learners, "the configuration comes from the snapshot")
	require.False(t, n.HasReady())
}

func TestOutOfOrderSnapshotChunkIsRefusedWithTheOffsetWanted(t *testing.T) {
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 2)
	meta := SnapshotMeta{Index: 5, Term: 2}
	step(t, n, Message{From: 1, Type: MsgSnap, Term: 2, Snapshot: &Snapshot{Meta: meta, Data: []byte("ab")}})
	step(t, n, Message{From: 1, Type: MsgSnap, Term: 2, Offset: 4, Snapshot: &Snapshot{Meta: meta, Data: []byte("ef")}})
	resps := sentOfType(n, MsgSnapResp)
	require.Len(t, resps, 2)
	require.Equal(t, uint64(2), resps[0].Offset)
	require.True(t, resps[1].Reject)
	require.Equal(t, uint64(2), resps[1].Offset, "the follower asks again for the chunk it is missing")
}

func TestRestartFromSnapshotAndLog(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	for _, c := range cmds("a", 5) {
		nw.propose(1, c)
	}
	for _, id := range nw.ids() {
		nw.compact(id)
	}
	nw.propose(1, "b")
	for _, id := range nw.ids() {
		nw.crash(id)
		nw.restart(id)
	}
	lead := nw.tickUntilLeader()
	nw.propose(lead, "c")
	want := append(cmds("a", 5), "b", "c")
	nw.requireSameState(want...)
	require.True(t, strings.HasPrefix(string(nw.nodes[1].log.snapshot.Data), "a0,a1"))
}
