// Tests of one browser's connection: bad messages answered and harmless, the read size limit, the
// rate limit, the origin check, and the pages served.
package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

func TestBadMessagesGetAnErrorAndChangeNothing(t *testing.T) {
	r := newRig(t, 3, nil)
	b := r.open("mallory")
	b.ok("create_room", map[string]any{"room": "vault"})
	b.ok("join_room", map[string]any{"room": "vault", "player": "mallory"})
	before := b.roomState(func(map[string]any) bool { return true })

	cases := []struct {
		name string
		raw  string
		code string
	}{
		{"not JSON", `guess e`, "bad_message"},
		{"a JSON array", `["guess","e"]`, "bad_message"},
		{"two objects", `{"type":"list_rooms","seq":90}{"type":"list_rooms","seq":91}`, "bad_message"},
		{"unknown type", `{"type":"cheat","seq":92}`, "bad_message"},
		{"unknown field", `{"type":"guess","seq":93,"letter":"e","word":"dragon"}`, "bad_message"},
		{"no seq", `{"type":"guess","letter":"e"}`, "bad_message"},
		{"two letters", `{"type":"guess","seq":94,"letter":"ee"}`, "invalid_argument"},
		{"not a letter", `{"type":"guess","seq":95,"letter":"3"}`, "invalid_argument"},
		{"empty room name", `{"type":"create_room","seq":96,"room":""}`, "invalid_argument"},
		{"room name too long", `{"type":"create_room","seq":97,"room":"` + strings.Repeat("r", 33) + `"}`, "invalid_argument"},
		{"player name with a newline", `{"type":"join_room","seq":98,"room":"vault","player":"a\nb"}`, "invalid_argument"},
		{"unknown control action", `{"type":"control","seq":99,"action":"format"}`, "invalid_argument"},
		{"crash without a node", `{"type":"control","seq":100,"action":"crash"}`, "invalid_argument"},
		{"bad client id", `{"type":"hello","client_id":"<script>"}`, "invalid_argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, b.ws.WriteMessage(websocket.TextMessage, []byte(tc.raw)))
			m := b.expect("error", nil)
			require.Equal(t, tc.code, m["code"], "answer: %v", m)
			require.NotEmpty(t, m["message"])
		})
	}
	require.NoError(t, b.ws.WriteMessage(websocket.BinaryMessage, []byte{0x01, 0x02}))
	require.Equal(t, "bad_message", b.expect("error", nil)["code"])

	require.Equal(t, 0, r.cluster.Calls("Guess"), "no bad message may reach the cluster")
	// The connection still works, and the room is as it was.
	b.ok("guess", map[string]any{"letter": "v"})
	after := b.roomState(func(s map[string]any) bool { return guessed(s, "v") })
	require.Equal(t, letters(before)+"v", letters(after))
}

func TestWritesBeforeHelloOrJoinAreRefused(t *testing.T) {
	r := newRig(t, 1, nil)
	ws, _, err := r.dialRaw(nil, nil)
	require.NoError(t, err)
	defer ws.Close()
	b := &browser{t: t, ws: ws, arrived: make(chan struct{}, 1)}
	go b.read()
	m := b.answer(b.request("create_room", map[string]any{"room": "early"}))
	require.Equal(t, "bad_message", m["code"], "a write before hello: %v", m)

	b.sendJSON(map[string]any{"type": "hello", "client_id": "client-early"})
	b.expect("welcome", nil)
	m = b.answer(b.request("guess", map[string]any{"letter": "a"}))
	require.Equal(t, "failed_precondition", m["code"], "a guess before joining: %v", m)
	require.Equal(t, 0, r.cluster.Calls("CreateRoom")+r.cluster.Calls("Guess"))
}

func TestMessageOverTheReadLimitClosesTheConnection(t *testing.T) {
	r := newRig(t, 1, func(c *Config) { c.ReadLimit = 512 })
	b := r.open("big")
	huge := `{"type":"create_room","seq":1,"room":"` + strings.Repeat("x", 1000) + `"}`
	require.NoError(t, b.ws.WriteMessage(websocket.TextMessage, []byte(huge)))
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.closed != nil
	}, waitFor, 10*time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	require.True(t, websocket.IsCloseError(b.closed, websocket.CloseMessageTooBig), "closed with %v", b.closed)
	require.Equal(t, 0, r.cluster.Calls("CreateRoom"))
}

func TestBrowserSendingTooFastIsRateLimited(t *testing.T) {
	r := newRig(t, 1, func(c *Config) { c.RatePerSecond = 1; c.Burst = 3 })
	b := r.open("flood") // hello spends one token
	for i := 0; i < 6; i++ {
		b.request("list_rooms", nil)
	}
	m := b.expect("error", func(m map[string]any) bool { return m["code"] == "rate_limited" })
	require.Contains(t, m["message"], "too many messages")
	require.Greater(t, m["seq"], float64(0), "the refusal names the request it refuses")
	rooms := 0
	b.mu.Lock()
	for _, m := range b.seen {
		if m["type"] == "rooms" {
			rooms++
		}
	}
	b.mu.Unlock()
	require.LessOrEqual(t, rooms, 3, "at most the burst may be served")
}

func TestWebsocketFromAnotherSiteIsRefused(t *testing.T) {
	r := newRig(t, 1, func(c *Config) { c.AllowedOrigins = []string{"https://kanna.example"} })
	_, resp, err := r.dialRaw(map[string][]string{"Origin": {"https://evil.example"}}, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	for _, origin := range []string{"http://" + r.addr, "https://kanna.example"} {
		ws, _, err := r.dialRaw(map[string][]string{"Origin": {origin}}, nil)
		require.NoError(t, err, "origin %s", origin)
		_ = ws.Close()
	}
}

func TestPagesAreServedFromTheBinary(t *testing.T) {
	r := newRig(t, 1, nil)
	for path, want := range map[string]string{
		"/":                    "text/html",
		"/room/kobayashi":      "text/html",
		"/dashboard":           "text/html",
		"/static/game.js":      "javascript",
		"/static/dashboard.js": "javascript",
		"/static/style.css":    "text/css",
		"/healthz":             "text/plain",
	} {
		resp, err := http.Get("http://" + r.addr + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, resp.Header.Get("Content-Type"), want, path)
		require.NotEmpty(t, body, path)
	}
	resp, err := http.Get("http://" + r.addr + "/static/missing.js")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestConfigWithoutNodesIsRefused(t *testing.T) {
	_, err := New(Config{Nodes: []string{" ", ""}})
	require.ErrorContains(t, err, "--nodes")
	_, err = New(Config{Nodes: []string{"127.0.0.1:1"}, AllowedOrigins: []string{"kanna.example"}})
	require.ErrorContains(t, err, "scheme://host")
}

func TestBrowserThatAnswersPingsStaysAndOneThatGoesSilentIsDropped(t *testing.T) {
	const pongTimeout = time.Second // generous: a busy machine may delay an answer to a ping
	r := newRig(t, 1, func(c *Config) { c.PingInterval = 50 * time.Millisecond; c.PongTimeout = pongTimeout })
	alive := r.open("alive") // reads, so its websocket library answers every ping with a pong

	silent, _, err := r.dialRaw(nil, nil) // never reads, so never sees a ping nor answers it
	require.NoError(t, err)
	defer silent.Close()
	require.NoError(t, silent.WriteJSON(map[string]any{"type": "hello", "client_id": "client-silent"}))
	require.Eventually(t, func() bool { return r.srv.connections() == 2 }, waitFor, 5*time.Millisecond)

	require.Eventually(t, func() bool { return r.srv.connections() == 1 }, waitFor, 10*time.Millisecond,
		"the silent browser should be dropped once PongTimeout passes without a pong")
	// The live one outlives many pong timeouts, and still works.
	require.Never(t, func() bool { return r.srv.connections() != 1 }, 3*pongTimeout, 20*time.Millisecond)
	seq := alive.request("list_rooms", nil)
	alive.expect("rooms", func(m map[string]any) bool { return m["seq"] == float64(seq) })
}
