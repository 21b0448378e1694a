// Lifeguard's Local Health Multiplier (Lifeguard, "Local Health Aware Probe"; memberlist's
// awareness.go).
//
// SWIM assumes the prober itself is healthy: a probe that fails blames the target. A member that
// is slow (overloaded CPU, long GC pause, saturated link) sees many probes fail and blames healthy
// members. Lifeguard lets a member notice its own trouble from evidence it already has, and then
// wait longer before blaming anyone: the score rises when a probe fails without the nacks the
// ping-req relays should have sent (or fails at all if no nacks were expected), and when the member
// has to refute a suspicion about itself; it falls with every successful probe. Probe interval and
// probe timeout are multiplied by score+1.

package gossip

// awareness is the Local Health Multiplier score, 0 (healthy) to max-1.
type awareness struct {
	score int
	max   int
}

// apply moves the score by delta, clamped to [0, max-1].
func (a *awareness) apply(delta int) {
	a.score = min(max(a.score+delta, 0), a.max-1)
}

// scale stretches a number of ticks by the score: t * (score+1).
func (a *awareness) scale(t int64) int64 {
	return t * int64(a.score+1)
}
