// Whole-run tests: determinism, the seed sweep with every checker, the teaching bugs, liveness
// after faults heal (Raft paper §5.6), tiny clusters.

package sim

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sweepSeeds is how many seeds from a random base TestSweepHoldsEveryInvariant runs, plus
// presetSeeds under each bug's fault preset; with sweepDuration of simulated time each, the sweep
// stays well under two minutes with -race on two cores.
const (
	sweepSeeds    = 200
	sweepDuration = 10 * time.Second
	presetSeeds   = 5 // per teaching bug, its fault preset without the bug
	// memberSeeds more run with membership changes (Options.Membership), 5 nodes, memberDuration.
	memberSeeds    = 30
	memberDuration = 15 * time.Second
)

// sweepOptions are the options of one sweep seed: the cluster size, 3 to 5, follows the seed.
func sweepOptions(seed int64) Options {
	return Options{Seed: seed, Nodes: 3 + int(uint64(seed)%3), Duration: sweepDuration}
}

func replayCommand(o Options) string {
	cmd := fmt.Sprintf("kanna sim --seed %d --nodes %d --duration %v", o.Seed, o.Nodes, o.Duration)
	if o.Bug != "" {
		cmd += " --bug " + o.Bug
	}
	if o.Preset != "" {
		cmd += " --preset " + o.Preset
	}
	if o.Membership {
		cmd += " --membership"
	}
	return cmd
}

// runAll executes every option set on all cores, each run single-threaded, and returns the runs in
// the order given.
func runAll(t *testing.T, all []Options) []*Run {
	t.Helper()
	runs := make([]*Run, len(all))
	errs := make([]error, len(all))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				runs[i], errs[i] = Execute(all[i])
			}
		}()
	}
	for i := range all {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "seed %d", all[i].Seed)
	}
	return runs
}

func TestSameSeedGivesAByteIdenticalTrace(t *testing.T) {
	var opts []Options
	for seed := int64(1); seed <= 6; seed++ {
		opts = append(opts, Options{Seed: seed, Nodes: 5, Duration: 8 * time.Second})
	}
	first, second := runAll(t, opts), runAll(t, opts)
	hashes := map[string]bool{}
	for i := range opts {
		require.Equal(t, first[i].TraceHash, second[i].TraceHash, "seed %d replayed differently", opts[i].Seed)
		require.Equal(t, first[i].EventCount, second[i].EventCount)
		require.Equal(t, first[i].History, second[i].History)
		hashes[first[i].TraceHash] = true
	}
	require.Len(t, hashes, len(opts), "different seeds give different runs")
}

func TestKeptEventsAndTextTraceDescribeTheSameRun(t *testing.T) {
	var text strings.Builder
	r, err := Execute(Options{Seed: 3, Nodes: 3, Duration: 6 * time.Second, KeepEvents: true, Trace: &text})
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	require.Len(t, lines, r.EventCount)
	require.Len(t, r.Events, r.EventCount)
	for i := range lines {
		require.Equal(t, lines[i], r.Events[i].String())
	}
	plain, err := Execute(Options{Seed: 3, Nodes: 3, Duration: 6 * time.Second})
	require.NoError(t, err)
	require.Equal(t, r.TraceHash, plain.TraceHash, "keeping events must not change the run")
}

// sweepBase is the first seed of the sweep: random, unless KANNA_SIM_BASE pins it to replay a
// failed sweep.
func sweepBase(t *testing.T) int64 {
	if s := os.Getenv("KANNA_SIM_BASE"); s != "" {
		base, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, "KANNA_SIM_BASE must be an integer seed")
		return base
	}
	return time.Now().UnixNano() % 1_000_000_000
}

// pinnedSeeds reads tests/testdata/seeds.txt: "seed nodes duration [preset] [membership]" per
// line, # for comments.
func pinnedSeeds(t *testing.T) []Options {
	f, err := os.Open("../testdata/seeds.txt")
	require.NoError(t, err)
	defer f.Close()
	var out []Options
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		require.GreaterOrEqual(t, len(fields), 3, "seeds.txt line %d: want \"seed nodes duration [preset] [membership]\", got %q", line, text)
		seed, err := strconv.ParseInt(fields[0], 10, 64)
		require.NoError(t, err, "seeds.txt line %d", line)
		nodes, err := strconv.Atoi(fields[1])
		require.NoError(t, err, "seeds.txt line %d", line)
		d, err := time.ParseDuration(fields[2])
		require.NoError(t, err, "seeds.txt line %d", line)
		o := Options{Seed: seed, Nodes: nodes, Duration: d}
		for _, f := range fields[3:] {
			if f == "membership" {
				o.Membership = true
			} else {
				o.Preset = f
			}
		}
		out = append(out, o)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestSweepHoldsEveryInvariant(t *testing.T) {
	base := sweepBase(t)
	t.Logf("sweep: %d seeds from base %d (replay the sweep with KANNA_SIM_BASE=%d)", sweepSeeds, base, base)
	opts := pinnedSeeds(t)
	pinned := len(opts)
	for i := range int64(sweepSeeds) {
		opts = append(opts, sweepOptions(base+i))
	}
	// The bugs' fault presets are the harshest mixes there are; correct Raft must hold under them.
	for i, bug := range Bugs {
		for j := range int64(presetSeeds) {
			o := sweepOptions(base + int64(i)*presetSeeds + j)
			o.Preset = bug.Name
			opts = append(opts, o)
		}
	}
	for i := range int64(memberSeeds) {
		opts = append(opts, Options{Seed: base + i, Nodes: 5, Duration: memberDuration, Membership: true})
	}
	runs := runAll(t, opts)
	ops, leaders := 0, 0
	for i, r := range runs {
		ops += r.OpsOK
		leaders += r.LeaderChanges
		origin := "sweep"
		if i < pinned {
			origin = "seeds.txt"
		}
		if r.Failed() {
			t.Errorf("%s seed %d (sweep base %d) violated %v\n  replay: %s", origin, r.Options.Seed, base, r.Violations, replayCommand(r.Options))
			continue
		}
		require.Equal(t, len(r.History), r.OpsOK, "liveness: every request completes")
	}
	t.Logf("sweep: %d runs (%d pinned), %d operations completed, %d leaders elected", len(runs), pinned, ops, leaders)
	require.Positive(t, ops)
}

// bugBase is the first seed each bug test runs; the bug must show within Bug.Seeds seeds of it.
const bugBase = 1

func bugOptions(bug string, seed int64) Options {
	return Options{Seed: seed, Nodes: 5, Duration: 20 * time.Second, Bug: bug}
}

func TestBugIsCaught(t *testing.T) {
	for _, bug := range Bugs {
		t.Run(bug.Name, func(t *testing.T) {
			// Seeds run a batch per core at a time, stopping at the batch that catches the bug.
			var caught *Run
			batch := int64(runtime.GOMAXPROCS(0))
			for next := int64(0); caught == nil && next < int64(bug.Seeds); next += batch {
				var opts []Options
				for i := next; i < min(next+batch, int64(bug.Seeds)); i++ {
					opts = append(opts, bugOptions(bug.Name, bugBase+i))
				}
				for _, r := range runAll(t, opts) {
					if r.Failed() && caught == nil {
						caught = r
					}
				}
			}
			require.NotNil(t, caught, "bug %s not caught within %d seeds from %d", bug.Name, bug.Seeds, bugBase)
			v := caught.Violations[0]
			require.Contains(t, bug.Expect, v.Checker, "bug %s caught by an unexpected checker: %s", bug.Name, v)
			t.Logf("%s: caught at seed %d by %s (replay: %s)", bug.Name, caught.Options.Seed, v, replayCommand(caught.Options))

			// The control: the same seed and faults without the bug hold every invariant, so the
			// violation is the bug's doing.
			control := caught.Options
			control.Bug, control.Preset = "", bug.Name
			clean, err := Execute(control)
			require.NoError(t, err)
			require.Empty(t, clean.Violations, "seed %d fails even without bug %s", control.Seed, bug.Name)
		})
	}
}

func TestLivenessPhaseAnswersEveryRequestAfterCrashes(t *testing.T) {
	r, err := Execute(Options{Seed: 11, Nodes: 5, Duration: 15 * time.Second, Faults: []string{"crash", "partition"}})
	require.NoError(t, err)
	require.Empty(t, r.Violations)
	require.True(t, r.Mix.Crash || r.Mix.Partition)
	require.NotEmpty(t, r.History)
	require.Equal(t, len(r.History), r.OpsOK)
	for _, op := range r.History {
		require.GreaterOrEqual(t, op.Return, op.Call)
	}
}

func TestTinyClustersRunWithEveryFault(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		for seed := int64(1); seed <= 3; seed++ {
			r, err := Execute(Options{Seed: seed, Nodes: nodes, Duration: 8 * time.Second})
			require.NoError(t, err)
			require.Empty(t, r.Violations, "replay: %s", replayCommand(r.Options))
			require.Equal(t, len(r.History), r.OpsOK)
		}
	}
}
