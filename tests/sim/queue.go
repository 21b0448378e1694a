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

// key places one event in the queue: when, in what order, and which slot holds what it does. Keys
// hold no pointers, so moving them costs the garbage collector nothing, and they are 16 bytes, so
// the four children a heap's pop compares share one cache line.
type key struct {
	at time.Duration // virtual time since the start of the run
	// ord is the scheduling order (the tie-breaker for events at the same instant) in its high
	// bits and the index in queue.slots in its low slotBits.
	ord uint64
}

// slotBits is the width of a key's slot: room for 16 million events waiting at once, and a
// scheduling order of 40 bits, a trillion events, in the rest.
const slotBits = 24

// before orders events by time, then by scheduling order.
func (k *key) before(o *key) bool {
	if k.at != o.at {
		return k.at < o.at
	}
	return k.ord < o.ord
}

func (k *key) slotIndex() int32 { return int32(k.ord & (1<<slotBits - 1)) }

// slot is what an event does: run, or when it is nil act.
type slot struct {
	run func()
	act action
}

// queue is the virtual clock and the events waiting on it, beside the slots their keys point to,
// reused once their event ran. It is popped once per event of a run, a third of a million times
// in a 300 s run, so it is kept by hand.
//
// Nearly every event is due within a few tens of milliseconds (a message's latency, an fsync, the
// next tick): those wait in a ring of buckets one bucket width apart, a calendar queue (Brown,
// "Calendar queues", CACM 1988), each bucket a short list sorted latest first. The next event is
// the last of the first bucket that holds any, found by walking from now's bucket: about one
// bucket per event. The few events due later (a client's timeout, a restart after a crash) wait
// in a 4-ary min-heap instead. Both order by time, then scheduling order, and the earlier of the
// two candidates runs, so the order is the one a single heap would give.
type queue struct {
	now    time.Duration
	nextID uint64
	ring   [ringBuckets][]key
	inRing int   // keys in the ring
	keys   []key // the heap of events due past the ring
	slots  []slot
	free   []int32 // slots whose event ran
}

// The ring: buckets 2^20 ns (about a millisecond) wide, 64 of them. An event goes into the ring
// when its bucket is less than ringBuckets buckets past now's, so every bucket holds events of one
// turn of the ring only.
const (
	bucketBits  = 20
	ringBuckets = 64
)

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
	if i >= 1<<slotBits || q.nextID >= 1<<(64-slotBits) {
		panic("sim: event queue: more events than a key can number")
	}
	k := key{at: t, ord: q.nextID<<slotBits | uint64(i)}
	if t>>bucketBits < q.now>>bucketBits+ringBuckets {
		q.pushRing(k)
	} else {
		q.pushHeap(k)
	}
}

// pushRing inserts k into its bucket, keeping the bucket sorted latest first.
func (q *queue) pushRing(k key) {
	b := &q.ring[(k.at>>bucketBits)&(ringBuckets-1)]
	list := append(*b, key{})
	j := len(list) - 1
	for j > 0 && list[j-1].before(&k) {
		list[j] = list[j-1]
		j--
	}
	list[j] = k
	*b = list
	q.inRing++
}

func (q *queue) pushHeap(k key) {
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

// popHeap removes the heap's earliest key.
func (q *queue) popHeap() key {
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

// earliest finds the next event: the key, and the bucket that holds it, or -1 for the heap.
func (q *queue) earliest() (k key, bucket int, ok bool) {
	bucket = -1
	if q.inRing > 0 {
		for b := q.now >> bucketBits; ; b++ {
			list := q.ring[b&(ringBuckets-1)]
			if n := len(list); n > 0 {
				k, bucket = list[n-1], int(b&(ringBuckets-1))
				break
			}
		}
	}
	if len(q.keys) > 0 && (bucket < 0 || q.keys[0].before(&k)) {
		return q.keys[0], -1, true
	}
	return k, bucket, bucket >= 0
}

// step runs the earliest event if it is due no later than until, advancing the clock to it; it
// reports whether an event ran.
func (q *queue) step(until time.Duration) bool {
	k, bucket, ok := q.earliest()
	if !ok || k.at > until {
		return false
	}
	if bucket >= 0 {
		q.ring[bucket] = q.ring[bucket][:len(q.ring[bucket])-1]
		q.inRing--
	} else {
		q.popHeap()
	}
	i := k.slotIndex()
	s := q.slots[i]
	q.slots[i] = slot{}
	q.free = append(q.free, i)
	q.now = k.at
	if s.run != nil {
		s.run()
	} else {
		s.act.fire()
	}
	return true
}

// len is the number of events waiting.
func (q *queue) len() int { return q.inRing + len(q.keys) }
