// Tests of the failover spans: they run from the leader's crash, ignore the dead node and
// same-term leaders, and a seeded run that crashes leaders reports one pair per finished failover.
package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFailoverSpansRunFromTheLeaderCrash(t *testing.T) {
	s := &sim{}
	s.q.now = 10 * time.Second
	s.leaderCrashed(&node{id: 1, term: 3})
	s.q.now += 300 * time.Millisecond
	s.leaderElected(&node{id: 1, term: 4}) // the dead node restarted: not a failover
	s.leaderElected(&node{id: 2, term: 3}) // not a later term
	s.writeAcknowledged(1)                 // answered by the dead node: not the next write
	require.Empty(t, s.failoverElect)
	s.leaderElected(&node{id: 2, term: 4})
	s.q.now += 100 * time.Millisecond
	s.writeAcknowledged(3)
	require.Equal(t, []time.Duration{300 * time.Millisecond}, s.failoverElect)
	require.Equal(t, []time.Duration{400 * time.Millisecond}, s.failoverWrite)

	s.writeAcknowledged(3)
	require.Len(t, s.failoverWrite, 1, "one failover, one pair")
	s.leaderCrashed(&node{id: 2, term: 4})
	s.leaderCrashed(&node{id: 3, term: 5}) // the first failover is abandoned
	s.q.now += 50 * time.Millisecond
	s.writeAcknowledged(4)
	require.Equal(t, []time.Duration{300 * time.Millisecond, 50 * time.Millisecond}, s.failoverElect)
}

func TestASeedThatCrashesLeadersReportsItsFailovers(t *testing.T) {
	r, err := Execute(Options{Seed: 11, Duration: 60 * time.Second})
	require.NoError(t, err)
	require.Empty(t, r.Violations)
	require.NotEmpty(t, r.FailoverWrite, "seed 11 crashes leaders")
	require.Len(t, r.FailoverElect, len(r.FailoverWrite))
	for i := range r.FailoverWrite {
		require.Positive(t, r.FailoverElect[i])
		require.LessOrEqual(t, r.FailoverElect[i], r.FailoverWrite[i], "failover %d", i)
	}
}
