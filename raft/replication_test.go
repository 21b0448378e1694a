// Paper-rule tests for log replication and commitment: paper §5.3, §5.4.2 (Figure 8), §8 (the
// no-op), thesis §10.2.1, and the flow control of progress.go (probe, pipelining, batching).

package raft

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewLeaderAppendsNoopOfItsTerm(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1, 1)
	makeLeader(t, n)
	last := n.log.entries[len(n.log.entries)-1]
	require.Equal(t, Entry{Index: 2, Term: 2, Type: EntryNoop}, last)
}

func TestFollowerRejectsAppendWhosePreviousEntryDoesNotMatch(t *testing.T) {
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 2, 1, 1)
	step(t, n, Message{From: 1, Type: MsgApp, Term: 2, Index: 2, LogTerm: 2, Entries: []Entry{{Index: 3, Term: 2}}})
	require.Equal(t, uint64(2), n.log.lastIndex(), "nothing appended after a failed consistency check")
	resps := sentOfType(n, MsgAppResp)
	require.Len(t, resps, 1)
	require.True(t, resps[0].Reject)
	require.Equal(t, uint64(2), resps[0].Index, "the rejection names the previous index it could not match")

	step(t, n, Message{From: 1, Type: MsgApp, Term: 2, Index: 5, LogTerm: 2})
	resps = sentOfType(n, MsgAppResp)
	require.True(t, resps[0].Reject, "a previous index past the end of the log does not match")
	require.Equal(t, uint64(2), resps[0].RejectHint, "the hint is at most the last index")
}

func TestFollowerReplacesConflictingEntriesAndKeepsTheRest(t *testing.T) {
	// Follower: terms 1 1 2 2. Leader (term 3) sends index 3 of term 3 after index 2 of term 1.
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 3, 1, 1, 2, 2)
	step(t, n, Message{From: 1, Type: MsgApp, Term: 3, Index: 2, LogTerm: 1, Commit: 3, Entries: []Entry{{Index: 3, Term: 3}}})
	require.Equal(t, uint64(3), n.log.lastIndex(), "the conflicting entry and all that follow it are gone")
	lt, _ := n.log.term(3)
	require.Equal(t, uint64(3), lt)
	require.Equal(t, uint64(3), n.log.committed)
	rd := ready(n)
	require.Equal(t, []Entry{{Index: 3, Term: 3}}, rd.Entries, "the driver overwrites from the conflict")

	// A duplicate of an append already taken truncates nothing.
	step(t, n, Message{From: 1, Type: MsgApp, Term: 3, Index: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 1}}})
	require.Equal(t, uint64(3), n.log.lastIndex())
}

// Ready and messages hand out views of the log's array, not copies (log.go slice); the log must
// therefore never write where a view can see: a conflict copies the kept prefix to a new array,
// and an append past the end must not land in a view's spare capacity.
func TestEntriesHandedOutKeepShowingWhatTheyShowedWhenTheLogMovesOn(t *testing.T) {
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 3, 1, 1, 2, 2)
	held, err := n.log.slice(1, 5, noLimit)
	require.NoError(t, err)
	before := slices.Clone(held)
	require.Equal(t, len(held), cap(held), "a view ends at its length, so a caller's append copies")

	// Index 3 of term 3 replaces indexes 3 and 4 of term 2.
	step(t, n, Message{From: 1, Type: MsgApp, Term: 3, Index: 2, LogTerm: 1, Entries: []Entry{{Index: 3, Term: 3, Data: []byte("x")}}})
	lt, _ := n.log.term(3)
	require.Equal(t, uint64(3), lt)
	require.Equal(t, before, held, "a truncation rewrote entries a Ready or a message still holds")

	step(t, n, Message{From: 1, Type: MsgApp, Term: 3, Index: 3, LogTerm: 3, Entries: []Entry{{Index: 4, Term: 3}, {Index: 5, Term: 3}}})
	require.Equal(t, uint64(5), n.log.lastIndex())
	kept, _ := n.log.slice(1, 4, noLimit)
	grown := append(kept, Entry{Index: 99})
	require.Equal(t, uint64(3), n.log.entries[2].Index, "a caller's append wrote into the log")
	require.Equal(t, uint64(4), n.log.entries[3].Index)
	require.Equal(t, uint64(99), grown[3].Index)
}

func TestFollowerCommitsOnlyWhatItHoldsFromTheLeader(t *testing.T) {
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 2, 1, 1, 1)
	step(t, n, Message{From: 1, Type: MsgApp, Term: 2, Index: 1, LogTerm: 1, Commit: 3})
	require.Equal(t, uint64(1), n.log.committed, "commit is capped at the last entry known to match the leader")
}

func TestLeaderOnlyCommitsLogFromCurrentTerm(t *testing.T) {
	for _, bug := range []bool{false, true} {
		c := DefaultConfig()
		c.ID, c.Rand, c.bugs.CommitOldTerm = 1, rand.New(rand.NewSource(1)), bug
		// Index 2 of term 2 is from an older leader (Figure 8 (c)): on a majority, yet uncommitted.
		n := newTestNodeWith(t, c, []uint64{1, 2, 3}, 2, 1, 2)
		makeLeader(t, n) // term 3, no-op at 3
		step(t, n, Message{From: 2, Type: MsgAppResp, Term: 3, Index: 2})
		if bug {
			require.Equal(t, uint64(2), n.log.committed, "CommitOldTerm commits by counting replicas alone")
			continue
		}
		require.Equal(t, uint64(0), n.log.committed, "an entry of an older term is not committed by counting replicas")
		step(t, n, Message{From: 2, Type: MsgAppResp, Term: 3, Index: 3})
		require.Equal(t, uint64(3), n.log.committed, "the current term's entry commits itself and all before it")
	}
}

func TestLeaderCountsItsOwnEntryOnlyAfterAdvance(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1}, 1)
	makeLeader(t, n)
	for n.HasReady() {
		ready(n)
	}
	index, _, err := n.Propose([]byte("x"))
	require.NoError(t, err)
	rd := n.Ready()
	require.Equal(t, index, rd.Entries[0].Index)
	require.Empty(t, rd.CommittedEntries, "not committed before the driver reports it durable")
	require.Less(t, n.log.committed, index)
	n.Advance(rd)
	require.Equal(t, index, n.log.committed, "a single voter commits once its own copy is durable")
	rd = ready(n)
	require.Len(t, rd.CommittedEntries, 1)
}

func TestFollowerProposalReturnsNotLeaderErrorNamingTheLeader(t *testing.T) {
	n := newTestNode(t, 2, []uint64{1, 2, 3}, 1)
	_, _, err := n.Propose([]byte("x"))
	var nle *NotLeaderError
	require.True(t, errors.As(err, &nle))
	require.Equal(t, None, nle.Leader, "no leader known yet")

	step(t, n, Message{From: 3, Type: MsgHeartbeat, Term: 1})
	_, _, err = n.Propose([]byte("x"))
	require.True(t, errors.As(err, &nle))
	require.Equal(t, uint64(3), nle.Leader)
	require.Contains(t, err.Error(), "node 3")
}

func TestFastBacktrackingSkipsATermPerRoundTrip(t *testing.T) {
	// Paper Figure 7: the leader holds terms 1 1 1 4 4 5 5 6 6 6; the follower holds a long
	// suffix of terms 2 and 3 that the leader never had.
	leader := newTestNode(t, 1, []uint64{1, 2}, 6, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6)
	follower := newTestNode(t, 2, []uint64{1, 2}, 6, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3)
	elect(leader)

	rejections := 0
	for range 20 {
		msgs := sent(leader)
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			require.NoError(t, follower.Step(m))
		}
		for _, m := range sent(follower) {
			if m.Reject {
				rejections++
			}
			require.NoError(t, leader.Step(m))
		}
	}
	require.Equal(t, leader.log.lastIndex(), leader.prs[2].match, "the follower caught up")
	require.Equal(t, 1, rejections, "one round trip skips all of terms 2 and 3 (one by one would take 8)")
	require.Equal(t, leader.log.lastIndex(), follower.log.lastIndex())
}

// replicatingLeader returns the leader of a 3-server cluster whose followers match its log and
// are in replicate state.
func replicatingLeader(t *testing.T, opts ...func(*Config)) (*network, *Node) {
	nw := newNetwork(t, 3, opts...)
	nw.campaign(1)
	lead := nw.leader()
	require.Equal(t, uint64(1), lead)
	nw.propose(lead, "warm-up")
	require.Equal(t, stateReplicate, nw.nodes[lead].prs[2].state)
	return nw, nw.nodes[lead]
}

func TestProposalsBetweenTwoReadysTravelInOneAppend(t *testing.T) {
	_, n := replicatingLeader(t)
	for range 10 {
		_, _, err := n.Propose([]byte("p"))
		require.NoError(t, err)
	}
	apps := sentOfType(n, MsgApp)
	require.Len(t, apps, 2, "one append per follower")
	for _, m := range apps {
		require.Len(t, m.Entries, 10)
	}
}

func TestAppendsStopAtMaxInflightUnacknowledged(t *testing.T) {
	_, n := replicatingLeader(t, func(c *Config) { c.MaxInflight = 3 })
	to2 := 0
	for range 10 {
		_, _, err := n.Propose([]byte("p"))
		require.NoError(t, err)
		for _, m := range sentOfType(n, MsgApp) {
			if m.To == 2 {
				to2++
			}
		}
	}
	require.Equal(t, 3, to2, "no answers came back, so only MaxInflight appends are in flight")
	require.Equal(t, 3, n.Status().Progress[2].Inflight)

	// An answer covering the first two frees two slots.
	first := n.prs[2].inflight[1]
	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: first})
	more := 0
	for _, m := range sentOfType(n, MsgApp) {
		if m.To == 2 && len(m.Entries) > 0 {
			more++
		}
	}
	require.Equal(t, 1, more, "the freed slots let the rest go, batched up to MaxSizePerMsg")
}

func TestProbingFollowerGetsOneAppendUntilItAnswers(t *testing.T) {
	_, n := replicatingLeader(t)
	last := n.log.lastIndex()
	for range 2 {
		_, _, err := n.Propose([]byte("p"))
		require.NoError(t, err)
		sent(n)
	}
	// The first of the two appends was lost, so follower 2 rejects the second: back to probing.
	step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: last + 1, Reject: true, RejectHint: last})
	require.Equal(t, stateProbe, n.prs[2].state)
	probes := sentOfType(n, MsgApp)
	require.Len(t, probes, 1)
	require.Equal(t, last, probes[0].Index, "the probe resends from the last matching index")
	for range 5 {
		_, _, err := n.Propose([]byte("p"))
		require.NoError(t, err)
	}
	to2 := 0
	for _, m := range sentOfType(n, MsgApp) {
		if m.To == 2 {
			to2++
		}
	}
	require.Equal(t, 0, to2, "the probe after the rejection is still unanswered")

	step(t, n, Message{From: 2, Type: MsgHeartbeatResp, Term: n.term})
	to2 = 0
	for _, m := range sentOfType(n, MsgApp) {
		if m.To == 2 {
			to2++
		}
	}
	require.Equal(t, 1, to2, "a heartbeat answer lets one more probe go")
}

func TestAppendsRespectMaxSizePerMsgButCarryAtLeastOneEntry(t *testing.T) {
	_, n := replicatingLeader(t, func(c *Config) { c.MaxSizePerMsg = 10 })
	for _, size := range []int{4, 4, 4, 100, 1} {
		_, _, err := n.Propose(make([]byte, size))
		require.NoError(t, err)
	}
	var sizes [][]int
	for _, m := range sentOfType(n, MsgApp) {
		if m.To != 2 {
			continue
		}
		var s []int
		for _, e := range m.Entries {
			s = append(s, len(e.Data))
		}
		sizes = append(sizes, s)
	}
	require.Equal(t, [][]int{{4, 4}, {4}, {100}, {1}}, sizes)
}

func TestLostAppendsAreResentAfterTheFollowerRejects(t *testing.T) {
	nw, n := replicatingLeader(t)
	lead := n.id
	nw.drop = func(m Message) bool { return m.Type == MsgApp && m.To == 2 }
	nw.propose(lead, "lost")
	nw.drop = nil
	nw.propose(lead, "after")
	nw.tick(3)
	nw.requireSameState("warm-up", "lost", "after")
}

func TestAnAcknowledgementPastTheLeadersLogIsAnInvariantViolation(t *testing.T) {
	n := newTestNode(t, 1, []uint64{1, 2, 3}, 1)
	makeLeader(t, n)
	last := n.log.lastIndex()
	require.PanicsWithValue(t, fmt.Sprintf("raft: invariant violated: follower 2 matches up to %d, past the leader's last index %d", last+5, last), func() {
		step(t, n, Message{From: 2, Type: MsgAppResp, Term: n.term, Index: last + 5})
	})

	// With a teaching bug on, the leader believes it up to its own last index, so the simulator
	// can watch the damage instead of a panic.
	c := DefaultConfig()
	c.ID, c.Rand, c.bugs.VoteWithoutLogCheck = 1, rand.New(rand.NewSource(1)), true
	b := newTestNodeWith(t, c, []uint64{1, 2, 3}, 1)
	makeLeader(t, b)
	step(t, b, Message{From: 2, Type: MsgAppResp, Term: b.term, Index: last + 5})
	require.Equal(t, last, b.prs[2].match)
	require.Equal(t, uint64(1), b.ID())
}
