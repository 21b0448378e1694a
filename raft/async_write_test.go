// Paper-rule tests for a driver that writes in the background (AdvanceAsync, then StableTo):
// thesis §10.2.1, the leader writes its log in parallel with replicating it, and counts its own
// copy toward a majority only once that copy is durable.

package raft

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// readyAsync takes one Ready and acknowledges it as a background writer would: handed out, not
// yet durable.
func readyAsync(n *Node) Ready {
	rd := n.Ready()
	n.AdvanceAsync(rd)
	return rd
}

func TestLeaderCountsItsOwnEntryOnlyOnceStable(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1}, 1)
	makeLeader(t, n)
	index, term, err := n.Propose([]byte("x"))
	require.NoError(t, err)
	rd := readyAsync(n)
	require.Equal(t, index, rd.Entries[0].Index)
	require.Less(t, n.log.committed, index, "a single voter's entry is not committed while it is only being written")
	require.False(t, n.HasReady(), "entries being written are not handed out again")
	require.False(t, n.HasCommittedToApply())

	n.StableTo(index, term)
	require.Equal(t, index, n.log.committed, "the entry commits once the writer reports it durable")
	require.True(t, n.HasCommittedToApply())
	rd = readyAsync(n)
	require.Len(t, rd.CommittedEntries, 1)
	require.Empty(t, rd.Entries)
}

func TestLeaderCommitsOnFollowersWhileItsOwnWriteIsInFlight(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	noop := n.log.lastIndex()
	for _, id := range []uint64{2, 3} {
		step(t, n, Message{From: id, Type: MsgAppResp, Term: n.term, Index: noop})
	}
	sent(n)
	index, _, err := n.Propose([]byte("x"))
	require.NoError(t, err)
	rd := readyAsync(n)
	require.NotEmpty(t, rd.Messages, "the leader sends its appends while it writes them")

	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: index})
	require.Less(t, n.log.committed, index, "one follower and a leader whose copy is not durable are not a majority of three")
	step(t, n, Message{From: 3, Type: MsgAppResp, Term: n.term, Index: index})
	require.Equal(t, index, n.log.committed, "two durable followers are a majority of three without the leader")
}

func TestProposalsDuringABackgroundWriteGoInTheNextReady(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1}, 1)
	makeLeader(t, n)
	first, firstTerm, err := n.Propose([]byte("a"))
	require.NoError(t, err)
	rd1 := readyAsync(n)
	second, secondTerm, err := n.Propose([]byte("b"))
	require.NoError(t, err)
	rd2 := readyAsync(n)
	require.Equal(t, []uint64{first}, entryIndexes(rd1.Entries))
	require.Equal(t, []uint64{second}, entryIndexes(rd2.Entries), "only the entries not yet handed out")

	n.StableTo(first, firstTerm)
	require.Equal(t, first, n.log.committed)
	n.StableTo(second, secondTerm)
	require.Equal(t, second, n.log.committed)
}

func TestStableToIgnoresEntriesReplacedDuringTheWrite(t *testing.T) {
	// Follower in term 2 holding index 1 of term 1; it takes index 2 of term 2 and starts writing it.
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 2, 1)
	step(t, n, Message{From: 1, Type: MsgApp, Term: 2, Index: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 2}}})
	rd := readyAsync(n)
	require.Equal(t, []Entry{{Index: 2, Term: 2}}, rd.Entries)

	// A leader of term 3 replaces index 2 before the write finishes.
	step(t, n, Message{From: 3, Type: MsgApp, Term: 3, Index: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 3}}})
	n.StableTo(2, 2)
	require.Equal(t, uint64(1), n.log.stabled, "durability of the replaced entry says nothing about its replacement")
	rd = readyAsync(n)
	require.Equal(t, []Entry{{Index: 2, Term: 3}}, rd.Entries, "the replacement is handed out to be written")
	n.StableTo(2, 3)
	require.Equal(t, uint64(2), n.log.stabled)
}

func TestNewLeaderCountsOnlyDurableEntriesAsItsOwn(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1, 1)
	step(t, n, Message{From: 2, Type: MsgApp, Term: 1, Index: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 1}}})
	readyAsync(n)
	elect(n)
	require.Equal(t, uint64(1), n.prs[n.id].match, "the entry still being written is not the new leader's own durable copy")
}

func entryIndexes(ents []Entry) []uint64 {
	out := make([]uint64, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Index)
	}
	return out
}
