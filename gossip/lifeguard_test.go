// Lifeguard's claim, tested whole (Lifeguard's evaluation): a slow or paused member makes plain
// SWIM suspect, and sometimes kill, healthy members; Local Health Awareness makes that member
// notice that the trouble is its own and stop blaming others, and dynamic suspicion gives the
// healthy members time to refute.

package gossip

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// slowMemberRun runs a cluster of 12 in which one member handles every message 1.2s late, as if
// its CPU were starved, on a network that loses the given share of messages, and counts the
// suspicions and deaths of the healthy members, as events summed over every observer.
func slowMemberRun(t *testing.T, loss float64, tune func(*Config)) (suspicions, deaths int) {
	c := newCluster(t, 12, 10, tune)
	slow := c.ids[7]
	c.delay[slow] = 12 // ticks: longer than a whole protocol period
	c.loss = loss
	c.run(150 * ticksPerPeriod)
	healthy := func(id string) bool { return id != slow }
	return c.countEvents(EventSuspect, healthy), c.countEvents(EventFailed, healthy)
}

func swimOnly(cfg *Config) {
	cfg.LocalHealth, cfg.DynamicSuspicion, cfg.BuddySystem, cfg.Nack = false, false, false, false
}

func TestLocalHealthAwarenessReducesFalseSuspicionsCausedByASlowMember(t *testing.T) {
	swim, _ := slowMemberRun(t, 0.02, swimOnly)
	lhm, _ := slowMemberRun(t, 0.02, func(cfg *Config) {
		cfg.DynamicSuspicion, cfg.BuddySystem, cfg.Nack = false, false, false
	})
	lifeguard, _ := slowMemberRun(t, 0.02, nil)
	t.Logf("healthy members suspected, 2%% loss: SWIM %d, SWIM+LHM %d, Lifeguard %d", swim, lhm, lifeguard)

	require.NotZero(t, swim, "the slow member should make plain SWIM suspect healthy members")
	require.Less(t, lhm*4, swim, "the local health multiplier alone should cut false suspicions fourfold")
	require.Less(t, lifeguard*4, swim, "Lifeguard should cut false suspicions fourfold")
}

func TestLifeguardPreventsFalseDeathsCausedByASlowMemberOnALossyNetwork(t *testing.T) {
	_, swim := slowMemberRun(t, 0.3, swimOnly)
	_, lifeguard := slowMemberRun(t, 0.3, nil)
	t.Logf("healthy members declared dead, 30%% loss: SWIM %d, Lifeguard %d", swim, lifeguard)

	require.NotZero(t, swim, "a slow member and heavy loss should make plain SWIM kill healthy members")
	require.Less(t, lifeguard, swim)
}

// pausedMemberRun runs a cluster of 12 in which one member freezes for 6s out of every 8s, as in
// a stop-the-world GC pause, and catches up on the ticks it missed before it reads the messages
// that waited for it. It counts the suspicions and deaths of the healthy members.
func pausedMemberRun(t *testing.T, tune func(*Config)) (suspicions, deaths int) {
	c := newCluster(t, 12, 10, tune)
	paused := c.ids[7]
	c.loss = 0.02
	for range 30 {
		c.pause(paused, 6*ticksPerPeriod)
		c.run(8 * ticksPerPeriod)
	}
	healthy := func(id string) bool { return id != paused }
	return c.countEvents(EventSuspect, healthy), c.countEvents(EventFailed, healthy)
}

func TestLifeguardPreventsFalsePositivesCausedByAPausedMember(t *testing.T) {
	swimSuspicions, swimDeaths := pausedMemberRun(t, swimOnly)
	lgSuspicions, lgDeaths := pausedMemberRun(t, nil)
	t.Logf("member paused 6s in every 8s: healthy members suspected / declared dead: SWIM %d/%d, Lifeguard %d/%d",
		swimSuspicions, swimDeaths, lgSuspicions, lgDeaths)

	require.NotZero(t, swimDeaths, "waking from its pauses, the member should make plain SWIM kill healthy members")
	require.Less(t, lgDeaths, swimDeaths)
	require.Less(t, lgSuspicions*4, swimSuspicions, "Lifeguard should cut false suspicions fourfold")
}
