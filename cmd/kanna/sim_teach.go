// What `kanna sim` says about its teaching bugs: `--bug list` (and --json) with the rule each bug
// breaks, its paper section, the function that implements the rule and the test that catches it;
// the same lines under every failure of a run with --bug; and, when a seed shows nothing, that it
// showed nothing and how to sweep. Raft's bugs live in tests/sim/bugs.go, gossip's in
// tests/sim/gossipsim/bugs.go; a gossip bug runs the gossip-only simulator.

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/kanna-cluster/kanna/tests/sim"
	"github.com/kanna-cluster/kanna/tests/sim/gossipsim"
)

// teaching is what every listing and failure says about one bug.
type teaching struct {
	Name     string   `json:"name"`
	Core     string   `json:"core"`
	Help     string   `json:"help"`
	Rule     string   `json:"rule"`
	Section  string   `json:"section"`
	Func     string   `json:"function"`
	Test     string   `json:"test"`
	CaughtBy string   `json:"caught_by"`
	Seeds    int      `json:"seeds,omitempty"`
	Faults   []string `json:"faults,omitempty"`
}

func teachings() []teaching {
	var out []teaching
	for _, b := range sim.Bugs {
		out = append(out, teaching{Name: b.Name, Core: "raft", Help: b.Help, Rule: b.Rule, Section: b.Section, Func: b.Func,
			Test: b.Test, CaughtBy: b.Expect, Seeds: b.Seeds, Faults: b.Faults})
	}
	for _, b := range gossipsim.Bugs {
		out = append(out, teaching{Name: b.Name, Core: "gossip", Help: b.Help, Rule: b.Rule, Section: b.Section, Func: b.Func,
			Test: b.Test, CaughtBy: b.Expect})
	}
	return out
}

// teachingNames names every teaching bug, Raft's then gossip's.
func teachingNames() []string {
	var names []string
	for _, t := range teachings() {
		names = append(names, t.Name)
	}
	return names
}

func lookupTeaching(name string) (teaching, bool) {
	for _, t := range teachings() {
		if t.Name == name {
			return t, true
		}
	}
	return teaching{}, false
}

// listBugs prints the teaching bugs, a paragraph each or, with --json, one JSON array.
func listBugs(asJSON bool) {
	if asJSON {
		printJSON(stdout, teachings())
		return
	}
	for _, t := range teachings() {
		fmt.Fprintf(stdout, "%s (%s): %s\n", t.Name, t.Core, t.Help)
		t.explain(stdout, "  ")
		if t.Seeds > 0 {
			fmt.Fprintf(stdout, "  caught by: %s, within %d seeds (kanna sim --seeds %d --bug %s)\n\n", t.CaughtBy, t.Seeds, t.Seeds, t.Name)
		} else {
			fmt.Fprintf(stdout, "  caught by: %s (kanna sim --gossip-only --bug %s)\n\n", t.CaughtBy, t.Name)
		}
	}
}

// explain prints the rule the bug switches off and where to find it.
func (t teaching) explain(w io.Writer, indent string) {
	fmt.Fprintf(w, "%srule off:  %s (%s)\n", indent, t.Rule, t.Section)
	fmt.Fprintf(w, "%scode:      %s\n", indent, t.Func)
	fmt.Fprintf(w, "%stest:      %s\n", indent, t.Test)
}

// explainFailure follows a failure under --bug: which rule was off, and where it lives.
func explainFailure(bug string) {
	if t, ok := lookupTeaching(bug); ok {
		fmt.Fprintf(stderr, "this run switched off a rule on purpose (--bug %s):\n", bug)
		t.explain(stderr, "  ")
	}
}

// explainNothing says that a seed run under --bug broke no checker, and how to look further.
func explainNothing(bug string, gossipOnly bool) {
	t, ok := lookupTeaching(bug)
	if !ok {
		return
	}
	fmt.Fprintf(stderr, "--bug %s switched off \"%s\" (%s), but this seed never met the situation the rule is for, so no checker fired.\n", bug, t.Rule, t.Section)
	if gossipOnly {
		fmt.Fprintf(stderr, "try other seeds: %s sim --gossip-only --bug %s --seed N, or --members 10 --seed 1 (what tests/sim/gossipsim TestGossipBugIsCaught runs)\n", self, bug)
		return
	}
	fmt.Fprintf(stderr, "sweep: %s sim --seeds %d --bug %s (every seed from --seed; the first that fails prints its replay)\n", self, max(t.Seeds, 10), bug)
}

// bugArg returns the value of --bug in args, if any.
func bugArg(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"--bug=", "-bug="} {
			if v, ok := strings.CutPrefix(a, p); ok {
				return v
			}
		}
		if (a == "--bug" || a == "-bug") && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// isGossipBug reports whether name is a teaching bug of the gossip core.
func isGossipBug(name string) bool {
	_, err := gossipsim.LookupBug(name)
	return err == nil
}
