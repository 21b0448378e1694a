// Checks that need the whole simulated cluster: the liveness phase's promises (a leader within a
// bound, every request answered, replicas converged; Raft paper §5.6), the commit-safety checker's
// view of every node's disk, and the disruption checker (thesis §9.6), which must know the
// network's shape to tell a harmless election from one caused by a rejoining server.

package sim

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/kanna-cluster/kanna/raft"
)

// leaderBound is how long the liveness phase gives the cluster to agree on a leader: many
// election timeouts (10-20 ticks each), since restarted nodes and pre-vote rounds come first.
func (s *sim) leaderBound() time.Duration { return min(150*s.opts.Tick, s.opts.Liveness/2) }

// probeLeader looks, every few ticks of the liveness phase, for a leader that every node follows.
func (s *sim) probeLeader() {
	if s.leaderAt != 0 {
		return
	}
	if lead, ok := s.agreedLeader(); ok {
		s.leaderAt = s.q.now
		s.emit(Event{Kind: EventPhase, Node: lead, Detail: fmt.Sprintf("leader %d agreed after %v of liveness", lead, s.q.now-s.safetyEnd)})
		return
	}
	if s.q.now-s.safetyEnd > s.leaderBound() {
		s.check.fail(s.q.now, CheckLiveness, 0, "no leader that every node follows within %v of healing every fault", s.leaderBound())
		return
	}
	s.q.after(5*s.opts.Tick, s.probeLeader)
}

// agreedLeader finds a leader of the highest term whom every node names as leader.
func (s *sim) agreedLeader() (uint64, bool) { return s.leaderAmong(s.ids) }

// leaderAmong returns the leader that every node of group follows, if they agree on one that is
// itself in the group and leading: a majority's leader while the rest is cut off.
func (s *sim) leaderAmong(group []uint64) (uint64, bool) {
	var lead, term uint64
	for _, id := range group {
		n := s.nodes[id]
		if !n.up() {
			return 0, false
		}
		st := n.eng.Status()
		if st.Lead == raft.None || (lead != 0 && (st.Lead != lead || st.Term != term)) {
			return 0, false
		}
		lead, term = st.Lead, st.Term
	}
	for _, id := range group {
		if id == lead {
			return lead, s.nodes[lead].eng.Status().Role == raft.Leader
		}
	}
	return 0, false
}

// finalChecks runs when the liveness phase ends: every request answered, every replica applied
// the same entries and holds byte-identical game state, every gossip view still converged.
func (s *sim) finalChecks() {
	seen := len(s.check.violations)
	defer s.noteViolations(seen)
	now := s.q.now
	for _, op := range s.history {
		if !op.Done {
			s.check.fail(now, CheckLiveness, 0, "%s's request %s called at %v never completed (%d attempts)",
				op.ClientID, describe(op.Input), op.Call, op.Attempts)
			return
		}
	}
	log := s.replayLog()
	s.checkLinearizable(log)
	s.checkPorcupine(log.words)
	if len(s.check.violations) > seen {
		return
	}
	first := s.nodes[s.ids[0]]
	want := first.eng.Status().Applied
	wantSnap := first.eng.GameSnapshot()
	for _, id := range s.ids[1:] {
		n := s.nodes[id]
		applied := n.eng.Status().Applied
		snap := n.eng.GameSnapshot()
		if applied != want || !bytes.Equal(snap, wantSnap) {
			s.check.fail(now, CheckLiveness, id,
				"replicas did not converge: node %d applied %d (game state %x), node %d applied %d (game state %x)",
				first.id, want, sha256.Sum256(wantSnap), id, applied, sha256.Sum256(snap))
			return
		}
	}
	s.checkGossipAtEnd()
}

// checkCommitSafety runs the commit-safety checker over every node's durable log.
func (s *sim) checkCommitSafety(index, term uint64) {
	// It runs for every entry first applied: the lists are the run's, refilled each time.
	disks, all := s.safetyDisks[:0], s.safetyAll[:0]
	for i, id := range s.ids {
		disks, all = append(disks, s.nodes[id].disk), append(all, i)
	}
	s.safetyDisks, s.safetyAll = disks, all
	electorate := func(int) ([]int, int) { return all, len(all) }
	if s.opts.Membership {
		// Only the voters of the configuration in the candidate's own log elect it, a majority of
		// that whole configuration; one that is not among them cannot campaign at all, and a
		// voter that stopped for good cannot vote.
		electorate = func(i int) ([]int, int) {
			cs, ok := disks[i].confStateAt(disks[i].lastIndex())
			if !ok || !slices.Contains(cs.Voters, s.ids[i]) {
				return nil, 0
			}
			var in []int
			for j, id := range s.ids {
				if slices.Contains(cs.Voters, id) {
					in = append(in, j)
				}
			}
			return in, len(cs.Voters)
		}
	}
	s.check.commitSafety(s.q.now, index, term, s.ids, disks, electorate)
}

// faultChanged re-examines every watched leader after a fault: whether its quorum is still
// connected, and who is cut off from it. crashOrPause marks every watched leader disturbed: a
// restarted follower has no leader lease and may grant a pre-vote that correct Raft allows.
func (s *sim) faultChanged(crashOrPause bool) {
	for _, id := range s.ids {
		w := s.check.leading[id]
		if w == nil {
			continue
		}
		if crashOrPause {
			w.disturbed = true
		}
		s.markCuts(w)
	}
}

// markCuts notes the nodes cut off from a leader and whether its quorum is still connected.
func (s *sim) markCuts(w *leaderWatch) {
	connected, voters := 0, s.ids
	if s.opts.Membership {
		// With membership changes the quorum is a majority of the leader's own configuration.
		if ln := s.nodes[w.node]; ln.eng != nil {
			voters = ln.eng.Status().ConfState.Voters
		}
	}
	for _, id := range voters {
		if !slices.Contains(s.ids, id) {
			continue // a voter that stopped for good is never connected
		}
		n := s.nodes[id]
		if id == w.node {
			if n.up() {
				connected++
			}
			continue
		}
		if !s.net.reachable(w.node, id) {
			w.cutOff[id] = true
			continue
		}
		if n.up() {
			connected++
		}
	}
	if connected <= len(voters)/2 {
		w.disturbed = true
	}
}

// watchLeader runs the disruption checker when a node's role or term changes: a leader that kept
// a connected quorum throughout its term must not be deposed by the higher term of a node that was
// cut off from it and campaigned (thesis §9.6: pre-vote and check-quorum prevent exactly this).
func (s *sim) watchLeader(n *node, prevRole raft.Role, prevTerm uint64) {
	if w := s.check.leading[n.id]; w != nil && (n.role != raft.Leader || n.term != w.term) {
		delete(s.check.leading, n.id)
		if n.term > w.term && prevRole == raft.Leader && prevTerm == w.term && !w.disturbed {
			for _, x := range s.ids {
				other := s.nodes[x]
				if x != n.id && w.cutOff[x] && other.maxCampaign > w.term && other.term >= n.term {
					s.check.fail(s.q.now, CheckDisruption, n.id,
						"leader %d of term %d kept a connected quorum, yet node %d, cut off during its term, campaigned and forced term %d",
						n.id, w.term, x, n.term)
					break
				}
			}
		}
	}
	if n.role == raft.Leader && s.check.leading[n.id] == nil {
		w := &leaderWatch{node: n.id, term: n.term, cutOff: map[uint64]bool{}}
		for _, id := range s.ids {
			// A leader elected in a term some node has already left (its votes arrived late, or it
			// was paused) is stale from the start, not healthy.
			if s.nodes[id].term > n.term || s.nodes[id].maxCampaign > n.term {
				w.disturbed = true
			}
		}
		s.check.leading[n.id] = w
		s.markCuts(w)
	}
}
