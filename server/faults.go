// Fault injection: drop rules that make a node discard Raft or gossip traffic to or from chosen
// peers, as if the network lost it (Cluster.DropTraffic and Heal, cluster.proto).
//
// A dropped message is lost, not refused: the receiving side still takes and acknowledges it, so a
// cut link looks to both protocols like the lossy network they were designed for (Raft paper §5.1,
// "messages may be lost"; SWIM §3, unreliable datagrams). The rules are read by the transport
// goroutines and the loop, and written by the Cluster service, so they sit behind a mutex.
package server

import (
	"cmp"
	"slices"
	"sync"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// trafficClass is which protocol a message belongs to.
type trafficClass uint8

const (
	classRaft trafficClass = iota + 1
	classGossip
)

// dropKey is one rule: this peer, this direction, this protocol.
type dropKey struct {
	peer    uint64
	inbound bool
	class   trafficClass
}

// faults holds the drop rules in force on one node.
type faults struct {
	mu    sync.Mutex
	rules map[dropKey]bool
}

func newFaults() *faults { return &faults{rules: map[dropKey]bool{}} }

// dropOut reports whether a message of class to peer must be discarded.
func (f *faults) dropOut(peer uint64, class trafficClass) bool {
	return f.has(dropKey{peer: peer, class: class})
}

// dropIn reports whether a message of class from peer must be discarded.
func (f *faults) dropIn(peer uint64, class trafficClass) bool {
	return f.has(dropKey{peer: peer, inbound: true, class: class})
}

func (f *faults) has(k dropKey) bool {
	if k.peer == 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rules[k]
}

// add adds rules for the peers in each direction and the given traffic; UNSPECIFIED means all.
func (f *faults) add(to, from []uint64, traffic kannapb.TrafficClass) {
	classes := []trafficClass{classRaft, classGossip}
	switch traffic {
	case kannapb.TrafficClass_TRAFFIC_CLASS_RAFT:
		classes = []trafficClass{classRaft}
	case kannapb.TrafficClass_TRAFFIC_CLASS_GOSSIP:
		classes = []trafficClass{classGossip}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range classes {
		for _, p := range to {
			f.rules[dropKey{peer: p, class: c}] = true
		}
		for _, p := range from {
			f.rules[dropKey{peer: p, inbound: true, class: c}] = true
		}
	}
}

// heal removes every rule about the given peers, or every rule when peers is empty.
func (f *faults) heal(peers []uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(peers) == 0 {
		clear(f.rules)
		return
	}
	for k := range f.rules {
		if slices.Contains(peers, k.peer) {
			delete(f.rules, k)
		}
	}
}

// list returns the rules in force as the wire shows them, sorted by peer, direction, traffic.
// Raft and gossip rules for the same peer and direction are reported as they were added: two
// rules, one per class.
func (f *faults) list() []*kannapb.DropRule {
	f.mu.Lock()
	keys := make([]dropKey, 0, len(f.rules))
	for k := range f.rules {
		keys = append(keys, k)
	}
	f.mu.Unlock()
	slices.SortFunc(keys, func(a, b dropKey) int {
		if c := cmp.Compare(a.peer, b.peer); c != 0 {
			return c
		}
		if a.inbound != b.inbound {
			if !a.inbound {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.class, b.class)
	})
	out := make([]*kannapb.DropRule, len(keys))
	for i, k := range keys {
		r := &kannapb.DropRule{Peer: k.peer, Direction: kannapb.Direction_DIRECTION_OUTBOUND, Traffic: kannapb.TrafficClass_TRAFFIC_CLASS_RAFT}
		if k.inbound {
			r.Direction = kannapb.Direction_DIRECTION_INBOUND
		}
		if k.class == classGossip {
			r.Traffic = kannapb.TrafficClass_TRAFFIC_CLASS_GOSSIP
		}
		out[i] = r
	}
	return out
}
