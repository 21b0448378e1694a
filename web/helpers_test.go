// Test helpers: a fake cluster and a web server in front of it, and a scripted browser that speaks
// the websocket protocol.
package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/web/fakenode"
)

// rigControlKey is the control key of every rig's web server; browsers the rig opens carry it.
const rigControlKey = "rig-control-key-0123456789"

// waitFor bounds how long a test waits for a message that should come in milliseconds.
const waitFor = 5 * time.Second

// rig is a fake cluster and a web server talking to it.
type rig struct {
	t       *testing.T
	cluster *fakenode.Cluster
	srv     *Server
	addr    string
}

// newRig starts nodes fake nodes and a web server; tweak adjusts the config before New.
func newRig(t *testing.T, nodes int, tweak func(*Config)) *rig {
	t.Helper()
	cluster, err := fakenode.Start(nodes, "sekrit")
	require.NoError(t, err)
	t.Cleanup(cluster.Stop)
	cfg := Config{Nodes: cluster.Addrs(), ClusterKey: "sekrit", Control: cluster, ControlKey: rigControlKey, LoopbackOnly: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StatusInterval: 50 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &rig{t: t, cluster: cluster, srv: srv, addr: ln.Addr().String()}
}

// browser is a scripted websocket client. Every message it receives waits in pending until a
// test step takes it.
type browser struct {
	t   *testing.T
	ws  *websocket.Conn
	id  string
	seq uint64

	mu      sync.Mutex
	pending []map[string]any
	seen    []map[string]any // every message received, in order
	closed  error
	arrived chan struct{} // signalled after each message
}

// dial opens a websocket as a page of the server would (same Origin) without reading it.
func (r *rig) dialRaw(header http.Header, dialer *websocket.Dialer) (*websocket.Conn, *http.Response, error) {
	if header == nil {
		header = http.Header{"Origin": {"http://" + r.addr}, "Cookie": {ControlKeyCookie + "=" + rigControlKey}}
	}
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	return dialer.Dial("ws://"+r.addr+"/ws", header)
}

// open connects a browser, says hello, and waits for the welcome.
func (r *rig) open(name string) *browser {
	r.t.Helper()
	ws, _, err := r.dialRaw(nil, nil)
	require.NoError(r.t, err)
	b := &browser{t: r.t, ws: ws, id: "client-" + name, arrived: make(chan struct{}, 1)}
	r.t.Cleanup(func() { _ = ws.Close() })
	go b.read()
	b.sendJSON(map[string]any{"type": "hello", "client_id": b.id})
	b.expect("welcome", nil)
	return b
}

func (b *browser) read() {
	for {
		_, data, err := b.ws.ReadMessage()
		var m map[string]any
		if err == nil {
			if jerr := json.Unmarshal(data, &m); jerr != nil {
				err = fmt.Errorf("server sent non-JSON %q: %w", data, jerr)
			}
		}
		b.mu.Lock()
		if err != nil {
			b.closed = err
		} else {
			b.pending = append(b.pending, m)
			b.seen = append(b.seen, m)
		}
		b.mu.Unlock()
		select {
		case b.arrived <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// sawEventually waits until some message received so far, taken or not, satisfies match.
func (b *browser) sawEventually(what string, match func(map[string]any) bool) {
	b.t.Helper()
	deadline := time.After(waitFor)
	for {
		b.mu.Lock()
		for _, m := range b.seen {
			if match(m) {
				b.mu.Unlock()
				return
			}
		}
		closed := b.closed
		b.mu.Unlock()
		if closed != nil {
			require.FailNowf(b.t, "connection closed", "waiting for %s: %v", what, closed)
		}
		select {
		case <-b.arrived:
		case <-deadline:
			require.FailNowf(b.t, "timed out", "no %s within %v", what, waitFor)
		}
	}
}

// take waits for the first pending message for which match holds, and removes it.
func (b *browser) take(what string, match func(map[string]any) bool) map[string]any {
	b.t.Helper()
	deadline := time.After(waitFor)
	for {
		b.mu.Lock()
		for i, m := range b.pending {
			if match(m) {
				b.pending = append(b.pending[:i:i], b.pending[i+1:]...)
				b.mu.Unlock()
				return m
			}
		}
		closed := b.closed
		b.mu.Unlock()
		if closed != nil {
			require.FailNowf(b.t, "connection closed", "waiting for %s: %v", what, closed)
		}
		select {
		case <-b.arrived:
		case <-deadline:
			require.FailNowf(b.t, "timed out", "no %s within %v", what, waitFor)
		}
	}
}

func (b *browser) sendJSON(v any) {
	b.t.Helper()
	require.NoError(b.t, b.ws.WriteJSON(v))
}

// request sends a message of type typ with the next seq and the given fields, and returns the seq.
func (b *browser) request(typ string, fields map[string]any) uint64 {
	b.t.Helper()
	b.seq++
	m := map[string]any{"type": typ, "seq": b.seq}
	for k, v := range fields {
		m[k] = v
	}
	b.sendJSON(m)
	return b.seq
}

// expect waits for a message of type typ for which match (if any) holds.
func (b *browser) expect(typ string, match func(map[string]any) bool) map[string]any {
	b.t.Helper()
	return b.take(fmt.Sprintf("%q message", typ), func(m map[string]any) bool {
		return m["type"] == typ && (match == nil || match(m))
	})
}

// answer waits for the ok or error that answers seq.
func (b *browser) answer(seq uint64) map[string]any {
	b.t.Helper()
	return b.take(fmt.Sprintf("answer to seq %d", seq), func(m map[string]any) bool {
		return (m["type"] == "ok" || m["type"] == "error") && m["seq"] == float64(seq)
	})
}

// ok sends a request and requires it to succeed.
func (b *browser) ok(typ string, fields map[string]any) {
	b.t.Helper()
	m := b.answer(b.request(typ, fields))
	require.Equal(b.t, "ok", m["type"], "%s %v answered %v", typ, fields, m)
}

// roomState waits for a room state for which match holds.
func (b *browser) roomState(match func(state map[string]any) bool) map[string]any {
	b.t.Helper()
	m := b.expect("room", func(m map[string]any) bool { return match(m["state"].(map[string]any)) })
	return m["state"].(map[string]any)
}

// guessed reports whether letter is among a state's guessed letters.
func guessed(state map[string]any, letter string) bool {
	for _, l := range state["guessed_letters"].([]any) {
		if l == letter {
			return true
		}
	}
	return false
}

func letters(state map[string]any) string {
	var sb strings.Builder
	for _, l := range state["guessed_letters"].([]any) {
		sb.WriteString(l.(string))
	}
	return sb.String()
}
