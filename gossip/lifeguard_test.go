// Lifeguard's claim, tested whole (Lifeguard §5): a slow member makes plain SWIM suspect, and
// sometimes kill, healthy members; Local Health Awareness makes the slow member notice that the
// trouble is its own and stop blaming others.
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
