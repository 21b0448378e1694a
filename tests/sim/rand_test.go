// A stream seeded as it is drawn from is the stream math/rand gives for the same seed, from its
// first draw, after the whole register was read, and when started over at another seed.

package sim

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSourceDrawsWhatMathRandDraws(t *testing.T) {
	seeds := []int64{0, 1, -1, -7, 1 << 40, int32max, int32max - 1, -int32max, 2 * int32max, 89482311,
		math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	pick := rand.New(rand.NewSource(99))
	for range 200 {
		seeds = append(seeds, pick.Int63()-pick.Int63())
	}
	for _, seed := range seeds {
		ours, theirs := newRand(seed), rand.New(rand.NewSource(seed))
		// Past 607 draws every word of the register has been written by a draw at least once.
		for range 700 {
			require.Equal(t, theirs.Uint64(), ours.Uint64(), "seed %d", seed)
			require.Equal(t, theirs.Int63(), ours.Int63(), "seed %d", seed)
		}
	}
}

// TestReseededSourceDrawsWhatMathRandDraws starts one register over after few draws, after every
// word was seeded, and before any draw, as a node's streams are reseeded at each restart.
func TestReseededSourceDrawsWhatMathRandDraws(t *testing.T) {
	var r *rand.Rand
	for i, draws := range []int{3, 0, 1000, 333, 334, 335, 272, 273, 5} {
		seed := int64(i*7919 - 20000)
		r = reseed(r, seed)
		want := rand.New(rand.NewSource(seed))
		for range draws {
			require.Equal(t, want.Int63(), r.Int63(), "seed %d", seed)
		}
		require.Equal(t, want.Intn(1000), r.Intn(1000), "seed %d", seed)
		require.Equal(t, want.Float64(), r.Float64(), "seed %d", seed)
		require.Equal(t, want.ExpFloat64(), r.ExpFloat64(), "seed %d", seed)
		require.Equal(t, want.Perm(5), r.Perm(5), "seed %d", seed)
	}
}
