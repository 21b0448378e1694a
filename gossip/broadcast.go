// The queue of membership updates waiting to be piggybacked (SWIM §4.1, "Infection-Style
// Dissemination Component").
//
// SWIM spreads news infection-style: every update rides on the pings, acks and ping-reqs the
// failure detector sends anyway, and each is sent λ·log N times, enough to reach every member with
// high probability. Following memberlist's TransmitLimitedQueue, updates sent fewest times go
// first (so fresh news spreads fastest), newer news about a member replaces older news about the
// same member (only the latest matters), and a message takes only what fits its size budget.

package gossip

import (
	"math"
	"slices"
)

// queued is one update in the queue.
type queued struct {
	update    Update
	transmits int    // how many messages have carried it
	order     uint64 // when it was queued; newer first among equals
	size      int    // its encoded size, computed once
	dropped   bool   // replaced by newer news about the same member; discarded when met
}

// broadcastQueue holds the updates still to be sent, at most one per member. Sending order is
// fewest transmissions first, newest first among equals.
//
// take must find, again and again, the first update in sending order that fits the room left in a
// message. Keeping one sorted list and re-merging it after every message costs a pass over the
// whole queue per message, which at a thousand members was half of a gossip simulation's time.
// Instead the updates sit in one heap per encoded size: the first update that fits is the best
// head among the heaps of sizes up to the room left, so a take touches only the updates it sends
// (and a few dozen heads), and never one that does not fit.
type broadcastQueue struct {
	classes []*sizeClass       // by size, ascending
	byID    map[string]*queued // the live update about each member, so replacing one is O(1)
	bySize  map[int]*sizeClass // classes by size
	again   []*queued          // reused by take: the taken updates still to be sent again
	taken   []*queued          // reused by take: the taken updates, in order
	next    uint64
	limit   int // the limit of the last take
	stale   int // dropped updates still in a heap
}

// sizeClass is a heap, in sending order, of the updates of one encoded size. Each slot carries
// its update's sending key, so that sifting compares integers in one array instead of following
// pointers.
type sizeClass struct {
	size  int
	items []slot
}

// slot is one update in a heap, with its key: transmissions in the high bits, then the complement
// of its queue order, so that a smaller key goes out first (fewer transmissions, then newer). An
// update's key changes only while it is out of every heap.
type slot struct {
	key uint64
	it  *queued
}

// orderBits bounds the queue orders a key holds: 2^48 enqueues, far beyond any run.
const orderBits = 48

func keyOf(it *queued) uint64 {
	return uint64(it.transmits)<<orderBits | (1<<orderBits - 1 - it.order&(1<<orderBits-1))
}

// smallestUpdate is the encoded size of an empty update; no real one is smaller, so a message with
// less room left than this is full.
var smallestUpdate = encodedSize(Update{})

// retransmitLimit is how many messages carry each update in a cluster of n members:
// mult * ceil(log10(n+1)), memberlist's reading of SWIM's λ·log N.
func retransmitLimit(mult, n int) int {
	return mult * int(math.Ceil(math.Log10(float64(n+1))))
}

// enqueue adds u first in sending order, dropping any queued update about the same member: the
// caller only queues news that won under the precedence rules, so it is the newest.
func (q *broadcastQueue) enqueue(u Update) {
	if q.byID == nil {
		q.byID = map[string]*queued{}
		q.bySize = map[int]*sizeClass{}
	}
	if old, ok := q.byID[u.Member.ID]; ok {
		old.dropped = true
		q.stale++
	}
	q.next++
	it := &queued{update: u, order: q.next, size: encodedSize(u)}
	q.byID[u.Member.ID] = it
	q.class(it.size).push(it)
	if q.stale > 64 && q.stale > len(q.byID) {
		q.sweep(func(*queued) bool { return false })
	}
}

// class returns the heap of updates of the given size, adding it in order when new.
func (q *broadcastQueue) class(size int) *sizeClass {
	if c, ok := q.bySize[size]; ok {
		return c
	}
	c := &sizeClass{size: size}
	q.bySize[size] = c
	at, _ := slices.BinarySearchFunc(q.classes, size, func(c *sizeClass, size int) int { return c.size - size })
	q.classes = slices.Insert(q.classes, at, c)
	return c
}

// take appends to dst the updates to piggyback on one message with budget bytes left, in sending
// order, and retires those that have now been sent limit times.
func (q *broadcastQueue) take(dst []Update, budget, limit int) []Update {
	if limit < q.limit {
		// The limit fell because the cluster shrank: what has been sent enough is retired unsent.
		q.sweep(func(it *queued) bool { return it.transmits >= limit })
	}
	q.limit = limit
	q.again, q.taken = q.again[:0], q.taken[:0]
	for budget >= smallestUpdate {
		var best *sizeClass
		for _, c := range q.classes {
			if c.size > budget {
				break
			}
			if q.head(c) != nil && (best == nil || c.items[0].key < best.items[0].key) {
				best = c
			}
		}
		if best == nil {
			break
		}
		it := best.pop()
		budget -= it.size
		q.taken = append(q.taken, it)
		it.transmits++
		if it.transmits < limit {
			q.again = append(q.again, it)
		} else {
			delete(q.byID, it.update.Member.ID)
		}
	}
	// Taking an update moves it back by one transmission; it goes back only now, so that one
	// message never carries it twice.
	for _, it := range q.again {
		q.bySize[it.size].push(it)
	}
	out := dst
	if len(q.taken) > 0 {
		out = slices.Grow(dst, len(q.taken))
		for _, it := range q.taken {
			out = append(out, it.update)
		}
	}
	clear(q.again)
	clear(q.taken)
	return out
}

// sweep removes every dropped update and every one for which retire holds, and rebuilds the heaps.
func (q *broadcastQueue) sweep(retire func(*queued) bool) {
	for _, c := range q.classes {
		kept := c.items[:0]
		for _, sl := range c.items {
			switch {
			case sl.it.dropped:
			case retire(sl.it):
				delete(q.byID, sl.it.update.Member.ID)
			default:
				kept = append(kept, sl)
			}
		}
		clear(c.items[len(kept):])
		c.items = kept
		for i := len(kept)/2 - 1; i >= 0; i-- {
			c.down(i)
		}
	}
	q.stale = 0
}

// head returns the first live update of class c, discarding dropped ones on the way, or nil.
func (q *broadcastQueue) head(c *sizeClass) *queued {
	for len(c.items) > 0 && c.items[0].it.dropped {
		c.pop()
		q.stale--
	}
	if len(c.items) == 0 {
		return nil
	}
	return c.items[0].it
}

func (c *sizeClass) push(it *queued) {
	c.items = append(c.items, slot{key: keyOf(it), it: it})
	for i := len(c.items) - 1; i > 0; {
		parent := (i - 1) / 2
		if c.items[i].key >= c.items[parent].key {
			break
		}
		c.items[i], c.items[parent] = c.items[parent], c.items[i]
		i = parent
	}
}

func (c *sizeClass) pop() *queued {
	top := c.items[0].it
	last := len(c.items) - 1
	c.items[0] = c.items[last]
	c.items[last] = slot{}
	c.items = c.items[:last]
	c.down(0)
	return top
}

func (c *sizeClass) down(i int) {
	n := len(c.items)
	for {
		first := i
		if l := 2*i + 1; l < n && c.items[l].key < c.items[first].key {
			first = l
		}
		if r := 2*i + 2; r < n && c.items[r].key < c.items[first].key {
			first = r
		}
		if first == i {
			return
		}
		c.items[i], c.items[first] = c.items[first], c.items[i]
		i = first
	}
}

// has reports whether an update about the member id is waiting to be sent.
func (q *broadcastQueue) has(id string) bool {
	_, ok := q.byID[id]
	return ok
}

// len is the number of updates still to be sent.
func (q *broadcastQueue) len() int { return len(q.byID) }
