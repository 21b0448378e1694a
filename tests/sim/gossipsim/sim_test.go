// Scenario tests of the gossip-only simulator, each a story (crash this member, cut these two off,
// pause that one, run, expect this), named after the claim of SWIM (Das et al. 2002, §3-§5) or
// Lifeguard (Dadgar et al. 2018, §5) it checks. Small clusters keep them fast under -race.

package gossipsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/gossip"
)

// smallRun is a short run of n members: faults from the start, healed at 60 s, 120 s in all, and
// no crash unless the test asks for one.
func smallRun(n int, seed int64) Options {
	o := DefaultOptions(n, seed)
	o.Duration, o.FaultsEnd, o.Warmup = 120*time.Second, 60*time.Second, 10*time.Second
	o.CrashAt, o.PartitionAt = -1, 10*time.Second
	return o
}

func run(t *testing.T, o Options) *Result {
	t.Helper()
	r, err := Run(o)
	require.NoError(t, err)
	return r
}

func TestCrashedMemberIsDeclaredDeadByAllSurvivors(t *testing.T) {
	for _, lifeguard := range []bool{true, false} {
		o := smallRun(20, 1)
		o.CrashAt, o.Lifeguard = 20*time.Second, lifeguard
		r := run(t, o)

		require.NotNil(t, r.FirstDetectS, "lifeguard=%v: nobody marked the crashed member dead", lifeguard)
		require.NotNil(t, r.AllDetectS, "lifeguard=%v: some survivor never marked the crashed member dead", lifeguard)
		// The first prober reaches the victim within two passes of its probe order (§4.3), and
		// the suspicion then lasts at most SuspicionMaxTimeoutMult times SWIM's minimum.
		require.Positive(t, *r.FirstDetectS)
		require.Less(t, *r.AllDetectS, 60.0)
		require.GreaterOrEqual(t, *r.AllDetectS, *r.FirstDetectS)
		require.Zero(t, r.FalsePositives)
		require.Empty(t, r.Violations, "the crashed member is dead in every view at the end, the rest alive")
	}
}

func TestPartitionedPairIsDeclaredDeadThenEveryoneSeesEveryoneAliveAfterTheHeal(t *testing.T) {
	o := smallRun(12, 2)
	// m0000 and m0001 against the ten others, for 140 s: the pair, blaming itself (Lifeguard's
	// local health), probes ever more slowly, and takes that long to declare all ten dead.
	o.Partition, o.FaultsEnd, o.Duration = 2, 150*time.Second, 210*time.Second
	r := run(t, o)

	// Every member on each side declared every member of the other side dead while cut apart.
	require.Equal(t, 2*2*10, r.PartitionDeclaredDead)
	require.Zero(t, r.FalsePositives, "members on the same side must not lose each other")
	require.NotNil(t, r.ConvergedS, "after the heal the views never matched the truth")
	// Nobody probes or gossips to a member it believes dead: the sides meet again through
	// push-pull (one every 30 s per member), then refute.
	require.Less(t, *r.ConvergedS, 40.0)
	require.Empty(t, r.Violations)
}

func TestFalselySuspectedPausedMemberRefutesAndStaysAlive(t *testing.T) {
	for _, lifeguard := range []bool{true, false} {
		o := smallRun(10, 3)
		// One pause of 2.5 s, from 27.5 s to 30 s: long enough for probes of it to fail, shorter
		// than the suspicion timeout (at least 4 periods).
		o.Pause, o.PauseFor, o.PauseEvery, o.FaultsEnd = true, 2500*time.Millisecond, 30*time.Second, 40*time.Second
		o.Lifeguard = lifeguard
		r := run(t, o)

		require.Positive(t, r.PausedSuspected, "lifeguard=%v: the pause should make probes of the member fail", lifeguard)
		require.Zero(t, r.PausedDeclaredDead, "lifeguard=%v: the member should refute before its suspicion runs out", lifeguard)
		require.Zero(t, r.FalsePositives)
		// A suspicion ends only in a refutation or a death: alive in every view means refuted.
		require.Empty(t, r.Violations)
	}
}

// Lifeguard §5: a member that freezes and wakes makes plain SWIM kill healthy members (its own
// suspicions expire while it catches up); local health awareness makes it blame itself instead.
func TestLifeguardCutsFalsePositivesCausedByAPausedMember(t *testing.T) {
	fp := func(lifeguard bool) int {
		o := smallRun(12, 4)
		o.Pause, o.Loss, o.Lifeguard = true, 0.02, lifeguard
		o.FaultsEnd, o.Duration = 240*time.Second, 300*time.Second
		r := run(t, o)
		require.Empty(t, r.Violations)
		return r.FalsePositiveEvents
	}
	swim, lifeguard := fp(false), fp(true)
	t.Logf("member paused 6 s in every 8 s: healthy members declared dead: SWIM %d, Lifeguard %d", swim, lifeguard)
	require.Positive(t, swim)
	require.Less(t, lifeguard, swim)
}

// SWIM §3.1: each member sends one ping per period and answers the pings it gets, so the load per
// member does not grow with the size of the group.
func TestMessagesPerMemberPerSecondDoNotGrowWithN(t *testing.T) {
	load := func(n int) float64 {
		o := smallRun(n, 5)
		o.Warmup = 60 * time.Second // after the news of the start has drained
		return run(t, o).MsgsPerMemberPerS
	}
	small, large := load(8), load(64)
	t.Logf("messages per member per second: N=8 %.2f, N=64 %.2f", small, large)
	require.Greater(t, small, 1.5, "at least a ping and an ack per member per period")
	require.InDelta(t, 1, large/small, 0.5)
}

func TestSameSeedGivesSameResult(t *testing.T) {
	o := smallRun(24, 6)
	o.Loss, o.Pause, o.CrashAt, o.Partition = 0.1, true, 15*time.Second, 3
	first := run(t, o)
	require.Equal(t, first, run(t, o))

	o.Seed++
	require.NotEqual(t, first, run(t, o), "a different seed should give a different run")
}

// A cluster that cannot heal: no push-pull within the run and no buddy system, so the two sides
// of a healed partition never learn that they are believed dead. Both checkers must say so. Each
// reports 24 pairs, more than a result lists, so each has a run of its own: one that ends before
// the stale-dead bound and one that runs past it.
func TestCheckersCatchAPartitionThatNeverHeals(t *testing.T) {
	for _, tc := range []struct {
		checker  string
		duration time.Duration
	}{
		{CheckConvergence, 90 * time.Second},
		{CheckStaleDead, 120 * time.Second},
	} {
		o := smallRun(8, 7)
		o.Partition, o.FaultsEnd, o.Lifeguard, o.Duration = 2, 40*time.Second, false, tc.duration
		o.Tune = func(cfg *gossip.Config) { cfg.PushPullInterval = time.Hour }
		r := run(t, o)

		require.Nil(t, r.ConvergedS)
		checkers := map[string]bool{}
		for _, v := range r.Violations {
			checkers[v.Checker] = true
		}
		require.True(t, checkers[tc.checker], "%s: violations: %v", tc.checker, r.Violations)
	}
}

func TestStaleDeadCheckerAllowsTheBoundThenReportsOnce(t *testing.T) {
	s, err := newSimulation(smallRun(6, 8))
	require.NoError(t, err)
	bound := s.opts.StaleDeadBound
	s.q.now = 10 * time.Second
	s.obs.set(0, 3, believeDead, gossip.EventFailed) // m0000 wrongly believes m0003 dead
	s.partitioned, s.side[4] = true, true
	s.obs.set(0, 4, believeDead, gossip.EventFailed) // ... and m0004, which it cannot reach
	s.obs.check()

	s.q.now += bound
	s.obs.check()
	require.Empty(t, s.obs.violations, "a death may last the bound")

	s.q.now += time.Second
	s.obs.check()
	s.q.now += time.Second
	s.obs.check()
	require.Len(t, s.obs.violations, 1, "once, and only for the member that can be reached")
	require.Equal(t, CheckStaleDead, s.obs.violations[0].Checker)
	require.Contains(t, s.obs.violations[0].Detail, "m0000 has believed m0003 dead")

	// The partition heals: the clock for m0004 starts only now.
	s.partitioned = false
	s.obs.check()
	s.q.now += bound
	s.obs.check()
	require.Len(t, s.obs.violations, 1)
	s.q.now += time.Second
	s.obs.check()
	require.Len(t, s.obs.violations, 2)
}

func TestConvergenceCheckerReadsEachCoresOwnView(t *testing.T) {
	s, err := newSimulation(smallRun(5, 9))
	require.NoError(t, err)
	s.obs.checkConvergence()
	require.Empty(t, s.obs.violations, "every member starts knowing every other alive")

	// m0001 tells m0000 that m0003 is dead, at an incarnation m0003 never had; m0000, which holds
	// m0003 alive, takes it as a suspicion (gossip's Node.applyPiggybacked).
	lie := gossip.Message{Type: gossip.MsgGossip, From: "m0001", FromAddr: "addr-m0001", To: "addr-m0000", ToID: "m0000",
		Updates: []gossip.Update{{Member: gossip.Member{ID: "m0003", Addr: "addr-m0003", Incarnation: 5, State: gossip.StateDead}, From: "m0001"}}}
	s.step(0, lie)
	require.Equal(t, 1, s.obs.wrong, "the belief is tracked from m0000's events")
	s.obs.healed()
	s.obs.check()
	require.Negative(t, s.obs.converged, "views do not match the truth")

	s.obs.checkConvergence()
	require.Len(t, s.obs.violations, 1)
	require.Equal(t, CheckConvergence, s.obs.violations[0].Checker)
	require.Contains(t, s.obs.violations[0].Detail, "m0000 sees m0003 suspect")
}

// Each gossip teaching bug is caught by the checker it names, and the same run without the bug
// passes: the violation is the bug's doing.
func TestGossipBugIsCaught(t *testing.T) {
	for _, bug := range Bugs {
		t.Run(bug.Name, func(t *testing.T) {
			o := DefaultOptions(10, 1)
			bug.Apply(&o)
			r, err := Run(o)
			require.NoError(t, err)
			require.NotEmpty(t, r.Violations, "bug %s went unnoticed", bug.Name)
			for _, v := range r.Violations {
				require.Contains(t, bug.Expect, v.Checker, "bug %s caught by an unexpected checker: %s", bug.Name, v)
			}

			control := DefaultOptions(10, 1)
			Bug{faults: bug.faults}.Apply(&control)
			clean, err := Run(control)
			require.NoError(t, err)
			require.Empty(t, clean.Violations, "the run fails even without bug %s", bug.Name)
		})
	}
}
