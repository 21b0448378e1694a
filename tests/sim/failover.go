// Failover in the simulator: for each crash of a leader, how long until a node leads in a later
// term (Raft paper §5.2; thesis §9.3 on the randomized timeouts that bound it) and until a client's
// next write is acknowledged by a node other than the dead one. `kanna bench --failover` measures
// the same two spans on real processes; here they are in virtual time, under whatever other
// faults the seed drew.
package sim

import "time"

// failoverWatch follows one crashed leader until both spans are measured.
type failoverWatch struct {
	at      time.Duration // when the leader crashed
	dead    uint64
	term    uint64
	elected time.Duration // when a node first led in a later term; 0 until then
}

// leaderCrashed starts a watch; one still running is abandoned (a second leader died before the
// first failover finished, so neither span means one failover).
func (s *sim) leaderCrashed(n *node) {
	s.failover = &failoverWatch{at: s.q.now, dead: n.id, term: n.term}
}

// leaderElected ends the first span when n leads in a term after the crashed leader's.
func (s *sim) leaderElected(n *node) {
	if w := s.failover; w != nil && w.elected == 0 && n.id != w.dead && n.term > w.term {
		w.elected = s.q.now
	}
}

// writeAcknowledged ends the second span when a node other than the dead one answers a write, and
// records both spans of the failover.
func (s *sim) writeAcknowledged(by uint64) {
	w := s.failover
	if w == nil || by == w.dead {
		return
	}
	elected := w.elected
	if elected == 0 {
		// A write answered with no new leader seen: one was elected and lost office between two
		// observations; its term began no later than now.
		elected = s.q.now
	}
	s.failoverElect = append(s.failoverElect, elected-w.at)
	s.failoverWrite = append(s.failoverWrite, s.q.now-w.at)
	s.failover = nil
}
