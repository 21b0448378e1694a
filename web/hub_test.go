// Tests of the websocket hub against a fake cluster: fan-out to every browser in a room from one
// Watch stream, a slow browser dropped without holding up the others, and a room's stream moved to
// another node when its node dies or falls behind.
package web

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

func TestEveryBrowserInARoomSeesEachGuessFromOneWatchStream(t *testing.T) {
	r := newRig(t, 3, nil)
	alice, bob, carol := r.open("alice"), r.open("bob"), r.open("carol")
	alice.ok("create_room", map[string]any{"room": "maid cafe"})
	for _, b := range []*browser{alice, bob, carol} {
		b.ok("join_room", map[string]any{"room": "maid cafe", "player": strings.TrimPrefix(b.id, "client-")})
	}

	bob.ok("guess", map[string]any{"letter": "E"})
	for _, b := range []*browser{alice, bob, carol} {
		state := b.roomState(func(s map[string]any) bool { return guessed(s, "e") })
		require.Len(t, state["players"], 3)
	}
	carol.ok("guess", map[string]any{"letter": "a"})
	for _, b := range []*browser{alice, bob, carol} {
		b.roomState(func(s map[string]any) bool { return guessed(s, "a") && guessed(s, "e") })
	}
	require.Equal(t, 3, r.srv.hub.viewers("maid cafe"))
	// The hub opens the room's stream on its own goroutine, and the guesses' own answers can reach
	// the browsers before the fake node has counted the call: wait for it, then require just one.
	require.Eventually(t, func() bool { return r.cluster.Calls("Watch") >= 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, r.cluster.Calls("Watch"), "three browsers in one room share one Watch stream")
}

func TestBrowsersInOtherRoomsDoNotSeeTheGuess(t *testing.T) {
	r := newRig(t, 3, nil)
	alice, bob := r.open("alice"), r.open("bob")
	alice.ok("create_room", map[string]any{"room": "north"})
	bob.ok("create_room", map[string]any{"room": "south"})
	alice.ok("join_room", map[string]any{"room": "north", "player": "alice"})
	bob.ok("join_room", map[string]any{"room": "south", "player": "bob"})
	alice.ok("guess", map[string]any{"letter": "q"})
	alice.roomState(func(s map[string]any) bool { return guessed(s, "q") })
	bob.ok("guess", map[string]any{"letter": "z"})
	state := bob.roomState(func(s map[string]any) bool { return guessed(s, "z") })
	require.Equal(t, "south", state["room"])
	require.False(t, guessed(state, "q"), "south must not show north's guess")
	bob.mu.Lock()
	defer bob.mu.Unlock()
	for _, m := range bob.seen {
		if m["type"] == "room" {
			require.Equal(t, "south", m["state"].(map[string]any)["room"])
		}
	}
}

func TestSlowBrowserIsDroppedWithoutHoldingUpTheOthers(t *testing.T) {
	r := newRig(t, 1, func(c *Config) { c.SendQueue = 32; c.WriteTimeout = 2 * time.Second })
	fast := r.open("fast")
	fast.ok("create_room", map[string]any{"room": "dojo"})
	fast.ok("join_room", map[string]any{"room": "dojo", "player": "fast"})

	// The slow browser has a tiny receive buffer and stops reading once it has joined, so the
	// server's writes to it back up at once.
	dialer := &websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(1024)
		}
		return c, err
	}}
	slowWS, _, err := r.dialRaw(nil, dialer)
	require.NoError(t, err)
	defer slowWS.Close()
	require.NoError(t, slowWS.WriteJSON(map[string]any{"type": "hello", "client_id": "client-slow"}))
	require.NoError(t, slowWS.WriteJSON(map[string]any{"type": "join_room", "seq": 1, "room": "dojo", "player": "slow"}))
	require.Eventually(t, func() bool { return r.srv.hub.viewers("dojo") == 2 }, waitFor, 10*time.Millisecond)

	// Big states, fanned out straight from the hub as a busy room's stream would, in batches that
	// the fast browser keeps up with, until the slow one is dropped: its socket buffers hold a few
	// megabytes at most, so that takes at most a few hundred states.
	pad := strings.Repeat("_", 16000)
	const maxStates, batch = 4000, 20
	last := uint64(0)
	for last < maxStates && r.srv.hub.viewers("dojo") == 2 {
		for i := 0; i < batch; i++ {
			last++
			r.srv.hub.publish(&kannapb.RoomState{Room: "dojo", MaskedWord: pad, ServedBy: 1, CommitIndex: 1000 + last, Version: 1000 + last})
		}
		want := float64(1000 + last)
		fast.roomState(func(s map[string]any) bool { return s["commit_index"] == want })
	}
	require.Eventually(t, func() bool { return r.srv.hub.viewers("dojo") == 1 }, waitFor, 10*time.Millisecond,
		"the slow browser should have been dropped from the room after %d states", last)
	t.Logf("slow browser dropped after %d states of %d bytes", last, len(pad))
	require.Equal(t, 1, r.srv.connections())
}

// watchedNode waits until exactly one node has the room's Watch stream open, and returns it.
func (r *rig) watchedNode() uint64 {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return len(r.cluster.Watched()) == 1 }, waitFor, 10*time.Millisecond,
		"one Watch stream should be open; nodes watched: %v", r.cluster.Watched())
	return r.cluster.Watched()[0]
}

func TestWatchMovesToAnotherNodeWhenItsNodeCrashes(t *testing.T) {
	r := newRig(t, 3, nil)
	alice, bob := r.open("alice"), r.open("bob")
	alice.ok("create_room", map[string]any{"room": "lair"})
	alice.ok("join_room", map[string]any{"room": "lair", "player": "alice"})
	bob.ok("join_room", map[string]any{"room": "lair", "player": "bob"})
	bob.roomState(func(s map[string]any) bool { return len(s["players"].([]any)) == 2 })
	watched := r.watchedNode()

	require.NoError(t, r.cluster.Crash(watched))
	require.Eventually(t, func() bool {
		w := r.cluster.Watched()
		return len(w) == 1 && w[0] != watched
	}, waitFor, 10*time.Millisecond, "the room's stream should be reopened on another node")
	alice.ok("guess", map[string]any{"letter": "k"})
	for _, b := range []*browser{alice, bob} {
		state := b.roomState(func(s map[string]any) bool { return guessed(s, "k") })
		require.NotEqual(t, float64(watched), state["served_by"])
	}
}

func TestWatchMovesOffANodeThatIsCutOffAndFallsBehind(t *testing.T) {
	r := newRig(t, 3, func(c *Config) { c.StaleWatch = 200 * time.Millisecond })
	alice, bob := r.open("alice"), r.open("bob")
	alice.ok("create_room", map[string]any{"room": "attic"})
	alice.ok("join_room", map[string]any{"room": "attic", "player": "alice"})
	bob.ok("watch_room", map[string]any{"room": "attic"})
	watched := r.watchedNode()

	require.NoError(t, r.cluster.Isolate(watched))
	alice.ok("guess", map[string]any{"letter": "t"})
	bob.roomState(func(s map[string]any) bool { return guessed(s, "t") })
	require.Eventually(t, func() bool {
		w := r.cluster.Watched()
		return len(w) == 1 && w[0] != watched
	}, waitFor, 10*time.Millisecond, "a stream that stays behind a committed state should move to another node")
	// Later guesses reach the viewers through the new stream.
	alice.ok("guess", map[string]any{"letter": "u"})
	bob.roomState(func(s map[string]any) bool { return guessed(s, "u") && s["served_by"] != float64(watched) })
}

func TestRetriedRequestIDIsAppliedOnce(t *testing.T) {
	r := newRig(t, 3, nil)
	alice := r.open("alice")
	alice.ok("create_room", map[string]any{"room": "den"})
	alice.ok("join_room", map[string]any{"room": "den", "player": "alice"})
	alice.sendJSON(map[string]any{"type": "guess", "seq": 7, "letter": "o"})
	require.Equal(t, "ok", alice.answer(7)["type"])
	// A browser that reconnects resends a request it had no answer to under the same seq; the
	// cluster returns the first answer and does not apply the command again.
	alice.sendJSON(map[string]any{"type": "guess", "seq": 7, "letter": "x"})
	require.Equal(t, "ok", alice.answer(7)["type"])
	alice.sendJSON(map[string]any{"type": "guess", "seq": 8, "letter": "i"})
	require.Equal(t, "ok", alice.answer(8)["type"])
	state := alice.roomState(func(s map[string]any) bool { return guessed(s, "i") })
	require.False(t, guessed(state, "x"), "the resent seq 7 must not apply its new letter; guessed %q", letters(state))
}

func TestJoiningAgainUnderTheSameNameRejoins(t *testing.T) {
	r := newRig(t, 1, nil)
	first := r.open("tab1")
	first.ok("create_room", map[string]any{"room": "home"})
	first.ok("join_room", map[string]any{"room": "home", "player": "kanna"})
	again := r.open("tab2")
	again.ok("join_room", map[string]any{"room": "home", "player": "kanna"})
	state := again.roomState(func(map[string]any) bool { return true })
	require.Len(t, state["players"], 1)
	again.ok("guess", map[string]any{"letter": "u"})
	first.roomState(func(s map[string]any) bool { return guessed(s, "u") })
}

func TestRoomThatNoNodeKnowsIsReported(t *testing.T) {
	r := newRig(t, 2, nil)
	b := r.open("lost")
	m := b.answer(b.request("join_room", map[string]any{"room": "nowhere", "player": "kanna"}))
	require.Equal(t, "error", m["type"])
	require.Equal(t, "not_found", m["code"])
	require.Equal(t, 0, r.srv.hub.viewers("nowhere"))
}

func TestSpectatorWatchingARoomSeesGuessesWithoutJoining(t *testing.T) {
	r := newRig(t, 3, nil)
	player, spectator := r.open("player"), r.open("spectator")
	player.ok("create_room", map[string]any{"room": "arena"})
	player.ok("join_room", map[string]any{"room": "arena", "player": "kanna"})
	spectator.ok("watch_room", map[string]any{"room": "arena"})
	player.ok("guess", map[string]any{"letter": "r"})
	state := spectator.roomState(func(s map[string]any) bool { return guessed(s, "r") })
	require.Len(t, state["players"], 1, "watching must not add a player")
	require.Equal(t, 1, r.cluster.Calls("JoinRoom"))
}

func TestReconnectedPageResendsItsUnansweredGuessUnderTheOldSeq(t *testing.T) {
	r := newRig(t, 3, nil)
	first := r.open("page")
	first.ok("create_room", map[string]any{"room": "tea"})
	first.ok("join_room", map[string]any{"room": "tea", "player": "kanna"})
	first.ok("guess", map[string]any{"letter": "t"}) // seq 3
	require.NoError(t, first.ws.Close())

	// The page does not know whether seq 3 landed; on its new socket it says hello with the same
	// client id, watches the room as its player, and resends seq 3 before anything new.
	again := r.open("page")
	again.ok("watch_room", map[string]any{"room": "tea", "player": "kanna"})
	again.sendJSON(map[string]any{"type": "guess", "seq": 3, "letter": "t"})
	require.Equal(t, "ok", again.answer(3)["type"])
	again.sendJSON(map[string]any{"type": "guess", "seq": 4, "letter": "e"})
	require.Equal(t, "ok", again.answer(4)["type"])
	state := again.roomState(func(s map[string]any) bool { return guessed(s, "e") })
	require.Equal(t, "et", letters(state))
	require.Len(t, state["players"], 1)
}

func TestStreamIsStaleOnlyWhenItHasNotSeenTheRoomAWriteReturned(t *testing.T) {
	const limit = time.Second
	t0 := time.Unix(1000, 0)
	// The version grows with the letters: one command per letter.
	room := func(letters string, commit, node uint64) *kannapb.RoomState {
		s := &kannapb.RoomState{Room: "r", MaskedWord: "____", ServedBy: node, CommitIndex: commit, Version: 10 + uint64(len(letters))}
		for _, l := range letters {
			s.GuessedLetters = append(s.GuessedLetters, string(l))
		}
		return s
	}
	cases := []struct {
		name   string
		stream *kannapb.RoomState // what the stream sent last; nil for nothing yet
		write  *kannapb.RoomState // what a write returned; nil for no write
		stale  bool
	}{
		{"no write yet", room("a", 5, 1), nil, false},
		{"stream at the write's index", room("ab", 7, 1), room("ab", 7, 2), false},
		{"stream ahead of the write", room("abc", 9, 1), room("ab", 7, 2), false},
		{"write answered later, after other rooms' commands", room("ab", 7, 1), room("ab", 12, 2), false},
		{"stream behind the write's room", room("a", 5, 1), room("ab", 7, 2), true},
		{"stream has sent nothing", nil, room("ab", 7, 2), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &feed{streamLast: tc.stream, hint: tc.write}
			require.False(t, f.lagging(t0, limit), "no stream is stale the moment it falls behind")
			require.False(t, f.lagging(t0.Add(limit/2), limit))
			require.Equal(t, tc.stale, f.lagging(t0.Add(limit), limit))
		})
	}
}

// Guesses committed in one batch come back with one commit_index and different rooms (issue 13):
// each newer version is shown, so the room ends on the last, and an older one is never shown.
func TestStatesOfOneBatchAreOrderedByVersionNotCommitIndex(t *testing.T) {
	r := newRig(t, 1, nil)
	b := r.open("batch")
	b.ok("create_room", map[string]any{"room": "batch"})
	b.ok("join_room", map[string]any{"room": "batch", "player": "kanna"})
	base := b.roomState(func(map[string]any) bool { return true })
	v := uint64(base["version"].(float64))
	state := func(letters string, version uint64) *kannapb.RoomState {
		s := &kannapb.RoomState{Room: "batch", MaskedWord: "_____", ServedBy: 9, CommitIndex: 500, Version: version}
		for _, l := range letters {
			s.GuessedLetters = append(s.GuessedLetters, string(l))
		}
		return s
	}
	r.srv.hub.publish(state("a", v+10))
	r.srv.hub.publish(state("ab", v+11))
	r.srv.hub.publish(state("a", v+10)) // a write's answer that arrives late
	r.srv.hub.publish(state("abc", v+12))
	b.roomState(func(s map[string]any) bool { return letters(s) == "abc" })
	b.mu.Lock()
	defer b.mu.Unlock()
	var shown []string
	for _, m := range b.seen {
		if m["type"] == "room" {
			if st := m["state"].(map[string]any); st["served_by"] == float64(9) {
				shown = append(shown, letters(st))
			}
		}
	}
	require.Equal(t, []string{"a", "ab", "abc"}, shown)
}

// Writes' answers and the stream offer states from many goroutines at once: every browser must
// still see them in version order and end on the newest (issue 13's sockets stuck on a stale
// state, and a state going back after a node kill, both came from two offers overtaking each
// other between the check and the send).
func TestConcurrentOffersReachEveryBrowserInVersionOrder(t *testing.T) {
	r := newRig(t, 1, nil)
	var bs []*browser
	for i := 0; i < 3; i++ {
		b := r.open(fmt.Sprintf("viewer%d", i))
		bs = append(bs, b)
	}
	bs[0].ok("create_room", map[string]any{"room": "race"})
	for _, b := range bs {
		b.ok("watch_room", map[string]any{"room": "race"})
		b.roomState(func(map[string]any) bool { return true })
	}
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				v := uint64(1000 + i*writers + w)
				r.srv.hub.publish(&kannapb.RoomState{Room: "race", MaskedWord: "_", ServedBy: 7, CommitIndex: v, Version: v})
			}
		}()
	}
	wg.Wait()
	last := float64(1000 + writers*each - 1)
	for i, b := range bs {
		b.roomState(func(s map[string]any) bool { return s["version"] == last })
		b.mu.Lock()
		prev := 0.0
		for _, m := range b.seen {
			if m["type"] != "room" {
				continue
			}
			v := m["state"].(map[string]any)["version"].(float64)
			require.GreaterOrEqual(t, v, prev, "browser %d was shown version %v after %v", i, v, prev)
			prev = v
		}
		require.Equal(t, last, prev, "browser %d ends on the newest state", i)
		b.mu.Unlock()
	}
}
