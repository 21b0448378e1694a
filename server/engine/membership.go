// Membership from gossip: the leader turns what SWIM knows about members into Raft configuration
// changes, one server at a time (Raft thesis §4.1). docs/design.md, "Membership".
//
// The leader compares, every tick, the gossip view with the Raft configuration and proposes at most
// one change:
//   - a member gossip calls alive but Raft does not know joins as a learner (thesis §4.2.1), so it
//     catches up without holding up commits;
//   - a learner whose log is within PromoteGap entries of the leader's becomes a voter;
//   - a member that left gracefully is removed;
//   - a member gossip declared dead is removed only after ReapAfterTicks, if set.
//
// No automatic removal ever leaves fewer than three voters: a smaller cluster tolerates no failure,
// and removing a dead member would hide a partition. Comparing states instead of reacting to events
// means a new leader picks up whatever its predecessor left half done. While a change is
// uncommitted the core refuses the next one (raft.ErrConfChangePending) and the leader tries again
// on a later tick.
//
// The policy is pure, like the rest of the engine: the gossip view, the Raft status and the tick
// go in, the change to propose comes out. The real shell (server/loop.go) and the simulator
// (tests/sim/membership.go) both call it, so the simulator tortures the policy a real node runs.

package engine

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/raft"
)

// MinAutoVoters is the fewest voters an automatic removal may leave.
const MinAutoVoters = 3

// MembershipConfig sets the policy's thresholds.
type MembershipConfig struct {
	// PromoteGap is how close, in entries, a learner's log must be to the leader's before the
	// learner is promoted to voter: a voter far behind would hold up commits while it catches up.
	PromoteGap uint64
	// ReapAfterTicks, when positive, lets the leader remove a member gossip has declared dead for
	// that many ticks. Zero never removes a failed member automatically.
	ReapAfterTicks int64
}

// Member is what gossip says of one member, reduced to what the policy reads.
type Member struct {
	ID    uint64
	State gossip.State
}

// Membership is the policy's memory between ticks. It is not safe for concurrent use.
type Membership struct {
	self  uint64
	cfg   MembershipConfig
	ticks int64
	// deadSince is the tick at which this node, as leader, first saw each member dead.
	deadSince map[uint64]int64
	// barred holds members an operator removed: they are not added back while they keep running,
	// until gossip sees them leave or fail and come back (Unbar).
	barred map[uint64]bool
}

// NewMembership returns the policy of node self.
func NewMembership(self uint64, cfg MembershipConfig) *Membership {
	return &Membership{self: self, cfg: cfg, deadSince: map[uint64]int64{}, barred: map[uint64]bool{}}
}

// Bar keeps an operator-removed member from being added back while it keeps running.
func (m *Membership) Bar(id uint64) { m.barred[id] = true }

// Unbar lifts Bar: gossip saw the member join anew or recover.
func (m *Membership) Unbar(id uint64) { delete(m.barred, id) }

// Tick advances the policy by one tick and returns the one configuration change the view calls
// for, with the reason, when st is a leader's status. view may be in any order.
func (m *Membership) Tick(st raft.Status, view []Member) (cc raft.ConfChange, why string, ok bool) {
	m.ticks++
	if st.Role != raft.Leader {
		clear(m.deadSince)
		return raft.ConfChange{}, "", false
	}
	view = slices.Clone(view)
	slices.SortFunc(view, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	for _, mem := range view {
		if mem.State == gossip.StateDead {
			if _, seen := m.deadSince[mem.ID]; !seen {
				m.deadSince[mem.ID] = m.ticks
			}
		} else {
			delete(m.deadSince, mem.ID)
		}
	}
	return m.next(st, view)
}

// next picks the one change to propose now; view is sorted by id.
func (m *Membership) next(st raft.Status, view []Member) (raft.ConfChange, string, bool) {
	voters, learners := st.ConfState.Voters, st.ConfState.Learners
	isVoter := func(id uint64) bool { return slices.Contains(voters, id) }
	isMember := func(id uint64) bool { return isVoter(id) || slices.Contains(learners, id) }
	canRemove := func(id uint64) bool { return !isVoter(id) || len(voters)-1 >= MinAutoVoters }
	state := func(id uint64) (gossip.State, bool) {
		i, found := slices.BinarySearchFunc(view, id, func(a Member, id uint64) int { return cmp.Compare(a.ID, id) })
		if !found {
			return 0, false
		}
		return view[i].State, true
	}

	for _, mem := range view {
		if mem.ID != m.self && mem.State == gossip.StateLeft && isMember(mem.ID) && canRemove(mem.ID) {
			return raft.ConfChange{Type: raft.RemoveNode, NodeID: mem.ID}, "left gracefully", true
		}
	}
	for _, id := range learners {
		s, known := state(id)
		pr, tracked := st.Progress[id]
		// Match 0 means the learner has not acknowledged anything yet: it may not even be
		// reachable, and a voter that cannot be reached only makes the quorum harder to reach.
		if known && s == gossip.StateAlive && tracked && pr.Match > 0 && pr.Match+m.cfg.PromoteGap >= st.LastIndex {
			return raft.ConfChange{Type: raft.AddVoter, NodeID: id}, fmt.Sprintf("caught up: match %d of %d", pr.Match, st.LastIndex), true
		}
	}
	for _, mem := range view {
		if mem.ID != m.self && mem.State == gossip.StateAlive && !isMember(mem.ID) && !m.barred[mem.ID] {
			return raft.ConfChange{Type: raft.AddLearner, NodeID: mem.ID}, "gossip reports a new member alive", true
		}
	}
	if m.cfg.ReapAfterTicks > 0 {
		for _, mem := range view {
			since, dead := m.deadSince[mem.ID]
			if dead && mem.ID != m.self && isMember(mem.ID) && m.ticks-since >= m.cfg.ReapAfterTicks && canRemove(mem.ID) {
				return raft.ConfChange{Type: raft.RemoveNode, NodeID: mem.ID},
					fmt.Sprintf("dead for %d ticks", m.ticks-since), true
			}
		}
	}
	return raft.ConfChange{}, "", false
}

// PickTransferee returns the voter other than the leader with the most up-to-date log, the best
// target of a leadership transfer (thesis §3.10: it needs the fewest entries to catch up).
func PickTransferee(st raft.Status) (uint64, error) {
	var best, bestMatch uint64
	for _, id := range st.ConfState.Voters {
		pr, ok := st.Progress[id]
		if id == st.ID || !ok {
			continue
		}
		if best == 0 || pr.Match > bestMatch {
			best, bestMatch = id, pr.Match
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("node %d is the only voter; there is nobody to hand leadership to", st.ID)
	}
	return best, nil
}
