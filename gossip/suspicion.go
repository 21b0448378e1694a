// One suspicion and its shrinking timeout (Lifeguard, "Local Health Aware Suspicion"; the
// formula is that of memberlist's suspicion.go).
//
// Plain SWIM (§4.2) gives every suspicion the same timeout. Lifeguard starts it at Max, long
// enough for a slow but live member to refute, and shrinks it toward Min as other members
// independently suspect the same member, since each confirmation makes a real failure likelier:
//
//	timeout(c) = max(Min, Max - (Max-Min) * log(c+1) / log(K+1))
//
// where c is the number of confirmations so far and K the number expected. With K = 0 (too few
// members to expect confirmations, or the feature switched off) the timeout is Min from the start.

package gossip

import "math"

// suspicion tracks one suspected member. All times are in ticks.
type suspicion struct {
	start    int64 // tick the suspicion began
	min, max int64
	k        int                 // confirmations expected
	from     map[string]struct{} // members who suspect it: the first suspecter and confirmations
	n        int                 // confirmations counted, at most k
	// doubted: raised by news of a death this node did not believe (Node.applyPiggybacked).
	doubted bool
}

// newSuspicion starts a suspicion raised by from at tick now.
func newSuspicion(from string, now int64, k int, lo, hi int64) *suspicion {
	return &suspicion{start: now, min: lo, max: hi, k: k, from: map[string]struct{}{from: {}}}
}

// confirm records that from also suspects the member. It reports whether this was a new,
// independent confirmation worth passing on: only those shorten the timeout, and re-gossiping only
// those keeps a suspicion from being echoed forever.
func (s *suspicion) confirm(from string) bool {
	if s.n >= s.k {
		return false
	}
	if _, ok := s.from[from]; ok {
		return false
	}
	s.from[from] = struct{}{}
	s.n++
	return true
}

// timeout is the current length of the suspicion in ticks, from its start.
func (s *suspicion) timeout() int64 {
	return suspicionTimeout(s.n, s.k, s.min, s.max)
}

// expired reports whether the suspicion has run its course at tick now.
func (s *suspicion) expired(now int64) bool {
	return now-s.start >= s.timeout()
}

// suspicionTimeout is Lifeguard's timeout after n of k expected confirmations.
func suspicionTimeout(n, k int, lo, hi int64) int64 {
	if k < 1 || hi <= lo {
		return lo
	}
	frac := math.Log(float64(n)+1) / math.Log(float64(k)+1)
	t := int64(math.Floor(float64(hi) - frac*float64(hi-lo)))
	return max(t, lo)
}

// suspicionMinTimeout is SWIM's suspicion timeout in ticks for a cluster of n members:
// mult * max(1, log10(n)) * probeInterval. It grows with log N because gossip needs O(log N)
// periods to carry the suspicion out and the refutation back.
func suspicionMinTimeout(mult, n int, probeInterval int64) int64 {
	scale := math.Max(1, math.Log10(math.Max(1, float64(n))))
	return int64(math.Ceil(float64(mult) * scale * float64(probeInterval)))
}
