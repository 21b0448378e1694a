// Grading a lab: compile the workspace, run the lab's black-box tests rule by rule, then sweep the
// learner's core with the simulator and explain the first failing seed.
//
// Everything runs in the graded folder with its own code: `go build` and `go test` of the
// workspace, and the workspace's own `kanna sim`, so the simulator tortures the learner's core,
// not the reference.

package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// CheckOptions say what to grade and where to write.
type CheckOptions struct {
	Lab int
	// Dir is the module root to grade: a workspace, or the repository itself.
	Dir string
	// Seeds is how many simulator seeds the sweep runs; 0 means the default of the lab's kind.
	Seeds int
	// Out receives the report; Progress the sweep's progress line.
	Out, Progress io.Writer
	// Kanna, if set, is a kanna binary already built from Dir, used for the sweep instead of
	// building one (the tests grade the repository six times over).
	Kanna string
}

// DefaultSeeds is the sweep's length when CheckOptions.Seeds is 0.
var DefaultSeeds = map[SweepKind]int{SweepRaft: 200, SweepGossip: 40}

// Result is the verdict of a check.
type Result struct {
	Passed bool
	// Failed names each rule that failed (or the step that could not run).
	Failed []string
}

// checkerRules says, for each simulator checker, which rule of the paper it enforces.
var checkerRules = map[string]string{
	"election-safety":      "Election Safety: at most one leader can be elected in a given term (§5.2, Figure 3)",
	"log-matching":         "Log Matching: if two logs contain an entry with the same index and term, the logs are identical up to it (§5.3, Figure 3)",
	"leader-completeness":  "Leader Completeness: a leader's log holds every entry committed in earlier terms (§5.4, Figure 3)",
	"state-machine-safety": "State Machine Safety: no two servers apply different commands at the same index (§5.4.3, Figure 3)",
	"commit-monotonic":     "a server's commit index never moves back (Figure 2: commitIndex increases monotonically)",
	"commit-safety":        "a committed entry is durable on a majority and is never overwritten (§5.4.2, Figure 8)",
	"disruption":           "a server rejoining after a partition does not depose a leader a majority still hears (thesis §9.6)",
	"liveness":             "once faults heal, a leader is elected and client commands commit (§5.2, §5.6)",
	"restart":              "a restarted server resumes from what it persisted (Figure 2: persistent state)",
	"gossip-convergence":   "once faults heal, every member's view shows every live member alive (SWIM §4.2)",
	"linearizability":      "every read and write takes effect at one instant between its call and its return (thesis §6)",
	"linearizable":         "the game's history is linearizable (thesis §6, checked by porcupine)",
	"convergence":          "at the end of the run, every live member's view is the true membership (SWIM §4.2: a live member refutes, a dead one is confirmed)",
	"stale-dead":           "a live, reachable member is not believed dead for long (SWIM §4.2: suspect, then refute)",
}

// Check grades lab o.Lab in o.Dir.
func Check(o CheckOptions) (Result, error) {
	l, err := Get(o.Lab)
	if err != nil {
		return Result{}, err
	}
	if o.Seeds == 0 {
		o.Seeds = DefaultSeeds[l.Sweep]
	}
	where := "the repository"
	if IsWorkspace(o.Dir) {
		where = "workspace " + o.Dir
	}
	fmt.Fprintf(o.Out, "kanna lab check %d (%s: %s) in %s\n\n", l.N, l.Name, l.Summary, where)

	res := Result{Passed: true}
	fmt.Fprintf(o.Out, "1. black-box tests: go test -run '%s' ./%s/\n", l.TestPattern(), l.Dir)
	failed := runRules(o, l)
	res.Failed = append(res.Failed, failed...)
	if len(failed) > 0 {
		res.Passed = false
		fmt.Fprintf(o.Out, "\n2. simulator sweep: skipped until every rule above passes\n")
		fmt.Fprintf(o.Out, "\nlab %d: %d of %d rules fail: %s\n", l.N, len(failed), len(l.Rules), strings.Join(failed, "; "))
		return res, nil
	}

	tmp, err := os.MkdirTemp("", "kanna-lab-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(tmp)
	bin := o.Kanna
	if bin == "" {
		bin = filepath.Join(tmp, "kanna")
		if out, err := goCmd(o.Dir, "build", "-trimpath", "-o", bin, "./cmd/kanna"); err != nil {
			fmt.Fprintf(o.Out, "\n2. simulator sweep: FAIL  the simulator (go build ./cmd/kanna) does not compile with your core:\n%s\n", indent(out, "        "))
			return Result{Failed: []string{"the simulator compiles"}}, nil
		}
	}
	fmt.Fprintf(o.Out, "\n2. simulator sweep of your core: %d seeds\n", o.Seeds)
	var sweepFailed []string
	switch l.Sweep {
	case SweepGossip:
		sweepFailed = sweepGossip(o, bin, tmp)
	default:
		sweepFailed = sweepRaft(o, bin, tmp)
	}
	if len(sweepFailed) > 0 {
		res.Passed = false
		res.Failed = append(res.Failed, sweepFailed...)
		fmt.Fprintf(o.Out, "\nlab %d: the tests pass but the simulator found a broken rule: %s\n", l.N, strings.Join(sweepFailed, "; "))
		return res, nil
	}
	fmt.Fprintf(o.Out, "\nlab %d passes: %d rules and %d simulated seeds\n", l.N, len(l.Rules), o.Seeds)
	return res, nil
}

// goCmd runs the go tool in dir and returns its combined output.
func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func indent(b []byte, prefix string) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix)
}

// testEvent is one line of `go test -json`.
type testEvent struct {
	Action string
	Test   string
	Output string
}

// runRules runs the lab's tests and prints each rule's verdict; it returns the rules that failed.
func runRules(o CheckOptions, l Lab) []string {
	cmd := exec.Command("go", "test", "-trimpath", "-count=1", "-json", "-run", l.TestPattern(), "./"+l.Dir+"/")
	cmd.Dir = o.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.Output()
	verdict := map[string]string{}
	output := map[string][]string{}
	var pkgOutput []string
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e testEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch {
		case e.Test == "" && (e.Action == "output" || e.Action == "build-output"):
			pkgOutput = append(pkgOutput, e.Output)
		case e.Action == "pass" || e.Action == "fail" || e.Action == "skip":
			verdict[e.Test] = e.Action
		case e.Action == "output":
			output[e.Test] = append(output[e.Test], e.Output)
		}
	}
	var failed []string
	for _, r := range l.Rules {
		switch verdict[r.Test] {
		case "pass":
			fmt.Fprintf(o.Out, "  PASS  %s (%s)\n", r.Rule, r.Section)
			continue
		case "fail":
			fmt.Fprintf(o.Out, "  FAIL  %s (%s)\n", r.Rule, r.Section)
			for _, line := range evidence(output[r.Test]) {
				fmt.Fprintf(o.Out, "        %s\n", line)
			}
		default:
			fmt.Fprintf(o.Out, "  FAIL  %s (%s)\n        %s did not run: the test binary did not build or stopped before it\n", r.Rule, r.Section, r.Test)
		}
		fmt.Fprintf(o.Out, "        rerun alone: go test -run '^%s$' ./%s/\n", r.Test, l.Dir)
		failed = append(failed, fmt.Sprintf("%s (%s)", r.Rule, r.Section))
	}
	if len(failed) > 0 && len(verdict) == 0 {
		fmt.Fprintf(o.Out, "\n  go test printed:\n%s\n", indent([]byte(strings.Join(pkgOutput, "")+stderr.String()), "    "))
	}
	return failed
}

// evidence keeps what a failing test said, without go test's framing lines.
func evidence(lines []string) []string {
	var out []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		// "lab_test.go:123: " says where the test noticed, not what is wrong.
		if m := fileLine.FindStringIndex(t); m != nil {
			t = t[m[1]:]
		}
		out = append(out, t)
	}
	return out
}

var fileLine = regexp.MustCompile(`^[\w.]+_test\.go:\d+: `)

// seedLine is what the sweep reads of one line of `kanna sim --json`.
type seedLine struct {
	Aggregate  bool   `json:"aggregate"`
	Seed       int64  `json:"seed"`
	Replay     string `json:"replay"`
	Violations []struct {
		Checker string `json:"checker"`
		Node    uint64 `json:"node"`
		Detail  string `json:"detail"`
	} `json:"violations"`
	Failed int `json:"failed"`
}

// sweepRaft runs the workspace's `kanna sim --seeds` and explains its first failing seed.
func sweepRaft(o CheckOptions, bin, tmp string) []string {
	cmd := exec.Command(bin, "sim", "--seeds", fmt.Sprint(o.Seeds), "--json")
	cmd.Dir = o.Dir
	cmd.Stderr = o.Progress
	start := time.Now()
	stdout, err := cmd.Output()
	if err != nil && len(stdout) == 0 {
		fmt.Fprintf(o.Out, "  FAIL  the simulator stopped: %v (a panic in your core? its stack is above)\n", err)
		return []string{"the simulator ran to the end"}
	}
	var first *seedLine
	failedSeeds := 0
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var s seedLine
		if json.Unmarshal(sc.Bytes(), &s) != nil || s.Aggregate {
			continue
		}
		if len(s.Violations) > 0 {
			failedSeeds++
			if first == nil {
				first = &s
			}
		}
	}
	if first == nil {
		fmt.Fprintf(o.Out, "  PASS  %d seeds, none broke a checker (%.0fs): election safety, log matching, leader completeness, state machine safety, commit safety, linearizability, liveness\n",
			o.Seeds, time.Since(start).Seconds())
		return nil
	}
	var failed []string
	seen := map[string]bool{}
	for _, v := range first.Violations {
		if seen[v.Checker] {
			continue
		}
		seen[v.Checker] = true
		rule := checkerRules[v.Checker]
		if rule == "" {
			rule = v.Checker
		}
		fmt.Fprintf(o.Out, "  FAIL  %s\n        checker %s, seed %d, node %d: %s\n", rule, v.Checker, first.Seed, v.Node, v.Detail)
		failed = append(failed, rule)
	}
	fmt.Fprintf(o.Out, "        %d of %d seeds failed; the first is seed %d\n", failedSeeds, o.Seeds, first.Seed)
	html := diagramPath(o, first.Seed, tmp)
	replay := strings.TrimPrefix(first.Replay, "kanna ")
	if out, err := exec.Command(bin, append(strings.Fields(replay), "--html", html)...).CombinedOutput(); err != nil && !fileExists(html) {
		fmt.Fprintf(o.Out, "        (the diagram could not be written: %v: %s)\n", err, bytes.TrimSpace(out))
	} else {
		fmt.Fprintf(o.Out, "        diagram: %s\n", html)
	}
	fmt.Fprintf(o.Out, "        replay:  (cd %s && go run ./cmd/kanna %s --trace seed-%d.trace --html seed-%d.html)\n", o.Dir, replay, first.Seed, first.Seed)
	fmt.Fprintf(o.Out, "        debug:   (cd %s && KANNA_SEED=%d dlv test ./tests/sim/ -- -test.run '^TestReplaySeed$')\n", o.Dir, first.Seed)
	return failed
}

// sweepGossip runs `kanna sim --gossip-only` once per seed, with loss, a paused member and a crash.
func sweepGossip(o CheckOptions, bin, tmp string) []string {
	start := time.Now()
	for i := range o.Seeds {
		seed := int64(i + 1)
		args := gossipArgs(seed)
		fmt.Fprintf(o.Progress, "\r%d/%d gossip seeds, %.0fs", i+1, o.Seeds, time.Since(start).Seconds())
		cmd := exec.Command(bin, append(args, "--json")...)
		cmd.Dir = o.Dir
		stdout, err := cmd.Output()
		var r struct {
			Violations []struct {
				Checker string  `json:"checker"`
				AtS     float64 `json:"at_s"`
				Detail  string  `json:"detail"`
			} `json:"violations"`
		}
		if jerr := json.Unmarshal(bytes.TrimSpace(stdout), &r); jerr != nil {
			fmt.Fprintln(o.Progress)
			fmt.Fprintf(o.Out, "  FAIL  the gossip simulator stopped on seed %d: %v (a panic in your core? replay: go run ./cmd/kanna %s)\n", seed, err, strings.Join(args, " "))
			return []string{"the gossip simulator ran to the end"}
		}
		if len(r.Violations) == 0 {
			continue
		}
		fmt.Fprintln(o.Progress)
		var failed []string
		seen := map[string]bool{}
		for _, v := range r.Violations {
			if seen[v.Checker] {
				continue
			}
			seen[v.Checker] = true
			fmt.Fprintf(o.Out, "  FAIL  %s\n        checker %s, seed %d, at %.1fs: %s\n", checkerRules[v.Checker], v.Checker, seed, v.AtS, v.Detail)
			failed = append(failed, checkerRules[v.Checker])
		}
		fmt.Fprintf(o.Out, "        replay:  (cd %s && go run ./cmd/kanna %s)\n", o.Dir, strings.Join(args, " "))
		return failed
	}
	fmt.Fprintln(o.Progress)
	fmt.Fprintf(o.Out, "  PASS  %d seeds of 20 members under 5%% loss, a paused member and a crash (%.0fs): every view converged, no live member stayed dead\n",
		o.Seeds, time.Since(start).Seconds())
	return nil
}

// gossipArgs is the gossip sweep's run for one seed.
func gossipArgs(seed int64) []string {
	return []string{"sim", "--gossip-only", "--seed", fmt.Sprint(seed), "--members", "20", "--loss", "0.05", "--pause",
		"--duration", "150s", "--crash-at", "30s", "--faults-end", "90s", "--warmup", "60s", "--stale-dead-bound", "30s"}
}

// diagramPath is where the failing seed's diagram goes: in the workspace, or in the temporary
// folder's parent when grading the repository (which a check must not litter).
func diagramPath(o CheckOptions, seed int64, tmp string) string {
	name := fmt.Sprintf("lab%d-seed%d.html", o.Lab, seed)
	if IsWorkspace(o.Dir) {
		return filepath.Join(o.Dir, name)
	}
	return filepath.Join(filepath.Dir(tmp), name)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
