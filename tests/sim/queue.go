// The event queue of the simulator: a virtual clock and a priority queue of what happens next.
//
// This is the heart of deterministic simulation in the style of FoundationDB and TigerBeetle: one
// thread pops the earliest event, runs it, and events it schedules go back in the queue. Events at
// the same instant run in the order they were scheduled (a sequence number breaks ties), so the
// order never depends on anything but the seed.

package sim

import "time"

// action is an event that is not a closure: a message in flight is a pooled value, so the most
// common event of a run allocates nothing to be scheduled.
type action interface{ fire() }

// pool keeps an action's records once they have fired, for the next event of their kind.
type pool[T any] []*T

// take returns a free record, or false when there is none and the caller makes one.
func (p *pool[T]) take() (*T, bool) {
	n := len(*p)
	if n == 0 {
		return nil, false
	}
	x := (*p)[n-1]
	*p = (*p)[:n-1]
	return x, true
}

// give hands back a record that has fired and let go of what it pointed at.
func (p *pool[T]) give(x *T) { *p = append(*p, x) }

// key places one event in the heap: when, in what order, and which slot holds what it does. Keys
// hold no pointers, so moving them in the heap costs the garbage collector nothing.
type key struct {
	at   time.Duration // virtual time since the start of the run
	seq  uint64        // scheduling order: the tie-breaker for events at the same instant
	slot int32         // index in queue.slots
}

// before orders events by time, then by scheduling order.
func (k *key) before(o *key) bool {
	if k.at != o.at {
		return k.at < o.at
	}
	return k.seq < o.seq
}

// slot is what an event does: run, or when it is nil act.
type slot struct {
	run func()
	act action
}

// queue is the virtual clock and the events waiting on it: a 4-ary min-heap of keys kept by hand
// (it is popped once per event of a run, and container/heap would box every event in an
// interface), beside the slots the keys point to, reused once their event ran.
type queue struct {
	now    time.Duration
	nextID uint64
	keys   []key
	slots  []slot
	free   []int32 // slots whose event ran
}

// arity is the heap's fan-out: half the levels of a binary heap, and a node's children side by
// side in memory.
const arity = 4

// at schedules run at virtual time t; a time in the past means "now", never earlier.
func (q *queue) at(t time.Duration, run func()) { q.push(t, slot{run: run}) }

// after schedules run d from now.
func (q *queue) after(d time.Duration, run func()) { q.push(q.now+d, slot{run: run}) }

// afterAct schedules a to fire d from now.
func (q *queue) afterAct(d time.Duration, a action) { q.push(q.now+d, slot{act: a}) }

func (q *queue) push(t time.Duration, s slot) {
	if t < q.now {
		t = q.now
	}
	var i int32
	if n := len(q.free); n > 0 {
		i = q.free[n-1]
		q.free = q.free[:n-1]
		q.slots[i] = s
	} else {
		i = int32(len(q.slots))
		q.slots = append(q.slots, s)
	}
	q.nextID++
	k := key{at: t, seq: q.nextID, slot: i}
	q.keys = append(q.keys, key{})
	h := q.keys
	// Sift the hole up from the end and put k in it once: one write per level, not a swap.
	j := len(h) - 1
	for j > 0 {
		p := (j - 1) / arity
		if !k.before(&h[p]) {
			break
		}
		h[j] = h[p]
		j = p
	}
	h[j] = k
}

// pop removes the earliest event's key.
func (q *queue) pop() key {
	h := q.keys
	top := h[0]
	last := len(h) - 1
	k := h[last]
	h = h[:last]
	q.keys = h
	if last == 0 {
		return top
	}
	// Sift the hole down from the root and put the last key in it once.
	i := 0
	for {
		first := arity*i + 1
		if first >= len(h) {
			break
		}
		c := first
		for j := first + 1; j < first+arity && j < len(h); j++ {
			if h[j].before(&h[c]) {
				c = j
			}
		}
		if !h[c].before(&k) {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = k
	return top
}

// step runs the earliest event if it is due no later than until, advancing the clock to it; it
// reports whether an event ran.
func (q *queue) step(until time.Duration) bool {
	if len(q.keys) == 0 || q.keys[0].at > until {
		return false
	}
	k := q.pop()
	s := q.slots[k.slot]
	q.slots[k.slot] = slot{}
	q.free = append(q.free, k.slot)
	q.now = k.at
	if s.run != nil {
		s.run()
	} else {
		s.act.fire()
	}
	return true
}

// len is the number of events waiting.
func (q *queue) len() int { return len(q.keys) }
