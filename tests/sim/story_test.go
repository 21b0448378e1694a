// Scenario stories told on a quiet simulated cluster of five: an isolated leader (Raft paper §5.2,
// §5.3; thesis §6.2 check-quorum), a bridge partition and an asymmetric one (thesis §9.6 pre-vote
// and check-quorum), every node crashing at once (paper Figure 2: persistent state), and a lagging
// follower caught up by a snapshot (paper §7), and Figure 8 (paper §5.4.2) with and without the
// rule it motivates. Each test is a script: cut this link, wait, expect this leader; then the
// checkers of checker.go must have held, or, for a teaching bug, must have fired.

package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

// An isolated leader cannot reach a quorum, so nothing it appends can commit (§5.3) and
// check-quorum makes it step down instead of answering reads as a stale leader. The four others
// elect a new leader in a higher term (§5.2). A proposal the old leader took during the cut is
// never acknowledged, and after the heal it follows the new leader, its stray entries overwritten.
func TestAnIsolatedLeaderStepsDownCommitsNothingAndFollowsTheNewLeader(t *testing.T) {
	s := storySim(t, "", 12*time.Second, nil)
	const cutAt, healAt = 2 * time.Second, 5 * time.Second
	var old, oldTerm, newLead, newTerm uint64
	var atCut raft.Status
	var strayErr error
	s.q.at(cutAt, func() {
		old, oldTerm = s.leaderNow(t)
		s.partitionNow(isolatePartition(old, s.ids))
		// A client beside the old leader proposes at once: the leader still believes it leads.
		_, strayErr = s.nodes[old].eng.Propose(game.Command{Kind: game.KindCreateRoom, ClientID: "story", Seq: 1, Room: storyRoom(1)})
		s.nodes[old].process()
	})
	s.q.at(cutAt+100*time.Millisecond, func() {
		// Acknowledgements already in flight at the cut may still land; after this, nothing can.
		atCut = s.nodes[old].eng.Status()
	})
	s.q.at(healAt-time.Millisecond, func() {
		var ok bool
		newLead, ok = s.leaderAmong(without(s.ids, old))
		require.True(t, ok, "the four connected nodes agree on a leader")
		newTerm = s.nodes[newLead].term
		st := s.nodes[old].eng.Status()
		require.NotEqual(t, raft.Leader, st.Role, "check-quorum: without a quorum the old leader stepped down")
		require.Equal(t, atCut.Commit, st.Commit, "the old leader committed nothing while cut off")
		require.Equal(t, atCut.Applied, st.Applied, "and applied nothing")
		require.Greater(t, st.LastIndex, st.Commit, "it holds entries it took but could not commit")
		s.heal()
	})
	s.q.at(healAt+time.Second, func() {
		st := s.nodes[old].eng.Status()
		require.Equal(t, newLead, st.Lead, "after the heal the old leader follows the new one")
		require.Equal(t, newTerm, st.Term, "in the new leader's term: the heal forced no election")
	})
	runPast(t, s)

	require.NoError(t, strayErr, "the old leader took the proposal")
	require.Greater(t, newTerm, oldTerm, "the new leader was elected in a later term")
	require.NotEqual(t, old, newLead)
	require.Zero(t, s.returnsFrom(old, cutAt+100*time.Millisecond, healAt), "no client got an answer from the cut-off leader")
	for _, id := range s.ids {
		for _, what := range s.appliedSince(id, 0) {
			require.NotContains(t, what, "story#1", "node %d applied the proposal the isolated leader took: it was never committed", id)
		}
	}
	require.Empty(t, s.check.violations)
}

// bridgeStory cuts a five-node cluster into two sides that share one node, the bridge, with the
// leader on one side: {leader, a} <-bridge-> {c, d}. The far side hears no leader and campaigns;
// the bridge hears both. It reports the highest term before and four seconds into the cut, the
// elections won meanwhile, and whether the leader of the start still leads, in the latest term.
func bridgeStory(t *testing.T, bug string) (termBefore, termAfter uint64, elections int, stable bool, s *sim) {
	s = storySim(t, bug, 12*time.Second, nil)
	const cutAt, healAt = 2 * time.Second, 6 * time.Second
	var lead uint64
	s.q.at(cutAt, func() {
		lead, termBefore = s.leaderNow(t)
		others := without(s.ids, lead)
		s.partitionNow(bridgePartition(others[0], []uint64{lead, others[1]}, []uint64{others[2], others[3]}))
	})
	s.q.at(healAt, func() {
		termAfter = s.highestTerm()
		elections = s.electionsBetween(cutAt, healAt)
		st := s.nodes[lead].eng.Status()
		// Without check-quorum a deposed leader may not even notice (a newer term's nodes ignore its
		// heartbeats), so stable means it leads and no later term exists anywhere.
		stable = st.Role == raft.Leader && st.Term == termBefore && termAfter == termBefore
		s.heal()
	})
	runPast(t, s)
	return termBefore, termAfter, elections, stable, s
}

// With pre-vote, the far side's campaigns fail before they raise any term: the bridge still hears
// the leader, so it refuses a pre-vote (thesis §9.6), and two votes of five win nothing. The
// leader keeps a quorum through the bridge and leads on, in the same term.
func TestPreVoteKeepsABridgePartitionFromDisruptingTheLeader(t *testing.T) {
	before, after, elections, stable, s := bridgeStory(t, "")
	t.Logf("pre-vote and check-quorum: term %d -> %d, %d elections in 4 s", before, after, elections)
	require.Equal(t, before, after, "no term moved during the cut")
	require.Zero(t, elections, "nobody was elected during the cut")
	require.True(t, stable, "the leader of the start still leads, in its term")
	require.Empty(t, s.check.violations)
}

// Without pre-vote and check-quorum, each campaign of the far side raises the bridge's term, and
// the bridge's next answer to the leader carries that term and deposes it (seed 1: term 2 -> 10
// within four seconds, against no change at all with pre-vote). Terms climb until a node both
// sides reach, in practice the bridge, wins an election; nothing unsafe happens, only needless
// elections, which the disruption checker is there to flag.
func TestWithoutPreVoteABridgePartitionDeposesTheLeaderAndRaisesTerms(t *testing.T) {
	before, after, elections, stable, s := bridgeStory(t, "no-prevote-no-checkquorum")
	_, correctAfter, correctElections, _, _ := bridgeStory(t, "")
	t.Logf("no pre-vote, no check-quorum: term %d -> %d, %d elections in 4 s (correct Raft: term %d -> %d, %d elections)",
		before, after, elections, before, correctAfter, correctElections)
	require.Greater(t, after, before, "the far side's campaigns raised the terms")
	require.Greater(t, after, correctAfter, "higher than with pre-vote")
	require.Greater(t, elections, correctElections, "the leader of the start was deposed and another elected")
	require.False(t, stable, "the leader of the start no longer leads the latest term")
	for _, checker := range s.checkersFired() {
		require.Equal(t, CheckDisruption, checker, "disruptive, yet safe: no safety checker fired")
	}
}

// A leader that can send but not hear: its heartbeats still arrive, so followers stay quiet, but
// no acknowledgement comes back, so nothing commits. Check-quorum notices the silence and the
// leader steps down; only then do the followers time out and elect one of themselves. The old
// leader never hears of the new term, and its pre-votes cannot raise its own (thesis §9.6), so
// terms stay bounded, and after the heal it simply follows.
func TestALeaderThatCannotHearStepsDownAndTheOthersElectANewOne(t *testing.T) {
	s := storySim(t, "", 12*time.Second, nil)
	const cutAt, healAt = 2 * time.Second, 5 * time.Second
	var old, oldTerm, newLead, newTerm uint64
	s.q.at(cutAt, func() {
		old, oldTerm = s.leaderNow(t)
		s.partitionNow(asymmetricPartition([]uint64{old}, without(s.ids, old)))
	})
	s.q.at(healAt, func() {
		var ok bool
		newLead, ok = s.leaderAmong(without(s.ids, old))
		require.True(t, ok, "the others elected a leader among themselves")
		newTerm = s.nodes[newLead].term
		st := s.nodes[old].eng.Status()
		require.NotEqual(t, raft.Leader, st.Role, "the deaf leader stepped down (check-quorum)")
		require.Equal(t, oldTerm, st.Term, "it heard of no new term, and its pre-votes raised none")
		require.LessOrEqual(t, s.highestTerm(), oldTerm+2, "terms stayed bounded")
		s.heal()
	})
	s.q.at(healAt+time.Second, func() {
		lead, term := s.leaderNow(t)
		require.Equal(t, [2]uint64{newLead, newTerm}, [2]uint64{lead, term}, "after the heal everyone follows the new leader, in its term")
	})
	runPast(t, s)
	require.Greater(t, newTerm, oldTerm)
	require.Empty(t, s.check.violations)
}

// The reverse: a leader that hears but cannot send. Its followers hear no heartbeat, so they time
// out, grant each other pre-votes (none has heard from a leader lately) and elect a new leader in
// the next term. The old leader hears that leader's heartbeats, learns the higher term and steps
// down to follow it: one election, no churn, and the heal changes nothing.
func TestALeaderThatCannotSendIsReplacedAndFollowsTheNewLeader(t *testing.T) {
	s := storySim(t, "", 12*time.Second, nil)
	const cutAt, healAt = 2 * time.Second, 5 * time.Second
	var old, oldTerm, newLead, newTerm uint64
	var commitAtCut uint64
	s.q.at(cutAt, func() {
		old, oldTerm = s.leaderNow(t)
		commitAtCut = s.nodes[old].eng.Status().Commit
		s.partitionNow(asymmetricPartition(without(s.ids, old), []uint64{old}))
	})
	s.q.at(healAt, func() {
		var ok bool
		newLead, ok = s.leaderAmong(without(s.ids, old))
		require.True(t, ok, "the others elected a leader among themselves")
		newTerm = s.nodes[newLead].term
		st := s.nodes[old].eng.Status()
		require.Equal(t, raft.Follower, st.Role, "the mute leader heard the new term and stepped down")
		require.Equal(t, newLead, st.Lead, "it follows the new leader even before the heal")
		require.Equal(t, newTerm, st.Term)
		require.LessOrEqual(t, newTerm, oldTerm+2, "the next term, or the one after a split vote: no churn")
		require.Equal(t, 1, s.electionsBetween(cutAt, healAt), "one leader elected")
		s.heal()
	})
	s.q.at(healAt+time.Second, func() {
		lead, term := s.leaderNow(t)
		require.Equal(t, [2]uint64{newLead, newTerm}, [2]uint64{lead, term}, "the heal changed nothing")
	})
	runPast(t, s)
	require.Positive(t, commitAtCut)
	require.Empty(t, s.check.violations)
}

// Every node crashes at once, losing whatever was not yet synced. Raft's promise is that what
// was acknowledged was on a majority's disk (Figure 2: persist before answering), so when they all
// restart, a leader is elected and every acknowledged operation is still there, at its index.
func TestEveryNodeCrashesAndEveryAcknowledgedOperationSurvives(t *testing.T) {
	s := storySim(t, "", 12*time.Second, nil)
	const crashAt, restartAt = 3 * time.Second, 3500 * time.Millisecond
	before := map[uint64]string{}
	var acked []string
	s.q.at(crashAt, func() {
		for _, id := range s.ids {
			for index, what := range s.appliedSince(id, 0) {
				before[index] = what
			}
			s.nodes[id].crash()
		}
		for _, op := range s.history {
			if op.Done && op.Input.Seq != 0 {
				acked = append(acked, fmt.Sprintf(" %s#%d ", op.ClientID, op.Input.Seq))
			}
		}
		s.faultChanged(true)
	})
	for i, id := range s.ids {
		n := s.nodes[id]
		s.q.at(restartAt+time.Duration(i)*50*time.Millisecond, func() {
			n.restart()
			s.faultChanged(true)
		})
	}
	s.q.at(5*time.Second, func() { s.leaderNow(t) })
	runPast(t, s)

	require.NotEmpty(t, acked, "clients had writes acknowledged before the crash")
	for _, id := range s.ids {
		after := s.appliedSince(id, restartAt)
		var all strings.Builder
		for index, what := range before {
			require.Equal(t, what, after[index], "node %d re-applied the same entry at index %d after the restart", id, index)
		}
		for _, what := range after {
			all.WriteString(what + "\n")
		}
		for _, op := range acked {
			require.Contains(t, all.String(), op, "node %d lost the acknowledged write%s", id, op)
		}
	}
	require.Empty(t, s.check.violations, "every replica converged to the same game state (the final checks)")
}

// A follower cut off for four seconds falls so far behind that the leader has compacted its log
// past the follower's last entry (§7): the entries it needs are gone, so after the heal the leader
// sends its snapshot instead, and the follower ends with the same game state as everyone.
func TestALaggingFollowerCatchesUpThroughASnapshot(t *testing.T) {
	s := storySim(t, "", 14*time.Second, func(m *FaultMix) { m.SnapshotEvery = 16 })
	const cutAt, healAt = 2 * time.Second, 6 * time.Second
	var lead, follower uint64
	s.q.at(cutAt, func() {
		lead, _ = s.leaderNow(t)
		follower = without(s.ids, lead)[0]
		s.partitionNow(isolatePartition(follower, s.ids))
	})
	s.q.at(healAt, func() {
		l, f := s.nodes[lead].eng.Status(), s.nodes[follower].eng.Status()
		require.Greater(t, l.FirstIndex, f.LastIndex+1, "the leader compacted past the follower's last entry")
		require.Zero(t, s.delivered(follower, raft.MsgSnap), "no snapshot before the heal")
		s.heal()
	})
	s.q.at(healAt+2*time.Second, func() {
		require.Positive(t, s.delivered(follower, raft.MsgSnap), "the follower was sent the leader's snapshot")
		require.Greater(t, s.nodes[follower].eng.Status().FirstIndex, uint64(1), "its log now starts after a snapshot")
	})
	runPast(t, s)
	require.Empty(t, s.check.violations)
	require.Equal(t, s.nodes[lead].eng.GameSnapshot(), s.nodes[follower].eng.GameSnapshot(), "identical game state")
	require.Equal(t, s.nodes[lead].eng.Status().Applied, s.nodes[follower].eng.Status().Applied)
}

// figure8 is what the Figure 8 story saw: the paper's servers S1-S5 as node ids (S1 is whoever
// led first), the terms of the paper's (a)-(d), the index both S1 and S5 wrote to, and S1's commit
// index just after its old-term entry reached a majority in (c).
type figure8 struct {
	paper          [6]uint64 // paper[1] is S1's node id, ... paper[5] is S5's
	termA, termB   uint64    // S1's term in (a), S5's in (b)
	termC, termD   uint64    // S1's term in (c), S5's in (d)
	index          uint64    // the index of S1's entry of term A, and of S5's of term B
	commitC        uint64    // S1's commit index once S1, S2 and S3 hold the entry of term A
	stage          int       // how far the script got: 4 when (d) finished
	onMajorityAtC  bool      // S1, S2 and S3 held the entry of term A at that moment
	overwrittenAtD bool      // S3's copy of it was replaced by S5's entry in (d)
	firstViolation string
	checkersFired  []string
	appliedAtIndex map[uint64]string // what each node applied at the index, by node id
}

// figure8Story scripts Raft paper Figure 8 (§5.4.2) on the simulator, with no clients so that
// every entry is the story's. The engine appends a no-op when it wins an election, which the paper
// leaves out: S5's no-op of term B plays the paper's entry of term 3, and S2, which receives S1's
// no-op of term C in (c) and so would out-vote S5, sits out of (d) cut off.
//
//	(a) S1 leads term A; cut {S1,S2} from {S3,S4,S5} (and S3 from S4, so only S5 can win there);
//	    S1 appends an entry at index i and replicates it to S2 only; S1 crashes.
//	(b) S5 wins term B with the votes of S3 and S4, is cut off at once, writes its no-op at
//	    index i alone, and crashes.
//	(c) S1 restarts (S4 cut off, S2 cut from S3) and wins term C with S2's and S3's votes. It
//	    sends S3 the entry of term A at index i, one entry per append; as soon as S3 holds it, S1's
//	    later appends to S3 are cut (S3's answers still arrive). The entry of term A is now on a
//	    majority. Correct Raft does not commit it by counting; with commit-old-term S1 does.
//	(d) S1 crashes; S5 restarts (S2 cut off) and wins with S3's and S4's votes, since its last
//	    entry (term B) beats theirs (term A). It replaces index i with its own entry of term B.
func figure8Story(t *testing.T, bug string) figure8 {
	s := storySim(t, bug, 20*time.Second, func(m *FaultMix) { m.MaxSizePerMsg = 1 })
	s.clients = nil
	var f figure8
	p := &f.paper
	node := func(i int) *node { return s.nodes[p[i]] }
	restart := func(i int) {
		node(i).restart()
		s.faultChanged(true)
	}
	crash := func(i int) {
		node(i).crash()
		s.faultChanged(true)
	}
	s.q.at(1500*time.Millisecond, func() { // (a)
		p[1], f.termA = s.leaderNow(t)
		copy(p[2:], without(s.ids, p[1]))
		s.partitionNow(symmetricPartition([]uint64{p[1], p[2]}, []uint64{p[3], p[4], p[5]}))
		s.partitionNow(symmetricPartition([]uint64{p[3]}, []uint64{p[4]}))
		_, err := node(1).eng.Propose(game.Command{Kind: game.KindCreateRoom, ClientID: "story", Seq: 1, Room: storyRoom(1)})
		require.NoError(t, err)
		node(1).process()
		f.index = node(1).eng.Status().LastIndex
		s.onceTrue(func() bool { return s.diskHolds(p[2], f.index, f.termA) }, func() {
			crash(1)
			s.onceTrue(func() bool { return s.isLeading(p[5]) }, func() { // (b)
				s.partitionNow(isolatePartition(p[5], s.ids))
				f.termB = node(5).term
				require.True(t, s.diskHolds(p[5], f.index-1, f.termA) && node(5).eng.Status().LastIndex == f.index,
					"S5's no-op lands at index %d, where S1's entry is", f.index)
				f.stage = 1
				s.onceTrue(func() bool { return s.diskHolds(p[5], f.index, f.termB) }, func() {
					crash(5)
					figure8C(t, s, &f, restart, crash)
				})
			})
		})
	})
	runPast(t, s)
	if len(s.check.violations) > 0 {
		f.firstViolation = s.check.violations[0].String()
	}
	f.checkersFired = s.checkersFired()
	f.appliedAtIndex = map[uint64]string{}
	for _, id := range s.ids {
		f.appliedAtIndex[id] = s.appliedSince(id, 0)[f.index]
	}
	return f
}

// figure8C runs steps (c) and (d) of the Figure 8 story.
func figure8C(t *testing.T, s *sim, f *figure8, restart, crash func(int)) {
	p := f.paper
	s.heal()
	s.partitionNow(isolatePartition(p[4], s.ids))
	s.partitionNow(isolatePartition(p[5], s.ids))
	s.partitionNow(symmetricPartition([]uint64{p[2]}, []uint64{p[3]}))
	restart(1)
	s.onceTrue(func() bool { return s.isLeading(p[1]) }, func() {
		f.termC = s.nodes[p[1]].term
		f.stage = 2
		s.onceTrue(func() bool { return s.diskHolds(p[3], f.index, f.termA) }, func() {
			s.partitionNow(asymmetricPartition([]uint64{p[3]}, []uint64{p[1]}))
			s.q.after(100*time.Millisecond, func() {
				f.commitC = s.nodes[p[1]].eng.Status().Commit
				f.onMajorityAtC = s.diskHolds(p[1], f.index, f.termA) && s.diskHolds(p[2], f.index, f.termA) && s.diskHolds(p[3], f.index, f.termA)
				f.stage = 3
				crash(1) // (d)
				s.heal()
				s.partitionNow(isolatePartition(p[2], s.ids))
				restart(5)
				s.onceTrue(func() bool { return s.isLeading(p[5]) && s.nodes[p[5]].eng.Status().Commit > f.index }, func() {
					f.termD = s.nodes[p[5]].term
					f.overwrittenAtD = s.diskHolds(p[3], f.index, f.termB)
					f.stage = 4
					s.heal()
					restart(1)
				})
			})
		})
	})
}

// Raft paper Figure 8: an entry of an earlier term that reaches a majority is not yet committed,
// because a server whose last entry has a later term can still be elected and overwrite it. The
// rule of §5.4.2 (commit by counting only entries of the leader's own term) keeps S1 from
// committing it, so when S5 overwrites it nobody had applied it and every checker holds.
func TestLeaderDoesNotCommitAnOldTermEntryByCountingReplicas(t *testing.T) {
	f := figure8Story(t, "")
	t.Logf("S1..S5 = nodes %v; terms A=%d B=%d C=%d D=%d; index %d; S1's commit in (c): %d", f.paper[1:], f.termA, f.termB, f.termC, f.termD, f.index, f.commitC)
	require.Equal(t, 4, f.stage, "the script ran to the end of (d)")
	require.True(t, f.termA < f.termB && f.termB < f.termC && f.termC < f.termD, "four elections, in rising terms")
	require.True(t, f.onMajorityAtC, "in (c) S1, S2 and S3 held the entry of term A: a majority")
	require.Less(t, f.commitC, f.index, "yet S1 did not commit it: it is of an earlier term")
	require.True(t, f.overwrittenAtD, "in (d) S5 replaced it on S3 with its entry of term B")
	for id, what := range f.appliedAtIndex {
		require.True(t, strings.HasPrefix(what, fmt.Sprintf("term %d ", f.termB)), "node %d applied S5's entry of term B at index %d, got %q", id, f.index, what)
	}
	require.Empty(t, f.checkersFired, "no checker fired; every replica converged")
}

// With commit-old-term, S1 commits the entry of term A as soon as S3's acknowledgement makes a
// majority. The commit-safety checker fires at that instant (S5 lacks the entry and could still
// be elected by S3, S4 and itself), and once S5 does win in (d) and overwrites it, nodes apply two
// different entries at one index: state-machine-safety fires too.
func TestCommittingAnOldTermEntryByCountingLetsItBeOverwritten(t *testing.T) {
	f := figure8Story(t, "commit-old-term")
	t.Logf("S1..S5 = nodes %v; terms A=%d B=%d C=%d D=%d; index %d; S1's commit in (c): %d; first violation: %s", f.paper[1:], f.termA, f.termB, f.termC, f.termD, f.index, f.commitC, f.firstViolation)
	require.Equal(t, 4, f.stage, "the script ran to the end of (d)")
	require.True(t, f.onMajorityAtC)
	require.GreaterOrEqual(t, f.commitC, f.index, "S1 committed the entry of term A by counting")
	require.True(t, f.overwrittenAtD, "and S5 overwrote it")
	require.Contains(t, f.firstViolation, CheckCommitSafety+" ")
	require.Contains(t, f.checkersFired, CheckStateMachineSafety, "the overwrite reached a state machine")
	require.Contains(t, f.appliedAtIndex[f.paper[1]], "story#1", "S1 applied its entry of term A")
}
