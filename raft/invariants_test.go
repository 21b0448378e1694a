// Tests that each invariant check of the core fires when its invariant breaks: a bug in the core
// or in its driver then stops the server at once, naming what went wrong, instead of spreading
// through the log to other servers.

package raft

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireInvariantPanic runs f and requires it to panic with an invariant message containing want.
func requireInvariantPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		require.NotNil(t, r, "no panic; want one about %q", want)
		msg, ok := r.(string)
		require.True(t, ok, "panic value %v is not a message", r)
		require.Contains(t, msg, "raft: invariant violated: ")
		require.Contains(t, msg, want)
	}()
	f()
}

func TestAppendingEntriesWithAGapInTheirIndexesPanics(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 2, 1, 1)
	requireInvariantPanic(t, "not contiguous: index 5 follows index 3", func() {
		n.log.append([]Entry{{Index: 3, Term: 2}, {Index: 5, Term: 2}})
	})
}

func TestReplacingACommittedEntryPanics(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 2, 1, 1, 1)
	n.log.commitTo(2)
	requireInvariantPanic(t, "append at index 2 would replace committed entries (commit index 2)", func() {
		n.log.append([]Entry{{Index: 2, Term: 2}})
	})
	n.log.append([]Entry{{Index: 3, Term: 2}}) // the uncommitted entry 3 may still be replaced
	require.Equal(t, uint64(2), n.log.entries[2].Term)
}

func TestAppendingAnEntryOfAnEarlierTermThanTheOneBeforeItPanics(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 3, 1, 3)
	requireInvariantPanic(t, "entry 3 of term 2 would follow an entry of term 3", func() {
		n.appendToLog([]Entry{{Index: 3, Term: 2}})
	})
	requireInvariantPanic(t, "entry 4 of term 3 would follow an entry of term 4", func() {
		n.appendToLog([]Entry{{Index: 3, Term: 4}, {Index: 4, Term: 3}})
	})
}

func TestATeachingBugRelaxesTheTermOrderCheck(t *testing.T) {
	c := WithTeachingBugs(DefaultConfig(), TeachingBugs{VoteWithoutLogCheck: true})
	c.ID, c.Rand = 1, rand.New(rand.NewSource(1))
	n := newTestNodeWith(t, c, []uint64{1, 2, 3}, 3, 1, 3)
	require.NotPanics(t, func() { n.appendToLog([]Entry{{Index: 3, Term: 2}}) },
		"with a teaching bug on, the simulator's checkers, not a panic, must show the damage")
}

func TestApplyingPastTheCommitIndexPanics(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 2, 1, 1, 1)
	n.log.commitTo(2)
	requireInvariantPanic(t, "applied index 3 is past the commit index 2", func() {
		n.log.appliedTo(3)
	})
}

func TestApplyingCommittedEntriesOutOfOrderPanics(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 2, 1, 1, 1, 1)
	n.log.commitTo(4)
	rd := n.Ready()
	require.Len(t, rd.CommittedEntries, 4)
	skipping := rd
	skipping.CommittedEntries = rd.CommittedEntries[1:]
	requireInvariantPanic(t, "committed entries from index 2 applied after index 0", func() {
		n.AdvanceAsync(skipping)
	})

	n.Advance(rd)
	require.Equal(t, uint64(4), n.log.applied)
	requireInvariantPanic(t, "committed entries from index 1 applied after index 4", func() {
		n.AdvanceAsync(rd) // the same Ready advanced twice
	})
}

func TestASnapshotBehindTheCommitIndexPanics(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 2, 1, 1, 1)
	n.log.commitTo(3)
	requireInvariantPanic(t, "snapshot at index 2 would move the commit index back from 3", func() {
		n.log.restore(Snapshot{Meta: SnapshotMeta{Index: 2, Term: 1}})
	})
}

func TestTheTermGoingBackwardsPanics(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 5, 1)
	requireInvariantPanic(t, "term going backwards from 5 to 4", func() {
		n.becomeFollower(4, 2)
	})
}
