// Tests of `kanna sim`: its output for one seed and a sweep, the replay line of a failure, and the
// usage errors it refuses.

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runSimCaptured runs `kanna sim` with args and returns its exit status, stdout and stderr.
func runSimCaptured(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return captured(t, func() int { return runSim(args) })
}

func TestSimOneSeedPrintsItsSummaryAsJSON(t *testing.T) {
	code, out, _ := runSimCaptured(t, "--seed", "3", "--nodes", "3", "--duration", "6s", "--json")
	require.Equal(t, 0, code)
	var s seedSummary
	require.NoError(t, json.Unmarshal([]byte(out), &s))
	require.Equal(t, int64(3), s.Seed)
	require.Len(t, s.TraceHash, 64)
	require.Empty(t, s.Violations)
	require.Positive(t, s.Events)
	require.Equal(t, 6.0, s.SimSeconds)
	require.Equal(t, s.Ops, s.OpsOK)

	_, again, _ := runSimCaptured(t, "--seed", "3", "--nodes", "3", "--duration", "6s", "--json")
	var s2 seedSummary
	require.NoError(t, json.Unmarshal([]byte(again), &s2))
	require.Equal(t, s.TraceHash, s2.TraceHash, "the same seed replays the same run")
}

func TestSimSweepPrintsEverySeedInOrderThenTheAggregate(t *testing.T) {
	code, out, errOut := runSimCaptured(t, "--seeds", "4", "--seed", "10", "--nodes", "3", "--duration", "6s", "--json")
	require.Equal(t, 0, code)
	require.NotContains(t, errOut, "\r", "into a file or pipe, progress comes as lines, not a redrawn bar")
	require.Regexp(t, `^1/4 seeds, 0 failed, \d+s\n2/4 seeds, 0 failed, \d+s\n3/4 seeds, 0 failed, \d+s\n4/4 seeds, 0 failed, \d+s\n$`, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5)
	for i, line := range lines[:4] {
		var s seedSummary
		require.NoError(t, json.Unmarshal([]byte(line), &s))
		require.Equal(t, int64(10+i), s.Seed)
	}
	var agg aggregate
	require.NoError(t, json.Unmarshal([]byte(lines[4]), &agg))
	require.True(t, agg.Aggregate)
	require.Equal(t, 4, agg.Seeds)
	require.Zero(t, agg.Failed)
	require.Equal(t, 24.0, agg.SimSeconds)
}

func TestSimFailurePrintsTheViolationAndTheReplayCommandAndExitsNonZero(t *testing.T) {
	code, _, errOut := runSimCaptured(t, "--seed", "1", "--duration", "20s", "--bug", "no-prevote-no-checkquorum")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "seed 1 violated")
	require.Contains(t, errOut, "disruption")
	require.Contains(t, errOut, "replay: kanna sim --seed 1 --nodes 5 --duration 20s --bug no-prevote-no-checkquorum")
}

func TestSimBugListNamesEveryBug(t *testing.T) {
	code, out, _ := runSimCaptured(t, "--bug", "list")
	require.Equal(t, 0, code)
	for _, name := range []string{"vote-without-log-check", "commit-old-term", "forget-vote-on-restart", "no-prevote-no-checkquorum", "send-before-fsync"} {
		require.Contains(t, out, name)
	}
}

func TestSimRefusesBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--seeds", "2", "--trace", "x.trace"},
		{"--faults", "meteor"},
		{"--bug", "no-such-bug"},
		{"--duration", "5s"},
		{"--no-such-flag"},
	} {
		code, _, errOut := runSimCaptured(t, args...)
		require.Equal(t, 2, code, "args %v", args)
		require.NotEmpty(t, errOut, "args %v: say what is wrong", args)
	}
}

func TestSimUnknownBugNamesEveryBugOfBothCores(t *testing.T) {
	code, _, errOut := runSimCaptured(t, "--bug", "nope")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown bug "nope"`)
	for _, name := range teachingNames() {
		require.Contains(t, errOut, name)
	}
	require.Contains(t, errOut, "no-refutation", "the gossip bugs are named too")
}
