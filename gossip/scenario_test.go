// Scenario tests on the in-memory network of harness_test.go: whole-cluster behaviour that SWIM
// §3-§5 and Lifeguard's evaluation claim, each written as a story (crash this member, tick, expect
// this).

package gossip

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ticksPerPeriod is the default protocol period in ticks (1s / 100ms).
const ticksPerPeriod = 10

func TestMembersJoiningThroughOneSeedAllSeeEachOther(t *testing.T) {
	c := startMembers(t, 50, 8, nil)
	for _, id := range c.ids[1:] {
		require.NoError(t, c.nodes[id].Join(addrOf(c.ids[0])))
		c.collect(c.nodes[id])
	}
	ok := c.runUntil(30*ticksPerPeriod, func() bool { return c.allSee(c.ids, StateAlive) })
	require.True(t, ok, "50 members joining through one seed did not all meet within 30 periods")
	t.Logf("N=50: all members knew each other %.1f periods after joining through one seed", float64(c.now)/ticksPerPeriod)
	for _, id := range c.ids {
		joined := map[string]bool{}
		for _, e := range c.events[id] {
			require.Equal(t, EventJoined, e.Type, "%s: %v", id, e)
			joined[e.Member.ID] = true
		}
		require.Len(t, c.events[id], 49, "%s: one EventJoined per other member", id)
		require.Len(t, joined, 49, "%s: one EventJoined per other member", id)
	}
}

func TestCrashedMemberIsDeclaredDeadByAll(t *testing.T) {
	c := newCluster(t, 10, 1, nil)
	victim := c.ids[4]
	c.crash(victim)
	start := c.now

	// Every member probes the victim within two passes of its probe order (§4.3), then the
	// suspicion runs out; 60 periods is far beyond both.
	ok := c.runUntil(60*ticksPerPeriod, func() bool { return c.allSee([]string{victim}, StateDead) })
	require.True(t, ok, "not every member declared the crashed %s dead", victim)
	t.Logf("N=10: every member saw the crashed member dead %.1f periods after the crash",
		float64(c.now-start)/ticksPerPeriod)
	require.True(t, c.allSee(others(c.ids, victim), StateAlive), "a live member was declared dead with the crash")
	require.Zero(t, c.countEvents(EventFailed, func(id string) bool { return id != victim }))
}

func TestHealedPartitionFindsItselfAgainAfterBothSidesDeclaredEachOtherDead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		split int // members [0, split) on one side, the rest on the other
	}{
		{"a pair cut off from six", 8, 2},
		{"three against three", 6, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.n, 2, func(cfg *Config) {
				// A shorter anti-entropy period keeps the test short; the rule is the same.
				cfg.PushPullInterval = 5 * time.Second
			})
			left, right := c.ids[:tc.split], c.ids[tc.split:]
			c.partition(left, right)

			ok := c.runUntil(100*ticksPerPeriod, func() bool {
				return c.allSeeOnly(left, right, StateDead) && c.allSeeOnly(right, left, StateDead)
			})
			require.True(t, ok, "the two sides of the partition did not declare each other dead")
			require.True(t, c.allSeeOnly(left, left, StateAlive) && c.allSeeOnly(right, right, StateAlive),
				"members on the same side of the partition lost each other")

			c.heal()
			// Nobody probes or gossips to a dead member; only push-pull with a member believed
			// dead can bring the sides together.
			ok = c.runUntil(200*ticksPerPeriod, func() bool { return c.allSee(c.ids, StateAlive) })
			require.True(t, ok, "after the heal the two sides did not see each other alive again")
			require.NotZero(t, c.countEvents(EventRecovered, func(string) bool { return true }))
		})
	}
}

func TestCutLinkBetweenTwoMembersIsBridgedByIndirectProbes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		indirectChecks int
		wantSuspicions bool
	}{
		{"SWIM ping-req", 3, false},
		{"direct pings only", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 8, 9, func(cfg *Config) { cfg.IndirectChecks = tc.indirectChecks })
			a, b := c.ids[2], c.ids[5]
			c.partition([]string{a}, []string{b}) // only the a-b link; both reach everyone else
			c.run(60 * ticksPerPeriod)

			suspicions := c.countEvents(EventSuspect, func(id string) bool { return id == a || id == b })
			if tc.wantSuspicions {
				require.NotZero(t, suspicions, "without ping-req a broken link makes members suspect each other")
				return
			}
			// SWIM §3.1: the ping-req goes around the broken link, so neither is suspected.
			require.Zero(t, suspicions)
			require.Zero(t, c.countEvents(EventFailed, func(string) bool { return true }))
		})
	}
}

func TestRestartedMemberRefutesItsOwnDeathAndRejoins(t *testing.T) {
	c := newCluster(t, 6, 11, nil)
	victim := c.ids[3]
	c.crash(victim)
	ok := c.runUntil(60*ticksPerPeriod, func() bool { return c.allSee([]string{victim}, StateDead) })
	require.True(t, ok, "the crashed member was not declared dead")
	died, _ := c.nodes[c.ids[0]].Member(victim)

	// The new life starts at incarnation 0, which loses to the record of its death; it learns of
	// that record from the seed's table and refutes it with a higher incarnation.
	c.restart(victim, addrOf(victim), c.ids[0])
	ok = c.runUntil(20*ticksPerPeriod, func() bool { return c.allSee(c.ids, StateAlive) })
	require.True(t, ok, "the restarted member was not seen alive again")
	for _, id := range others(c.ids, victim) {
		m, _ := c.nodes[id].Member(victim)
		require.Greater(t, m.Incarnation, died.Incarnation, "%s sees the new life", id)
	}
	require.Equal(t, len(c.ids)-1, c.countEvents(EventRecovered, func(id string) bool { return id == victim }))
}

func TestMemberRestartedAtANewAddressIsReachedThere(t *testing.T) {
	c := newCluster(t, 6, 12, nil)
	mover := c.ids[2]
	// It crashes and comes back at once at another address, before anyone suspects it: everyone
	// holds its record at the same incarnation, with the old address.
	c.crash(mover)
	c.restart(mover, "new-addr-"+mover, c.ids[0])
	ok := c.runUntil(20*ticksPerPeriod, func() bool {
		for _, id := range others(c.ids, mover) {
			if m, _ := c.nodes[id].Member(mover); m.Addr != "new-addr-"+mover {
				return false
			}
		}
		return true
	})
	require.True(t, ok, "the members did not learn the new address")
	// The seed's answer to the join shows the new life its old record, which it refutes at once
	// with its new address: nobody has to find the old address dead first.
	require.Zero(t, c.countEvents(EventSuspect, func(id string) bool { return id == mover }))
	c.run(30 * ticksPerPeriod)
	require.True(t, c.allSee(c.ids, StateAlive))
	require.Zero(t, c.countEvents(EventFailed, func(string) bool { return true }))
}

func TestFalselySuspectedMemberRefutesAndStaysAlive(t *testing.T) {
	c := newCluster(t, 8, 3, nil)
	accused, accuser := c.ids[5], c.ids[1]
	before, _ := c.nodes[accuser].Member(accused)

	// The accuser wrongly suspects a healthy member, as after a lost ack.
	u := Update{Member: before, From: accuser}
	u.Member.State = StateSuspect
	c.nodes[accuser].apply(u)
	c.collect(c.nodes[accuser])
	require.Equal(t, StateSuspect, c.state(accuser, accused))

	ok := c.runUntil(30*ticksPerPeriod, func() bool {
		m, _ := c.nodes[accuser].Member(accused)
		return m.State == StateAlive && m.Incarnation > before.Incarnation
	})
	require.True(t, ok, "the suspected member did not refute with a higher incarnation")
	c.run(60 * ticksPerPeriod)
	require.True(t, c.allSee(c.ids, StateAlive))
	require.Zero(t, c.countEvents(EventFailed, func(string) bool { return true }),
		"a refuted suspicion still led to a death")
}

// spreadPeriods starts one fresh update in a cluster of n (a member refutes a suspicion only it
// has heard of) and returns how many protocol periods pass before every member has it.
func spreadPeriods(t *testing.T, n int, seed int64, tune func(*Config)) float64 {
	c := newSettledCluster(t, n, seed, tune)
	news := c.ids[n/2]
	self, _ := c.nodes[news].Member(news)
	u := Update{Member: self, From: c.ids[0]}
	u.Member.State = StateSuspect
	c.nodes[news].apply(u)
	c.collect(c.nodes[news])

	start := c.now
	ok := c.runUntil(100*ticksPerPeriod, func() bool {
		for _, id := range c.ids {
			if m, _ := c.nodes[id].Member(news); m.Incarnation == self.Incarnation {
				return false
			}
		}
		return true
	})
	require.True(t, ok, "news from %s did not reach all %d members even with push-pull", news, n)
	return float64(c.now-start) / ticksPerPeriod
}

// SWIM §4.1: infection-style dissemination reaches every member within O(log N) periods with high
// probability. Only with high probability: with memberlist's retransmit limit each member passes an
// update on a few times only, so now and then one member misses it (in small clusters most often,
// where the limit is smallest) and the next push-pull repairs that. Hence the bound, 2·log2(N)+2
// periods, must hold in at least two of three runs, and every run must complete.
func TestDisseminationReachesAllMembersInLogNPeriods(t *testing.T) {
	for _, tc := range []struct {
		name string
		tune func(*Config)
	}{
		{"with gossip", nil},
		// Pure SWIM §4.1: news rides only on pings, acks and ping-reqs.
		{"piggyback only", func(cfg *Config) { cfg.GossipNodes = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{8, 32, 128} {
				bound := 2*math.Log2(float64(n)) + 2
				var runs []float64
				within := 0
				for seed := int64(4); seed < 7; seed++ {
					p := spreadPeriods(t, n, seed, tc.tune)
					runs = append(runs, p)
					if p <= bound {
						within++
					}
				}
				t.Logf("N=%d: every member had the news after %v periods (bound %.1f)", n, runs, bound)
				require.GreaterOrEqual(t, within, 2, "N=%d: news took more than %.1f periods in %v", n, bound, runs)
			}
		})
	}
}

func TestSameSeedGivesIdenticalTrace(t *testing.T) {
	run := func() string {
		c := newCluster(t, 6, 5, nil)
		c.traceOn = true
		c.loss = 0.1
		c.crash(c.ids[2])
		c.run(40 * ticksPerPeriod)
		return strings.Join(c.trace, "\n")
	}
	first := run()
	require.NotEmpty(t, first)
	require.Equal(t, first, run())
}

func TestLossyNetworkCausesNoFalseDeaths(t *testing.T) {
	c := newCluster(t, 12, 6, nil)
	c.loss = 0.05
	c.run(300 * ticksPerPeriod)
	require.Zero(t, c.countEvents(EventFailed, func(string) bool { return true }))
	require.True(t, c.allSee(c.ids, StateAlive))
}

func TestGracefulLeaveIsSeenByAllAsLeft(t *testing.T) {
	c := newCluster(t, 8, 7, nil)
	leaver := c.ids[3]
	require.NoError(t, c.nodes[leaver].Leave())
	c.collect(c.nodes[leaver])
	// The shell keeps a leaving member running a little, so the news gets out.
	ok := c.runUntil(10*ticksPerPeriod, func() bool { return c.allSee([]string{leaver}, StateLeft) })
	require.True(t, ok, "not everyone saw %s leave", leaver)
	c.crash(leaver)
	c.run(60 * ticksPerPeriod)
	require.True(t, c.allSee([]string{leaver}, StateLeft), "a left member must not turn into a failure")
	require.Zero(t, c.countEvents(EventFailed, func(string) bool { return true }))
	require.Equal(t, len(c.ids)-1, c.countEvents(EventLeft, func(id string) bool { return id == leaver }))
}

// allSeeOnly reports whether every member of observers sees every member of about (other than
// itself) in state s.
func (c *cluster) allSeeOnly(observers, about []string, s State) bool {
	for _, obs := range observers {
		for _, id := range about {
			if id == obs {
				continue
			}
			m, ok := c.nodes[obs].Member(id)
			if !ok || m.State != s {
				return false
			}
		}
	}
	return true
}

// A member cut off from the rest declares them all dead; the "dead" news waits in its broadcast
// queue and leaves, piggybacked, once the cut heals. Each other member can still reach the member
// named in that news, so it takes it as a suspicion the member then refutes, as push-pull's merge
// does: stale news declares nobody dead who stayed reachable.
func TestStaleDeathNewsFromAHealedMemberDeclaresNoReachableMemberDead(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		c := newCluster(t, 3, seed, nil)
		lone, rest := c.ids[2], c.ids[:2]
		c.partition([]string{lone}, rest)
		ok := c.runUntil(100*ticksPerPeriod, func() bool {
			return c.allSeeOnly([]string{lone}, rest, StateDead) && c.allSeeOnly(rest, []string{lone}, StateDead)
		})
		require.True(t, ok, "seed %d: the two sides did not declare each other dead", seed)
		for _, obs := range rest {
			for _, e := range c.events[obs] {
				require.False(t, e.Type == EventFailed && e.Member.ID != lone,
					"seed %d: %s declared %s dead while both were on the same side", seed, obs, e.Member.ID)
			}
		}

		c.clearEvents()
		c.heal()
		ok = c.runUntil(200*ticksPerPeriod, func() bool { return c.allSee(c.ids, StateAlive) })
		require.True(t, ok, "seed %d: after the heal the members did not see each other alive again", seed)
		c.run(30 * ticksPerPeriod)
		require.True(t, c.allSee(c.ids, StateAlive), "seed %d: a member was lost again after the heal", seed)
		for _, obs := range c.ids {
			for _, e := range c.events[obs] {
				require.NotEqual(t, EventFailed, e.Type, "seed %d: %s declared %s dead after the heal, though it stayed reachable", seed, obs, e.Member.ID)
			}
		}
	}
}
