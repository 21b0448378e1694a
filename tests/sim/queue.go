// The event queue of the simulator: a virtual clock and a priority queue of what happens next.
//
// This is the heart of deterministic simulation in the style of FoundationDB and TigerBeetle: one
// thread pops the earliest event, runs it, and events it schedules go back in the queue. Events at
// the same instant run in the order they were scheduled (a sequence number breaks ties), so the
// order never depends on anything but the seed.

package sim

import (
	"container/heap"
	"time"
)

// event is one thing scheduled to happen at a virtual instant.
type event struct {
	at  time.Duration // virtual time since the start of the run
	seq uint64        // scheduling order: the tie-breaker for events at the same instant
	run func()
}

// eventHeap orders events by time, then by scheduling order.
type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = event{}
	*h = old[:len(old)-1]
	return e
}

// queue is the virtual clock and the events waiting on it.
type queue struct {
	now    time.Duration
	nextID uint64
	events eventHeap
}

// at schedules run at virtual time t; a time in the past means "now", never earlier.
func (q *queue) at(t time.Duration, run func()) {
	if t < q.now {
		t = q.now
	}
	q.nextID++
	heap.Push(&q.events, event{at: t, seq: q.nextID, run: run})
}

// after schedules run d from now.
func (q *queue) after(d time.Duration, run func()) { q.at(q.now+d, run) }

// step runs the earliest event if it is due no later than until, advancing the clock to it; it
// reports whether an event ran.
func (q *queue) step(until time.Duration) bool {
	if len(q.events) == 0 || q.events[0].at > until {
		return false
	}
	e := heap.Pop(&q.events).(event)
	q.now = e.at
	e.run()
	return true
}

// len is the number of events waiting.
func (q *queue) len() int { return len(q.events) }
