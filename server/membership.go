// Membership from gossip (docs/design.md, "Membership"): the leader turns what SWIM knows about members
// into Raft configuration changes, one server at a time (thesis §4.1).
//
// The leader compares, every tick, the gossip view with the Raft configuration and proposes at most
// one change: a member gossip calls alive but Raft does not know joins as a learner (thesis
// §4.2.1, so it catches up without holding up commits); a learner whose log is within PromoteGap of
// the leader's becomes a voter; a member that left gracefully is removed; a member gossip declared
// dead is removed only after ReapAfter, if set. No automatic removal ever leaves fewer than three
// voters: a smaller cluster tolerates no failure, and removing a dead member would hide a partition.
// Comparing states instead of reacting to events means a new leader picks up whatever its
// predecessor left half done. While a change is uncommitted the core refuses the next one
// (ErrConfChangePending) and the leader simply tries again on a later tick.
package server

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/raft"
)

// minAutoVoters is the fewest voters an automatic removal may leave.
const minAutoVoters = 3

// membershipState is what the leader remembers between ticks about members.
type membershipState struct {
	// deadSince is the tick at which the leader first saw each member dead.
	deadSince map[uint64]int64
	// barred holds members an operator removed with RemoveServer: they are not added back while
	// they keep running, until gossip sees them leave or fail and come back.
	barred map[uint64]bool
}

func newMembershipState() membershipState {
	return membershipState{deadSince: map[uint64]int64{}, barred: map[uint64]bool{}}
}

func (m *membershipState) unbar(id uint64) { delete(m.barred, id) }

// reconcileMembership proposes the first configuration change the gossip view calls for, if this
// node leads.
func (n *Node) reconcileMembership() {
	st := n.engine.Status()
	if st.Role != raft.Leader {
		clear(n.loop.members.deadSince)
		return
	}
	view := map[uint64]gossip.Member{}
	for _, m := range n.gossip.Members() {
		if id := parseID(m.ID); id != 0 {
			view[id] = m
		}
	}
	for id, m := range view {
		if m.State == gossip.StateDead {
			if _, ok := n.loop.members.deadSince[id]; !ok {
				n.loop.members.deadSince[id] = n.loop.ticks
			}
		} else {
			delete(n.loop.members.deadSince, id)
		}
	}
	cc, why, ok := n.nextChange(st, view)
	if !ok {
		return
	}
	if _, err := n.engine.ProposeConfChange(cc); err != nil {
		if !errors.Is(err, raft.ErrConfChangePending) {
			n.logger().Debug("membership: change not proposed; retrying next tick", "change", cc.Type.String(), "member", cc.NodeID, "err", err)
		}
		return
	}
	n.logger().Info("membership: proposing "+cc.Type.String(), "member", cc.NodeID, "reason", why)
}

// nextChange picks the one change to propose now, with the reason for the log.
func (n *Node) nextChange(st raft.Status, view map[uint64]gossip.Member) (raft.ConfChange, string, bool) {
	voters, learners := st.ConfState.Voters, st.ConfState.Learners
	isVoter := func(id uint64) bool { return slices.Contains(voters, id) }
	isMember := func(id uint64) bool { return isVoter(id) || slices.Contains(learners, id) }
	canRemove := func(id uint64) bool { return !isVoter(id) || len(voters)-1 >= minAutoVoters }

	ids := make([]uint64, 0, len(view))
	for id := range view {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	for _, id := range ids {
		if m := view[id]; id != n.id && m.State == gossip.StateLeft && isMember(id) && canRemove(id) {
			return raft.ConfChange{Type: raft.RemoveNode, NodeID: id}, "left gracefully", true
		}
	}
	for _, id := range learners {
		m, known := view[id]
		pr, tracked := st.Progress[id]
		// Match 0 means the learner has not acknowledged anything yet: it may not even be
		// reachable, and a voter that cannot be reached only makes the quorum harder to reach.
		if known && m.State == gossip.StateAlive && tracked && pr.Match > 0 && pr.Match+n.cfg.PromoteGap >= st.LastIndex {
			return raft.ConfChange{Type: raft.AddVoter, NodeID: id}, fmt.Sprintf("caught up: match %d of %d", pr.Match, st.LastIndex), true
		}
	}
	for _, id := range ids {
		if m := view[id]; id != n.id && m.State == gossip.StateAlive && !isMember(id) && !n.loop.members.barred[id] {
			return raft.ConfChange{Type: raft.AddLearner, NodeID: id}, "gossip reports a new member alive", true
		}
	}
	if n.cfg.ReapAfter > 0 {
		reap := int64(n.cfg.ReapAfter / n.cfg.TickInterval)
		for _, id := range ids {
			since, dead := n.loop.members.deadSince[id]
			if dead && id != n.id && isMember(id) && n.loop.ticks-since >= reap && canRemove(id) {
				return raft.ConfChange{Type: raft.RemoveNode, NodeID: id},
					fmt.Sprintf("dead for more than %v", time.Duration(n.loop.ticks-since)*n.cfg.TickInterval), true
			}
		}
	}
	return raft.ConfChange{}, "", false
}

// pickTransferee returns the voter other than the leader with the most up-to-date log, the best
// target of a leadership transfer (thesis §3.10: it needs the fewest entries to catch up).
func pickTransferee(st raft.Status) (uint64, error) {
	var best uint64
	var bestMatch uint64
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
