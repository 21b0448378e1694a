// The event queue of the gossip simulator: a virtual clock and a binary heap of what happens next.
//
// It is the same idea as tests/sim's queue (FoundationDB-style deterministic simulation: one
// thread pops the earliest event, events at one instant run in the order they were scheduled),
// written again here because that one is unexported and stores closures. A 1,000-member run
// schedules millions of ticks and deliveries, so events here are plain values: a kind, a member
// and a message, with no allocation for a closure and no interface boxing in container/heap.

package gossipsim

import (
	"time"

	"github.com/kanna-cluster/kanna/gossip"
)

// eventKind says what an event does when it runs.
type eventKind uint8

const (
	evTick       eventKind = iota // member ticks its core, and schedules its next tick
	evDeliver                     // a message arrives at member
	evCrash                       // member stops for good
	evPauseStart                  // member freezes
	evPauseEnd                    // member resumes and catches up
	evPartition                   // the partition starts
	evHeal                        // faults end: partition healed, loss off, pauses over
	evCheck                       // the checkers look at the cluster (once per protocol period)
)

// event is one thing scheduled at a virtual instant.
type event struct {
	at     time.Duration
	seq    uint64 // scheduling order: breaks ties between events at one instant
	kind   eventKind
	member int32
	msg    *gossip.Message
}

// queue is the virtual clock and the events waiting on it, kept as a binary min-heap.
type queue struct {
	now  time.Duration
	seq  uint64
	heap []event
}

func (q *queue) less(i, j int) bool {
	a, b := &q.heap[i], &q.heap[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// push schedules e at e.at; a time in the past means now, never earlier.
func (q *queue) push(e event) {
	e.at = max(e.at, q.now)
	q.seq++
	e.seq = q.seq
	q.heap = append(q.heap, e)
	for i := len(q.heap) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			break
		}
		q.heap[i], q.heap[parent] = q.heap[parent], q.heap[i]
		i = parent
	}
}

// pop removes the earliest event if it is due no later than until, and advances the clock to it.
func (q *queue) pop(until time.Duration) (event, bool) {
	if len(q.heap) == 0 || q.heap[0].at > until {
		return event{}, false
	}
	e := q.heap[0]
	last := len(q.heap) - 1
	q.heap[0] = q.heap[last]
	q.heap[last] = event{}
	q.heap = q.heap[:last]
	for i := 0; ; {
		l, r, small := 2*i+1, 2*i+2, i
		if l < len(q.heap) && q.less(l, small) {
			small = l
		}
		if r < len(q.heap) && q.less(r, small) {
			small = r
		}
		if small == i {
			break
		}
		q.heap[i], q.heap[small] = q.heap[small], q.heap[i]
		i = small
	}
	q.now = e.at
	return e, true
}
