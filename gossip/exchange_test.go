// Tests of joining, leaving, gossip and push-pull anti-entropy (exchange.go), of the events a core
// reports, and of the wire encoding and config checks.

package gossip

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestJoinPushesOurTableToTheSeedAndLearnsItsTable(t *testing.T) {
	a := newTestNode(t, "a", nil)
	seed := newTestNode(t, "s", nil)
	introduce(seed, "x")

	require.NoError(t, a.Join(addrOf("s"), addrOf("a")))
	out := a.Outbox()
	require.Len(t, out, 1, "a member does not join through itself")
	require.Equal(t, MsgPushPull, out[0].Type)
	require.Empty(t, out[0].ToID, "a joiner knows the seed only by address")

	require.NoError(t, seed.Step(out[0]))
	require.Equal(t, []EventType{EventJoined}, eventTypes(seed.Events()))
	reply := seed.Outbox()
	require.Len(t, reply, 1)
	require.Equal(t, MsgPushPullReply, reply[0].Type)
	require.Equal(t, []string{"a", "s", "x"}, memberIDs(reply[0].State))

	require.NoError(t, a.Step(reply[0]))
	require.Equal(t, []string{"a", "s", "x"}, memberIDs(a.Members()))
	require.Equal(t, []EventType{EventJoined, EventJoined}, eventTypes(a.Events()))

	var want []MemberState
	for _, m := range a.Members() {
		want = append(want, MemberState{ID: m.ID, State: m.State})
	}
	prefix := []MemberState{{ID: "kept"}}
	require.Equal(t, append(prefix, want...), a.AppendStates(prefix), "AppendStates reads what Members does, after dst")
}

func TestJoinNeedsASeedAndAMemberThatHasNotLeft(t *testing.T) {
	a := newTestNode(t, "a", nil)
	require.ErrorContains(t, a.Join(), "no seed addresses")
	require.NoError(t, a.Leave())
	require.ErrorContains(t, a.Join(addrOf("s")), "has left")
	require.ErrorContains(t, a.Leave(), "already leaving")
}

func TestPushPullMayPickAMemberBelievedDead(t *testing.T) {
	a := newTestNode(t, "a", func(cfg *Config) { cfg.PushPullInterval = time.Second })
	introduce(a, "b", "c")
	a.apply(news("b", StateDead, 0, "c"))
	a.apply(news("c", StateLeft, 0, "c"))
	a.nextProbe = 1 << 40
	partners := map[string]int{}
	for range 200 {
		a.Tick()
		for _, m := range a.Outbox() {
			if m.Type == MsgPushPull {
				partners[m.ToID]++
				require.NotEmpty(t, m.State)
			}
		}
	}
	require.Equal(t, 20, partners["b"], "the only member not left is the dead one; it gets every exchange")
	require.Zero(t, partners["c"], "a member that left is never a partner")
}

func TestPushPullTurnsRemoteDeathsIntoSuspicionsAndProvokesRefutation(t *testing.T) {
	a := newTestNode(t, "a", nil)
	introduce(a, "b", "c")
	remote := []Member{
		{ID: "a", Addr: addrOf("a"), State: StateDead},
		{ID: "b", Addr: addrOf("b"), State: StateDead},
		{ID: "c", Addr: addrOf("c"), State: StateAlive},
	}
	require.NoError(t, a.Step(Message{Type: MsgPushPull, From: "c", FromAddr: addrOf("c"), ToID: "a", State: remote}))
	require.Equal(t, StateSuspect, a.members["b"].State, "the remote view may be the stale one: suspect, do not kill")
	reply := a.Outbox()
	require.Len(t, reply, 1)
	self := reply[0].State[0]
	require.Equal(t, "a", self.ID)
	require.Equal(t, uint64(1), self.Incarnation, "the reply already carries our refutation")
	require.Equal(t, StateAlive, self.State)
}

func TestLeaveBroadcastsLeftAndStopsProbing(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b", "c", "d", "e")
	require.NoError(t, n.Leave())
	out := n.Outbox()
	require.Len(t, out, 3, "the goodbye goes to GossipNodes members at once")
	for _, m := range out {
		require.Equal(t, MsgGossip, m.Type)
		require.Equal(t, []Update{{Member: Member{ID: "a", Addr: addrOf("a"), State: StateLeft}, From: "a"}}, m.Updates)
	}
	goodbyes := 0
	for range 50 {
		n.Tick()
		for _, m := range n.Outbox() {
			require.NotEqual(t, MsgPing, m.Type, "a leaving member blames nobody")
			require.NotEqual(t, MsgPushPull, m.Type)
			require.Equal(t, MsgGossip, m.Type)
			require.Equal(t, StateLeft, m.Updates[0].Member.State)
			goodbyes++
		}
	}
	require.Equal(t, 25*3, goodbyes, "the goodbye goes to GossipNodes members every gossip interval")
	// It still answers pings until the shell stops it, so it is not suspected meanwhile, and the
	// answer says goodbye to a member the broadcast missed.
	require.NoError(t, n.Step(Message{Type: MsgPing, From: "b", FromAddr: addrOf("b"), ToID: "a", Seq: 3}))
	answer := n.Outbox()
	require.Len(t, answer, 1)
	require.Equal(t, MsgAck, answer[0].Type)
	require.Equal(t, []Update{{Member: Member{ID: "a", Addr: addrOf("a"), State: StateLeft}, From: "a"}}, answer[0].Updates)
}

func TestUpdatedMetaReachesOthersUnderANewIncarnation(t *testing.T) {
	a := newTestNode(t, "a", nil)
	b := newTestNode(t, "b", nil)
	introduce(b, "a")
	meta := NewMeta("raft-a:7000", map[string]string{"role": "voter"})
	require.NoError(t, a.UpdateMeta(meta))
	self, _ := a.Member("a")
	require.Equal(t, uint64(1), self.Incarnation)

	a.send(Message{Type: MsgGossip, To: addrOf("b"), ToID: "b"})
	require.NoError(t, b.Step(a.Outbox()[0]))
	evs := b.Events()
	require.Equal(t, []EventType{EventUpdated}, eventTypes(evs))
	require.Equal(t, meta, evs[0].Member.Meta)

	require.NoError(t, a.Leave())
	require.ErrorContains(t, a.UpdateMeta(meta), "has left")
}

func TestEventsReportEveryTransition(t *testing.T) {
	n := newTestNode(t, "a", nil)
	n.nextProbe = 1 << 40
	b := Member{ID: "b", Addr: addrOf("b"), Meta: NewMeta("raft-b", nil), State: StateAlive}
	steps := []struct {
		update Update
		want   []EventType
	}{
		{Update{Member: b, From: "b"}, []EventType{EventJoined}},
		{Update{Member: b, From: "b"}, nil}, // old news
		{withInc(b, 1, StateAlive, "raft-b2"), []EventType{EventUpdated}},
		{withInc(b, 2, StateAlive, "raft-b2"), nil}, // a refutation that changed nothing
		{withInc(b, 2, StateSuspect, "raft-b2"), []EventType{EventSuspect}},
		{withInc(b, 3, StateAlive, "raft-b2"), []EventType{EventRecovered}},
		{withInc(b, 3, StateDead, "raft-b2"), []EventType{EventFailed}},
		{withInc(b, 4, StateAlive, "raft-b2"), []EventType{EventRecovered}},
		{withInc(b, 4, StateLeft, "raft-b2"), []EventType{EventLeft}},
		{withInc(b, 5, StateAlive, "raft-b2"), []EventType{EventJoined}},
	}
	for i, s := range steps {
		n.apply(s.update)
		evs := n.Events()
		require.Equal(t, s.want, eventTypes(evs), "step %d", i)
		for _, e := range evs {
			require.Equal(t, s.update.Member, e.Member, "step %d: the event carries the record after the change", i)
		}
	}
}

func withInc(m Member, inc uint64, s State, raft string) Update {
	m.Incarnation, m.State, m.Meta = inc, s, NewMeta(raft, nil)
	return Update{Member: m, From: "c"}
}

func TestMembersAreSortedByIDAndCopied(t *testing.T) {
	n := newTestNode(t, "m", nil)
	n.apply(Update{Member: Member{ID: "z", Addr: "z", Meta: NewMeta("r", map[string]string{"k": "v"})}})
	n.apply(Update{Member: Member{ID: "b", Addr: "b"}})
	ms := n.Members()
	require.Equal(t, []string{"b", "m", "z"}, memberIDs(ms))
	ms[2].Meta.Tags[0].Value = "changed"
	z, _ := n.Member("z")
	require.Equal(t, "v", z.Meta.Tags[0].Value, "callers cannot change the core's records")
	_, ok := n.Member("nobody")
	require.False(t, ok)
	require.Equal(t, "m", n.ID())
}

func TestMessageRoundTripsThroughItsWireEncoding(t *testing.T) {
	m := Message{
		Type: MsgPingReq, From: "a", FromAddr: "10.0.0.1:7946", To: "10.0.0.2:7946", ToID: "b", Seq: 42,
		Target: "c", TargetAddr: "10.0.0.3:7946", Nack: true,
		Updates: []Update{{Member: Member{ID: "d", Addr: "10.0.0.4:7946", Incarnation: 3, State: StateSuspect,
			Meta: NewMeta("10.0.0.4:7000", map[string]string{"zone": "a"})}, From: "e"}},
		State: []Member{{ID: "f", Addr: "10.0.0.6:7946", State: StateLeft, Incarnation: 9}},
	}
	b, err := m.Marshal()
	require.NoError(t, err)
	got, err := Unmarshal(b)
	require.NoError(t, err)
	require.Equal(t, m, got)
}

func TestMessageStringSummarizesItForTraces(t *testing.T) {
	require.Equal(t, "ping-req a->b seq=4 target=c nack [suspect c inc=2, alive d inc=0]", Message{
		Type: MsgPingReq, From: "a", ToID: "b", Seq: 4, Target: "c", Nack: true,
		Updates: []Update{{Member: Member{ID: "c", State: StateSuspect, Incarnation: 2}}, {Member: Member{ID: "d"}}},
	}.String())
	require.Equal(t, "push-pull a->10.0.0.2:7946 table=1", Message{
		Type: MsgPushPull, From: "a", To: "10.0.0.2:7946", State: []Member{{ID: "a"}},
	}.String())
}

func TestUnmarshalRejectsWhatNoCoreSends(t *testing.T) {
	_, err := Unmarshal([]byte("not json"))
	require.ErrorContains(t, err, "decode gossip message")
	_, err = Unmarshal([]byte(`{"type":42,"from":"a","fromAddr":"x"}`))
	require.ErrorContains(t, err, "unknown type 42")
	_, err = Unmarshal([]byte(`{"type":1}`))
	require.ErrorContains(t, err, "no sender")
}

func TestConfigDefaultsConvertToTicks(t *testing.T) {
	cfg := DefaultLANConfig("a", "x")
	_, err := cfg.validate()
	require.ErrorIs(t, err, ErrInvalidConfig, "Rand is required")
	cfg.Rand = rand.New(rand.NewSource(1))
	tk, err := cfg.validate()
	require.NoError(t, err)
	require.Equal(t, ticks{probeInterval: 10, probeTimeout: 5, nackTimeout: 4, gossip: 2, pushPull: 300}, tk)
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		breaks func(*Config)
		want   string
	}{
		{"no id", func(c *Config) { c.ID = "" }, "ID is empty"},
		{"no addr", func(c *Config) { c.Addr = "" }, "Addr"},
		{"no rand", func(c *Config) { c.Rand = nil }, "Rand is nil"},
		{"no tick", func(c *Config) { c.TickInterval = 0 }, "TickInterval"},
		{"timeout under a tick", func(c *Config) { c.ProbeTimeout = time.Millisecond }, "shorter than one tick"},
		{"timeout over interval", func(c *Config) { c.ProbeTimeout = 2 * time.Second }, "not below ProbeInterval"},
		{"no gossip interval", func(c *Config) { c.GossipInterval = 0 }, "must be positive"},
		{"negative fan-out", func(c *Config) { c.GossipNodes = -1 }, "must not be negative"},
		{"zero multiplier", func(c *Config) { c.RetransmitMult = 0 }, "at least 1"},
		{"zero awareness", func(c *Config) { c.AwarenessMaxMultiplier = 0 }, "AwarenessMaxMultiplier"},
		{"tiny messages", func(c *Config) { c.MaxMessageBytes = 100 }, "MaxMessageBytes"},
		{"timeout and interval round together", func(c *Config) {
			c.TickInterval, c.ProbeTimeout, c.ProbeInterval = time.Second, 1500*time.Millisecond, 1900*time.Millisecond
		}, "round to the same number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultLANConfig("a", "x")
			cfg.Rand = rand.New(rand.NewSource(1))
			tc.breaks(&cfg)
			_, err := New(cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func memberIDs(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestPickDrawsDistinctQualifyingMembersUniformly(t *testing.T) {
	n := newTestNode(t, "a", nil)
	var ids []string
	for i := 0; i < 50; i++ {
		ids = append(ids, fmt.Sprintf("m%02d", i))
	}
	introduce(n, ids...)
	n.apply(news("m07", StateDead, 0, "x"))
	n.apply(news("m08", StateDead, 0, "x"))

	counts := map[string]int{}
	for range 2000 {
		got := n.pick(3, "m00", func(s State) bool { return s == StateAlive })
		require.Len(t, got, 3)
		seen := map[string]bool{}
		for _, m := range got {
			require.False(t, seen[m.ID], "picked %s twice", m.ID)
			seen[m.ID] = true
			require.NotContains(t, []string{"a", "m00", "m07", "m08"}, m.ID)
			counts[m.ID]++
		}
	}
	// 6000 draws over 47 members: about 128 each.
	require.Len(t, counts, 47)
	for id, c := range counts {
		require.InDelta(t, 128, c, 50, "member %s drawn %d times", id, c)
	}

	// When few qualify, every one of them is still found.
	dead := n.pick(5, "", func(s State) bool { return s == StateDead })
	require.ElementsMatch(t, []string{"m07", "m08"}, memberIDs(derefs(dead)))
}

func derefs(ms []*member) []Member {
	var out []Member
	for _, m := range ms {
		out = append(out, m.Member)
	}
	return out
}

func TestRecycledOutboxIsReusedOnlyWhenEmpty(t *testing.T) {
	a := newTestNode(t, "a", nil)
	require.NoError(t, a.Join(addrOf("s"), addrOf("x")))
	first := a.Outbox()
	require.Len(t, first, 2)
	a.RecycleOutbox(first)
	require.Empty(t, first[0].To, "a recycled array is cleared")
	require.NoError(t, a.Join(addrOf("s")))
	again := a.Outbox()
	require.Len(t, again, 1)
	require.Same(t, &first[0], &again[0], "the next messages reuse the array")
	require.Equal(t, addrOf("s"), again[0].To)

	require.NoError(t, a.Join(addrOf("x")))
	a.RecycleOutbox(again) // a message is queued: the array is not taken
	require.Equal(t, addrOf("s"), again[0].To)
	require.Equal(t, addrOf("x"), a.Outbox()[0].To)
}
