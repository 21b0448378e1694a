// Tests of the failure detector (SWIM §3.1, §4.3; probe.go) and of Lifeguard's local health,
// nacks and buddy system (Lifeguard LHA-Probe and Buddy System).

package gossip

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// nextPing ticks n until it pings someone, answering nothing, and returns the ping with the
// other messages sent meanwhile.
func nextPing(t *testing.T, n *Node) (ping Message, others []Message) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		n.Tick()
		for _, m := range n.Outbox() {
			if m.Type == MsgPing {
				ping = m
			} else {
				others = append(others, m)
			}
		}
		if ping.Type == MsgPing {
			return ping, others
		}
	}
	t.Fatal("no ping in 1000 ticks")
	return
}

// ack is the answer target gives to ping.
func ack(ping Message) Message {
	return Message{Type: MsgAck, From: ping.ToID, FromAddr: ping.To, To: ping.FromAddr, ToID: ping.From, Seq: ping.Seq}
}

func TestEachMemberIsProbedOncePerPassOfTheShuffledProbeOrder(t *testing.T) {
	n := newTestNode(t, "a", nil)
	peers := []string{"b", "c", "d", "e", "f", "g", "h"}
	introduce(n, peers...)
	var passes [][]string
	for range 3 {
		var pass []string
		for range peers {
			ping, _ := nextPing(t, n)
			pass = append(pass, ping.ToID)
			require.NoError(t, n.Step(ack(ping)))
		}
		require.ElementsMatch(t, peers, pass, "every member exactly once in each pass")
		passes = append(passes, pass)
	}
	// The first pass follows the random places members were inserted at; later passes are
	// reshuffles, and two reshuffles of seven members agree with chance 1/5040.
	require.NotEqual(t, passes[1], passes[2], "the order is reshuffled after each pass")
}

func TestNewMemberIsInsertedAtARandomPlaceInTheProbeOrder(t *testing.T) {
	places := map[int]bool{}
	for seed := int64(1); seed <= 20; seed++ {
		n := newTestNode(t, "a", func(cfg *Config) { cfg.Rand = rand.New(rand.NewSource(seed)) })
		introduce(n, "b", "c", "d", "e", "f")
		ping, _ := nextPing(t, n) // the first pass has begun
		require.NoError(t, n.Step(ack(ping)))
		introduce(n, "new")
		for i, id := range n.probeOrder {
			if id == "new" {
				places[i] = true
			}
		}
		// It is probed within this pass or the next.
		probed := false
		for range 2 * 6 {
			ping, _ := nextPing(t, n)
			probed = probed || ping.ToID == "new"
			require.NoError(t, n.Step(ack(ping)))
		}
		require.True(t, probed, "seed %d: the new member was not probed within two passes", seed)
	}
	require.Greater(t, len(places), 2, "a new member should land at different places, not always last")
}

func TestDeadAndLeftMembersAreNotProbed(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b", "c", "d")
	n.apply(news("b", StateDead, 0, "c"))
	n.apply(news("c", StateLeft, 0, "c"))
	for range 6 {
		ping, _ := nextPing(t, n)
		require.Equal(t, "d", ping.ToID)
		require.NoError(t, n.Step(ack(ping)))
	}
}

func TestUnansweredPingLeadsToKPingReqsAfterTheTimeoutThenSuspicion(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b", "c", "d", "e", "f")
	ping, _ := nextPing(t, n)
	sentAt := n.now
	var reqs []Message
	for len(reqs) == 0 {
		n.Tick()
		reqs = n.Outbox()
	}
	require.Equal(t, int64(5), n.now-sentAt, "ping-reqs go out after the 500ms probe timeout")
	require.Len(t, reqs, 3, "IndirectChecks members are asked")
	seen := map[string]bool{}
	for _, r := range reqs {
		require.Equal(t, MsgPingReq, r.Type)
		require.Equal(t, ping.ToID, r.Target)
		require.Equal(t, ping.Seq, r.Seq)
		require.True(t, r.Nack)
		require.NotEqual(t, ping.ToID, r.ToID, "the target is not asked to ping itself")
		seen[r.ToID] = true
	}
	require.Len(t, seen, 3, "three different relays")

	for n.now-sentAt < 10 {
		require.Equal(t, StateAlive, n.members[ping.ToID].State, "no suspicion before the period ends")
		n.Tick()
	}
	require.Equal(t, StateSuspect, n.members[ping.ToID].State)
	require.Equal(t, []EventType{EventSuspect}, eventTypes(n.Events()))
}

func TestFailedProbeSuspectsOnlyTheIncarnationItPinged(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b")
	ping, _ := nextPing(t, n)
	require.Equal(t, "b", ping.ToID)
	// While the ping is unanswered, b refutes an older suspicion: a new life, never pinged.
	n.apply(news("b", StateAlive, 1, "b"))
	n.Events()
	for n.probe != nil && n.probe.seq == ping.Seq {
		n.Tick()
	}
	b, _ := n.Member("b")
	require.Equal(t, StateAlive, b.State)
	require.Equal(t, uint64(1), b.Incarnation)
	require.Empty(t, n.Events())
}

func TestAckedProbeRaisesNoSuspicion(t *testing.T) {
	for _, relayed := range []bool{false, true} {
		t.Run(fmt.Sprintf("relayed=%v", relayed), func(t *testing.T) {
			n := newTestNode(t, "a", nil)
			introduce(n, "b", "c", "d", "e")
			ping, _ := nextPing(t, n)
			if relayed {
				for range 5 {
					n.Tick()
				}
				reqs := n.Outbox()
				require.NotEmpty(t, reqs)
				// The relay forwards the target's ack under the prober's sequence number.
				require.NoError(t, n.Step(Message{Type: MsgAck, From: reqs[0].ToID, FromAddr: reqs[0].To, ToID: "a", Seq: ping.Seq}))
			} else {
				require.NoError(t, n.Step(ack(ping)))
			}
			for range 12 {
				n.Tick()
			}
			require.Equal(t, StateAlive, n.members[ping.ToID].State)
			require.Empty(t, n.Events())
		})
	}
}

func TestPingReqRelayPingsTheTargetAndForwardsItsAck(t *testing.T) {
	r := newTestNode(t, "r", nil)
	require.NoError(t, r.Step(Message{Type: MsgPingReq, From: "a", FromAddr: addrOf("a"), ToID: "r", Seq: 77,
		Target: "b", TargetAddr: addrOf("b"), Nack: true}))
	out := r.Outbox()
	require.Len(t, out, 1)
	require.Equal(t, MsgPing, out[0].Type)
	require.Equal(t, "b", out[0].ToID)
	require.Equal(t, addrOf("b"), out[0].To)

	require.NoError(t, r.Step(ack(out[0])))
	fwd := r.Outbox()
	require.Len(t, fwd, 1)
	require.Equal(t, Message{Type: MsgAck, From: "r", FromAddr: addrOf("r"), To: addrOf("a"), ToID: "a", Seq: 77}, fwd[0])

	for range 10 {
		r.Tick()
	}
	for _, m := range r.Outbox() {
		require.NotEqual(t, MsgNack, m.Type, "no nack once the target answered")
	}
}

func TestPingReqRelayNacksWhenTheTargetStaysSilent(t *testing.T) {
	for _, want := range []bool{true, false} {
		t.Run(fmt.Sprintf("nack requested=%v", want), func(t *testing.T) {
			r := newTestNode(t, "r", nil)
			require.NoError(t, r.Step(Message{Type: MsgPingReq, From: "a", FromAddr: addrOf("a"), ToID: "r", Seq: 9,
				Target: "b", TargetAddr: addrOf("b"), Nack: want}))
			r.Outbox()
			var nacks []Message
			var at int64
			for range 10 {
				r.Tick()
				for _, m := range r.Outbox() {
					if m.Type == MsgNack {
						nacks = append(nacks, m)
						at = r.now
					}
				}
			}
			if !want {
				require.Empty(t, nacks)
				return
			}
			require.Len(t, nacks, 1)
			require.Equal(t, uint64(9), nacks[0].Seq)
			require.Equal(t, "a", nacks[0].ToID)
			require.Equal(t, int64(4), at, "nack at 80%% of the probe timeout, before the prober's period ends")
		})
	}
}

// failProbe runs one probe of n to its end with no ack, delivering nacks nacks, and returns the
// local health score afterwards.
func failProbe(t *testing.T, n *Node, nacks int) int {
	t.Helper()
	ping, _ := nextPing(t, n)
	for n.probe != nil && !n.probe.indirectSent {
		n.Tick()
	}
	for i := 0; i < nacks; i++ {
		require.NoError(t, n.Step(Message{Type: MsgNack, From: "relay", FromAddr: "x", ToID: "a", Seq: ping.Seq}))
	}
	for n.probe != nil && n.probe.seq == ping.Seq {
		n.Tick()
	}
	n.Outbox() // the next probe's ping, unanswered
	// Forget the suspicion the failure raised, so that later probes still have targets.
	for _, m := range n.members {
		if m.State == StateSuspect {
			m.State, m.suspicion = StateAlive, nil
		}
	}
	return n.LocalHealth()
}

func TestFailedProbeRaisesLocalHealthByTheNacksThatDidNotCome(t *testing.T) {
	for _, tc := range []struct {
		name         string
		peers        []string
		nacks        int
		before, want int
	}{
		{"three relays, no nack: our own messages are lost", []string{"b", "c", "d", "e"}, 0, 0, 3},
		{"three relays, one nack", []string{"b", "c", "d", "e"}, 1, 0, 2},
		{"three relays, three nacks: the target is down, not us", []string{"b", "c", "d", "e"}, 3, 4, 4},
		{"duplicated nacks do not count as health", []string{"b", "c", "d", "e"}, 5, 4, 4},
		{"no relay to ask: any failure counts once", []string{"b"}, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNode(t, "a", nil)
			introduce(n, tc.peers...)
			n.awareness.score = tc.before
			require.Equal(t, tc.want, failProbe(t, n, tc.nacks))
		})
	}
}

func TestLocalHealthIsBoundedAndFallsWithSuccessfulProbes(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b", "c", "d", "e")
	for range 5 {
		failProbe(t, n, 0)
	}
	require.Equal(t, 7, n.LocalHealth(), "the score stops at AwarenessMaxMultiplier-1")
	ping, _ := nextPing(t, n)
	require.NoError(t, n.Step(ack(ping)))
	nextPing(t, n)
	require.Equal(t, 6, n.LocalHealth())
}

func TestLocalHealthStretchesProbeIntervalAndTimeout(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		enabled                  bool
		interval, timeout, score int64
	}{
		{"Lifeguard", true, 30, 15, 2},
		{"SWIM", false, 10, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNode(t, "a", func(cfg *Config) { cfg.LocalHealth = tc.enabled })
			introduce(n, "b", "c", "d", "e")
			n.awareness.score = 2
			if !tc.enabled {
				n.awareness.score = 0
				failProbe(t, n, 0)
				require.Zero(t, n.LocalHealth(), "a switched-off multiplier never moves")
			}
			first, _ := nextPing(t, n)
			start := n.now
			var reqAt int64
			for n.probe.seq == first.Seq {
				n.Tick()
				for _, m := range n.Outbox() {
					if m.Type == MsgPingReq && reqAt == 0 {
						reqAt = n.now
					}
				}
			}
			require.Equal(t, tc.interval, n.now-start)
			require.Equal(t, tc.timeout, reqAt-start)
		})
	}
}

func TestPingToASuspectCarriesTheSuspicionSoItCanRefute(t *testing.T) {
	for _, buddy := range []bool{true, false} {
		t.Run(fmt.Sprintf("buddy=%v", buddy), func(t *testing.T) {
			n := newTestNode(t, "a", func(cfg *Config) { cfg.BuddySystem = buddy })
			introduce(n, "b")
			n.apply(news("b", StateSuspect, 0, "c"))
			n.queue = broadcastQueue{} // the suspicion has been gossiped to exhaustion
			ping, _ := nextPing(t, n)
			require.Equal(t, "b", ping.ToID)
			if !buddy {
				require.Empty(t, ping.Updates)
				return
			}
			require.Len(t, ping.Updates, 1)
			require.Equal(t, StateSuspect, ping.Updates[0].Member.State)
			require.Equal(t, "b", ping.Updates[0].Member.ID)

			// The suspect refutes in its very ack.
			b := newTestNode(t, "b", nil)
			require.NoError(t, b.Step(ping))
			answer := b.Outbox()
			require.Len(t, answer, 1)
			require.Equal(t, MsgAck, answer[0].Type)
			require.Equal(t, []Update{{Member: Member{ID: "b", Addr: addrOf("b"), Incarnation: 1, State: StateAlive}, From: "b"}},
				answer[0].Updates)
			require.NoError(t, n.Step(answer[0]))
			require.Equal(t, StateAlive, n.members["b"].State)
			require.Equal(t, []EventType{EventSuspect, EventRecovered}, eventTypes(n.Events()))
		})
	}
}

func TestAckToAMemberBelievedDeadTellsItSoItCanRefute(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b")
	n.apply(news("b", StateDead, 0, "c"))
	require.NoError(t, n.Step(Message{Type: MsgPing, From: "b", FromAddr: addrOf("b"), ToID: "a", Seq: 5}))
	ack := n.Outbox()
	require.Len(t, ack, 1)
	require.Equal(t, []Update{{Member: Member{ID: "b", Addr: addrOf("b"), State: StateDead}, From: "a"}}, ack[0].Updates[:1])

	// b had refuted that death already, so it does not refute again; it announces itself anew,
	// and its next message brings a the news.
	b := newTestNode(t, "b", nil)
	introduce(b, "a")
	b.self().Incarnation = 1
	require.NoError(t, b.Step(ack[0]))
	require.Equal(t, uint64(1), b.self().Incarnation)
	b.send(Message{Type: MsgPing, To: addrOf("a"), ToID: "a", Seq: 6})
	require.NoError(t, n.Step(b.Outbox()[0]))
	n.Outbox()
	rec, _ := n.Member("b")
	require.Equal(t, StateAlive, rec.State)
	require.Equal(t, uint64(1), rec.Incarnation)

	// An alive sender gets a plain ack.
	n.queue = broadcastQueue{}
	require.NoError(t, n.Step(Message{Type: MsgPing, From: "b", FromAddr: addrOf("b"), ToID: "a", Seq: 7}))
	require.Empty(t, n.Outbox()[0].Updates)
}

func TestStepIgnoresMessagesForAnotherMemberAndRejectsUnknownTypes(t *testing.T) {
	n := newTestNode(t, "a", nil)
	require.NoError(t, n.Step(Message{Type: MsgPing, From: "b", FromAddr: addrOf("b"), ToID: "someone-else", Seq: 1}))
	require.Empty(t, n.Outbox(), "a ping for the member that used to live here is not answered")
	require.NoError(t, n.Step(Message{Type: MsgPing, From: "a", FromAddr: addrOf("a"), ToID: "a", Seq: 1}))
	require.Empty(t, n.Outbox(), "a member does not answer itself")
	require.NoError(t, n.Step(Message{Type: MsgPing, From: "b", FromAddr: addrOf("b"), ToID: "a", Seq: 1}))
	require.Len(t, n.Outbox(), 1)
	err := n.Step(Message{Type: 99, From: "b", FromAddr: addrOf("b"), Updates: []Update{news("b", StateAlive, 0, "b")}})
	require.ErrorContains(t, err, "unknown type 99")
	_, known := n.Member("b")
	require.False(t, known, "nothing in a message of unknown type is trusted")
}
