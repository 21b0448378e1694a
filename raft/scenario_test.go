// Scenario tests: stories of a cluster under faults, told with the in-memory network
// (network_test.go). Each checks an end-to-end promise of Raft (paper §5, §8; thesis §3.10, §4,
// §6.4, §9.6) rather than one rule.

package raft

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClusterElectsOneLeaderAndReplicatesToAll(t *testing.T) {
	for size := 1; size <= 7; size++ {
		nw := newNetwork(t, size)
		lead := nw.tickUntilLeader()
		leaders := 0
		for _, id := range nw.ids() {
			if nw.nodes[id].role == Leader {
				leaders++
			}
			require.Equal(t, lead, nw.nodes[id].lead, "server %d follows the leader", id)
		}
		require.Equal(t, 1, leaders, "size %d", size)
		nw.propose(lead, "a")
		nw.propose(lead, "b")
		nw.requireSameState("a", "b")
	}
}

func TestIsolatedFollowerRejoinsWithoutDisruptingTheLeader(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	term := nw.nodes[1].term

	// Server 3 is cut off for many election timeouts. With pre-vote it asks, hears nothing, and
	// never raises its term.
	nw.isolate(3)
	nw.tick(10 * nw.nodes[3].cfg.ElectionTick)
	require.Equal(t, term, nw.nodes[3].term, "an isolated pre-candidate keeps its term")
	nw.propose(1, "while-3-was-away")

	// It comes back: the leader carries on in the same term and catches it up.
	nw.heal()
	nw.tick(3)
	require.Equal(t, uint64(1), nw.leader())
	require.Equal(t, term, nw.nodes[1].term)
	nw.requireSameState("while-3-was-away")
}

func TestWithoutPreVoteARejoiningServerDeposesTheLeader(t *testing.T) {
	nw := newNetwork(t, 3, withoutPreVote)
	nw.campaign(1)
	term := nw.nodes[1].term

	nw.isolate(3)
	nw.tick(10 * nw.nodes[3].cfg.ElectionTick)
	require.Greater(t, nw.nodes[3].term, term+3, "alone, server 3 campaigns again and again")

	// Its high term reaches the leader through the answer to a heartbeat: the leader steps down
	// and the cluster holds an election it did not need. This is what pre-vote prevents.
	nw.heal()
	nw.tick(1)
	require.Greater(t, nw.nodes[1].term, term)
	require.NotEqual(t, Leader, nw.nodes[1].role)
}

func TestLeaderCutOffFromMajorityStepsDownAndLosesItsUncommittedEntries(t *testing.T) {
	nw := newNetwork(t, 5)
	nw.campaign(1)
	nw.propose(1, "committed")

	// The leader and one follower are cut off from the other three.
	for _, a := range []uint64{1, 2} {
		for _, b := range []uint64{3, 4, 5} {
			nw.cutLink(a, b)
		}
	}
	_, _, err := nw.nodes[1].Propose([]byte("never-committed"))
	require.NoError(t, err)
	nw.stabilize()

	// Check-quorum: within an election timeout the old leader notices it leads a minority.
	nw.tick(2 * nw.nodes[1].cfg.ElectionTick)
	require.NotEqual(t, Leader, nw.nodes[1].role)
	newLead := nw.tickUntilLeader()
	require.Contains(t, []uint64{3, 4, 5}, newLead)
	nw.propose(newLead, "majority-side")

	// Healed, the old leader's uncommitted entry is overwritten by the majority's log.
	nw.heal()
	nw.tick(3)
	nw.requireSameState("committed", "majority-side")
}

func TestCrashedFollowerCatchesUpAfterRestart(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.propose(1, "a")
	nw.crash(3)
	nw.propose(1, "b")
	nw.propose(1, "c")
	nw.restart(3)
	nw.tick(2)
	nw.requireSameState("a", "b", "c")
}

func TestWholeClusterRestartKeepsCommittedEntries(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.propose(1, "a")
	nw.propose(1, "b")
	for _, id := range nw.ids() {
		nw.crash(id)
	}
	for _, id := range nw.ids() {
		nw.restart(id)
	}
	lead := nw.tickUntilLeader()
	nw.propose(lead, "c")
	nw.requireSameState("a", "b", "c")
}

func TestReplicationSurvivesRandomMessageLoss(t *testing.T) {
	nw := newNetwork(t, 5)
	rng := rand.New(rand.NewSource(7))
	nw.drop = func(Message) bool { return rng.Intn(100) < 20 }
	var want []string
	for i, c := range cmds("x", 30) {
		lead := nw.tickUntilLeader()
		if _, _, err := nw.nodes[lead].Propose([]byte(c)); err == nil {
			want = append(want, c)
		}
		nw.tick(1 + i%3)
	}
	// Safety: whatever any two servers applied agrees as far as both got.
	for _, a := range nw.ids() {
		for _, b := range nw.ids() {
			sa, sb := nw.state(a), nw.state(b)
			k := min(len(sa), len(sb))
			require.Equal(t, sa[:k], sb[:k], "servers %d and %d applied different commands", a, b)
		}
	}
	// Liveness: healed, the cluster converges and takes new commands.
	nw.heal()
	lead := nw.tickUntilLeader()
	nw.propose(lead, "final")
	nw.tick(3)
	got := nw.state(1)
	require.Equal(t, "final", got[len(got)-1])
	require.Subset(t, want, got[:len(got)-1], "only proposed commands are applied")
	for _, id := range nw.ids() {
		require.Equal(t, got, nw.state(id))
	}
}

func TestForgetVoteOnRestartBugElectsTwoLeadersInOneTerm(t *testing.T) {
	for _, bug := range []bool{false, true} {
		nw := newNetwork(t, 3, withoutPreVote, withoutCheckQuorum, withBugs(TeachingBugs{ForgetVoteOnRestart: bug}))
		// Server 1 campaigns and wins server 2's vote, but its link to 3 is down and its first
		// append to 2 is lost.
		nw.cutLink(1, 3)
		nw.drop = func(m Message) bool { return m.Type == MsgApp }
		nw.campaign(1)
		nw.drop = nil
		require.Equal(t, Leader, nw.nodes[1].role)
		term := nw.nodes[1].term

		// Server 2 crashes and restarts; server 3 campaigns in the same term and asks 2.
		nw.crash(2)
		nw.restart(2)
		nw.cutLink(1, 2)
		n3 := nw.nodes[3]
		n3.term = term - 1
		n3.campaign(false)
		nw.stabilize()
		require.Equal(t, term, n3.term)
		if bug {
			require.Equal(t, Leader, n3.role, "with the bug, server 2 votes twice: two leaders in term %d", term)
		} else {
			require.Equal(t, Candidate, n3.role, "server 2 remembers its vote: no second leader")
		}
	}
}

func TestSameSeedGivesTheSameMessages(t *testing.T) {
	run := func() []string {
		nw := newNetwork(t, 5)
		var trace []string
		nw.drop = func(m Message) bool {
			trace = append(trace, m.String())
			return false
		}
		lead := nw.tickUntilLeader()
		nw.propose(lead, "a")
		nw.isolate(lead)
		nw.tickUntilLeader()
		nw.heal()
		nw.tick(5)
		return trace
	}
	first := run()
	require.NotEmpty(t, first)
	require.Equal(t, first, run())
}

// TestFigure8CommittingAnOldTermEntryByCountingLosesIt replays paper Figure 8: an entry of an
// earlier term that a leader finds on a majority can still be overwritten, so counting its
// replicas must not commit it. With TeachingBugs.CommitOldTerm the entry is committed, applied, and then
// replaced: two servers end up with different histories.
func TestFigure8CommittingAnOldTermEntryByCountingLosesIt(t *testing.T) {
	for _, bug := range []bool{false, true} {
		t.Run(fmt.Sprintf("CommitOldTerm=%v", bug), func(t *testing.T) {
			// Pre-vote and check-quorum off: Figure 8 is about the basic algorithm. Appends carry
			// one entry each (X's two bytes exceed MaxSizePerMsg), so the test can lose one entry
			// without the other.
			nw := newNetwork(t, 5, withoutPreVote, withoutCheckQuorum, withBugs(TeachingBugs{CommitOldTerm: bug}),
				func(c *Config) { c.MaxSizePerMsg = 1 })
			nw.campaign(1)
			x := nw.nodes[1].log.lastIndex() + 1

			// (a) S1 leads term 2 and replicates X only to S2.
			for _, b := range []uint64{3, 4, 5} {
				nw.cutLink(1, b)
			}
			nw.propose(1, "XX")
			require.Equal(t, x, nw.nodes[2].log.lastIndex())

			// (b) S1 crashes. S5 wins term 3 with the votes of S3 and S4, appends its no-op at X's
			// index, and crashes before sending it.
			nw.crash(1)
			nw.heal()
			nw.drop = func(m Message) bool { return m.From == 5 && m.Type == MsgApp }
			nw.campaign(5)
			require.Equal(t, Leader, nw.nodes[5].role)
			require.Equal(t, uint64(3), nw.nodes[5].term)
			nw.crash(5)
			nw.drop = nil

			// (c) S1 restarts and wins term 4. It replicates X to S3 and S4, so X (of term 2) is on
			// a majority; its own no-op of term 4 is lost on the way.
			nw.restart(1)
			nw.drop = func(m Message) bool {
				// Lose every append that would give a server holding X the entry after it.
				return m.From == 1 && m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index > x &&
					nw.nodes[m.To].log.lastIndex() >= x
			}
			for i := 0; nw.nodes[1].role != Leader; i++ {
				require.Less(t, i, 3, "S1 must win within a couple of campaigns")
				nw.campaign(1)
			}
			require.Equal(t, uint64(4), nw.nodes[1].term)
			nw.stabilize()
			require.Equal(t, x, nw.nodes[3].log.lastIndex())
			if bug {
				require.Equal(t, x, nw.nodes[1].log.committed, "the bug commits X by counting replicas")
			} else {
				require.Less(t, nw.nodes[1].log.committed, x, "X is on a majority but not committed")
			}

			// (d) S1 crashes. S5 restarts and wins term 5 (its last term, 3, beats X's 2), and
			// overwrites X everywhere with its no-op.
			nw.crash(1)
			nw.drop = nil
			nw.restart(5)
			for i := 0; nw.nodes[5].role != Leader; i++ {
				require.Less(t, i, 3, "S5 must win within a couple of campaigns")
				nw.campaign(5)
			}
			require.Equal(t, uint64(5), nw.nodes[5].term)
			nw.propose(5, "after")

			// S1 comes back and follows S5.
			nw.restart(1)
			nw.tick(2)
			if bug {
				require.Equal(t, "XX", nw.state(1)[0], "S1 applied X as its first command")
				require.Equal(t, []string{"after"}, nw.state(5), "the new leader applied another: histories diverge")
			} else {
				nw.requireSameState("after")
			}
		})
	}
}

func TestLeaderThatCanSendButNotHearStepsDown(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)

	// Answers to server 1 are lost; its heartbeats still arrive, so the followers stay loyal.
	nw.cut[[2]uint64{2, 1}] = true
	nw.cut[[2]uint64{3, 1}] = true
	nw.tick(2 * nw.nodes[1].cfg.ElectionTick)

	// Check-quorum: hearing nobody for an election timeout, it steps down, and with it gone
	// quiet the others elect a leader that can commit.
	require.NotEqual(t, Leader, nw.nodes[1].role)
	lead := nw.tickUntilLeader()
	require.Contains(t, []uint64{2, 3}, lead)
	nw.propose(lead, "after")
	require.Equal(t, []string{"after"}, nw.state(2))
	require.Equal(t, []string{"after"}, nw.state(3))
}

func TestNewServerJoinsThroughASnapshotAndIsPromoted(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.SnapshotChunkSize = 10 })
	nw.campaign(1)
	want := cmds("before-", 10)
	for _, c := range want {
		nw.propose(1, c)
	}
	nw.compact(1)

	// Server 4 starts empty, knowing no configuration, and is added as a learner: the entries it
	// needs are compacted, so it is sent the snapshot, in chunks.
	nw.addServer(4)
	nw.changeConf(1, ConfChange{Type: AddLearner, NodeID: 4})
	nw.tick(2)
	require.Equal(t, want, nw.state(4), "the learner has the state machine from the snapshot")
	require.Greater(t, nw.delivered[MsgSnap], 1)

	// Caught up, it is promoted and takes part in commitment: with 3 down, a majority of four
	// voters needs 1, 2 and 4 all.
	nw.changeConf(1, ConfChange{Type: AddVoter, NodeID: 4})
	nw.crash(3)
	nw.propose(1, "with-4")
	require.Equal(t, append(want, "with-4"), nw.state(4))
	require.Equal(t, ConfState{Voters: []uint64{1, 2, 3, 4}}, nw.nodes[4].Status().ConfState)
}
