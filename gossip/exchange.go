// Joining, leaving, and the two ways of spreading state besides piggybacking: periodic gossip
// and push-pull anti-entropy.
//
// SWIM §4.1 leaves joining to "out of band" means and has no full-state exchange; both come from
// memberlist. A new member pushes its table to a seed and pulls the seed's back. Every
// PushPullInterval each member does the same with a random member, which repairs whatever gossip
// lost. The partner may be a member believed dead: after a partition heals, each side has declared
// the other dead and no longer probes or gossips to it, and only such an exchange lets them meet
// again. Between probes, queued updates also go to GossipNodes random members every
// GossipInterval, so news does not wait for the next ping (memberlist's gossip).

package gossip

import (
	"errors"
	"fmt"
	"slices"
)

// Join introduces this member to the cluster through the members at the given addresses: each
// receives our table and answers with its own. Join only queues the messages; the member has
// joined once a reply brings the others in (watch Events for EventJoined).
func (n *Node) Join(addrs ...string) error {
	if n.leaving {
		return errors.New("join: this member has left; start a new core to rejoin")
	}
	if len(addrs) == 0 {
		return errors.New("join: no seed addresses; pass the address of at least one member")
	}
	for _, a := range addrs {
		if a == n.cfg.Addr {
			continue
		}
		n.send(Message{Type: MsgPushPull, To: a, State: n.table()})
	}
	return nil
}

// Leave announces that this member is leaving for good: its record becomes left at its current
// incarnation, which nothing but a higher incarnation can override. The announcement goes out at
// once to GossipNodes members, again every gossip interval, and on every other message (acks
// included); the core stops probing but keeps answering pings. The shell should keep it running
// for a few gossip intervals (a second or two with the defaults) before stopping it.
func (n *Node) Leave() error {
	if n.leaving {
		return fmt.Errorf("leave: %q is already leaving", n.cfg.ID)
	}
	n.leaving = true
	n.probe = nil
	self := n.self()
	self.State = StateLeft
	n.liveChanged = true
	n.queue.enqueue(Update{Member: self.copy(), From: n.cfg.ID}) // replaces older news about us
	n.gossip()
	return nil
}

// UpdateMeta changes what this member tells the others about itself. Like a refutation, it takes a
// new incarnation so that the news overrides the old record everywhere (the others report
// EventUpdated).
func (n *Node) UpdateMeta(meta Meta) error {
	if n.leaving {
		return fmt.Errorf("update meta: %q has left; start a new core to rejoin", n.cfg.ID)
	}
	self := n.self()
	self.Meta = Meta{RaftAddr: meta.RaftAddr, Tags: slices.Clone(meta.Tags)}
	self.Incarnation++
	n.queue.enqueue(Update{Member: self.copy(), From: n.cfg.ID})
	return nil
}

// tickGossip sends queued updates to random members once per gossip interval.
func (n *Node) tickGossip() {
	if n.now < n.nextGossip {
		return
	}
	n.nextGossip = n.now + n.ticks.gossip
	n.gossip()
}

// gossip sends queued updates to GossipNodes random alive or suspect members. A suspect gets them
// too: they may hold the suspicion it needs to refute. A leaving member gossips its goodbye every
// time, for as long as the shell keeps it running.
func (n *Node) gossip() {
	if n.queue.len() == 0 && !n.leaving {
		return
	}
	targets := n.pick(n.cfg.GossipNodes, "", func(s State) bool { return s == StateAlive || s == StateSuspect })
	for _, t := range targets {
		m := Message{Type: MsgGossip, To: t.Addr, ToID: t.ID}
		n.send(m)
		last := &n.outbox[len(n.outbox)-1]
		if len(last.Updates) == 0 {
			// Earlier targets used up every update's transmissions; an empty gossip says nothing.
			n.outbox = n.outbox[:len(n.outbox)-1]
		}
	}
}

// tickPushPull swaps tables with one random member, dead ones included, once per push-pull
// interval.
func (n *Node) tickPushPull() {
	if n.now < n.nextPushPull {
		return
	}
	n.nextPushPull = n.now + n.ticks.pushPull
	if n.leaving {
		return
	}
	peers := n.pick(1, "", func(s State) bool { return s != StateLeft })
	if len(peers) == 0 {
		return
	}
	n.send(Message{Type: MsgPushPull, To: peers[0].Addr, ToID: peers[0].ID, State: n.table()})
}

// stepPushPull merges the sender's table and answers with ours, which then includes any
// refutation the merge provoked.
func (n *Node) stepPushPull(m Message) {
	n.merge(m.State, m.From)
	n.send(Message{Type: MsgPushPullReply, To: m.FromAddr, ToID: m.From, State: n.table()})
}

// merge applies a remote table, as news from the member that sent it. A member the remote side
// believes dead is only suspected here, as memberlist does: the remote view may be the stale one
// (the two sides of a healed partition), and a suspicion gives the member the chance to refute
// that a death would not.
func (n *Node) merge(table []Member, from string) {
	for _, m := range table {
		if m.State == StateDead && m.ID != n.cfg.ID {
			n.doubt(Update{Member: m, From: from})
			continue
		}
		n.apply(Update{Member: m, From: from})
	}
}

// table is this member's whole membership table, sorted by ID.
func (n *Node) table() []Member {
	return n.Members()
}
