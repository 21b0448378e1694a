// The lab track: six labs in the order of Raft paper Figure 2 (elections, replication, persistence,
// snapshots, the thesis's guards), then SWIM, each a set of functions of the real cores that a
// learner rewrites from stubs, graded by black-box tests and a simulator sweep.
//
// Which functions belong to which lab is not listed here: each is marked in the source of raft/ or
// gossip/ by a directive comment (directive.go), so the labs follow the code wherever it moves.
// This file says what each lab is about, what to read first, and how it is graded.

package lab

import "fmt"

// Lab is one step of the track.
type Lab struct {
	N       int
	Name    string
	Summary string
	// Read is what to read before starting, in order.
	Read []string
	// Dir is the package folder whose functions the lab stubs and whose tests grade it.
	Dir string
	// Rules are the lab's black-box tests, in the order they are graded.
	Rules []Rule
	// Sweep is the simulator that grades the lab's core once its tests pass.
	Sweep SweepKind
	// Minutes is how long the lab takes a learner who has read the sections, roughly.
	Minutes string
}

// Rule is one black-box grading test: its name in the package's tests and the rule it checks.
type Rule struct {
	Test    string
	Rule    string
	Section string
}

// SweepKind names the simulator that sweeps a lab.
type SweepKind string

const (
	// SweepRaft runs `kanna sim --seeds N`: five-node clusters with the Hangman game under
	// partitions, crashes, loss and reordering, checked by the Raft safety and liveness checkers.
	SweepRaft SweepKind = "raft"
	// SweepGossip runs `kanna sim --gossip-only` once per seed: twenty members under loss, a
	// paused member and a crash, checked for convergence and stale deaths.
	SweepGossip SweepKind = "gossip"
)

// Labs is the track, in order.
var Labs = []Lab{
	{
		N: 1, Name: "elections", Dir: "raft", Sweep: SweepRaft, Minutes: "60-90",
		Summary: "terms, votes and randomized election timeouts",
		Read: []string{
			"Raft paper §5.1 (terms) and §5.2 (leader election), and Figure 2's RequestVote box",
			"Raft paper §5.4.1 (election restriction)",
			"raft/election.go's header, and raft/config.go (ElectionTick, Rand)",
		},
		Rules: []Rule{
			{"TestLab1_FollowerCampaignsAfterElectionTimeout", "a follower that hears from no leader for a randomized election timeout becomes a candidate", "§5.2"},
			{"TestLab1_CandidateIncrementsTermAndVotesForItself", "to begin an election, a follower increments its term, votes for itself and sends RequestVote to every other server", "§5.2"},
			{"TestLab1_CandidateWithMajorityBecomesLeader", "a candidate that receives votes from a majority of the servers in the same term becomes leader", "§5.2"},
			{"TestLab1_OneVotePerTerm", "each server votes for at most one candidate in a given term, first come first served", "§5.2"},
			{"TestLab1_VoteOnlyForUpToDateLog", "a voter denies its vote if its own log is more up to date than the candidate's", "§5.4.1"},
			{"TestLab1_RandomizedTimeoutsSpread", "election timeouts are chosen randomly from a fixed interval, so that split votes are rare", "§5.2, thesis §9.3"},
		},
	},
	{
		N: 2, Name: "replication", Dir: "raft", Sweep: SweepRaft, Minutes: "90-120",
		Summary: "the consistency check, conflict truncation and commit advance, Figure 8 included",
		Read: []string{
			"Raft paper §5.3 (log replication) and Figure 2's AppendEntries box",
			"Raft paper §5.4.2 (committing entries from previous terms) and Figure 8",
			"raft/replication.go's and raft/log.go's headers; raft/testdata/figure8.txt",
		},
		Rules: []Rule{
			{"TestLab2_RejectAppendWithoutMatchingPrevEntry", "reply false if the log holds no entry at prevLogIndex whose term matches prevLogTerm", "§5.3"},
			{"TestLab2_TruncateConflictingEntries", "if an existing entry conflicts with a new one (same index, different terms), delete it and all that follow it", "§5.3"},
			{"TestLab2_KeepEntriesOnStaleAppend", "an append that repeats entries the log already holds truncates nothing", "§5.3"},
			{"TestLab2_FollowerCommitIsMinOfLeaderCommitAndLastNew", "set commitIndex = min(leaderCommit, index of last new entry)", "§5.3"},
			{"TestLab2_LeaderCommitsOnMajority", "a leader commits an entry of its term once a majority of servers store it", "§5.3"},
			{"TestLab2_NoCommitOfOldTermByCounting", "a leader never commits an entry from an earlier term by counting replicas; it commits it with an entry of its own term (Figure 8)", "§5.4.2"},
		},
	},
	{
		N: 3, Name: "persistence", Dir: "raft", Sweep: SweepRaft, Minutes: "45-60",
		Summary: "what must be durable before a message leaves, and restarting from it",
		Read: []string{
			"Raft paper Figure 2, \"Persistent state on all servers\" and \"updated on stable storage before responding to RPCs\"",
			"docs/raft.md, \"The Ready contract\"; docs/wal.md",
			"raft/node.go (New, Ready, Advance) and raft/types.go (Ready, HardState)",
		},
		Rules: []Rule{
			{"TestLab3_HardStateCarriesTermVoteCommit", "currentTerm, votedFor and the commit index reach the driver in Ready.HardState when they change", "Figure 2"},
			{"TestLab3_MustSyncBeforeVoteOrAppendLeaves", "a Ready whose term, vote or entries changed must be synced before its messages are sent", "Figure 2"},
			{"TestLab3_RestartKeepsTermVoteAndLog", "a restarted server resumes from the term, vote and log it persisted", "Figure 2"},
			{"TestLab3_RestartedVoterDoesNotVoteTwice", "a server that voted in a term and restarts does not vote for another candidate in that term", "Figure 2, §5.2"},
		},
	},
	{
		N: 4, Name: "snapshots", Dir: "raft", Sweep: SweepRaft, Minutes: "60-90",
		Summary: "log compaction and InstallSnapshot in chunks",
		Read: []string{
			"Raft paper §7 (log compaction) and Figure 13 (InstallSnapshot)",
			"raft/snapshot.go's header; raft/testdata/snapshot_catch_up.txt",
		},
		Rules: []Rule{
			{"TestLab4_CompactKeepsIndexTermAndConf", "a snapshot replaces the log up to an applied index, keeping that entry's index and term and the configuration", "§7"},
			{"TestLab4_CompactRefusesUnappliedIndex", "only state the state machine has applied can be snapshotted", "§7"},
			{"TestLab4_LaggingFollowerGetsSnapshotInChunks", "a leader sends a follower whose next entry is compacted its snapshot, in chunks at byte offsets, the last marked done", "§7, Figure 13"},
			{"TestLab4_InstallSnapshotDiscardsConflictingLog", "a follower whose log does not hold the snapshot's last entry discards its whole log and restores from the snapshot", "Figure 13, steps 7-8"},
			{"TestLab4_InstallSnapshotKeepsFollowingEntries", "a follower whose log holds the snapshot's last entry keeps the entries that follow it", "Figure 13, step 6"},
		},
	},
	{
		N: 5, Name: "pre-vote and check-quorum", Dir: "raft", Sweep: SweepRaft, Minutes: "45-60",
		Summary: "the two guards against a server that was cut off deposing a healthy leader",
		Read: []string{
			"Raft thesis §9.6 (preventing disruptions when a server rejoins) and §6.2 (check-quorum)",
			"raft/testdata/prevote_rejoin.txt and raft/testdata/check_quorum.txt",
		},
		Rules: []Rule{
			{"TestLab5_PreVoteDoesNotRaiseTerm", "a pre-candidate asks whether it could win without raising its term", "thesis §9.6"},
			{"TestLab5_PreVoteWonLeadsToCampaign", "a pre-candidate granted pre-votes by a majority starts a real election", "thesis §9.6"},
			{"TestLab5_RejoiningServerDoesNotDepose", "a server cut off and rejoining does not depose a leader that a majority still hears", "thesis §9.6"},
			{"TestLab5_LeaderStepsDownWithoutQuorum", "a leader that has not heard from a majority within an election timeout steps down", "thesis §6.2"},
			{"TestLab5_VoterInLeaseIgnoresVoteRequest", "a server that heard from a leader within the election timeout ignores requests to elect another", "thesis §9.6"},
		},
	},
	{
		N: 6, Name: "SWIM", Dir: "gossip", Sweep: SweepGossip, Minutes: "90-120",
		Summary: "probe, indirect probe, suspicion and refutation",
		Read: []string{
			"SWIM paper (Das, Gupta, Motivala 2002) §3.1 (failure detector), §4.2 (suspicion), §4.3 (round-robin probes)",
			"docs/gossip.md; gossip/probe.go's and gossip/state.go's headers",
		},
		Rules: []Rule{
			{"TestLab6_ProbeOneMemberPerPeriod", "every protocol period a member pings one other member, in a shuffled round-robin order", "SWIM §3.1, §4.3"},
			{"TestLab6_IndirectProbeAfterTimeout", "with no ack by the probe timeout, ask k other members to ping the target (ping-req)", "SWIM §3.1"},
			{"TestLab6_RelayPingsTargetAndForwardsAck", "a member asked to ping-req pings the target and forwards its ack to the asker", "SWIM §3.1"},
			{"TestLab6_SuspectWhenNoAck", "with no ack, direct or relayed, by the end of the period, the target becomes suspect", "SWIM §4.2"},
			{"TestLab6_SuspectDeclaredDeadAfterTimeout", "a suspect not refuted within the suspicion timeout is declared dead", "SWIM §4.2"},
			{"TestLab6_RefuteSuspicionWithHigherIncarnation", "a member that hears it is suspected refutes by gossiping alive with a higher incarnation", "SWIM §4.2"},
		},
	},
}

// Get returns lab n.
func Get(n int) (Lab, error) {
	for _, l := range Labs {
		if l.N == n {
			return l, nil
		}
	}
	return Lab{}, fmt.Errorf("lab %d does not exist; `kanna lab list` shows labs 1 to %d", n, len(Labs))
}

// TestPattern is the -run pattern that selects the lab's grading tests.
func (l Lab) TestPattern() string { return fmt.Sprintf("^TestLab%d_", l.N) }
