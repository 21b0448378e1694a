// Tests of the fault mix (swarm testing), the fault and bug names, and the trace line format.

package sim

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEachSeedDrawsItsOwnFaultMixWithinTheAllowedFaults(t *testing.T) {
	allowed, err := parseFaults([]string{"loss", "crash"}, Bug{})
	require.NoError(t, err)
	distinct := map[string]bool{}
	for seed := int64(0); seed < 100; seed++ {
		m := drawMix(rand.New(rand.NewSource(seed)), allowed)
		require.Zero(t, m.Dup)
		require.False(t, m.Reorder || m.Partition || m.Pause || m.Drift, "seed %d enabled a fault not allowed: %s", seed, m)
		require.True(t, m.Loss > 0 || m.Crash, "seed %d enabled nothing", seed)
		distinct[m.String()] = true
	}
	require.Greater(t, len(distinct), 10, "swarm testing: seeds differ in their mixes")
}

func TestFaultMixFollowsTheSeed(t *testing.T) {
	allowed, err := parseFaults(nil, Bug{})
	require.NoError(t, err)
	a := drawMix(rand.New(rand.NewSource(42)), allowed)
	b := drawMix(rand.New(rand.NewSource(42)), allowed)
	require.Equal(t, a, b)
}

func TestUnknownFaultIsRefusedNamingTheKnownOnes(t *testing.T) {
	_, err := parseFaults([]string{"loss", "meteor"}, Bug{})
	require.ErrorContains(t, err, `unknown fault "meteor"`)
	require.ErrorContains(t, err, strings.Join(FaultNames, ","))
}

func TestBugPresetFaultsApplyWhenNoneAreGiven(t *testing.T) {
	bug, err := lookupBug("no-prevote-no-checkquorum")
	require.NoError(t, err)
	allowed, err := parseFaults(nil, bug)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"partition": true}, allowed)

	_, err = lookupBug("no-such-bug")
	require.ErrorContains(t, err, "unknown bug")
}

func TestTraceLinesAreDeterministicText(t *testing.T) {
	e := Event{At: 1500 * time.Millisecond, Kind: EventSend, From: 1, To: 2, MsgType: "MsgApp", Term: 3, Detail: "idx=4"}
	require.Equal(t, "0001.500000 send      1->2 MsgApp term=3 idx=4", e.String())
	a, b := newTracer(false, nil), newTracer(true, nil)
	a.add(e)
	b.add(e)
	require.Equal(t, a.sum(), b.sum())
	require.Len(t, b.events, 1)
	b.add(Event{Kind: EventCrash, Node: 2})
	require.NotEqual(t, a.sum(), b.sum())
}
