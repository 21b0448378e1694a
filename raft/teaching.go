// Teaching switches: each removes one rule of the Raft paper, so that the simulator (`kanna sim
// --bug`) can show a learner what the rule prevents. They are not a field of Config, so that no
// production configuration can carry one by accident; only WithTeachingBugs sets them, and only the
// simulator and the core's own tests call it.
//
// A switch that is on also relaxes the invariant checks that its damage would trip (bugsOn): the
// simulator wants to watch the cluster's checkers catch the damage, not a panic in the core. The
// one relaxed check is the leader's "a follower cannot match past my last index"
// (handleAppendResponse in replication.go), which a leader elected without the up-to-date check
// can meet.

package raft

// TeachingBugs names the rules that can be switched off. The zero value is correct Raft.
type TeachingBugs struct {
	// VoteWithoutLogCheck grants votes without the "candidate's log is at least as up-to-date"
	// check (paper §5.4.1; election.go, handleVoteRequest). A leader can then lack committed
	// entries and overwrite them.
	VoteWithoutLogCheck bool
	// CommitOldTerm lets a leader commit entries of earlier terms by counting replicas (paper
	// §5.4.2 and Figure 8; quorum.go, maybeCommit), so a committed entry can later be overwritten.
	CommitOldTerm bool
	// ForgetVoteOnRestart drops the persisted vote when a server restarts (paper Figure 2: votedFor
	// is persistent; node.go, restore), so it can vote twice in one term and two leaders can be
	// elected in it.
	ForgetVoteOnRestart bool
	// ManyConfChanges lets a leader propose a configuration change while an earlier one is still
	// uncommitted (thesis §4.1: one change at a time; membership.go, ProposeConfChange). Two
	// uncommitted single-server changes can make a configuration whose majorities do not overlap
	// the committed one's, so two leaders can be elected in one term.
	ManyConfChanges bool
	// IgnoreLostStorage makes a server whose storage reports lost state (Restored.Lost) start as if
	// its shortened log were all it ever held, and one whose folder was wiped bootstrap afresh
	// (recovery.go; Alagappan et al., FAST 2018). It then votes and answers without what it had
	// acknowledged, and a leader missing committed entries can be elected.
	IgnoreLostStorage bool
}

// WithTeachingBugs returns cfg with the given rules of the algorithm switched off. It exists for
// the simulator's --bug flag and the core's tests; a real node never calls it.
func WithTeachingBugs(cfg Config, b TeachingBugs) Config {
	cfg.bugs = b
	return cfg
}

// bugsOn reports whether a teaching bug is switched on, in which case the invariants it breaks
// must not stop the core: the simulator wants to watch the damage, not a panic.
func (n *Node) bugsOn() bool { return n.cfg.bugs != (TeachingBugs{}) }
