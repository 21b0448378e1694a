// The grader of lab 6 (`kanna lab check 6`, docs/labs.md): black-box tests of the SWIM failure
// detector through the core's exported API (Tick, Step, Outbox, Member), one per rule of SWIM §3.1
// and §4.2, each named after its rule and failing with the rule and the evidence.

package gossip_test

import (
	"math/rand"
	"testing"

	"github.com/kanna-cluster/kanna/gossip"
)

// labMember starts member m1 knowing m2..m(n) alive, with fixed probe periods (no local health):
// a period of 10 ticks, a probe timeout of 5.
func labMember(t *testing.T, n int) *gossip.Node {
	t.Helper()
	cfg := gossip.DefaultLANConfig("m1", "addr-m1")
	cfg.Rand = rand.New(rand.NewSource(7))
	cfg.LocalHealth = false
	g, err := gossip.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table []gossip.Member
	for i := 1; i <= n; i++ {
		id := "m" + string(rune('0'+i))
		table = append(table, gossip.Member{ID: id, Addr: "addr-" + id})
	}
	if err := g.Step(gossip.Message{Type: gossip.MsgPushPullReply, From: "m2", FromAddr: "addr-m2", To: "addr-m1", ToID: "m1", State: table}); err != nil {
		t.Fatal(err)
	}
	g.Outbox()
	g.Events()
	return g
}

// tickUntil ticks g until a message of type typ leaves, at most limit times; it returns the
// messages of that tick and how many ticks it took, or nil.
func tickUntil(g *gossip.Node, typ gossip.MessageType, limit int) ([]gossip.Message, int) {
	for i := 1; i <= limit; i++ {
		g.Tick()
		var hit []gossip.Message
		for _, m := range g.Outbox() {
			if m.Type == typ {
				hit = append(hit, m)
			}
		}
		if len(hit) > 0 {
			return hit, i
		}
	}
	return nil, limit
}

func notWritten(t *testing.T) {
	if r := recover(); r != nil {
		t.Fatalf("%v", r)
	}
}

func TestLab6_ProbeOneMemberPerPeriod(t *testing.T) {
	defer notWritten(t)
	g := labMember(t, 5)
	var targets []string
	lastAt, now := 0, 0
	for len(targets) < 8 {
		pings, took := tickUntil(g, gossip.MsgPing, 30)
		now += took
		if len(pings) != 1 {
			t.Fatalf("rule SWIM §3.1: in one tick m1 sent %d pings (%v); a member pings one member per protocol period", len(pings), pings)
		}
		if len(targets) > 0 && now-lastAt != 10 {
			t.Fatalf("rule SWIM §3.1: m1's pings came %d ticks apart; with every ping acknowledged, the protocol period is 10 ticks", now-lastAt)
		}
		lastAt = now
		targets = append(targets, pings[0].ToID)
		if err := g.Step(gossip.Message{Type: gossip.MsgAck, From: pings[0].ToID, FromAddr: pings[0].To, To: "addr-m1", ToID: "m1", Seq: pings[0].Seq}); err != nil {
			t.Fatal(err)
		}
	}
	for pass := range 2 {
		seen := map[string]bool{}
		for _, id := range targets[4*pass : 4*pass+4] {
			if id == "m1" || seen[id] {
				t.Fatalf("rule SWIM §4.3: m1 pinged %v in turn; each pass over the 4 other members must ping each exactly once (round robin over a shuffled list)", targets)
			}
			seen[id] = true
		}
	}
}

func TestLab6_IndirectProbeAfterTimeout(t *testing.T) {
	defer notWritten(t)
	g := labMember(t, 5)
	pings, _ := tickUntil(g, gossip.MsgPing, 30)
	if len(pings) != 1 {
		t.Fatalf("rule SWIM §3.1: m1 sent no ping in 30 ticks")
	}
	target := pings[0].ToID
	reqs, took := tickUntil(g, gossip.MsgPingReq, 10)
	if reqs == nil {
		t.Fatalf("rule SWIM §3.1: m1's ping to %s went unanswered, and 10 ticks later (the probe timeout is 5) m1 had asked nobody to ping it indirectly", target)
	}
	if took != 5 {
		t.Fatalf("rule SWIM §3.1: m1 sent its ping-reqs %d ticks after the ping; send them when the probe timeout (5 ticks) passes without an ack", took)
	}
	relays := map[string]bool{}
	for _, r := range reqs {
		if r.Target != target || r.ToID == target || r.ToID == "m1" || relays[r.ToID] {
			t.Fatalf("rule SWIM §3.1: m1's ping-reqs %v: each must go to a different member other than the target %s, and name %s as Target", reqs, target, target)
		}
		relays[r.ToID] = true
	}
	if len(reqs) != 3 {
		t.Fatalf("rule SWIM §3.1: m1 sent %d ping-reqs; IndirectChecks is 3 and 3 other members are alive", len(reqs))
	}
}

func TestLab6_RelayPingsTargetAndForwardsAck(t *testing.T) {
	defer notWritten(t)
	g := labMember(t, 5)
	if err := g.Step(gossip.Message{Type: gossip.MsgPingReq, From: "m2", FromAddr: "addr-m2", To: "addr-m1", ToID: "m1", Seq: 77, Target: "m3", TargetAddr: "addr-m3"}); err != nil {
		t.Fatal(err)
	}
	var ping *gossip.Message
	for _, m := range g.Outbox() {
		if m.Type == gossip.MsgPing && m.To == "addr-m3" {
			ping = &m
		}
	}
	if ping == nil {
		t.Fatalf("rule SWIM §3.1: m2 asked m1 to ping m3 (ping-req), and m1 sent m3 no ping")
	}
	if err := g.Step(gossip.Message{Type: gossip.MsgAck, From: "m3", FromAddr: "addr-m3", To: "addr-m1", ToID: "m1", Seq: ping.Seq}); err != nil {
		t.Fatal(err)
	}
	for _, m := range g.Outbox() {
		if m.Type == gossip.MsgAck && m.To == "addr-m2" && m.Seq == 77 {
			return
		}
	}
	t.Fatalf("rule SWIM §3.1: m3 acknowledged the ping m1 sent for m2, and m1 did not forward the ack to m2 with m2's sequence number 77")
}

func TestLab6_SuspectWhenNoAck(t *testing.T) {
	defer notWritten(t)
	g := labMember(t, 5)
	// First period: the direct ping is lost but a relay's ack comes back: the target stays alive.
	pings, _ := tickUntil(g, gossip.MsgPing, 30)
	first := pings[0].ToID
	reqs, _ := tickUntil(g, gossip.MsgPingReq, 10)
	if reqs == nil {
		t.Fatalf("rule SWIM §3.1: m1 never sent ping-reqs for its unanswered ping to %s", first)
	}
	if err := g.Step(gossip.Message{Type: gossip.MsgAck, From: reqs[0].ToID, FromAddr: reqs[0].To, To: "addr-m1", ToID: "m1", Seq: reqs[0].Seq}); err != nil {
		t.Fatal(err)
	}
	pings, _ = tickUntil(g, gossip.MsgPing, 30)
	if m, _ := g.Member(first); m.State != gossip.StateAlive {
		t.Fatalf("rule SWIM §3.1: %s answered through relay %s, yet m1 holds it %v; an ack relayed by a ping-req counts as an ack", first, reqs[0].ToID, m.State)
	}
	// Second period: nothing comes back at all.
	second := pings[0].ToID
	tickUntil(g, gossip.MsgPing, 30)
	if m, _ := g.Member(second); m.State != gossip.StateSuspect {
		t.Fatalf("rule SWIM §4.2: %s answered neither m1's ping nor the ping-reqs within the protocol period, and m1 holds it %v; it must become suspect", second, m.State)
	}
}

func TestLab6_SuspectDeclaredDeadAfterTimeout(t *testing.T) {
	defer notWritten(t)
	g := labMember(t, 5)
	pings, _ := tickUntil(g, gossip.MsgPing, 30)
	target := pings[0].ToID
	tickUntil(g, gossip.MsgPing, 30)
	if m, _ := g.Member(target); m.State != gossip.StateSuspect {
		t.Fatalf("rule SWIM §4.2: %s answered nothing for a whole period and is %v, not suspect", target, m.State)
	}
	for i := 1; i <= 400; i++ {
		g.Tick()
		g.Outbox()
		m, _ := g.Member(target)
		if m.State == gossip.StateDead {
			if i < 40 {
				t.Fatalf("rule SWIM §4.2: m1 declared %s dead %d ticks after suspecting it; the suspicion timeout (at least 4 periods of 10 ticks here) gives it time to refute", target, i)
			}
			return
		}
	}
	t.Fatalf("rule SWIM §4.2: %s has been suspect for 400 ticks without refuting, and m1 still does not declare it dead", target)
}

func TestLab6_RefuteSuspicionWithHigherIncarnation(t *testing.T) {
	defer notWritten(t)
	g := labMember(t, 5)
	rumour := gossip.Update{Member: gossip.Member{ID: "m1", Addr: "addr-m1", State: gossip.StateSuspect, Incarnation: 0}, From: "m2"}
	if err := g.Step(gossip.Message{Type: gossip.MsgGossip, From: "m2", FromAddr: "addr-m2", To: "addr-m1", ToID: "m1", Updates: []gossip.Update{rumour}}); err != nil {
		t.Fatal(err)
	}
	self, _ := g.Member("m1")
	if self.State != gossip.StateAlive || self.Incarnation != 1 {
		t.Fatalf("rule SWIM §4.2: m2 gossiped that m1 is suspect at incarnation 0; m1 now holds itself %v at incarnation %d, want alive at incarnation 1", self.State, self.Incarnation)
	}
	for range 20 {
		g.Tick()
		for _, m := range g.Outbox() {
			for _, u := range m.Updates {
				if u.Member.ID == "m1" && u.Member.State == gossip.StateAlive && u.Member.Incarnation == 1 {
					return
				}
			}
		}
	}
	t.Fatalf("rule SWIM §4.2: m1 raised its incarnation to refute the suspicion but did not gossip \"m1 alive at incarnation 1\" in 20 ticks")
}
