// Tests of infection-style dissemination (SWIM §4.1, broadcast.go): retransmission count,
// fewest-sent first, newer news replacing older, and the size budget of one message.

package gossip

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEachUpdateIsRetransmittedRetransmitMultTimesLogN(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{1, 4}, {9, 4}, {10, 8}, {99, 8}, {100, 12}, {1000, 16},
	} {
		require.Equal(t, tc.want, retransmitLimit(4, tc.n), "N=%d", tc.n)
	}

	var q broadcastQueue
	q.enqueue(news("b", StateSuspect, 0, "c"))
	sent := 0
	for q.len() > 0 {
		require.Len(t, q.take(nil, 1400, 8), 1)
		sent++
	}
	require.Equal(t, 8, sent)
}

func TestFewestSentUpdatesGoFirstAndNewestAmongEquals(t *testing.T) {
	var q broadcastQueue
	q.enqueue(news("b", StateAlive, 0, "b"))
	q.take(nil, 1400, 10) // b has been sent once
	q.enqueue(news("c", StateAlive, 0, "c"))
	q.enqueue(news("d", StateAlive, 0, "d"))
	got := q.take(nil, 1400, 10)
	require.Equal(t, []string{"d", "c", "b"}, updateIDs(got))
}

func TestNewerNewsAboutAMemberReplacesOlderNews(t *testing.T) {
	var q broadcastQueue
	q.enqueue(news("b", StateAlive, 0, "b"))
	q.enqueue(news("c", StateAlive, 0, "c"))
	q.enqueue(news("b", StateSuspect, 0, "c"))
	require.Equal(t, 2, q.len())
	got := q.take(nil, 1400, 10)
	require.Equal(t, []string{"b", "c"}, updateIDs(got))
	require.Equal(t, StateSuspect, got[0].Member.State)
}

func TestMessageTakesOnlyTheUpdatesThatFitItsBudget(t *testing.T) {
	n := newTestNode(t, "a", func(cfg *Config) { cfg.MaxMessageBytes = 512 })
	introduce(n, "b")
	for i := 0; i < 40; i++ {
		n.queue.enqueue(news(fmt.Sprintf("member-%02d", i), StateAlive, 0, "x"))
	}
	n.send(Message{Type: MsgGossip, To: addrOf("b"), ToID: "b"})
	out := n.Outbox()
	require.Len(t, out, 1)
	b, err := out[0].Marshal()
	require.NoError(t, err)
	require.LessOrEqual(t, len(b), 512)
	require.NotEmpty(t, out[0].Updates)
	require.Less(t, len(out[0].Updates), 40, "not everything fits in 512 bytes")
	require.Equal(t, 40, n.queue.len(), "updates that did not fit wait for the next message")

	// A message never takes one update too big for any budget; the queue skips it, not everyone.
	n.queue.enqueue(Update{Member: Member{ID: "huge", Meta: Meta{RaftAddr: strings.Repeat("x", 600)}}})
	n.send(Message{Type: MsgGossip, To: addrOf("b"), ToID: "b"})
	got := n.Outbox()[0].Updates
	require.NotEmpty(t, got)
	require.NotContains(t, updateIDs(got), "huge")
}

func TestUpdatesRideOnPingsAcksAndPingReqs(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b", "c", "d", "e")
	n.queue.enqueue(news("z", StateAlive, 0, "z"))
	n.send(Message{Type: MsgPing, To: addrOf("b"), ToID: "b", Seq: 1})
	n.send(Message{Type: MsgAck, To: addrOf("b"), ToID: "b", Seq: 1})
	n.send(Message{Type: MsgPingReq, To: addrOf("b"), ToID: "b", Seq: 1, Target: "c", TargetAddr: addrOf("c")})
	n.send(Message{Type: MsgPushPull, To: addrOf("b"), ToID: "b"})
	out := n.Outbox()
	for _, m := range out[:3] {
		require.Equal(t, []string{"z"}, updateIDs(m.Updates), "%v should carry the update", m.Type)
	}
	require.Empty(t, out[3].Updates, "push-pull carries whole tables, not updates")
}

func updateIDs(us []Update) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Member.ID)
	}
	return out
}

func TestQueueKeepsSendingOrderThroughManyTakes(t *testing.T) {
	// A reference model: the same rules written the slow, obvious way (sort everything each time).
	type ref struct {
		u                Update
		transmits, order int
	}
	var model []*ref
	var q broadcastQueue
	rng := rand.New(rand.NewSource(7))
	order := 0
	for step := 0; step < 2000; step++ {
		if rng.Intn(3) == 0 {
			id := fmt.Sprintf("m%02d", rng.Intn(30))
			u := news(id, State(rng.Intn(4)), uint64(rng.Intn(5)), strings.Repeat("x", rng.Intn(200)))
			q.enqueue(u)
			order++
			model = slices.DeleteFunc(model, func(r *ref) bool { return r.u.Member.ID == id })
			model = append(model, &ref{u: u, order: order})
			continue
		}
		budget, limit := 200+rng.Intn(1200), 1+rng.Intn(8)
		// The limit falls when the cluster shrinks: what has been sent enough is retired unsent.
		model = slices.DeleteFunc(model, func(r *ref) bool { return r.transmits >= limit })
		sort.SliceStable(model, func(i, j int) bool {
			a, b := model[i], model[j]
			if a.transmits != b.transmits {
				return a.transmits < b.transmits
			}
			return a.order > b.order
		})
		var want []Update
		left := budget
		for _, r := range model {
			if left < smallestUpdate {
				break
			}
			if size := encodedSize(r.u); size <= left {
				left -= size
				want = append(want, r.u)
				r.transmits++
			}
		}
		model = slices.DeleteFunc(model, func(r *ref) bool { return r.transmits >= limit })
		require.Equal(t, want, q.take(nil, budget, limit), "step %d", step)
		require.Equal(t, len(model), q.len(), "step %d", step)
	}
}

func TestRetransmitLimitFollowsTheNumberOfLiveMembers(t *testing.T) {
	n := newTestNode(t, "a", nil)
	var ids []string
	for i := 0; i < 10; i++ {
		ids = append(ids, fmt.Sprintf("m%d", i))
	}
	introduce(n, ids...)
	require.Equal(t, 11, n.liveCount())
	n.apply(news("m0", StateDead, 0, "x"))
	n.apply(news("m1", StateLeft, 0, "m1"))
	require.Equal(t, 9, n.liveCount())
	n.apply(news("m2", StateSuspect, 0, "x"))
	require.Equal(t, 9, n.liveCount(), "a suspect still counts")
	for n.members["m2"].State == StateSuspect {
		n.Tick()
	}
	require.Equal(t, 8, n.liveCount(), "until its suspicion runs out")
	n.apply(news("m0", StateAlive, 1, "m0"))
	require.Equal(t, 9, n.liveCount())
	require.NoError(t, n.Leave())
	require.Equal(t, 8, n.liveCount())

	// Eight live members: ceil(log10(9)) = 1, so each update goes out RetransmitMult times.
	n.queue = broadcastQueue{}
	n.queue.enqueue(news("zz", StateAlive, 0, "zz"))
	sent := 0
	for n.queue.has("zz") {
		n.send(Message{Type: MsgGossip, To: addrOf("m3"), ToID: "m3"})
		sent++
	}
	require.Equal(t, 4, sent)
}
