// The random streams of a node's incarnations: math/rand's generator, seeded only as far as it is
// drawn from, in a register a node keeps from one incarnation to the next.
//
// A restarted node gets new streams for its Raft core, its game and its gossip core (node.go), a
// thousand streams in a 300 s run. rand.NewSource allocates a 4.9 KB register and seeds all 607
// of its words, some 1,800 steps of a multiplicative congruential generator, ten microseconds;
// yet a Raft core draws three numbers in a median incarnation (one per election timeout it
// resets), a gossip core about a hundred, and the game only when the node, as leader, picks a
// word. math/rand's generator (an additive lagged Fibonacci generator, rng.go in the standard
// library) reads its register from the top down, two words per draw, and word i of a seeded
// register depends only on the seed and i:
//
//	vec[i] = x[21+3i]<<40 ^ x[22+3i]<<20 ^ x[23+3i] ^ rngCooked[i],  x[k] = seed·48271^k mod (2^31−1)
//
// so a word can be seeded the first time a draw reads it, from a table of the powers of 48271,
// and a stream seeded so gives the very numbers rand.NewSource(seed) gives
// (TestSourceDrawsWhatMathRandDraws). rngCooked, math/rand's fixed table, is read back from one
// source math/rand seeded (cookedTable).

package sim

import "math/rand"

// The generator's shape, as math/rand defines it.
const (
	rngLen   = 607           // words in the register
	rngTap   = 273           // distance between the two words a draw adds
	int32max = (1 << 31) - 1 // the modulus of the seeding generator, a prime
	seedMul  = 48271         // its multiplier
	// lazyDraws is how many draws read words not yet seeded: the first draw reads words 333 and
	// 606, each next draw the two below, so after 334 draws every word has been read once.
	lazyDraws = rngLen - rngTap
)

// seedWord is what seeding word i takes: the powers of the multiplier at the three steps of the
// seeding sequence that make the word, and math/rand's cooked value that is mixed in.
type seedWord struct {
	pow    [3]uint64 // 48271^(21+3i), ^(22+3i), ^(23+3i), mod 2^31−1
	cooked int64
}

// seedWords is the table every stream seeds its words from; the same for every run.
var seedWords = newSeedWords()

func newSeedWords() *[rngLen]seedWord {
	t := new([rngLen]seedWord)
	p := uint64(1)
	for range 21 {
		p = p * seedMul % int32max
	}
	for i := range t {
		for j := range 3 {
			t[i].pow[j] = p
			p = p * seedMul % int32max
		}
	}
	cooked := cookedTable(t)
	for i := range t {
		t[i].cooked = cooked[i]
	}
	return t
}

// cookedTable reads math/rand's rngCooked back from the first 607 draws of rand.NewSource(1):
// draw j (from 1) sets word f = 334−j, or 941−j once that is negative, to the sum of words f and
// 607−j, so each of the 607 words seeding left is a difference of two draws or of a draw and a
// word already found. With seed 1, x[k] is the power of the multiplier itself, so the cooked
// value is what remains of a word once the powers are taken out.
func cookedTable(t *[rngLen]seedWord) [rngLen]int64 {
	src := rand.NewSource(1).(rand.Source64)
	var out [rngLen + 1]int64 // out[j] is draw j
	for j := 1; j <= rngLen; j++ {
		out[j] = int64(src.Uint64())
	}
	var vec [rngLen]int64
	for j := lazyDraws + 1; j <= rngLen; j++ { // words 334..606, against words the first draws set
		vec[941-j] = out[j] - out[j-rngTap]
	}
	for j := rngTap + 1; j <= lazyDraws; j++ { // words 0..60, against words the first draws set
		vec[334-j] = out[j] - out[j-rngTap]
	}
	for j := 1; j <= rngTap; j++ { // words 61..333, against words 334..606
		vec[334-j] = out[j] - vec[607-j]
	}
	var cooked [rngLen]int64
	for i, w := range t {
		cooked[i] = vec[i] ^ int64(w.pow[0])<<40 ^ int64(w.pow[1])<<20 ^ int64(w.pow[2])
	}
	return cooked
}

// source is rand.NewSource(seed) whose register is seeded word by word as draws first read it.
// Seed starts it over in the same register.
type source struct {
	x0        uint64 // the seed as math/rand reduces it, in [1, 2^31−1)
	drawn     int    // draws so far, counted up to lazyDraws
	tap, feed int
	vec       [rngLen]int64
}

// newRand returns math/rand's generator for seed, seeded as it is drawn from.
func newRand(seed int64) *rand.Rand {
	s := new(source)
	s.Seed(seed)
	return rand.New(s)
}

// reseed starts r, made by newRand, over at seed, or makes it when r is nil. The stream r gave
// before must be one nobody draws from again.
func reseed(r *rand.Rand, seed int64) *rand.Rand {
	if r == nil {
		return newRand(seed)
	}
	r.Seed(seed)
	return r
}

// Seed reduces the seed as rngSource.Seed does; the words are seeded later, as draws read them.
func (s *source) Seed(seed int64) {
	seed %= int32max
	if seed < 0 {
		seed += int32max
	}
	if seed == 0 {
		seed = 89482311
	}
	s.x0, s.drawn, s.tap, s.feed = uint64(seed), 0, 0, lazyDraws
}

// word is word i of the register as seeding leaves it.
func (s *source) word(i int) int64 {
	w := &seedWords[i]
	x := s.x0
	return int64(x*w.pow[0]%int32max)<<40 ^ int64(x*w.pow[1]%int32max)<<20 ^ int64(x*w.pow[2]%int32max) ^ w.cooked
}

func (s *source) Uint64() uint64 {
	if s.drawn < lazyDraws {
		// This draw is the first to read the words below those the draws before it read.
		s.vec[lazyDraws-1-s.drawn] = s.word(lazyDraws - 1 - s.drawn)
		if s.drawn < rngTap {
			s.vec[rngLen-1-s.drawn] = s.word(rngLen - 1 - s.drawn)
		}
		s.drawn++
	}
	s.tap--
	if s.tap < 0 {
		s.tap += rngLen
	}
	s.feed--
	if s.feed < 0 {
		s.feed += rngLen
	}
	x := s.vec[s.feed] + s.vec[s.tap]
	s.vec[s.feed] = x
	return uint64(x)
}

func (s *source) Int63() int64 { return int64(s.Uint64() &^ (1 << 63)) }
