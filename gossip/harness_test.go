// A small deterministic network for scenario tests of the gossip core: virtual ticks, lossy
// delivery, partitions, crashes, slow and paused members. Everything follows from one seed.
//
// Messages sent during a tick are delivered within the same tick (a LAN round trip is far below
// one 100ms tick) unless the receiver is slow, in which case they wait its delay in ticks, as if
// its CPU were starved, or paused, in which case they wait for it to resume. These are the
// degraded members of Lifeguard's experiments (Lifeguard's evaluation).

package gossip

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

type inflight struct {
	at  int
	msg Message
}

type cluster struct {
	t      testing.TB
	net    *rand.Rand
	now    int
	ids    []string
	nodes  map[string]*Node // by ID
	byAddr map[string]*Node

	loss    float64             // chance that any one message is lost
	cut     map[[2]string]bool  // links cut by a partition, both directions
	crashed map[string]bool     // crashed members neither tick nor receive
	delay   map[string]int      // ticks every message to this member waits
	paused  map[string]int      // tick at which a paused member resumes
	missed  map[string]int      // ticks a paused member has missed so far
	queue   []inflight          // messages on the wire, in send order
	events  map[string][]Event  // every event each member reported
	sent    map[MessageType]int // messages sent, by type
	trace   []string            // every delivered message, for the determinism test
	traceOn bool
}

func addrOf(id string) string { return "addr-" + id }

// newCluster starts n members with the default LAN config (changed by tune), each joined through
// the first, and runs until everyone sees everyone alive.
func newCluster(t testing.TB, n int, seed int64, tune func(*Config)) *cluster {
	t.Helper()
	c := startMembers(t, n, seed, tune)
	for _, id := range c.ids[1:] {
		require.NoError(t, c.nodes[id].Join(addrOf(c.ids[0])))
		c.collect(c.nodes[id])
	}
	c.deliver()
	ok := c.runUntil(2000, func() bool { return c.allSee(c.ids, StateAlive) })
	require.True(t, ok, "cluster of %d did not converge after joining", n)
	c.clearEvents()
	return c
}

// newSettledCluster starts n members that already know each other, as a cluster that has run for
// a while would: joining a large cluster takes most of a test's time, and is tested elsewhere.
func newSettledCluster(t testing.TB, n int, seed int64, tune func(*Config)) *cluster {
	t.Helper()
	c := startMembers(t, n, seed, tune)
	for _, id := range c.ids {
		for _, other := range c.ids {
			if other != id {
				rec, _ := c.nodes[other].Member(other)
				c.nodes[id].apply(Update{Member: rec, From: other})
			}
		}
		c.nodes[id].Outbox()
		c.nodes[id].Events()
		c.nodes[id].queue = broadcastQueue{}
	}
	return c
}

// startMembers creates n members that know nobody.
func startMembers(t testing.TB, n int, seed int64, tune func(*Config)) *cluster {
	c := &cluster{
		t:       t,
		net:     rand.New(rand.NewSource(seed)),
		nodes:   map[string]*Node{},
		byAddr:  map[string]*Node{},
		cut:     map[[2]string]bool{},
		crashed: map[string]bool{},
		delay:   map[string]int{},
		paused:  map[string]int{},
		missed:  map[string]int{},
		events:  map[string][]Event{},
		sent:    map[MessageType]int{},
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("n%03d", i)
		cfg := DefaultLANConfig(id, addrOf(id))
		cfg.Meta = NewMeta("raft-"+id, map[string]string{"zone": fmt.Sprint(i % 3)})
		cfg.Rand = rand.New(rand.NewSource(seed*1000 + int64(i)))
		if tune != nil {
			tune(&cfg)
		}
		node, err := New(cfg)
		require.NoError(t, err)
		c.ids = append(c.ids, id)
		c.nodes[id] = node
		c.byAddr[cfg.Addr] = node
	}
	return c
}

// tick advances every running member by one tick and delivers what is due.
func (c *cluster) tick() {
	c.now++
	for _, id := range c.ids {
		if c.crashed[id] {
			continue
		}
		if c.paused[id] > c.now {
			c.missed[id]++
			continue
		}
		if _, ok := c.paused[id]; ok {
			// The pause is over. The shell counts ticks by the wall clock, so the core now gets
			// every tick it missed at once, before it reads the messages that waited for it: this
			// is how a long GC pause looks to a timer-driven implementation like memberlist's.
			for range c.missed[id] {
				c.nodes[id].Tick()
			}
			delete(c.paused, id)
			delete(c.missed, id)
		}
		c.nodes[id].Tick()
		c.collect(c.nodes[id])
	}
	c.deliver()
}

// run ticks k times.
func (c *cluster) run(k int) {
	for i := 0; i < k; i++ {
		c.tick()
	}
}

// runUntil ticks until cond holds, at most limit times, and reports whether it came to hold.
func (c *cluster) runUntil(limit int, cond func() bool) bool {
	for i := 0; i < limit; i++ {
		if cond() {
			return true
		}
		c.tick()
	}
	return cond()
}

// collect takes a member's outbox and events, and puts each message on the wire unless the
// network loses it.
func (c *cluster) collect(n *Node) {
	c.events[n.ID()] = append(c.events[n.ID()], n.Events()...)
	for _, m := range n.Outbox() {
		c.sent[m.Type]++
		dest, ok := c.byAddr[m.To]
		if !ok || c.crashed[dest.ID()] || c.cut[[2]string{m.From, dest.ID()}] {
			continue
		}
		if c.loss > 0 && c.net.Float64() < c.loss {
			continue
		}
		at := c.now + c.delay[dest.ID()]
		if until, ok := c.paused[dest.ID()]; ok && at < until {
			at = until
		}
		c.queue = append(c.queue, inflight{at: at, msg: m})
	}
}

// deliver hands every due message to its receiver, including the answers they provoke, until
// nothing more is due this tick.
func (c *cluster) deliver() {
	for {
		var due, later []inflight
		for _, f := range c.queue {
			if f.at <= c.now {
				due = append(due, f)
			} else {
				later = append(later, f)
			}
		}
		if len(due) == 0 {
			return
		}
		c.queue = later
		for _, f := range due {
			dest := c.byAddr[f.msg.To]
			if c.crashed[dest.ID()] {
				continue
			}
			if c.traceOn {
				b, err := f.msg.Marshal()
				require.NoError(c.t, err)
				c.trace = append(c.trace, fmt.Sprintf("%d %s", c.now, b))
			}
			require.NoError(c.t, dest.Step(f.msg))
			c.collect(dest)
		}
	}
}

// partition cuts every link between a and b.
func (c *cluster) partition(a, b []string) {
	for _, x := range a {
		for _, y := range b {
			c.cut[[2]string{x, y}] = true
			c.cut[[2]string{y, x}] = true
		}
	}
}

func (c *cluster) heal() { c.cut = map[[2]string]bool{} }

// pause freezes a member for k ticks, as a stop-the-world GC pause or a descheduled VM would:
// it neither ticks nor reads messages, which wait for it, and it catches up when it resumes.
func (c *cluster) pause(id string, k int) {
	c.paused[id] = c.now + k + 1
}

// crash stops a member: it neither ticks nor receives.
func (c *cluster) crash(id string) { c.crashed[id] = true }

// restart replaces a crashed member with a fresh core of the same name at addr, which knows
// nothing of its former life, and joins it through seed.
func (c *cluster) restart(id, addr, seed string) {
	cfg := DefaultLANConfig(id, addr)
	cfg.Rand = rand.New(rand.NewSource(int64(c.now)))
	node, err := New(cfg)
	require.NoError(c.t, err)
	delete(c.byAddr, c.nodes[id].cfg.Addr) // the old life's address now leads nowhere
	c.nodes[id] = node
	c.byAddr[cfg.Addr] = node
	delete(c.crashed, id)
	require.NoError(c.t, node.Join(addrOf(seed)))
	c.collect(node)
}

// state is what observer believes about id.
func (c *cluster) state(observer, id string) State {
	m, ok := c.nodes[observer].Member(id)
	require.True(c.t, ok, "%s does not know %s", observer, id)
	return m.State
}

// allSee reports whether every running member other than those in about sees each member of
// about in state s.
func (c *cluster) allSee(about []string, s State) bool {
	for _, obs := range c.ids {
		if c.crashed[obs] {
			continue
		}
		for _, id := range about {
			if id == obs {
				continue
			}
			m, ok := c.nodes[obs].members[id]
			if !ok || m.State != s {
				return false
			}
		}
	}
	return true
}

// countEvents counts the events of type t about members for which include is true, over every
// observer.
func (c *cluster) countEvents(t EventType, include func(id string) bool) int {
	total := 0
	for _, obs := range sortedKeys(c.events) {
		for _, e := range c.events[obs] {
			if e.Type == t && include(e.Member.ID) {
				total++
			}
		}
	}
	return total
}

func (c *cluster) clearEvents() { c.events = map[string][]Event{} }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func others(ids []string, except ...string) []string {
	var out []string
	for _, id := range ids {
		skip := false
		for _, e := range except {
			skip = skip || id == e
		}
		if !skip {
			out = append(out, id)
		}
	}
	return out
}
