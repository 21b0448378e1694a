// Teaching switches: each removes one rule of SWIM, so that the gossip simulator (`kanna sim
// --gossip-only --bug`) can show a learner what the rule is for. As in raft/teaching.go they are
// not a field of Config: only WithTeachingBugs sets them, and only the gossip simulator
// (tests/sim/gossipsim/bugs.go) calls it.

package gossip

// TeachingBugs names the rules that can be switched off. The zero value is correct SWIM.
type TeachingBugs struct {
	// NoRefutation: a member that hears it is suspected or dead does not raise its incarnation to
	// refute it (SWIM §4.2; state.go, applyAboutSelf). A member that was only slow is declared
	// dead and stays dead in every view.
	NoRefutation bool
	// NoSuspicionTimeout: a suspicion never runs out (SWIM §4.2, "confirm"; state.go,
	// tickSuspicions). A member that crashed stays suspect forever and is never declared dead.
	NoSuspicionTimeout bool
}

// WithTeachingBugs returns cfg with the given rules of SWIM switched off. It exists for the
// simulator's --bug flag and the core's tests; a real node never calls it.
func WithTeachingBugs(cfg Config, b TeachingBugs) Config {
	cfg.bugs = b
	return cfg
}
