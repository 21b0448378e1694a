// Tests of who may pull the dashboard's levers (security.go): DNS rebinding and cross-origin
// requests are refused, a socket without the control key or before hello cannot control, and the
// key travels from the printed URL into a cookie.
package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestADNSRebindingWebsocketIsRefusedAndCrashesNothing(t *testing.T) {
	r := newRig(t, 3, nil)
	_, port, _ := strings.Cut(r.addr, ":")
	// The attacker's page at attacker.example, whose name now resolves to 127.0.0.1: its requests
	// name attacker.example in Host, and its Origin matches.
	header := http.Header{"Host": {"attacker.example:" + port}, "Origin": {"http://attacker.example:" + port}}
	ws, resp, err := r.dialRaw(header, nil)
	if err == nil {
		// Had it been let in, it would have tried this.
		_ = ws.WriteJSON(map[string]any{"type": "control", "seq": 1, "action": "crash", "node": 2})
		_ = ws.Close()
	}
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, 0, r.cluster.Calls("Crash"))

	page, err := http.DefaultClient.Do(&http.Request{Method: http.MethodGet, URL: mustURL(t, "http://"+r.addr+"/dashboard"), Host: "attacker.example:" + port})
	require.NoError(t, err)
	require.NoError(t, page.Body.Close())
	require.Equal(t, http.StatusForbidden, page.StatusCode, "no page is served under a rebinding name either")
}

func TestACrossOriginWebsocketIsRefused(t *testing.T) {
	r := newRig(t, 1, nil)
	_, resp, err := r.dialRaw(http.Header{"Origin": {"http://evil.example"}}, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestASocketWithoutTheControlKeyCannotControl(t *testing.T) {
	r := newRig(t, 3, nil)
	ws, _, err := r.dialRaw(http.Header{"Origin": {"http://" + r.addr}}, nil) // no cookie
	require.NoError(t, err)
	b := &browser{t: t, ws: ws, id: "client-nokey", arrived: make(chan struct{}, 1)}
	t.Cleanup(func() { _ = ws.Close() })
	go b.read()
	b.sendJSON(map[string]any{"type": "hello", "client_id": b.id})
	w := b.expect("welcome", nil)
	require.Equal(t, false, w["control"])
	require.Equal(t, false, w["levers"])
	for _, action := range []string{"crash", "isolate", "heal"} {
		m := b.answer(b.request("control", map[string]any{"action": action, "node": 2}))
		require.Equal(t, "unauthenticated", m["code"], "%s: %v", action, m)
	}
	require.Equal(t, 0, r.cluster.Calls("Crash"))
	require.Equal(t, 0, r.cluster.Calls("DropTraffic"))
	require.Equal(t, 0, r.cluster.Calls("Heal"))

	// The key in hello (a client that cannot carry the cookie) grants the levers.
	b.sendJSON(map[string]any{"type": "hello", "client_id": b.id, "control_key": rigControlKey})
	w = b.expect("welcome", nil)
	require.Equal(t, true, w["control"])
	b.ok("control", map[string]any{"action": "heal"})
}

func TestControlBeforeHelloIsRefused(t *testing.T) {
	r := newRig(t, 3, nil)
	ws, _, err := r.dialRaw(nil, nil) // with the key's cookie, but no hello yet
	require.NoError(t, err)
	b := &browser{t: t, ws: ws, id: "client-early", arrived: make(chan struct{}, 1)}
	t.Cleanup(func() { _ = ws.Close() })
	go b.read()
	m := b.answer(b.request("control", map[string]any{"action": "crash", "node": 1}))
	require.Equal(t, "bad_message", m["code"])
	require.Contains(t, m["message"], "hello")
	require.Equal(t, 0, r.cluster.Calls("Crash"))
}

func TestControlOfAnUnknownNodeIsNotFound(t *testing.T) {
	r := newRig(t, 3, nil)
	d := r.open("dash")
	d.ok("watch_cluster", nil)
	d.cards(func(nodes []any) bool { return card(nodes, 3) != nil })
	for _, action := range []string{"crash", "restart", "isolate"} {
		m := d.answer(d.request("control", map[string]any{"action": action, "node": 42}))
		require.Equal(t, "not_found", m["code"], "%s: %v", action, m)
	}
}

func TestThePrintedURLStoresTheKeyInACookieAndDropsItFromTheAddress(t *testing.T) {
	r := newRig(t, 1, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get("http://" + r.addr + "/dashboard?key=" + rigControlKey)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/dashboard", resp.Header.Get("Location"))
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == ControlKeyCookie {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	require.Equal(t, rigControlKey, cookie.Value)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)

	resp, err = client.Get("http://" + r.addr + "/dashboard?key=wrong")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, "a wrong key is no key: the page, and no cookie")
	require.Empty(t, resp.Cookies())
}

func TestGuardControlRefusesRebindingCrossOriginAndKeylessRequests(t *testing.T) {
	crashed := 0
	h := GuardControl("the-key", false, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { crashed++ }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	post := func(host, origin, key string) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/nodes/3/crash", nil)
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if key != "" {
			req.Header.Set(ControlKeyHeader, key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	// The requests of issue 13: a page of evil.example, by its own name and by 127.0.0.1.
	require.Equal(t, http.StatusForbidden, post("evil.example:"+port, "http://evil.example", "the-key"))
	require.Equal(t, http.StatusForbidden, post("", "http://evil.example", "the-key"))
	require.Equal(t, http.StatusUnauthorized, post("", "", ""))
	require.Equal(t, http.StatusUnauthorized, post("", "", "not-the-key"))
	require.Equal(t, 0, crashed)
	require.Equal(t, http.StatusOK, post("", "", "the-key"))
	require.Equal(t, http.StatusOK, post("localhost:"+port, "http://localhost:"+port, "the-key"))
	require.Equal(t, 2, crashed)
}

func TestLoopbackHostNames(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost": true, "LOCALHOST:1": true, "[::1]:80": true, "app.localhost:9": true,
		"127.1.2.3": true, "attacker.example:8080": false, "10.0.0.1:80": false, "localhost.evil.example": false, "": false,
	} {
		require.Equal(t, want, LoopbackHost(host), host)
	}
}

func TestHTTPControlSendsTheKeyFromThePrintedURLInAHeader(t *testing.T) {
	var got []string
	ts := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.String()+" "+r.Header.Get(ControlKeyHeader))
	}))
	defer ts.Close()
	ctl, err := NewHTTPControl(ts.URL + "/?key=abc")
	require.NoError(t, err)
	require.Equal(t, "abc", ctl.Key())
	require.NoError(t, ctl.Crash(2))
	require.Equal(t, []string{"/nodes/2/crash abc"}, got)
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}
