// Tests of Lifeguard's dynamic suspicion timeout (Lifeguard LHA-Suspicion, suspicion.go) and of
// SWIM's suspicion timeout as the cluster grows (SWIM §4.2).

package gossip

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSuspicionTimeoutStartsAtMaxAndShrinksToMinWithConfirmations(t *testing.T) {
	const lo, hi, k = 40, 240, 3
	// timeout(c) = hi - (hi-lo) * log(c+1)/log(k+1), worked by hand:
	// c=1: 240 - 200*ln2/ln4 = 240 - 100 = 140
	// c=2: 240 - 200*ln3/ln4 = 240 - 158.496... = 81.50 -> 81
	want := []int64{240, 140, 81, 40}
	s := newSuspicion("b", 100, k, lo, hi)
	require.Equal(t, want[0], s.timeout())
	for c, from := range []string{"c", "d", "e"} {
		require.True(t, s.confirm(from), "confirmation %d from %s", c+1, from)
		require.Equal(t, want[c+1], s.timeout())
	}
	require.False(t, s.confirm("f"), "confirmations beyond the k expected change nothing")
	require.Equal(t, int64(lo), s.timeout())
}

func TestSuspicionCountsEachConfirmerOnce(t *testing.T) {
	s := newSuspicion("b", 0, 3, 40, 240)
	require.False(t, s.confirm("b"), "the first suspecter does not confirm its own suspicion")
	require.True(t, s.confirm("c"))
	require.False(t, s.confirm("c"), "a repeated suspicion is not independent")
	require.Equal(t, int64(140), s.timeout())
}

func TestSuspicionWithoutExpectedConfirmationsLastsMin(t *testing.T) {
	s := newSuspicion("b", 10, 0, 40, 240)
	require.Equal(t, int64(40), s.timeout())
	require.False(t, s.expired(49))
	require.True(t, s.expired(50))
}

func TestSuspicionTimeoutGrowsWithLogOfClusterSize(t *testing.T) {
	// mult * max(1, log10(n)) * interval, with interval 10 ticks and mult 4.
	require.Equal(t, int64(40), suspicionMinTimeout(4, 1, 10))
	require.Equal(t, int64(40), suspicionMinTimeout(4, 10, 10))
	require.Equal(t, int64(80), suspicionMinTimeout(4, 100, 10))
	require.Equal(t, int64(120), suspicionMinTimeout(4, 1000, 10))
}

func TestSuspectIsDeclaredDeadWhenItsSuspicionTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dynamic bool
		want    int64 // ticks from suspicion to death in a cluster of 6: min 40, max 240
	}{
		{"SWIM: fixed timeout", false, 40},
		{"Lifeguard: no confirmation, max timeout", true, 240},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNode(t, "a", func(cfg *Config) { cfg.DynamicSuspicion = tc.dynamic })
			introduce(n, "b", "c", "d", "e", "f")
			n.nextProbe = 1 << 40 // keep the failure detector out of this test
			n.apply(news("b", StateSuspect, 0, "c"))
			start := n.now
			for n.members["b"].State == StateSuspect {
				n.Tick()
			}
			require.Equal(t, StateDead, n.members["b"].State)
			require.Equal(t, tc.want, n.now-start)
			require.Equal(t, []EventType{EventSuspect, EventFailed}, eventTypes(n.Events()))
		})
	}
}

func TestIndependentConfirmationsHastenTheDeclarationOfDeath(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b", "c", "d", "e", "f")
	n.nextProbe = 1 << 40
	n.apply(news("b", StateSuspect, 0, "c"))
	n.queue = broadcastQueue{}
	n.apply(news("b", StateSuspect, 0, "d"))
	require.Equal(t, 1, n.queue.len(), "a new confirmation is passed on")
	n.apply(news("b", StateSuspect, 0, "d"))
	require.Equal(t, 1, n.queue.len())
	n.queue = broadcastQueue{}
	n.apply(news("b", StateSuspect, 0, "d"))
	require.Zero(t, n.queue.len(), "a repeated confirmation is not passed on again")
	n.apply(news("b", StateSuspect, 0, "e"))
	// SuspicionMult 4 expects 2 confirmations, and both came: the timeout is at its minimum.
	start := n.now
	for n.members["b"].State == StateSuspect {
		n.Tick()
	}
	require.Equal(t, int64(40), n.now-start)
}

func eventTypes(evs []Event) []EventType {
	var out []EventType
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestASuspicionRaisedAgainAfterARefutationIsWatchedOnce(t *testing.T) {
	n := newTestNode(t, "a", func(cfg *Config) { cfg.DynamicSuspicion = false })
	introduce(n, "b", "c")
	n.nextProbe = 1 << 40
	for inc := uint64(0); inc < 6; inc += 2 {
		n.apply(news("b", StateSuspect, inc, "c"))
		n.apply(news("b", StateAlive, inc+1, "b"))
	}
	n.apply(news("b", StateSuspect, 7, "c"))
	require.Len(t, n.suspects, 1)
	start := n.now
	for n.members["b"].State == StateSuspect {
		n.Tick()
	}
	require.Equal(t, int64(40), n.now-start, "the last suspicion runs its full course")
	require.Empty(t, n.suspects)
	failed := 0
	for _, e := range n.Events() {
		if e.Type == EventFailed {
			failed++
		}
	}
	require.Equal(t, 1, failed, "one death, however often the member was suspected")
}
