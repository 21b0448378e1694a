// The event queue of the simulator: a virtual clock and a priority queue of what happens next.
//
// This is the heart of deterministic simulation in the style of FoundationDB and TigerBeetle: one
// thread pops the earliest event, runs it, and events it schedules go back in the queue. Events at
// the same instant run in the order they were scheduled (a sequence number breaks ties), so the
// order never depends on anything but the seed.

package sim

import "time"

// event is one thing scheduled to happen at a virtual instant: run, or when it is nil act.
type event struct {
	at  time.Duration // virtual time since the start of the run
	seq uint64        // scheduling order: the tie-breaker for events at the same instant
	run func()
	act action
}

// action is an event that is not a closure: a message in flight is a pooled value, so the most
// common event of a run allocates nothing to be scheduled.
type action interface{ fire() }

// before orders events by time, then by scheduling order.
func (e *event) before(o *event) bool {
	if e.at != o.at {
		return e.at < o.at
	}
	return e.seq < o.seq
}

// queue is the virtual clock and the events waiting on it, a binary min-heap kept by hand: it is
// popped once per event of a run, and container/heap would box every event in an interface.
type queue struct {
	now    time.Duration
	nextID uint64
	events []event
}

// at schedules run at virtual time t; a time in the past means "now", never earlier.
func (q *queue) at(t time.Duration, run func()) { q.push(t, run, nil) }

// after schedules run d from now.
func (q *queue) after(d time.Duration, run func()) { q.push(q.now+d, run, nil) }

// afterAct schedules a to fire d from now.
func (q *queue) afterAct(d time.Duration, a action) { q.push(q.now+d, nil, a) }

// The heap is 4-ary: half the levels of a binary heap, so a pop moves an event half as often, and
// the four children of a node sit next to each other in memory.
const arity = 4

func (q *queue) push(t time.Duration, run func(), act action) {
	if t < q.now {
		t = q.now
	}
	q.nextID++
	e := event{at: t, seq: q.nextID, run: run, act: act}
	q.events = append(q.events, event{})
	h := q.events
	// Sift the hole up from the end and put e in it once: one write per level, not a swap.
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / arity
		if !e.before(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
}

// pop removes the earliest event.
func (q *queue) pop() event {
	h := q.events
	top := h[0]
	last := len(h) - 1
	e := h[last]
	h[last] = event{}
	h = h[:last]
	q.events = h
	if last == 0 {
		return top
	}
	// Sift the hole down from the root and put the last event in it once.
	i := 0
	for {
		first := arity*i + 1
		if first >= len(h) {
			break
		}
		c := first
		for k := first + 1; k < first+arity && k < len(h); k++ {
			if h[k].before(&h[c]) {
				c = k
			}
		}
		if !h[c].before(&e) {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = e
	return top
}

// step runs the earliest event if it is due no later than until, advancing the clock to it; it
// reports whether an event ran.
func (q *queue) step(until time.Duration) bool {
	if len(q.events) == 0 || q.events[0].at > until {
		return false
	}
	e := q.pop()
	q.now = e.at
	if e.run != nil {
		e.run()
	} else {
		e.act.fire()
	}
	return true
}

// len is the number of events waiting.
func (q *queue) len() int { return len(q.events) }
