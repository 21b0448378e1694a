// Tests of the precedence rules of SWIM §4.2 (member.go, state.go) and of member metadata.

package gossip

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// newTestNode returns a core named id at "addr-id" with the default LAN config, changed by tune.
func newTestNode(t testing.TB, id string, tune func(*Config)) *Node {
	t.Helper()
	cfg := DefaultLANConfig(id, addrOf(id))
	cfg.Rand = rand.New(rand.NewSource(42))
	if tune != nil {
		tune(&cfg)
	}
	n, err := New(cfg)
	require.NoError(t, err)
	return n
}

// introduce makes n know each id as alive at incarnation 0, and forgets the resulting output.
func introduce(n *Node, ids ...string) {
	for _, id := range ids {
		n.apply(Update{Member: Member{ID: id, Addr: addrOf(id), State: StateAlive}, From: id})
	}
	n.Outbox()
	n.Events()
	n.queue = broadcastQueue{}
}

func news(id string, s State, inc uint64, from string) Update {
	return Update{Member: Member{ID: id, Addr: addrOf(id), Incarnation: inc, State: s}, From: from}
}

func TestPrecedenceRulesOfTheSuspicionMechanism(t *testing.T) {
	for _, tc := range []struct {
		rule      string
		cur       State
		curInc    uint64
		incoming  State
		inc       uint64
		overrides bool
	}{
		{"alive with a higher incarnation overrides alive", StateAlive, 1, StateAlive, 2, true},
		{"alive with the same incarnation does not override alive", StateAlive, 1, StateAlive, 1, false},
		{"alive with a higher incarnation overrides suspect", StateSuspect, 1, StateAlive, 2, true},
		{"alive with the same incarnation does not override suspect", StateSuspect, 1, StateAlive, 1, false},
		{"suspect overrides alive with the same incarnation", StateAlive, 1, StateSuspect, 1, true},
		{"suspect with a higher incarnation overrides alive", StateAlive, 1, StateSuspect, 2, true},
		{"suspect with a lower incarnation does not override alive", StateAlive, 2, StateSuspect, 1, false},
		{"suspect with a higher incarnation overrides suspect", StateSuspect, 1, StateSuspect, 2, true},
		{"dead overrides alive of its incarnation", StateAlive, 1, StateDead, 1, true},
		{"dead overrides suspect of its incarnation", StateSuspect, 1, StateDead, 1, true},
		{"dead overrides suspect of a lower incarnation", StateSuspect, 1, StateDead, 3, true},
		{"dead of a lower incarnation does not override alive", StateAlive, 2, StateDead, 1, false},
		{"alive of the same incarnation does not revive the dead", StateDead, 1, StateAlive, 1, false},
		{"alive of a higher incarnation revives the dead", StateDead, 1, StateAlive, 2, true},
		{"left is final for its incarnation: not alive", StateLeft, 1, StateAlive, 1, false},
		{"left is final for its incarnation: not suspect", StateLeft, 1, StateSuspect, 1, false},
		{"left is final for its incarnation: not dead", StateLeft, 1, StateDead, 1, false},
		{"left overrides dead of its incarnation", StateDead, 1, StateLeft, 1, true},
		{"a higher incarnation overrides left", StateLeft, 1, StateAlive, 2, true},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			require.Equal(t, tc.overrides, precedes(tc.incoming, tc.inc, tc.cur, tc.curInc))

			// The same rule, through the node: set the record, apply the news, look.
			n := newTestNode(t, "a", nil)
			introduce(n, "b")
			rec := n.members["b"]
			rec.State, rec.Incarnation = tc.cur, tc.curInc
			if tc.cur == StateSuspect {
				rec.suspicion = n.newSuspicion("c")
			}
			n.apply(news("b", tc.incoming, tc.inc, "c"))
			got, _ := n.Member("b")
			if tc.overrides {
				require.Equal(t, tc.incoming, got.State)
				require.Equal(t, tc.inc, got.Incarnation)
				require.Equal(t, 1, n.queue.len(), "news that wins must be passed on")
			} else {
				require.Equal(t, tc.cur, got.State)
				require.Equal(t, tc.curInc, got.Incarnation)
				require.Zero(t, n.queue.len(), "news that loses must not be passed on")
			}
		})
	}
}

func TestNewsAboutAnUnknownMemberOtherThanAliveIsIgnored(t *testing.T) {
	n := newTestNode(t, "a", nil)
	for _, s := range []State{StateSuspect, StateDead, StateLeft} {
		n.apply(news("ghost", s, 5, "c"))
	}
	_, ok := n.Member("ghost")
	require.False(t, ok)
	n.apply(news("ghost", StateAlive, 0, "ghost"))
	_, ok = n.Member("ghost")
	require.True(t, ok)
}

func TestMemberRefutesSuspicionByRaisingItsIncarnation(t *testing.T) {
	for _, s := range []State{StateSuspect, StateDead, StateLeft} {
		t.Run(s.String(), func(t *testing.T) {
			n := newTestNode(t, "a", nil)
			introduce(n, "b")
			n.apply(news("a", s, 0, "b"))
			self, _ := n.Member("a")
			require.Equal(t, StateAlive, self.State)
			require.Equal(t, uint64(1), self.Incarnation)
			require.Equal(t, 1, n.queue.len(), "the refutation must be broadcast")
			require.Equal(t, 1, n.LocalHealth(), "refuting raises the local health score (Lifeguard LHA-Probe)")

			// Old news about an incarnation already refuted provokes nothing.
			n.apply(news("a", s, 0, "b"))
			self, _ = n.Member("a")
			require.Equal(t, uint64(1), self.Incarnation)
		})
	}
}

func TestMemberRefutesAliveNewsOfAnIncarnationItNeverHad(t *testing.T) {
	n := newTestNode(t, "a", nil)
	n.apply(news("a", StateAlive, 7, "b"))
	self, _ := n.Member("a")
	require.Equal(t, uint64(8), self.Incarnation)
	n.apply(news("a", StateAlive, 3, "b"))
	self, _ = n.Member("a")
	require.Equal(t, uint64(8), self.Incarnation)

	// Our own record coming back changes nothing; the same incarnation at another address is an
	// earlier life's record, refuted.
	n.apply(Update{Member: self, From: "b"})
	self, _ = n.Member("a")
	require.Equal(t, uint64(8), self.Incarnation)
	earlier := self
	earlier.Addr = "10.9.9.9:7946"
	n.apply(Update{Member: earlier, From: "b"})
	self, _ = n.Member("a")
	require.Equal(t, uint64(9), self.Incarnation)
	require.Equal(t, addrOf("a"), self.Addr)
}

func TestLeavingMemberDoesNotRefute(t *testing.T) {
	n := newTestNode(t, "a", nil)
	introduce(n, "b")
	require.NoError(t, n.Leave())
	n.apply(news("a", StateDead, 0, "b"))
	self, _ := n.Member("a")
	require.Equal(t, StateLeft, self.State)
	require.Zero(t, self.Incarnation)
}

func TestMetaTagsAreSortedAndFound(t *testing.T) {
	m := NewMeta("10.0.0.1:7000", map[string]string{"zone": "b", "dc": "x", "role": "voter"})
	require.Equal(t, []Tag{{"dc", "x"}, {"role", "voter"}, {"zone", "b"}}, m.Tags)
	v, ok := m.Tag("role")
	require.True(t, ok)
	require.Equal(t, "voter", v)
	_, ok = m.Tag("missing")
	require.False(t, ok)
	require.True(t, m.Equal(NewMeta("10.0.0.1:7000", map[string]string{"role": "voter", "zone": "b", "dc": "x"})))
	require.False(t, m.Equal(NewMeta("10.0.0.1:7000", map[string]string{"role": "voter"})))
	require.False(t, m.Equal(NewMeta("10.0.0.2:7000", map[string]string{"zone": "b", "dc": "x", "role": "voter"})))
	require.False(t, m.Equal(NewMeta("10.0.0.1:7000", map[string]string{"zone": "c", "dc": "x", "role": "voter"})))
}

func TestStateAndTypeNames(t *testing.T) {
	require.Equal(t, "alive suspect dead left State(9)",
		StateAlive.String()+" "+StateSuspect.String()+" "+StateDead.String()+" "+StateLeft.String()+" "+State(9).String())
	var names []string
	for ty := MsgPing; ty <= MsgPushPullReply+1; ty++ {
		names = append(names, ty.String())
	}
	require.Equal(t, []string{"ping", "ack", "ping-req", "nack", "gossip", "push-pull", "push-pull-reply", "MessageType(8)"}, names)
	names = nil
	for ty := EventJoined; ty <= EventRecovered+1; ty++ {
		names = append(names, ty.String())
	}
	require.Equal(t, []string{"joined", "updated", "suspect", "failed", "left", "recovered", "EventType(7)"}, names)
	require.Equal(t, "failed b inc=3", Event{Type: EventFailed, Member: Member{ID: "b", Incarnation: 3}}.String())
}

func TestCoreKeepsItsOwnCopyOfWhatItIsTold(t *testing.T) {
	tags := []Tag{{"zone", "a"}}
	cfg := DefaultLANConfig("a", addrOf("a"))
	cfg.Rand = rand.New(rand.NewSource(1))
	cfg.Meta = Meta{Tags: tags}
	n, err := New(cfg)
	require.NoError(t, err)
	msg := Message{Type: MsgGossip, From: "b", FromAddr: addrOf("b"), ToID: "a",
		Updates: []Update{{Member: Member{ID: "b", Addr: addrOf("b"), Meta: Meta{Tags: tags}}, From: "b"}}}
	require.NoError(t, n.Step(msg))
	require.NoError(t, n.UpdateMeta(Meta{Tags: tags}))

	tags[0].Value = "changed by the caller"
	for _, id := range []string{"a", "b"} {
		m, _ := n.Member(id)
		require.Equal(t, "a", m.Meta.Tags[0].Value, "record of %s", id)
	}
}
