// Tests of what a hostile or unlucky browser cannot do (issue 13): take over a player by name,
// exhaust room creation, get answers out of order, or get itself closed for flooding while it
// reads; and of how a node's session verdicts reach the page.
package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/game"
)

const (
	tokenA = "token-of-browser-a-0001"
	tokenB = "token-of-browser-b-0002"
)

func TestAPlayerWithATokenCannotBeTakenOverByAnotherBrowser(t *testing.T) {
	r := newRig(t, 1, nil)
	owner := r.open("owner")
	owner.ok("create_room", map[string]any{"room": "home"})
	owner.ok("join_room", map[string]any{"room": "home", "player": "kanna", "token": tokenA})

	thief := r.open("thief")
	m := thief.answer(thief.request("join_room", map[string]any{"room": "home", "player": "kanna", "token": tokenB}))
	require.Equal(t, "already_exists", m["code"], "%v", m)
	m = thief.answer(thief.request("join_room", map[string]any{"room": "home", "player": "kanna"}))
	require.Equal(t, "ok", m["type"], "a page without a token is let in as before")
	m = thief.answer(thief.request("guess", map[string]any{"letter": "k"}))
	require.Equal(t, "permission_denied", m["code"], "%v", m)

	// The owner's second tab (same browser, same token) plays on.
	tab := r.open("owner-tab")
	tab.ok("join_room", map[string]any{"room": "home", "player": "kanna", "token": tokenA})
	tab.ok("guess", map[string]any{"letter": "u"})
	owner.roomState(func(s map[string]any) bool { return guessed(s, "u") })
}

func TestRoomCreationIsLimitedPerSocketAndPerHost(t *testing.T) {
	r := newRig(t, 1, func(c *Config) {
		c.RoomsPerMinute, c.RoomBurst, c.HostRoomsPerMinute, c.HostRoomBurst = 0.001, 3, 0.001, 5
	})
	created := 0
	for s := 0; s < 4; s++ {
		b := r.open(fmt.Sprintf("maker%d", s))
		for i := 0; i < 4; i++ {
			m := b.answer(b.request("create_room", map[string]any{"room": fmt.Sprintf("r%d-%d", s, i)}))
			if m["type"] == "ok" {
				created++
			} else {
				require.Equal(t, "rate_limited", m["code"], "%v", m)
			}
		}
	}
	require.Equal(t, 5, created, "three per socket, five per host")
	require.Equal(t, 5, r.cluster.Calls("CreateRoom"), "a refused creation never reaches the cluster")
}

func TestAnswersKeepTheOrderOfPipelinedRequests(t *testing.T) {
	r := newRig(t, 1, nil)
	b := r.open("pipeliner")
	b.ok("create_room", map[string]any{"room": "line"})
	join := b.request("join_room", map[string]any{"room": "line", "player": "kanna"})
	bad := b.request("guess", map[string]any{"letter": "??"})
	require.Equal(t, "ok", b.answer(join)["type"])
	require.Equal(t, "invalid_argument", b.answer(bad)["code"])
	b.mu.Lock()
	defer b.mu.Unlock()
	order := []float64{}
	for _, m := range b.seen {
		if s, ok := m["seq"].(float64); ok && (m["type"] == "ok" || m["type"] == "error") && s >= float64(join) {
			order = append(order, s)
		}
	}
	require.Equal(t, []float64{float64(join), float64(bad)}, order, "the join is answered before the guess behind it")
}

func TestABrowserThatFloodsWhileReadingIsRateLimitedNotClosed(t *testing.T) {
	r := newRig(t, 1, func(c *Config) { c.SendQueue = 8 })
	b := r.open("flooder")
	for i := 0; i < 400; i++ {
		b.request("list_rooms", nil)
	}
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, m := range b.seen {
			if m["code"] == "rate_limited" {
				return true
			}
		}
		return false
	}, waitFor, 10*time.Millisecond)
	// Once the bucket refills, a request is served on the same socket.
	require.Eventually(t, func() bool {
		seq := b.request("list_rooms", nil)
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, m := range b.seen {
			if m["type"] == "rooms" && m["seq"].(float64) > 400 && m["seq"].(float64) < float64(seq) {
				return true
			}
		}
		return false
	}, waitFor, 200*time.Millisecond, "the flooding browser is served again")
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NoError(t, b.closed, "a browser that reads is never dropped as one that does not")
	require.Equal(t, 1, r.srv.connections())
}

func TestAnExpiredSessionReachesThePageAsSessionExpired(t *testing.T) {
	r := newRig(t, 3, nil)
	b := r.open("sleeper")
	b.ok("create_room", map[string]any{"room": "den"})
	seq := b.request("join_room", map[string]any{"room": "den", "player": "kanna"})
	join := map[string]any{"type": "join_room", "seq": seq, "room": "den", "player": "kanna"}
	require.Equal(t, "ok", b.answer(seq)["type"])

	// The page sleeps past the session timeout, then resends its last request as after a
	// reconnect: the node refuses it as a retry of an expired session, and no node is asked again.
	r.cluster.AdvanceClock(game.SessionTimeout)
	calls := r.cluster.Calls("JoinRoom")
	b.sendJSON(join)
	m := b.answer(seq)
	require.Equal(t, "session_expired", m["code"], "%v", m)
	require.Equal(t, calls+1, r.cluster.Calls("JoinRoom"), "session_expired is every node's answer: no retry elsewhere")
}
