// Tests of the dashboard: a card per node, events for elections and nodes going silent, and the
// control buttons (crash and restart through the supervisor, isolate and heal through the nodes).
package web

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// cards waits for a cluster message for which match holds, and returns its nodes.
func (b *browser) cards(match func(nodes []any) bool) []any {
	b.t.Helper()
	m := b.expect("cluster", func(m map[string]any) bool { return match(m["nodes"].([]any)) })
	return m["nodes"].([]any)
}

// eventText waits for an event whose text contains want.
func (b *browser) eventText(want string) {
	b.t.Helper()
	b.sawEventually("event "+strconv.Quote(want), func(m map[string]any) bool {
		if m["type"] != "events" {
			return false
		}
		for _, e := range m["events"].([]any) {
			if strings.Contains(e.(map[string]any)["text"].(string), want) {
				return true
			}
		}
		return false
	})
}

func card(nodes []any, id float64) map[string]any {
	for _, n := range nodes {
		if c := n.(map[string]any); c["id"] == id {
			return c
		}
	}
	return nil
}

func TestDashboardShowsACardPerNodeWithItsRaftAndGossipState(t *testing.T) {
	r := newRig(t, 3, nil)
	d := r.open("dash")
	d.ok("watch_cluster", nil)
	nodes := d.cards(func(nodes []any) bool {
		for _, n := range nodes {
			if n.(map[string]any)["up"] != true {
				return false
			}
		}
		return len(nodes) == 3
	})
	for i, n := range nodes {
		c := n.(map[string]any)
		require.Equal(t, float64(i+1), c["id"])
		require.Equal(t, float64(1), c["leader"], "every node follows node 1")
		require.Len(t, c["gossip"], 3)
		require.Equal(t, []any{float64(1), float64(2), float64(3)}, c["voters"])
	}
	require.Equal(t, "leader", card(nodes, 1)["role"])
	require.Equal(t, "follower", card(nodes, 2)["role"])
}

func TestDashboardCardsCarryTheLogTailAndTheEventsReplayTheStartUpElection(t *testing.T) {
	r := newRig(t, 3, nil)
	g := r.open("game")
	g.ok("create_room", map[string]any{"room": "Foo"})
	g.ok("join_room", map[string]any{"room": "Foo", "player": "alice"})
	g.ok("guess", map[string]any{"room": "Foo", "player": "alice", "letter": "e"})

	d := r.open("dash")
	d.ok("watch_cluster", nil)
	d.eventText("node 1 won the election for term 1")
	d.eventText("committed: alice guessed e in room Foo")
	nodes := d.cards(func(nodes []any) bool {
		l := card(nodes, 1)["log"].([]any)
		return len(l) > 0 && l[len(l)-1].(map[string]any)["text"] == "alice guessed e in room Foo"
	})
	last := card(nodes, 1)["log"].([]any)
	require.Equal(t, card(nodes, 1)["last_index"], last[len(last)-1].(map[string]any)["index"])
	require.Equal(t, "command", last[len(last)-1].(map[string]any)["kind"])
}

func TestGamePagesAreToldWhenTheClusterLosesItsMajorityAndWhenItCommitsAgain(t *testing.T) {
	r := newRig(t, 3, nil)
	g := r.open("game")
	g.ok("create_room", map[string]any{"room": "Foo"})
	g.ok("watch_room", map[string]any{"room": "Foo"})
	g.expect("health", func(m map[string]any) bool { return m["state"] == "ok" })

	require.NoError(t, r.cluster.Crash(1))
	require.NoError(t, r.cluster.Crash(2))
	m := g.expect("health", func(m map[string]any) bool { return m["state"] == "no_majority" })
	require.Equal(t, "waiting for a majority (1 of 3 up): the cluster needs 2 to commit a guess", m["text"])

	require.NoError(t, r.cluster.Restart(2))
	g.expect("health", func(m map[string]any) bool { return m["state"] == "ok" })
}

func TestCrashingTheLeaderFromTheDashboardShowsANewLeader(t *testing.T) {
	r := newRig(t, 3, nil)
	d := r.open("dash")
	d.ok("watch_cluster", nil)
	d.cards(func(nodes []any) bool { return card(nodes, 1) != nil && card(nodes, 1)["role"] == "leader" })

	d.ok("control", map[string]any{"action": "crash", "node": 1})
	d.eventText("crash node 1")
	// A poll that was under way during the crash can show node 2 leading and node 1 still up (it
	// asked node 1 first): wait for a poll made wholly after the crash.
	d.cards(func(nodes []any) bool {
		return card(nodes, 2) != nil && card(nodes, 2)["role"] == "leader" && card(nodes, 1)["up"] == false
	})
	d.eventText("node 1 stopped answering")
	d.eventText("node 2 won the election for term 2")
	d.eventText("term 2 began")
	d.eventText("node 2's gossip: node 1 is dead")

	d.ok("control", map[string]any{"action": "restart", "node": 1})
	d.eventText("node 1 answers again")
	d.cards(func(nodes []any) bool { return card(nodes, 1)["up"] == true && card(nodes, 1)["role"] == "follower" })
}

func TestIsolateAndHealGoThroughTheNodes(t *testing.T) {
	r := newRig(t, 3, nil)
	d := r.open("dash")
	d.ok("watch_cluster", nil)
	d.cards(func(nodes []any) bool { return card(nodes, 3) != nil && card(nodes, 3)["up"] == true })

	d.ok("control", map[string]any{"action": "isolate", "node": 3})
	d.eventText("isolated node 3 from nodes [1 2]")
	// A card without drop rules may carry null or no list at all: both count as none.
	rules := func(c map[string]any) int { r, _ := c["drop_rules"].([]any); return len(r) }
	nodes := d.cards(func(nodes []any) bool { return rules(card(nodes, 3)) > 0 })
	require.Len(t, card(nodes, 3)["drop_rules"], 4)
	require.Equal(t, 1, r.cluster.Calls("DropTraffic"))

	d.ok("control", map[string]any{"action": "heal"})
	d.cards(func(nodes []any) bool { return rules(card(nodes, 3)) == 0 })
	require.Equal(t, 3, r.cluster.Calls("Heal"), "heal all reaches every node")
}

func TestCrashWithoutAControlEndpointIsRefused(t *testing.T) {
	r := newRig(t, 1, func(c *Config) { c.Control = nil })
	d := r.open("dash")
	d.sendJSON(map[string]any{"type": "hello", "client_id": d.id})
	m := d.expect("welcome", nil)
	require.Equal(t, false, m["control"])
	m = d.answer(d.request("control", map[string]any{"action": "crash", "node": 1}))
	require.Equal(t, "failed_precondition", m["code"])
	require.Contains(t, m["message"], "--control")
}

func TestHTTPControlPostsToTheDemoEndpoint(t *testing.T) {
	var mu sync.Mutex
	var got []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if strings.Contains(r.URL.Path, "/9/") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error": "no node 9"}`))
		}
	}))
	defer ts.Close()
	ctl, err := NewHTTPControl(ts.URL + "/")
	require.NoError(t, err)
	require.NoError(t, ctl.Crash(2))
	require.NoError(t, ctl.Restart(2))
	err = ctl.Crash(9)
	require.ErrorContains(t, err, "404")
	require.ErrorContains(t, err, "no node 9")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"POST /nodes/2/crash", "POST /nodes/2/restart", "POST /nodes/9/crash"}, got)

	_, err = NewHTTPControl("localhost:7070")
	require.Error(t, err)
}

func TestATermThatEndsWithoutAWinnerIsSaidSo(t *testing.T) {
	d := &dashboard{won: map[uint64]uint64{}}
	ev := func(kind kannapb.ClusterEventKind, node, term uint64, text string) []event {
		return d.fromNode(&kannapb.ClusterEvent{Node: node, Kind: kind, Term: term, Text: text, UnixMicros: 1})
	}
	termKind, roleKind := kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_TERM, kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_ROLE
	require.Equal(t, "term 2 began (node 1 moved to term 2)", ev(termKind, 1, 2, "node 1 moved to term 2")[0].Text)
	require.Empty(t, ev(termKind, 2, 2, "node 2 moved to term 2"), "a term is announced once")
	won := ev(roleKind, 1, 2, "node 1 won the election for term 2 and leads")
	require.Equal(t, "election", won[0].Kind)
	require.Len(t, ev(termKind, 3, 3, "node 3 moved to term 3"), 1, "term 2 had a winner")
	evs := ev(termKind, 2, 4, "node 2 moved to term 4")
	require.Len(t, evs, 2)
	require.Equal(t, "nobody won term 3: no candidate got votes from a majority before the next timeout", evs[0].Text)
	require.Equal(t, "term 4 began (node 2 moved to term 4)", evs[1].Text)
}
