// A random stream that costs nothing until it is drawn from.
//
// A restarted node gets new streams for its Raft core, its game and its gossip core (node.go).
// Seeding math/rand's generator takes some ten microseconds, and the game's stream is drawn from
// only when the node, as leader, picks the word of a new room or round, which most incarnations
// never do. A lazy source seeds on the first draw instead: the same generator seeded the same way,
// so the stream gives the same numbers it always did (TestLazyRandDrawsWhatMathRandDraws).

package sim

import "math/rand"

// lazyRand returns math/rand's generator for seed, seeded on its first draw.
func lazyRand(seed int64) *rand.Rand { return rand.New(&lazySource{seed: seed}) }

// lazySource is rand.NewSource(seed), made on first use.
type lazySource struct {
	seed int64
	src  rand.Source64 // nil until the first draw
}

func (l *lazySource) get() rand.Source64 {
	if l.src == nil {
		l.src = rand.NewSource(l.seed).(rand.Source64)
	}
	return l.src
}

func (l *lazySource) Int63() int64    { return l.get().Int63() }
func (l *lazySource) Uint64() uint64  { return l.get().Uint64() }
func (l *lazySource) Seed(seed int64) { l.seed, l.src = seed, nil }
