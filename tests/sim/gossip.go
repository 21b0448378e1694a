// Gossip beside Raft: every simulated node also runs a SWIM + Lifeguard core (gossip/), as a real
// Kanna node does, ticked on the same virtual clock, its messages carried by the same simulated
// network, paused and crashed with its node; and the checker of the liveness phase that its views
// converge once every fault heals.
//
// It implements the failure detector of SWIM (Das, Gupta, Motivala 2002, §3.1 and §4.2) with
// Lifeguard (Dadgar, Phillips, Currey 2018) in the setting docs/gossip.md measures alone: what the
// simulator adds is a cluster whose members are the Raft nodes, under the Raft sweep's faults. The
// convergence checker states the liveness property a membership protocol owes (SWIM §4.2: a
// member that is alive refutes any suspicion and is eventually seen alive by all): once the
// network heals and every node runs, every node's view shows every member alive within a bound.
//
// Gossip draws its randomness from streams of its own (the cores' seeds, the fate of its
// messages), never from those that decide Raft's run: the events of Raft in a run with gossip are
// those of the same seed with Options.NoGossip, and a run with NoGossip prints the trace it printed
// before gossip ran beside it.

package sim

import (
	"fmt"
	"math/rand"
	"strconv"
	"time"

	"github.com/kanna-cluster/kanna/gossip"
)

// EventGossip is a membership event a node's gossip core reported (joined, updated, suspect,
// failed, left, recovered: Detail says which, about which member), or the convergence of every
// view in the liveness phase.
const EventGossip EventKind = "gossip"

// realTick is the time scale of gossip's LAN defaults in the simulator: one simulated tick stands
// for 100 ms of them (a real node ticked every 100 ms when this was set; it now ticks every 25 ms
// and keeps the LAN defaults in time), so the simulator's gossip runs four times faster than a
// real node's, as fast against Raft's election timeout, in ticks, as it was when both were set.
const realTick = 100 * time.Millisecond

// pushPullTicks is the simulator's push-pull period, in gossip ticks. Scaled like the rest, the
// LAN default of 30 s would be 7.5 s: longer than the whole liveness phase of a sweep seed, and
// push-pull is the only way two sides of a healed partition that declared each other dead meet
// again (docs/gossip.md). Fifty ticks (1.25 s at the default tick) lets them meet within a second or
// two, and with at most a handful of members a whole table is a small message.
const pushPullTicks = 50

// gossipConfig is a node's gossip configuration in the simulator: memberlist's LAN defaults on the
// simulator's time scale. The simulator ticks Raft every Options.Tick (25 ms by default) and scales
// gossip's periods by Options.Tick/realTick, so each keeps the length in ticks it has at 100 ms
// ticks: a probe period of 10 ticks (250 ms), a probe timeout of 5, gossip every 2, against Raft's
// election timeout of 12 to 24 ticks.
func (s *sim) gossipConfig(id uint64, rng *rand.Rand) gossip.Config {
	cfg := gossip.DefaultLANConfig(gossipID(id), gossipAddr(id))
	scale := func(d time.Duration) time.Duration { return d * s.opts.Tick / realTick }
	cfg.TickInterval = s.opts.Tick
	cfg.ProbeInterval = scale(cfg.ProbeInterval)
	cfg.ProbeTimeout = scale(cfg.ProbeTimeout)
	cfg.GossipInterval = scale(cfg.GossipInterval)
	cfg.PushPullInterval = pushPullTicks * s.opts.Tick
	cfg.Meta = gossipMeta(id)
	cfg.Rand = rng
	return cfg
}

// gossipMeta is what node id tells the others about itself: its Raft address and id, as a real
// node does.
func gossipMeta(id uint64) gossip.Meta {
	return gossip.NewMeta(gossipAddr(id), map[string]string{"raft_id": gossipID(id)})
}

// gossipID is the gossip name of node id: its Raft id in decimal, as a real node names itself.
func gossipID(id uint64) string { return strconv.FormatUint(id, 10) }

// gossipAddr is where node id's gossip core listens on the simulated network.
func gossipAddr(id uint64) string { return "node-" + gossipID(id) }

// startGossip gives the node a new gossip core. A founding node starts knowing every member alive,
// as its Raft core starts knowing every peer; a restarted one starts knowing only itself, as a real
// node does, and rejoins through every address it knows (a real node's address book), one
// incarnation up so that what the others heard from its previous life does not outrank it.
func (n *node) startGossip(founding bool) error {
	n.gossipRand = reseed(n.gossipRand, n.grng.Int63())
	cfg := n.s.gossipConfig(n.id, n.gossipRand)
	g, err := gossip.New(cfg)
	if err != nil {
		return fmt.Errorf("sim: start the gossip core of node %d: %w", n.id, err)
	}
	n.g = g
	others := make([]string, 0, len(n.s.ids))
	table := make([]gossip.Member, 0, len(n.s.ids))
	for _, id := range n.s.ids {
		table = append(table, gossip.Member{ID: gossipID(id), Addr: gossipAddr(id), Meta: gossipMeta(id)})
		if id != n.id {
			others = append(others, gossipAddr(id))
		}
	}
	switch {
	case len(others) == 0:
	case founding:
		// The founding table arrives as a push-pull reply from another member would bring it; the
		// joins it reports are the founding configuration, not news, so they are not traced.
		from := n.s.ids[0]
		if from == n.id {
			from = n.s.ids[1]
		}
		err = g.Step(gossip.Message{Type: gossip.MsgPushPullReply, From: gossipID(from), FromAddr: gossipAddr(from),
			To: cfg.Addr, ToID: cfg.ID, State: table})
		g.Outbox()
		g.Events()
	default:
		if err = g.UpdateMeta(cfg.Meta); err == nil {
			err = g.Join(others...)
		}
	}
	if err != nil {
		return fmt.Errorf("sim: node %d: bring its gossip core into the cluster: %w", n.id, err)
	}
	// The gossip tick drifts with the node's Raft tick: one clock drives both cores.
	n.gtick = time.Duration(float64(cfg.TickInterval) * float64(n.tick) / float64(n.s.opts.Tick))
	gen := n.gen
	n.s.q.afterAct(time.Duration(n.grng.Int63n(int64(n.gtick))), &gossipTicker{n: n, gen: gen, count: 1})
	n.flushGossip()
	return nil
}

// rejoinTicks is how often a node tries again to join the nodes its gossip core does not know, as
// server/loop.go does: the members it joined through may have been down at the time.
const rejoinTicks = 20

// gossipTicker is the gossip tick of one incarnation of a node, scheduled again and again.
type gossipTicker struct {
	n     *node
	gen   uint64
	count int // ticks so far, this one included
}

func (t *gossipTicker) fire() {
	n := t.n
	if n.gen != t.gen || n.crashed {
		return
	}
	if !n.paused && n.g != nil {
		n.g.Tick()
		if t.count%rejoinTicks == 0 && !n.leaving {
			n.rejoinUnknown()
		}
		n.flushGossip()
	}
	t.count++
	n.s.q.afterAct(n.gtick, t)
}

// rejoinUnknown sends a join to every node whose address this node has but whose member its gossip
// view lacks altogether. Knowing one live peer is not enough: a restarted core knows only what its
// joins brought back, and when the joins to one group were lost while that group's members had all
// restarted too, the two groups each hold a complete-looking view without the other, and push-pull,
// which picks among known members, never bridges them (seed 492).
func (n *node) rejoinUnknown() {
	n.states = n.g.AppendStates(n.states[:0])
	known := func(member string) bool {
		for _, m := range n.states {
			if m.ID == member {
				return true
			}
		}
		return false
	}
	var addrs []string
	for _, id := range without(n.s.ids, n.id) {
		if !known(gossipID(id)) {
			addrs = append(addrs, gossipAddr(id))
		}
	}
	if len(addrs) > 0 {
		if err := n.g.Join(addrs...); err != nil {
			n.s.emit(Event{Kind: EventError, Node: n.id, Detail: "gossip rejoin: " + err.Error()})
		}
	}
}

// flushGossip writes the core's membership events into the trace and sends its messages.
func (n *node) flushGossip() {
	for _, e := range n.g.Events() {
		if e.Type == gossip.EventFailed {
			n.s.gossipDeclaredDead++
		}
		n.s.emit(Event{Kind: EventGossip, Node: n.id,
			Detail: fmt.Sprintf("%s n%s inc=%d", e.Type, e.Member.ID, e.Member.Incarnation)})
	}
	out := n.g.Outbox()
	for _, m := range out {
		n.s.sendGossip(n.id, m)
	}
	if n.g != nil {
		n.g.RecycleOutbox(out)
	}
}

// deliverGossip hands the node a gossip message that arrived from the network.
func (n *node) deliverGossip(from uint64, m gossip.Message) {
	switch {
	case n.crashed || n.s.net.blocked(from, n.id):
		n.s.gossipDropped++
	case n.paused:
		n.stepGossipLater(m)
	default:
		n.stepGossip(m)
	}
}

// stepGossipLater queues a gossip message that reached a paused node; apart from deliverGossip so
// that only a queued message is copied to the heap.
func (n *node) stepGossipLater(m gossip.Message) {
	queued := new(gossip.Message)
	*queued = m
	n.inbox = append(n.inbox, func() { n.stepGossip(*queued) })
}

func (n *node) stepGossip(m gossip.Message) {
	if n.g == nil {
		return
	}
	if err := n.g.Step(m); err != nil {
		n.s.emit(Event{Kind: EventError, Node: n.id, Detail: "gossip: " + err.Error()})
	}
	n.flushGossip()
}

// sendGossip puts one gossip message on the network. It is its own envelope, not a raft.Message,
// and it leaves no send or deliver line in the trace: the membership events it causes do.
func (s *sim) sendGossip(from uint64, m gossip.Message) {
	s.gossipMsgs++
	to, ok := s.gossipAddrs[m.To]
	if !ok {
		s.gossipDropped++
		return
	}
	f := s.gossipFate(from, to)
	if f.drop != "" {
		s.gossipDropped++
		return
	}
	dst := s.nodes[to]
	for _, d := range f.times() {
		w := s.gossipWire()
		w.from, w.to, w.m = from, dst, m
		s.q.afterAct(d, w)
	}
}

// gossipInFlight is a gossip message on its way to a node; its records are reused, as Raft's are.
type gossipInFlight struct {
	s    *sim
	from uint64
	to   *node
	m    gossip.Message
}

func (s *sim) gossipWire() *gossipInFlight {
	if w, ok := s.freeGossipWire.take(); ok {
		return w
	}
	return &gossipInFlight{s: s}
}

func (w *gossipInFlight) fire() {
	from, to, m := w.from, w.to, w.m
	w.to, w.m = nil, gossip.Message{}
	w.s.freeGossipWire.give(w)
	to.deliverGossip(from, m)
}

// gossipFate decides a gossip message's fate by the network's own rules (its partitions, loss,
// duplication and latencies) but with gossip's own random stream, so that gossip traffic never
// shifts the draws that decide the fate of Raft's messages.
func (s *sim) gossipFate(from, to uint64) fate {
	raftRng := s.net.rng
	s.net.rng = s.gossipNetRng
	f := s.net.send(from, to)
	s.net.rng = raftRng
	return f
}

// gossipBound is how long the liveness phase gives every gossip view to show every member alive:
// several push-pull periods, since two sides of a healed partition that declared each other dead
// meet again only through push-pull (docs/gossip.md), but no more than three quarters of the
// liveness phase, so that a seed's run always gets to check it.
func (s *sim) gossipBound() time.Duration {
	return min(3*pushPullTicks*s.opts.Tick, s.opts.Liveness*3/4)
}

// probeGossip looks, every few ticks of the liveness phase, for the moment every node's gossip
// view shows every member alive, and reports a violation if the bound passes first.
func (s *sim) probeGossip() {
	if s.gossipAt >= 0 || s.stopped {
		return
	}
	node, detail, ok := s.gossipDivergence()
	if ok {
		s.gossipAt = s.q.now - s.safetyEnd
		s.emit(Event{Kind: EventGossip, Detail: fmt.Sprintf("every view shows every member alive, %v after healing", s.gossipAt)})
		return
	}
	if s.q.now-s.safetyEnd > s.gossipBound() {
		s.check.fail(s.q.now, CheckGossipConvergence, node,
			"gossip views did not converge within %v of healing every fault: %s", s.gossipBound(), detail)
		return
	}
	s.q.after(5*s.opts.Tick, s.probeGossip)
}

// gossipDivergence compares every node's gossip view with the truth of the liveness phase (every
// node runs, so every member is alive). It names the first node whose view differs and how.
func (s *sim) gossipDivergence() (node uint64, detail string, converged bool) {
	for _, id := range s.ids {
		n := s.nodes[id]
		if n.leaving {
			continue // its view and the others' view of it are those of a departure
		}
		if !n.up() {
			return id, fmt.Sprintf("node %d is not running", id), false
		}
		if n.g == nil {
			return id, fmt.Sprintf("node %d runs no gossip core", id), false
		}
		for _, other := range s.ids {
			if s.nodes[other].leaving {
				continue
			}
			m, known := n.g.Member(gossipID(other))
			switch {
			case !known:
				return id, fmt.Sprintf("node %d does not know member %d", id, other), false
			case m.State != gossip.StateAlive:
				return id, fmt.Sprintf("node %d sees member %d %v at incarnation %d, yet it runs and every link works",
					id, other, m.State, m.Incarnation), false
			}
		}
	}
	return 0, "", true
}

// checkGossipAtEnd, at the end of the run, requires that the views which converged still show
// every member alive: with every fault healed, nothing may be suspected again.
func (s *sim) checkGossipAtEnd() {
	if s.opts.NoGossip || s.gossipAt < 0 {
		return // not converged: probeGossip has reported it, or the bound reaches past the end
	}
	if node, detail, ok := s.gossipDivergence(); !ok {
		s.check.fail(s.q.now, CheckGossipConvergence, node,
			"gossip views converged %v after healing but differ at the end of the run: %s", s.gossipAt, detail)
	}
}
