// The simulated network: per-link latency with jitter (so messages reorder), loss, duplication,
// and partitions of every shape a real network produces.
//
// Raft assumes an asynchronous network that may delay, drop, duplicate and reorder messages (Raft
// paper §5.1, "servers communicate using RPCs ... RPCs may be lost or delayed"); the network here
// does each of those on purpose, drawing every choice from its own *rand.Rand so a seed replays.

package sim

import (
	"fmt"
	"math/rand"
	"sort"
	"time"
)

// link is one direction between two nodes.
type link struct{ from, to uint64 }

// netConfig sets how the network misbehaves when no partition is in the way.
type netConfig struct {
	Latency time.Duration // base one-way delay of the fastest link
	Spread  time.Duration // each link's own base delay is Latency plus a fixed draw in [0, Spread)
	Jitter  time.Duration // extra delay drawn uniformly in [0, Jitter): nonzero reorders messages
	Loss    float64       // probability a message is dropped
	Dup     float64       // probability a message is delivered twice
}

// network decides the fate of each message and holds the current partition.
type network struct {
	cfg   netConfig
	rng   *rand.Rand
	nodes []uint64 // sorted
	// links[from][to] is one direction between two node ids: looked up for every message, so a
	// table indexed by id rather than a map. Ids are small: 1 up to the last node that joined.
	links [][]linkState
	cuts  int // directions now cut
}

// linkState is one direction's base delay, and whether a partition cuts it.
type linkState struct {
	base  time.Duration
	wired bool // base is set: both ends were nodes of the cluster
	cut   bool // carries nothing
}

func newNetwork(cfg netConfig, rng *rand.Rand, nodes []uint64) *network {
	sorted := append([]uint64(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	n := &network{cfg: cfg, rng: rng, nodes: sorted}
	// Each direction of each link gets its own base delay, drawn in a fixed order: some peers are
	// near, some far, and a path is not always as fast both ways.
	for _, from := range sorted {
		for _, to := range sorted {
			extra := time.Duration(0)
			if cfg.Spread > 0 {
				extra = time.Duration(rng.Int63n(int64(cfg.Spread)))
			}
			if from != to {
				n.wire(link{from, to}, cfg.Latency+extra)
			}
		}
	}
	return n
}

// link returns the state of one direction, growing the table to hold it.
func (n *network) link(l link) *linkState {
	for uint64(len(n.links)) <= l.from {
		n.links = append(n.links, nil)
	}
	row := n.links[l.from]
	for uint64(len(row)) <= l.to {
		row = append(row, linkState{})
	}
	n.links[l.from] = row
	return &row[l.to]
}

// peek returns the state of one direction, the zero state for one never wired or cut.
func (n *network) peek(from, to uint64) linkState {
	if from < uint64(len(n.links)) && to < uint64(len(n.links[from])) {
		return n.links[from][to]
	}
	return linkState{}
}

func (n *network) wire(l link, base time.Duration) {
	ls := n.link(l)
	ls.base, ls.wired = base, true
}

func (n *network) setCut(l link, cut bool) {
	ls := n.link(l)
	switch {
	case cut && !ls.cut:
		n.cuts++
	case !cut && ls.cut:
		n.cuts--
	}
	ls.cut = cut
}

// addNode wires a node that joins during the run: each direction of each of its links gets a base
// delay, drawn from rng (the membership schedule's stream, so that no other draw shifts).
func (n *network) addNode(id uint64, rng *rand.Rand) {
	for _, other := range n.nodes {
		for _, l := range []link{{id, other}, {other, id}} {
			extra := time.Duration(0)
			if n.cfg.Spread > 0 {
				extra = time.Duration(rng.Int63n(int64(n.cfg.Spread)))
			}
			n.wire(l, n.cfg.Latency+extra)
		}
	}
	n.nodes = append(n.nodes, id)
	sort.Slice(n.nodes, func(i, j int) bool { return n.nodes[i] < n.nodes[j] })
}

// fate is what happens to one message: dropped (with a reason) or delivered after each delay.
type fate struct {
	drop   string
	n      int              // deliveries: 1, or 2 when the network duplicates the message
	delays [2]time.Duration // the first n are the delays of the deliveries
}

// times is the delay of each delivery.
func (f *fate) times() []time.Duration { return f.delays[:f.n] }

// send decides the fate of a message from one node to another. The draws happen in a fixed order
// whatever the outcome, so one message's fate never shifts the random stream of the next.
func (n *network) send(from, to uint64) fate {
	lost := n.rng.Float64() < n.cfg.Loss
	dup := n.rng.Float64() < n.cfg.Dup
	ls := n.peek(from, to)
	d1, d2 := n.delay(ls), n.delay(ls)
	switch {
	case ls.cut:
		return fate{drop: "partition"}
	case lost:
		return fate{drop: "loss"}
	case dup:
		return fate{n: 2, delays: [2]time.Duration{d1, d2}}
	}
	return fate{n: 1, delays: [2]time.Duration{d1}}
}

func (n *network) delay(ls linkState) time.Duration {
	d := n.cfg.Latency
	if ls.wired {
		d = ls.base
	}
	if n.cfg.Jitter > 0 {
		d += time.Duration(n.rng.Int63n(int64(n.cfg.Jitter)))
	}
	return d
}

// blocked reports whether a partition now stops messages from one node to another; a message
// already in flight when a partition starts is checked again on arrival.
func (n *network) blocked(from, to uint64) bool { return n.peek(from, to).cut }

// reachable reports whether two nodes can talk both ways.
func (n *network) reachable(a, b uint64) bool { return !n.blocked(a, b) && !n.blocked(b, a) }

// partitioned reports whether any link is cut.
func (n *network) partitioned() bool { return n.cuts > 0 }

// apply adds a partition's cuts to the network.
func (n *network) apply(p partition) {
	for _, l := range p.cuts {
		n.setCut(l, true)
	}
}

// toggle flips one direction of one link, for flapping links.
func (n *network) toggle(l link) { n.setCut(l, !n.blocked(l.from, l.to)) }

// heal removes every cut.
func (n *network) heal() {
	for _, row := range n.links {
		for i := range row {
			row[i].cut = false
		}
	}
	n.cuts = 0
}

// partition is a set of cut directions with a name for the trace.
type partition struct {
	kind string
	desc string
	cuts []link
}

// cutBetween cuts every direction from each node of a to each node of b; both too when symmetric.
func cutBetween(a, b []uint64, symmetric bool) []link {
	var cuts []link
	for _, x := range a {
		for _, y := range b {
			if x == y {
				continue
			}
			cuts = append(cuts, link{x, y})
			if symmetric {
				cuts = append(cuts, link{y, x})
			}
		}
	}
	return cuts
}

// symmetricPartition cuts two groups apart in both directions.
func symmetricPartition(a, b []uint64) partition {
	return partition{kind: "symmetric", desc: fmt.Sprintf("%v | %v", a, b), cuts: cutBetween(a, b, true)}
}

// asymmetricPartition lets b hear a but not a hear b: messages from b to a are dropped. A leader
// in b keeps sending heartbeats that arrive while every answer is lost.
func asymmetricPartition(a, b []uint64) partition {
	return partition{kind: "asymmetric", desc: fmt.Sprintf("%v -/-> %v", b, a), cuts: cutBetween(b, a, false)}
}

// isolatePartition cuts one node off from all others, both ways.
func isolatePartition(x uint64, all []uint64) partition {
	p := symmetricPartition([]uint64{x}, without(all, x))
	p.kind = "isolate"
	p.desc = fmt.Sprintf("isolate %d", x)
	return p
}

// bridgePartition splits the others into two sides that cannot talk, except through one node
// that both sides reach: the bridge.
func bridgePartition(bridge uint64, a, b []uint64) partition {
	p := symmetricPartition(a, b)
	p.kind = "bridge"
	p.desc = fmt.Sprintf("%v <-%d-> %v", a, bridge, b)
	return p
}

// shuffled returns the nodes in an order drawn from rng.
func shuffled(rng *rand.Rand, nodes []uint64) []uint64 {
	out := append([]uint64(nil), nodes...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// sorted returns a sorted copy.
func sorted(ids []uint64) []uint64 {
	out := append([]uint64(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// without returns all but x, in order.
func without(all []uint64, x uint64) []uint64 {
	var out []uint64
	for _, y := range all {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

// randomPartition draws one partition of the given kind over the nodes.
func randomPartition(kind string, rng *rand.Rand, nodes []uint64) partition {
	order := shuffled(rng, nodes)
	n := len(order)
	if n < 2 {
		return partition{kind: "none", desc: "a single node has no links to cut"}
	}
	if kind == "majority" && n < 3 {
		kind = "isolate"
	}
	switch kind {
	case "asymmetric":
		k := 1 + rng.Intn(n-1)
		return asymmetricPartition(sorted(order[:k]), sorted(order[k:]))
	case "isolate":
		return isolatePartition(order[0], nodes)
	case "majority":
		// The minority keeps at least one node and the majority a quorum.
		k := 1 + rng.Intn((n-1)/2)
		p := symmetricPartition(sorted(order[:k]), sorted(order[k:]))
		p.kind = "majority"
		return p
	case "bridge":
		if n < 3 {
			return isolatePartition(order[0], nodes)
		}
		rest := order[1:]
		k := 1 + rng.Intn(len(rest)-1)
		return bridgePartition(order[0], sorted(rest[:k]), sorted(rest[k:]))
	default: // symmetric, into two groups of any sizes
		k := 1 + rng.Intn(n-1)
		return symmetricPartition(sorted(order[:k]), sorted(order[k:]))
	}
}

// partitionKinds are the shapes randomPartition draws; "flap" is driven by the fault schedule.
var partitionKinds = []string{"symmetric", "asymmetric", "isolate", "majority", "bridge", "flap"}
