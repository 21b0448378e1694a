// Teaching bugs of the gossip core: each switches off one rule of SWIM (§4.2: refutation, and the
// suspicion timeout that confirms a failure) so a learner can watch the run's checkers catch what
// the rule prevents. `kanna sim --bug list` prints them beside Raft's.

package gossipsim

import (
	"fmt"
	"strings"

	"github.com/kanna-cluster/kanna/gossip"
)

// Bug is one rule of SWIM switched off, with the faults that expose it.
type Bug struct {
	Name    string
	Help    string
	Rule    string
	Section string
	Func    string
	Test    string
	// Expect names the checkers expected to fire.
	Expect string
	bugs   gossip.TeachingBugs
	// faults turns on what the bug needs to show.
	faults func(*Options)
}

// Bugs lists the gossip teaching bugs, in the order `--bug list` prints them.
var Bugs = []Bug{
	{
		Name:    "no-refutation",
		Help:    "a member told it is suspected does not refute; a member that was only paused is declared dead and stays dead in every view",
		Rule:    "a member that hears it is suspected refutes by gossiping alive with a higher incarnation",
		Section: "SWIM §4.2",
		Func:    "gossip/state.go applyAboutSelf",
		Test:    "tests/sim/gossipsim TestGossipBugIsCaught/no-refutation; gossip TestLab6_RefuteSuspicionWithHigherIncarnation",
		Expect:  CheckStaleDead + " or " + CheckConvergence,
		bugs:    gossip.TeachingBugs{NoRefutation: true},
		faults:  func(o *Options) { o.Pause = true },
	},
	{
		Name:    "no-suspicion-timeout",
		Help:    "a suspicion never runs out; a member that crashed stays suspect forever and is never declared dead",
		Rule:    "a suspect that does not refute within the suspicion timeout is declared dead (confirm)",
		Section: "SWIM §4.2",
		Func:    "gossip/state.go tickSuspicions",
		Test:    "tests/sim/gossipsim TestGossipBugIsCaught/no-suspicion-timeout; gossip TestLab6_SuspectDeclaredDeadAfterTimeout",
		Expect:  CheckConvergence,
		bugs:    gossip.TeachingBugs{NoSuspicionTimeout: true},
		faults:  func(o *Options) { o.CrashAt = min(o.CrashAt, o.FaultsEnd/2) },
	},
}

// LookupBug finds a gossip bug by name.
func LookupBug(name string) (Bug, error) {
	names := make([]string, len(Bugs))
	for i, b := range Bugs {
		if b.Name == name {
			return b, nil
		}
		names[i] = b.Name
	}
	return Bug{}, fmt.Errorf("gossip sim: unknown bug %q; choose from %s (or --bug list)", name, strings.Join(names, ", "))
}

// Apply switches the bug on in o, with the faults that expose it.
func (b Bug) Apply(o *Options) {
	prev := o.Tune
	o.Tune = func(c *gossip.Config) {
		if prev != nil {
			prev(c)
		}
		*c = gossip.WithTeachingBugs(*c, b.bugs)
	}
	if b.faults != nil {
		b.faults(o)
	}
}
