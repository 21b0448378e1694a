// Membership under faults: nodes join, leave gracefully and are replaced while the network and the
// disks fail, and gossip drives the configuration changes as it does in a real node. Every node runs
// the engine's own membership policy (server/engine/membership.go) on every tick; the leader's
// proposals go through the core's single-server changes (Raft thesis §4.1, learners §4.2.1).
//
// With Options.Membership, a schedule drawn from its own random stream (so a run without it draws
// what it drew before) starts brand-new nodes that join through gossip, and has members leave: a
// leaving leader first hands leadership over (thesis §3.10), then gossip announces the departure and
// the leader removes it. A node that left stops once its removal is committed.
// Crashes, pauses and partitions keep firing meanwhile, so changes are cut off half way.
//
// The checkers added for membership are in checker_membership.go.

package sim

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"time"

	"github.com/kanna-cluster/kanna/raft"
	nodeengine "github.com/kanna-cluster/kanna/server/engine"
)

// EventMember is a membership action of the schedule (a node joins or leaves, or stops after
// leaving) or a change the policy proposed.
const EventMember EventKind = "member"

// The simulator's membership policy thresholds: a learner within a few entries of the leader is
// promoted (the real default is 16 entries at 100 ms ticks; the simulator's logs are shorter), and
// a dead member is never reaped automatically, as in a real node by default.
var simMembership = nodeengine.MembershipConfig{PromoteGap: 8}

// maxExtraNodes bounds how many more nodes than Options.Nodes may run at once.
const maxExtraNodes = 2

// minActive is the fewest running members the schedule keeps: the policy never removes below three
// voters, so a leave below that would never complete.
const minActive = nodeengine.MinAutoVoters + 1

// reconcile runs the membership policy after a tick, as the real shell does, and proposes what it
// calls for.
func (n *node) reconcile() {
	if n.g == nil || n.policy == nil {
		return
	}
	soft, hard := n.eng.State()
	if soft.Role != raft.Leader {
		// The policy only counts the tick and forgets what it saw dead: no view or Status to copy.
		n.policy.Tick(raft.Status{SoftState: soft, HardState: hard}, nil)
		return
	}
	// A leader runs the policy on every tick: the view and the status are read into storage
	// reused from tick to tick, which the policy only reads.
	n.states = n.g.AppendStates(n.states[:0])
	view := n.view[:0]
	for _, m := range n.states {
		if id, ok := n.s.gossipIDs[m.ID]; ok {
			view = append(view, nodeengine.Member{ID: id, State: m.State})
		}
	}
	n.view = view
	n.eng.StatusInto(&n.status)
	cc, why, ok := n.policy.Tick(n.status, view)
	if !ok {
		return
	}
	if _, err := n.eng.ProposeConfChange(cc); err != nil {
		if !errors.Is(err, raft.ErrConfChangePending) {
			n.s.emit(Event{Kind: EventError, Node: n.id, Detail: fmt.Sprintf("membership: %s %d not proposed: %v", cc.Type, cc.NodeID, err)})
		}
		return
	}
	n.s.emit(Event{Kind: EventMember, Node: n.id, Detail: fmt.Sprintf("propose %s %d: %s", cc.Type, cc.NodeID, why)})
}

// scheduleMembership starts the schedule of joins and leaves of the safety phase.
func (s *sim) scheduleMembership() {
	if !s.opts.Membership {
		return
	}
	s.q.after(s.memberGap(), s.nextMemberAction)
}

// memberGap draws the time to the next membership action: a few seconds, so that a change can
// complete or be cut off by a fault before the next.
func (s *sim) memberGap() time.Duration {
	if s.mix.MemberEvery > 0 {
		return time.Duration(s.memberRng.ExpFloat64() * float64(s.mix.MemberEvery))
	}
	return time.Second + time.Duration(s.memberRng.Int63n(int64(3*time.Second)))
}

func (s *sim) nextMemberAction() {
	if s.liveness || s.stopped {
		return
	}
	switch s.memberRng.Intn(3) {
	case 0:
		s.joinNew()
	case 1:
		s.leaveOne()
	case 2: // a replacement: one leaves, a new one joins
		s.leaveOne()
		s.joinNew()
	}
	s.q.after(s.memberGap(), s.nextMemberAction)
}

// active lists the nodes that are members of the run and not leaving, in id order.
func (s *sim) active() []uint64 {
	var ids []uint64
	for _, id := range s.ids {
		if !s.nodes[id].leaving {
			ids = append(ids, id)
		}
	}
	return ids
}

// joinNew starts a brand-new node with an empty disk: its core knows no configuration and waits to
// be contacted; its gossip core joins through every member's address, as `kanna node --join` does.
func (s *sim) joinNew() {
	if len(s.ids) >= s.opts.Nodes+maxExtraNodes {
		return
	}
	s.lastID++
	id := s.lastID
	n := newNode(s, id, s.memberRng)
	n.grng = rand.New(rand.NewSource(s.memberRng.Int63()))
	n.policy = nodeengine.NewMembership(id, simMembership)
	s.nodes[id] = n
	s.ids = append(s.ids, id)
	s.gossipAddrs[gossipAddr(id)] = id
	s.gossipIDs[gossipID(id)] = id
	s.net.addNode(id, s.memberRng)
	s.emit(Event{Kind: EventMember, Node: id, Detail: "join: a new node starts and joins through gossip"})
	if err := n.start(); err != nil {
		s.check.fail(s.q.now, CheckRestart, id, "%v", err)
	}
}

// leaveOne has a running member leave gracefully, as `kanna node` does on SIGTERM: a leader first
// hands leadership over, then gossip announces the departure, and after a few gossip intervals the
// process stops; the leader removes it from the configuration when it hears. The schedule waits
// for that removal to commit before the next departure, as a careful operator watching
// `kanna status` does: a voter that stopped but was never removed counts against the majority, and
// a second one could take the majority away for good.
func (s *sim) leaveOne() {
	active := s.active()
	if len(active) < minActive || s.awaitingRemoval != 0 {
		return
	}
	var candidates []uint64
	for _, id := range active {
		if s.nodes[id].up() {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 {
		return
	}
	n := s.nodes[candidates[s.memberRng.Intn(len(candidates))]]
	n.leaving = true
	detail := "leave: gossip announces the departure"
	if st := n.eng.Status(); st.Role == raft.Leader {
		if to, err := nodeengine.PickTransferee(st); err == nil && n.eng.TransferLeadership(to) == nil {
			detail = fmt.Sprintf("leave: hands leadership to %d, then gossip announces the departure", to)
			// Stepping aside on purpose is not a disruption: the disruption checker leaves this
			// term alone.
			if w := s.check.leading[n.id]; w != nil {
				w.disturbed = true
			}
			n.process()
		}
	}
	s.emit(Event{Kind: EventMember, Node: n.id, Detail: detail})
	if err := n.g.Leave(); err != nil {
		s.emit(Event{Kind: EventError, Node: n.id, Detail: "gossip leave: " + err.Error()})
	}
	n.flushGossip()
	s.awaitingRemoval = n.id
	s.q.after(s.leaveLinger(), func() { s.depart(n) })
}

// leaveLinger is how long a leaving node keeps running so that its departure spreads: three gossip
// intervals, as server/node.go lingers.
func (s *sim) leaveLinger() time.Duration {
	return 3 * s.gossipConfig(0, nil).GossipInterval
}

// depart stops a node that left, for good, and waits for its removal to commit.
func (s *sim) depart(n *node) {
	if s.stopped {
		return
	}
	s.emit(Event{Kind: EventMember, Node: n.id, Detail: "stop: the node that left stops for good"})
	n.crash()
	n.departed = true
	s.ids = slices.DeleteFunc(s.ids, func(id uint64) bool { return id == n.id })
	delete(s.check.leading, n.id)
	s.awaitRemoval(n.id)
}

// awaitRemoval watches until a leader has committed the removal of a departed node.
func (s *sim) awaitRemoval(id uint64) {
	if s.stopped {
		return
	}
	if !s.removalCommitted(id) {
		s.q.after(200*time.Millisecond, func() { s.awaitRemoval(id) })
		return
	}
	s.emit(Event{Kind: EventMember, Node: id, Detail: "removed: a leader committed the configuration without it"})
	s.awaitingRemoval = 0
}

// removalCommitted reports whether some running leader's committed configuration no longer holds
// the node.
func (s *sim) removalCommitted(id uint64) bool {
	for _, other := range s.ids {
		o := s.nodes[other]
		if other == id || !o.up() {
			continue
		}
		st := o.eng.Status()
		if st.Role != raft.Leader {
			continue
		}
		if cs, ok := o.disk.confStateAt(st.Commit); ok && !slices.Contains(cs.Voters, id) && !slices.Contains(cs.Learners, id) {
			return true
		}
	}
	return false
}
