// Tests of the event queue: virtual time order, ties in scheduling order, the horizon.

package sim

import (
	"math/rand"
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

func TestRandomSchedulesRunInTimeThenSchedulingOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	checkRandomSchedule(t, rng, func() time.Duration { return time.Duration(rng.Intn(50)) * time.Millisecond })
}

// TestNearAndFarEventsRunInOneOrder schedules events into the ring of buckets, onto its last
// buckets and just past them, and into the heap beyond, at the same instants and in the past.
func TestNearAndFarEventsRunInOneOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	width := time.Duration(1) << bucketBits
	checkRandomSchedule(t, rng, func() time.Duration {
		switch rng.Intn(6) {
		case 0:
			return 0
		case 1:
			return -time.Duration(rng.Intn(1000)) // in the past: now
		case 2:
			return time.Duration(rng.Int63n(int64(width)))
		case 3:
			return (ringBuckets-2)*width + time.Duration(rng.Int63n(int64(3*width)))
		case 4:
			return time.Duration(rng.Intn(3)) * time.Second
		default:
			return time.Duration(rng.Intn(70)) * time.Millisecond
		}
	})
}

// checkRandomSchedule runs a cascade of events, each scheduling up to two more after delay(), and
// requires every event to run once, in time order, and at one instant in scheduling order.
func checkRandomSchedule(t *testing.T, rng *rand.Rand, delay func() time.Duration) {
	var q queue
	type ran struct {
		at  time.Duration
		seq int
	}
	var got []ran
	seq := 0
	var schedule func()
	schedule = func() {
		seq++
		id := seq
		q.after(delay(), func() {
			got = append(got, ran{q.now, id})
			if seq < 20000 && rng.Intn(3) > 0 {
				schedule()
				schedule()
			}
		})
	}
	for range 20 {
		schedule()
	}
	for q.step(time.Hour) {
	}
	require.Len(t, got, seq, "every event ran once")
	require.Zero(t, q.len())
	for i := 1; i < len(got); i++ {
		require.LessOrEqual(t, got[i-1].at, got[i].at, "the clock never goes back")
		if got[i-1].at == got[i].at {
			require.Less(t, got[i-1].seq, got[i].seq, "events at one instant run in scheduling order")
		}
	}
}
