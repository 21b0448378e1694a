// Tests of the event queue: virtual time order, ties in scheduling order, the horizon.

package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEventsRunInTimeOrderThenSchedulingOrder(t *testing.T) {
	var q queue
	var got []string
	q.at(20*time.Millisecond, func() { got = append(got, "b1") })
	q.at(10*time.Millisecond, func() { got = append(got, "a") })
	q.at(20*time.Millisecond, func() { got = append(got, "b2") })
	q.at(20*time.Millisecond, func() { got = append(got, "b3") })
	for q.step(time.Second) {
	}
	require.Equal(t, []string{"a", "b1", "b2", "b3"}, got)
	require.Equal(t, 20*time.Millisecond, q.now)
}

func TestEventScheduledInThePastRunsNowNotEarlier(t *testing.T) {
	var q queue
	var at time.Duration
	q.at(50*time.Millisecond, func() {
		q.at(10*time.Millisecond, func() { at = q.now })
	})
	for q.step(time.Second) {
	}
	require.Equal(t, 50*time.Millisecond, at, "the clock never goes back")
}

func TestStepStopsAtTheHorizon(t *testing.T) {
	var q queue
	ran := 0
	q.after(time.Second, func() { ran++ })
	q.after(3*time.Second, func() { ran++ })
	for q.step(2 * time.Second) {
	}
	require.Equal(t, 1, ran)
	require.Equal(t, 1, q.len(), "the event past the horizon still waits")
}
