// Applying news about members: SWIM §4.2 ("Suspicion mechanism"), with Lifeguard LHA-Suspicion's
// confirmations and memberlist's leave and metadata updates.
//
// Every update, whether piggybacked, gossiped, or read from a push-pull table, goes through apply.
// News that wins under the precedence rules of member.go changes the record, raises an event, and
// is queued to be passed on (that is the infection of §4.1); news that loses is dropped, which is
// what stops old news from circulating forever. News about this member itself is never accepted:
// if it says we are suspect, dead or gone, we refute by raising our incarnation (§4.2).

package gossip

import (
	"fmt"
	"slices"
)

// apply takes one piece of news about one member.
func (n *Node) apply(u Update) {
	if u.Member.ID == "" {
		return
	}
	// The tags belong to the caller's message; keep our own copy of what we store.
	u.Member.Meta.Tags = slices.Clone(u.Member.Meta.Tags)
	if u.Member.ID == n.cfg.ID {
		n.applyAboutSelf(u)
		return
	}
	switch u.Member.State {
	case StateAlive:
		n.aliveNode(u)
	case StateSuspect:
		n.suspectNode(u)
	case StateDead, StateLeft:
		n.deadNode(u)
	}
}

// aliveNode takes news that a member is alive: a join, a refutation, or new metadata.
func (n *Node) aliveNode(u Update) {
	cur, known := n.members[u.Member.ID]
	if !known {
		rec := n.addMember(u.Member)
		n.queue.enqueue(u)
		n.addToProbeOrder(rec.ID)
		n.emit(EventJoined, rec)
		return
	}
	if !precedes(StateAlive, u.Member.Incarnation, cur.State, cur.Incarnation) {
		return
	}
	prev := cur.Member
	overwrite(cur, u.Member)
	cur.suspicion = nil
	n.liveChanged = true
	n.queue.enqueue(u)
	switch prev.State {
	case StateSuspect:
		n.emit(EventRecovered, cur)
	case StateDead:
		n.addToProbeOrder(cur.ID)
		n.emit(EventRecovered, cur)
	case StateLeft:
		n.addToProbeOrder(cur.ID)
		n.emit(EventJoined, cur)
	case StateAlive:
		if prev.Addr != cur.Addr || !prev.Meta.Equal(cur.Meta) {
			n.emit(EventUpdated, cur)
		}
	}
}

// suspectNode takes news that a member is suspected, from u.From. A suspicion of the incarnation
// already suspected is a confirmation (Lifeguard LHA-Suspicion): it shortens the timeout, and is
// passed on only if it came from a member not heard from before.
func (n *Node) suspectNode(u Update) {
	cur, known := n.members[u.Member.ID]
	if !known {
		// Nothing to suspect: a member is learned of only from news that it is alive.
		return
	}
	if cur.State == StateSuspect && cur.Incarnation == u.Member.Incarnation {
		if cur.suspicion.confirm(u.From) {
			n.queue.enqueue(u)
		}
		return
	}
	if !precedes(StateSuspect, u.Member.Incarnation, cur.State, cur.Incarnation) {
		return
	}
	if !cur.watched {
		n.suspects = append(n.suspects, cur)
		cur.watched = true
	}
	overwrite(cur, u.Member)
	n.liveChanged = true
	cur.suspicion = n.newSuspicion(u.From)
	n.queue.enqueue(Update{Member: cur.Member, From: u.From})
	n.emit(EventSuspect, cur)
}

// newSuspicion starts a suspicion raised by from, sized for the current cluster: SWIM's timeout as
// the minimum, SuspicionMaxTimeoutMult times it as the maximum, and SuspicionMult-2 expected
// confirmations (memberlist's choice: the suspecter and the suspect itself cannot confirm, and in
// a cluster too small to supply them none are expected).
func (n *Node) newSuspicion(from string) *suspicion {
	live := n.liveCount()
	lo := suspicionMinTimeout(n.cfg.SuspicionMult, live, n.ticks.probeInterval)
	hi := lo * int64(n.cfg.SuspicionMaxTimeoutMult)
	k := n.cfg.SuspicionMult - 2
	if live-2 < k || !n.cfg.DynamicSuspicion {
		k = 0
	}
	return newSuspicion(from, n.now, k, lo, hi)
}

// deadNode takes news that a member is dead or has left. A left member is one whose death was
// announced by the member itself.
func (n *Node) deadNode(u Update) {
	cur, known := n.members[u.Member.ID]
	if !known || !precedes(u.Member.State, u.Member.Incarnation, cur.State, cur.Incarnation) {
		return
	}
	overwrite(cur, u.Member)
	cur.suspicion = nil
	n.liveChanged = true
	n.queue.enqueue(u)
	if cur.State == StateLeft {
		n.emit(EventLeft, cur)
	} else {
		n.emit(EventFailed, cur)
	}
}

// tickSuspicions declares dead every suspect whose suspicion has run out (SWIM's "confirm"), and
// forgets suspicions that were refuted or overtaken by other news.
//
//kanna:lab 6 "A suspect not refuted within the suspicion timeout is declared dead" SWIM §4.2
func (n *Node) tickSuspicions() {
	kept := n.suspects[:0]
	for _, m := range n.suspects {
		switch {
		case m.State != StateSuspect || m.suspicion == nil:
			m.watched = false
		case m.suspicion.expired(n.now) && !n.cfg.bugs.NoSuspicionTimeout:
			m.State = StateDead
			m.suspicion = nil
			m.watched = false
			n.liveChanged = true
			n.queue.enqueue(Update{Member: m.copy(), From: n.cfg.ID})
			n.emit(EventFailed, m)
		default:
			kept = append(kept, m)
		}
	}
	clear(n.suspects[len(kept):])
	n.suspects = kept
}

// applyAboutSelf refutes news that this member is suspect, dead or gone, and news that it is alive
// at an incarnation or with an address it never had (an older life of the same ID, before a
// restart), by moving to a higher incarnation and telling everyone (SWIM §4.2). Having to refute is a sign that our own
// messages are slow, so Lifeguard raises the local health score (Lifeguard LHA-Probe).
//
//kanna:lab 6 "Hearing that you are suspected, refute it: gossip alive with a higher incarnation" SWIM §4.2
func (n *Node) applyAboutSelf(u Update) {
	self := n.self()
	if n.leaving || (n.cfg.bugs.NoRefutation && u.Member.State != StateAlive) {
		return
	}
	inc := u.Member.Incarnation
	if u.Member.State == StateAlive {
		// Our own news coming back, or older. The same incarnation with another address or other
		// metadata is an earlier life's record (a restart with a new configuration): it must not
		// stand, so it is refuted like a suspicion, as memberlist does.
		sameLife := u.Member.Addr == self.Addr && u.Member.Meta.Equal(self.Meta)
		if inc < self.Incarnation || (inc == self.Incarnation && sameLife) {
			return
		}
	}
	if u.Member.State != StateAlive && inc < self.Incarnation {
		// Refuted already, but the sender missed the refutation (see stepPing): say it again.
		if n.cfg.BuddySystem && !n.queue.has(n.cfg.ID) {
			n.queue.enqueue(Update{Member: self.copy(), From: n.cfg.ID})
		}
		return
	}
	raiseIncarnation(self, inc+1)
	n.queue.enqueue(Update{Member: self.copy(), From: n.cfg.ID})
	if n.cfg.LocalHealth {
		n.awareness.apply(1)
	}
}

// overwrite replaces what this member believes about cur with m, which must be newer news under
// the precedence rules (member.go): a higher incarnation, or a higher-ranked state of the same one.
// Older news that got through would undo a refutation or revive the dead, and spread from here.
func overwrite(cur *member, m Member) {
	if !precedes(m.State, m.Incarnation, cur.State, cur.Incarnation) {
		panic(invariantf("member %s would go from %v at incarnation %d back to %v at incarnation %d",
			cur.ID, cur.State, cur.Incarnation, m.State, m.Incarnation))
	}
	cur.Member = m
}

// raiseIncarnation moves this member's own record to incarnation inc, which must be higher: only a
// higher incarnation overrides the news it refutes (SWIM §4.2), and a lower one would make this
// member's own announcements lose to its past.
func raiseIncarnation(self *member, inc uint64) {
	if inc <= self.Incarnation {
		panic(invariantf("own incarnation going from %d to %d; it may only rise", self.Incarnation, inc))
	}
	self.Incarnation = inc
}

// invariantf formats the message of a panic raised when an invariant of the protocol breaks: that
// is a bug in the core, never a condition to handle.
func invariantf(format string, args ...any) string {
	return "gossip: invariant violated: " + fmt.Sprintf(format, args...)
}
