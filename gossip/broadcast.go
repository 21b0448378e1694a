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
	dropped   bool   // replaced by newer news about the same member; take discards it
}

// broadcastQueue holds the updates still to be sent, at most one per member, kept in sending
// order: fewest transmissions first, newest first among equals.
type broadcastQueue struct {
	items []*queued
	byID  map[string]*queued // the live update about each member, so replacing one is O(1)
	spare []*queued          // a second backing array for take, reused
	sent  []*queued
	next  uint64
}

// smallestUpdate is the encoded size of an empty update; no real one is smaller, so a message with
// less room left than this is full.
var smallestUpdate = encodedSize(Update{})

// retransmitLimit is how many messages carry each update in a cluster of n members:
// mult * ceil(log10(n+1)), memberlist's reading of SWIM's λ·log N.
func retransmitLimit(mult, n int) int {
	return mult * int(math.Ceil(math.Log10(float64(n+1))))
}

// enqueue adds u at the front, dropping any queued update about the same member: the caller only
// queues news that won under the precedence rules, so it is the newest.
func (q *broadcastQueue) enqueue(u Update) {
	if q.byID == nil {
		q.byID = map[string]*queued{}
	}
	if old, ok := q.byID[u.Member.ID]; ok {
		old.dropped = true
	}
	q.next++
	it := &queued{update: u, order: q.next, size: encodedSize(u)}
	q.byID[u.Member.ID] = it
	q.items = slices.Insert(q.items, 0, it)
}

// take returns the updates to piggyback on one message with budget bytes left, in sending order,
// and retires those that have now been sent limit times.
func (q *broadcastQueue) take(budget, limit int) []Update {
	var out []Update
	q.sent = q.sent[:0]
	kept := q.items[:0] // the updates not taken, still in order
	for _, it := range q.items {
		switch {
		case it.dropped:
		case it.transmits >= limit:
			// Retired without being taken: the limit fell because the cluster shrank.
			delete(q.byID, it.update.Member.ID)
		case budget < smallestUpdate || it.size > budget:
			kept = append(kept, it)
		default:
			budget -= it.size
			out = append(out, it.update)
			it.transmits++
			if it.transmits < limit {
				q.sent = append(q.sent, it)
			} else {
				delete(q.byID, it.update.Member.ID)
			}
		}
	}
	// Taking an update moves it back by one transmission. The taken ones keep their order among
	// themselves, and so do the others, so one merge restores the sending order.
	merged := q.spare[:0]
	a, b := kept, q.sent
	for len(a) > 0 && len(b) > 0 {
		if before(b[0], a[0]) {
			merged, b = append(merged, b[0]), b[1:]
		} else {
			merged, a = append(merged, a[0]), a[1:]
		}
	}
	merged = append(append(merged, a...), b...)
	clear(q.items[len(kept):])
	q.spare, q.items = q.items[:0], merged
	return out
}

// before reports whether a goes out before b: fewer transmissions first, newer first among equals.
func before(a, b *queued) bool {
	if a.transmits != b.transmits {
		return a.transmits < b.transmits
	}
	return a.order > b.order
}

// has reports whether an update about the member id is waiting to be sent.
func (q *broadcastQueue) has(id string) bool {
	_, ok := q.byID[id]
	return ok
}

// len is the number of updates still to be sent.
func (q *broadcastQueue) len() int { return len(q.byID) }
