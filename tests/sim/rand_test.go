// A lazily seeded stream is the stream math/rand gives for the same seed.

package sim

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLazyRandDrawsWhatMathRandDraws(t *testing.T) {
	for _, seed := range []int64{0, 1, -7, 1 << 40} {
		lazy, eager := lazyRand(seed), rand.New(rand.NewSource(seed))
		for range 200 {
			require.Equal(t, eager.Int63(), lazy.Int63())
			require.Equal(t, eager.Uint64(), lazy.Uint64())
			require.Equal(t, eager.Intn(1000), lazy.Intn(1000))
			require.Equal(t, eager.Float64(), lazy.Float64())
			require.Equal(t, eager.ExpFloat64(), lazy.ExpFloat64())
			require.Equal(t, eager.Perm(5), lazy.Perm(5))
		}
		lazy.Seed(seed + 1)
		eager.Seed(seed + 1)
		require.Equal(t, eager.Int63(), lazy.Int63(), "reseeded")
	}
}
