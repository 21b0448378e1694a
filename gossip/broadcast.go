// The queue of membership updates waiting to be piggybacked (SWIM §4.1, "Dissemination
// Component and Dynamic Membership").
//
// SWIM spreads news infection-style: every update rides on the pings, acks and ping-reqs the
// failure detector sends anyway, and each is sent λ·log N times, enough to reach every member with
// high probability. Following memberlist's TransmitLimitedQueue, updates sent fewest times go
// first (so fresh news spreads fastest), newer news about a member replaces older news about the
// same member (only the latest matters), and a message takes only what fits its size budget.

package gossip

import (
	"cmp"
	"math"
	"slices"
)

// queued is one update in the queue.
type queued struct {
	update    Update
	transmits int    // how many messages have carried it
	order     uint64 // when it was queued; newer first among equals
	size      int    // its encoded size, computed once
}

// broadcastQueue holds the updates still to be sent, at most one per member.
type broadcastQueue struct {
	items []*queued
	next  uint64
}

// retransmitLimit is how many messages carry each update in a cluster of n members:
// mult * ceil(log10(n+1)), memberlist's reading of SWIM's λ·log N.
func retransmitLimit(mult, n int) int {
	return mult * int(math.Ceil(math.Log10(float64(n+1))))
}

// enqueue adds u, dropping any queued update about the same member: the caller only queues news
// that won under the precedence rules, so it is the newest.
func (q *broadcastQueue) enqueue(u Update) {
	for i, it := range q.items {
		if it.update.Member.ID == u.Member.ID {
			q.items = append(q.items[:i], q.items[i+1:]...)
			break
		}
	}
	q.next++
	q.items = append(q.items, &queued{update: u, order: q.next, size: encodedSize(u)})
}

// take returns the updates to piggyback on one message with budget bytes left, fewest-sent first,
// and retires those that have now been sent limit times.
func (q *broadcastQueue) take(budget, limit int) []Update {
	if len(q.items) == 0 {
		return nil
	}
	slices.SortFunc(q.items, func(a, b *queued) int {
		if a.transmits != b.transmits {
			return cmp.Compare(a.transmits, b.transmits)
		}
		return cmp.Compare(b.order, a.order)
	})
	var out []Update
	kept := q.items[:0]
	for _, it := range q.items {
		if it.size <= budget {
			budget -= it.size
			out = append(out, it.update)
			it.transmits++
		}
		if it.transmits < limit {
			kept = append(kept, it)
		}
	}
	clear(q.items[len(kept):])
	q.items = kept
	return out
}

// len is the number of updates still to be sent.
func (q *broadcastQueue) len() int { return len(q.items) }
