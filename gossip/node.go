// Package gossip is Kanna's membership and failure-detection core: SWIM with the Lifeguard
// extensions, as a pure, deterministic state machine.
//
// It implements Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process
// Group Membership Protocol" (2002), and Dadgar, Phillips, Currey, "Lifeguard: Local Health
// Awareness for More Accurate Failure Detection" (2018), in the shape of hashicorp/memberlist.
//
// The core does no I/O. Time arrives as Tick (one call, one tick of Config.TickInterval), network
// input as Step, and everything the core wants done comes back from Outbox and Events:
//
//	for each tick, and for each message received {
//		node.Tick() // or node.Step(msg)
//		for _, m := range node.Outbox() { send(m.To, m) }
//		for _, e := range node.Events() { notify(e) }
//	}
//
// Files, in reading order: member.go (states and the precedence table), node.go (this file: the
// API and the dispatch of Step and Tick), state.go (applying news, refuting suspicion), probe.go
// (the failure detector), suspicion.go and awareness.go (Lifeguard), broadcast.go (piggybacked
// dissemination), exchange.go (join, leave, gossip and push-pull), message.go (the wire).
package gossip

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
)

// Node is one member's gossip core. It is not safe for concurrent use: the shell calls it from
// one goroutine.
type Node struct {
	cfg   Config
	ticks ticks
	rand  *rand.Rand
	now   int64 // ticks since New

	members  map[string]*member
	list     []*member // every value of members, sorted by ID, so that walks are deterministic
	suspects []*member // members under suspicion, in the order suspected (pruned each tick)

	live        int  // liveCount's answer, valid unless liveChanged
	liveChanged bool // set by every change of a member's state

	queue     broadcastQueue
	awareness awareness

	// The failure detector (probe.go).
	probeOrder   []string
	inProbeOrder map[string]bool
	probeIndex   int
	probe        *probe
	nextProbe    int64
	seq          uint64
	relays       []*relay

	nextGossip   int64
	nextPushPull int64
	leaving      bool

	outbox []Message
	events []Event
}

// member is one member's record plus what only this node tracks about it.
type member struct {
	Member
	suspicion *suspicion // set while State is StateSuspect
	watched   bool       // in Node.suspects, so tickSuspicions looks at it
}

// New returns a core for the member cfg describes, alive at incarnation 0 and knowing nobody;
// call Join to meet the cluster.
func New(cfg Config) (*Node, error) {
	t, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("new gossip node: %w", err)
	}
	n := &Node{
		cfg:          cfg,
		ticks:        t,
		rand:         cfg.Rand,
		members:      map[string]*member{},
		inProbeOrder: map[string]bool{},
		awareness:    awareness{max: cfg.AwarenessMaxMultiplier},
	}
	meta := Meta{RaftAddr: cfg.Meta.RaftAddr, Tags: slices.Clone(cfg.Meta.Tags)}
	n.addMember(Member{ID: cfg.ID, Addr: cfg.Addr, Meta: meta, State: StateAlive})
	// Start each timer at a random point of its period so that members started together do not
	// probe, gossip and push-pull in lockstep.
	n.nextProbe = 1 + n.rand.Int63n(t.probeInterval)
	n.nextGossip = 1 + n.rand.Int63n(t.gossip)
	n.nextPushPull = 1 + n.rand.Int63n(t.pushPull)
	return n, nil
}

// ID is this member's name.
func (n *Node) ID() string { return n.cfg.ID }

// Tick advances the core by one tick: it runs the failure detector, expires suspicions, and sends
// gossip and push-pull when their periods come round.
func (n *Node) Tick() {
	n.now++
	n.tickRelays()
	n.tickProbe()
	n.tickSuspicions()
	n.tickGossip()
	n.tickPushPull()
}

// Step hands the core one message received from the network. Piggybacked updates are applied
// before the message itself, so an answer already carries any refutation they provoked (this is
// what lets the buddy system work in one round trip).
func (n *Node) Step(m Message) error {
	if m.Type < MsgPing || m.Type > MsgPushPullReply {
		return fmt.Errorf("step: message of unknown type %d from %q; drop it and check the sender's version", m.Type, m.From)
	}
	if m.ToID != "" && m.ToID != n.cfg.ID {
		// Meant for a member that used to live at our address; answering would vouch for it.
		return nil
	}
	if m.From == n.cfg.ID {
		return nil
	}
	for _, u := range m.Updates {
		n.applyPiggybacked(u)
	}
	switch m.Type {
	case MsgPing:
		n.stepPing(m)
	case MsgAck:
		n.stepAck(m)
	case MsgPingReq:
		n.stepPingReq(m)
	case MsgNack:
		n.stepNack(m)
	case MsgGossip:
		// The updates were all it carried.
	case MsgPushPull:
		n.stepPushPull(m)
	case MsgPushPullReply:
		n.merge(m.State, m.From)
	}
	return nil
}

// applyPiggybacked applies one update carried by a message. News that a member is dead becomes
// a suspicion when this node still holds that member alive: the news may be stale, queued by a
// member that was cut off and declared everyone dead, and sent only once the cut healed. A
// suspicion lets the member refute (SWIM §4.2); a death would stand until the member happened to
// learn of it. Push-pull's merge does the same for whole tables. While that doubted suspicion
// lasts, more news of the same death only confirms it (Lifeguard), so it is this node's own
// timeout that declares the member dead if it really is. A member suspected on other grounds (a
// failed probe, a suspicion heard by gossip) is declared dead by the news at once, as before.
func (n *Node) applyPiggybacked(u Update) {
	cur, ok := n.members[u.Member.ID]
	if u.Member.State != StateDead || !ok || u.Member.ID == n.cfg.ID {
		n.apply(u)
		return
	}
	doubted := cur.State == StateSuspect && cur.suspicion != nil && cur.suspicion.doubted &&
		cur.Incarnation == u.Member.Incarnation
	if cur.State != StateAlive && !doubted {
		n.apply(u)
		return
	}
	n.doubt(u)
}

// doubt applies news that a member is dead as a suspicion of it, and marks a suspicion it starts
// as doubted, so that the same news arriving again only confirms it.
func (n *Node) doubt(u Update) {
	cur, ok := n.members[u.Member.ID]
	wasAlive := ok && cur.State == StateAlive
	u.Member.State = StateSuspect
	n.apply(u)
	if wasAlive && cur.State == StateSuspect && cur.suspicion != nil {
		cur.suspicion.doubted = true
	}
}

// Outbox returns the messages to send and forgets them.
func (n *Node) Outbox() []Message {
	out := n.outbox
	n.outbox = nil
	return out
}

// RecycleOutbox hands back a slice Outbox returned once every message is sent or copied: later
// messages are queued in the same array instead of a new one. Calling it is optional; a caller
// that does must not read msgs afterwards. The array is taken only while nothing is queued.
func (n *Node) RecycleOutbox(msgs []Message) {
	if len(n.outbox) > 0 || cap(msgs) <= cap(n.outbox) {
		return
	}
	clear(msgs) // drop the updates and tables the old messages point at
	n.outbox = msgs[:0]
}

// Events returns the membership events since the last call and forgets them.
func (n *Node) Events() []Event {
	out := n.events
	n.events = nil
	return out
}

// Members returns every member this node knows, itself included, sorted by ID. Dead and left
// members stay: their records are what make old news about them lose.
func (n *Node) Members() []Member {
	out := make([]Member, 0, len(n.list))
	for _, m := range n.list {
		out = append(out, m.copy())
	}
	return out
}

// MemberState is one member's ID and state, without its address or metadata.
type MemberState struct {
	ID    string
	State State
}

// AppendStates appends the ID and state of every member Members returns, in the same order, to
// dst: for a caller that reads the view on every tick and needs neither addresses nor metadata,
// which Members copies.
func (n *Node) AppendStates(dst []MemberState) []MemberState {
	for _, m := range n.list {
		dst = append(dst, MemberState{ID: m.ID, State: m.State})
	}
	return dst
}

// Member returns what this node believes about the member id.
func (n *Node) Member(id string) (Member, bool) {
	m, ok := n.members[id]
	if !ok {
		return Member{}, false
	}
	return m.copy(), true
}

// LocalHealth is Lifeguard's Local Health Multiplier score: 0 when this member has no sign of
// being slow, up to AwarenessMaxMultiplier-1.
func (n *Node) LocalHealth() int { return n.awareness.score }

// copy returns the public record, with a tag slice the caller may keep.
func (m *member) copy() Member {
	out := m.Member
	out.Meta.Tags = append([]Tag(nil), m.Meta.Tags...)
	return out
}

// addMember records a member seen for the first time.
func (n *Node) addMember(m Member) *member {
	rec := &member{Member: m}
	n.liveChanged = true
	n.members[m.ID] = rec
	i := sort.Search(len(n.list), func(i int) bool { return n.list[i].ID >= m.ID })
	n.list = append(n.list, nil)
	copy(n.list[i+1:], n.list[i:])
	n.list[i] = rec
	return rec
}

// self is this member's own record.
func (n *Node) self() *member { return n.members[n.cfg.ID] }

// liveCount is the number of members believed alive or suspect, this one included: the N of the
// retransmit and suspicion formulas. It is counted again only after a state changed.
func (n *Node) liveCount() int {
	if n.liveChanged {
		n.live = 0
		for _, m := range n.list {
			if m.State == StateAlive || m.State == StateSuspect {
				n.live++
			}
		}
		n.liveChanged = false
	}
	return n.live
}

// pick returns up to k distinct members other than this one, and other than except, whose state
// passes ok, chosen uniformly at random.
func (n *Node) pick(k int, except string, ok func(State) bool) []*member {
	eligible := func(m *member) bool { return m.ID != n.cfg.ID && m.ID != except && ok(m.State) }
	// Draw at random and skip what does not qualify, as memberlist's kRandomNodes does: in a large
	// cluster this costs O(k), where a scan of every member would cost O(N) per message.
	var out []*member
	for tries := 0; tries < 3*len(n.list) && len(out) < k; tries++ {
		m := n.list[n.rand.Intn(len(n.list))]
		if eligible(m) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == k {
		return out
	}
	// Too few qualify for drawing blind to find them; scan, and take a uniform sample by a
	// partial Fisher-Yates shuffle.
	var cands []*member
	for _, m := range n.list {
		if eligible(m) {
			cands = append(cands, m)
		}
	}
	for i := 0; i < k && i < len(cands); i++ {
		j := i + n.rand.Intn(len(cands)-i)
		cands[i], cands[j] = cands[j], cands[i]
	}
	return cands[:min(k, len(cands))]
}

// send stamps m with this member as sender, piggybacks as many queued updates as its size budget
// allows (SWIM §4.1), and puts it in the outbox. Push-pull messages carry whole tables instead.
func (n *Node) send(m Message) {
	m.From, m.FromAddr = n.cfg.ID, n.cfg.Addr
	if m.Type != MsgPushPull && m.Type != MsgPushPullReply {
		if n.leaving {
			// A leaving member's every message says goodbye, so a member the broadcast missed
			// learns it at its next ping rather than suspecting the member once it is gone.
			m.Updates = append(m.Updates, Update{Member: n.self().copy(), From: n.cfg.ID})
		}
		budget := n.cfg.MaxMessageBytes - overhead(m)
		for _, u := range m.Updates {
			budget -= encodedSize(u)
		}
		limit := retransmitLimit(n.cfg.RetransmitMult, n.liveCount())
		own := len(m.Updates)
		m.Updates = n.queue.take(m.Updates, budget, limit)
		if n.leaving { // the goodbye is on already
			m.Updates = append(m.Updates[:own], slices.DeleteFunc(m.Updates[own:], func(u Update) bool { return u.Member.ID == n.cfg.ID })...)
		}
	}
	n.outbox = append(n.outbox, m)
}

func (n *Node) emit(t EventType, m *member) {
	n.events = append(n.events, Event{Type: t, Member: m.copy()})
}
