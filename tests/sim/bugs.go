// Teaching bugs: each switches off one rule of Raft (paper §5.4.1, §5.4.2 and Figure 8, Figure 2's
// persistent state; thesis §9.6) so a learner can watch a checker catch what the rule prevents.
// `kanna sim --bug list` prints them.

package sim

import (
	"fmt"
	"strings"
	"time"
)

// Bug is one rule switched off, with the faults that expose it soonest.
type Bug struct {
	Name string
	Help string
	// Rule is the sentence of the paper the bug breaks, Section where it stands, Func the file and
	// function of the core (or the shell) that implement it, and Test the tests that catch it:
	// what `--bug list` and every failure under the bug print, so a learner knows where to look.
	Rule    string
	Section string
	Func    string
	Test    string
	// Faults is the fault list used when --faults is not given: the faults that expose this bug.
	Faults []string
	// Expect is the checker expected to fire.
	Expect string
	// Seeds is how many consecutive seeds, from any base, are enough to catch the bug with
	// BugOptions: measured by TestBugIsCaught and stated in docs/simulation.md.
	Seeds int
	setup func(*engineConfig)
	// tune sharpens a seed's fault mix toward the situation the bug needs.
	tune func(*FaultMix)
	// sendBeforeSync breaks the simulated shell instead of the core: it sends a Ready's messages
	// before the Ready's fsync completes.
	sendBeforeSync bool
	// membership turns on Options.Membership: the bug is in configuration changes, which only
	// happen when members join and leave.
	membership bool
	// ignoresLostStorage: the core does not heed Restored.Lost, so a damaged disk's node votes.
	ignoresLostStorage bool
}

// configure applies the bug to a node's configuration; the zero Bug changes nothing.
func (b Bug) configure(cfg *engineConfig) {
	if b.setup != nil {
		b.setup(cfg)
	}
}

// Bugs lists every teaching bug, in the order `--bug list` prints them.
var Bugs = []Bug{
	{
		Name:    "vote-without-log-check",
		Rule:    "grant a vote only to a candidate whose log is at least as up-to-date as the voter's",
		Section: "Raft paper §5.4.1",
		Func:    "raft/election.go handleVoteRequest, raft/log.go isUpToDate",
		Test:    "tests/sim TestBugIsCaught/vote-without-log-check; raft TestLab1_VoteOnlyForUpToDateLog",
		Help:    "grant votes without the candidate-log-is-up-to-date check (paper §5.4.1); a leader can miss committed entries and overwrite them",
		Faults:  []string{"partition", "crash", "reorder"},
		Expect:  CheckStateMachineSafety + " or " + CheckLeaderCompleteness,
		Seeds:   50,
		setup: func(c *engineConfig) {
			c.Bugs.VoteWithoutLogCheck = true
		},
	},
	{
		Name:    "commit-old-term",
		Rule:    "a leader commits an entry of an earlier term only through an entry of its own term",
		Section: "Raft paper §5.4.2, Figure 8",
		Func:    "raft/quorum.go maybeCommit",
		Test:    "tests/sim TestBugIsCaught/commit-old-term; raft TestLab2_NoCommitOfOldTermByCounting; raft/testdata/figure8.txt",
		Help:    "let a leader commit entries of earlier terms by counting replicas (paper §5.4.2, Figure 8); a committed entry can be overwritten",
		Faults:  []string{"partition", "crash", "reorder"},
		Expect:  CheckCommitSafety + " or " + CheckStateMachineSafety + " or " + CheckLeaderCompleteness,
		Seeds:   50,
		setup: func(c *engineConfig) {
			c.Bugs.CommitOldTerm = true
		},
		tune: func(m *FaultMix) {
			// Figure 8 needs leaders that die with entries half replicated, and catch-up split
			// over several appends so an old entry can reach a majority before the new leader's.
			m.Partition, m.IsolateLeader, m.MaxSizePerMsg = true, 0.5, 1
			if len(m.Kinds) == 0 {
				m.Kinds = []string{"isolate"}
			}
		},
	},
	{
		Name:    "forget-vote-on-restart",
		Rule:    "votedFor is persistent state, kept across restarts",
		Section: "Raft paper Figure 2",
		Func:    "raft/node.go restore",
		Test:    "tests/sim TestBugIsCaught/forget-vote-on-restart; raft TestLab3_RestartedVoterDoesNotVoteTwice",
		Help:    "drop the persisted vote on restart (paper Figure 2: votedFor is persistent); a server can vote twice in one term and two leaders be elected",
		Faults:  []string{"crash", "reorder"},
		Expect:  CheckElectionSafety,
		Seeds:   50,
		setup: func(c *engineConfig) {
			c.Bugs.ForgetVoteOnRestart = true
		},
		tune: func(m *FaultMix) {
			// A voter must crash between two candidates' requests of one term and come back in
			// time for the second.
			m.Crash, m.CrashAfterVote, m.MaxDowntime, m.Reorder = true, 0.5, 10*time.Millisecond, true
		},
	},
	{
		Name:    "no-prevote-no-checkquorum",
		Rule:    "a server that was cut off must not depose a leader a majority still hears (pre-vote, and the lease of check-quorum)",
		Section: "Raft thesis §9.6, §6.2",
		Func:    "raft/election.go preCampaign and inLease, raft/quorum.go checkQuorumActive",
		Test:    "tests/sim TestBugIsCaught/no-prevote-no-checkquorum; raft TestLab5_RejoiningServerDoesNotDepose; raft/testdata/prevote_rejoin.txt",
		Help:    "turn off pre-vote and check-quorum (thesis §9.6); a server rejoining after a partition deposes a healthy leader",
		Faults:  []string{"partition"},
		Expect:  CheckDisruption,
		Seeds:   5,
		setup: func(c *engineConfig) {
			c.PreVote, c.CheckQuorum = false, false
		},
	},
	{
		// A bug of the shell rather than of the core: the persistence contract of Raft paper
		// Figure 2 ("updated on stable storage before responding to RPCs") broken.
		Name:    "send-before-fsync",
		Rule:    "persistent state is updated on stable storage before responding to RPCs",
		Section: "Raft paper Figure 2",
		Func:    "tests/sim/node.go process (the simulated shell: fsync, then send); raft/node.go mustSync",
		Test:    "tests/sim TestBugIsCaught/send-before-fsync; raft TestLab3_MustSyncBeforeVoteOrAppendLeaves",
		Help:    "the shell sends a Ready's messages before its fsync completes (Figure 2: persist before responding); a crash then forgets a vote or entries others counted on",
		Faults:  []string{"crash", "reorder"},
		Expect:  CheckElectionSafety + " or " + CheckCommitSafety + " or " + CheckLeaderCompleteness + " or " + CheckStateMachineSafety + " or " + CheckLogMatching,
		Seeds:   10,
		tune: func(m *FaultMix) {
			m.Crash, m.CrashAfterVote, m.MaxDowntime, m.Reorder = true, 0.5, 10*time.Millisecond, true
		},
		sendBeforeSync: true,
	},
	{
		Name:    "many-conf-changes",
		Rule:    "a leader proposes one configuration change at a time, the next only once the last committed",
		Section: "Raft thesis §4.1",
		Func:    "raft/membership.go ProposeConfChange",
		Test:    "tests/sim TestBugIsCaught/many-conf-changes; raft TestOnlyOneConfChangeMayBeUncommitted",
		Help:    "let a leader propose a configuration change while another is uncommitted (thesis §4.1: one change at a time); majorities of the old and new configurations need no longer overlap",
		Faults:  []string{"crash", "partition"},
		Expect:  CheckOneConfChange,
		Seeds:   10,
		setup: func(c *engineConfig) {
			c.Bugs.ManyConfChanges = true
		},
		tune: func(m *FaultMix) {
			// A change stays uncommitted long enough for the next only when the leader cannot
			// reach a majority: members come and go often while partitions cut the leader off.
			m.MemberEvery, m.Partition, m.IsolateLeader = 400*time.Millisecond, true, 0.3
			if len(m.Kinds) == 0 {
				m.Kinds = []string{"isolate", "majority"}
			}
		},
		membership: true,
	},
	{
		// Storage that loses what it fsynced breaks Raft's own assumption (Figure 2); the rule
		// switched off is the recovery of raft/recovery.go (Alagappan et al., FAST 2018).
		Name:    "no-storage-recovery",
		Rule:    "a server that lost state it acknowledged neither votes nor counts toward commitment until the leader has sent it back",
		Section: "Alagappan et al., FAST 2018, §4 (beyond the Raft paper, whose Figure 2 assumes storage keeps what it fsynced)",
		Func:    "raft/recovery.go maybeEndRecovery; raft/node.go restore; server/wal/wal.go checkPromise",
		Test:    "tests/sim TestBugIsCaught/no-storage-recovery; raft TestFindingBUndetectedLossLetsALeaderWithoutWWin",
		Help:    "a node whose disk lost fsynced entries restarts as if its shorter log were all it ever held (no promise mark); it votes for a leader missing acknowledged writes",
		Faults:  []string{"storage", "partition"},
		Expect:  CheckLeaderCompleteness + " or " + CheckStateMachineSafety + " or " + CheckCommitSafety + " or " + CheckElectionSafety + " or " + CheckLogMatching,
		Seeds:   20,
		setup: func(c *engineConfig) {
			c.Bugs.IgnoreLostStorage = true
		},
		ignoresLostStorage: true,
		tune: func(m *FaultMix) {
			m.Storage, m.Interval = true, 300*time.Millisecond
			if m.MaxDowntime == 0 {
				m.MaxDowntime = time.Second
			}
		},
	},
}

// lookupBug finds a bug by name; the empty name is correct Raft.
func lookupBug(name string) (Bug, error) {
	if name == "" {
		return Bug{}, nil
	}
	for _, b := range Bugs {
		if b.Name == name {
			return b, nil
		}
	}
	names := make([]string, len(Bugs))
	for i, b := range Bugs {
		names[i] = b.Name
	}
	return Bug{}, fmt.Errorf("sim: unknown bug %q; choose from %s (or --bug list)", name, strings.Join(names, ", "))
}
