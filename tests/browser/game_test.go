// The browser tests proper: two players in one room, the leader crashed from the dashboard, and
// screenshots of both pages.
package browser

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/web"
	"github.com/kanna-cluster/kanna/web/fakenode"
)

func TestTwoBrowsersInOneRoomSeeEachOthersGuessesWithoutReloading(t *testing.T) {
	s := fakeStack(t)
	alice := player(t, s.base, "kobayashi", "alice")
	bob := player(t, s.base, "kobayashi", "bob")
	until(t, alice, "alice sees bob join", `document.querySelectorAll("#players li").length === 2`)
	// A mark on each page's window: a reload would wipe it.
	for _, tab := range []context.Context{alice, bob} {
		eval[string](t, tab, `window.kannaMark = "still here"`)
	}

	// Alice uses the on-screen keyboard; bob his physical one.
	do(t, alice, "alice presses E on screen", chromedp.Click(`key e`, css(`#keyboard button[data-letter="e"]`)))
	until(t, bob, "bob sees alice's E", tried("e"))
	until(t, bob, "bob's keyboard is ready", `!document.querySelector('#keyboard button[data-letter="a"]').disabled`)
	do(t, bob, "bob types A", chromedp.KeyEvent("a"))
	until(t, alice, "alice sees bob's A", tried("a"))
	until(t, alice, "alice's E key is marked", `document.querySelector('#keyboard button[data-letter="e"]').matches(".hit, .miss")`)

	for _, tab := range []context.Context{alice, bob} {
		require.Equal(t, "still here", eval[string](t, tab, `window.kannaMark`), "a page reloaded")
	}
	served := eval[string](t, alice, `document.querySelector("#served").textContent`)
	require.Regexp(t, `^node \d+ · commit \d+$`, served)

	// A few more guesses, so that the picture shows a game under way.
	for _, l := range []string{"o", "z", "q"} {
		until(t, bob, "bob's key is ready", `!document.querySelector('#keyboard button[data-letter="`+l+`"]').disabled || document.querySelector("#new-round:not([hidden])")`)
		do(t, bob, "bob types "+l, chromedp.KeyEvent(l))
		until(t, alice, "alice sees "+l, tried(l)+` || document.querySelector("#new-round:not([hidden])")`)
	}
	settled(t, alice)
	screenshot(t, alice, "game.png")
}

// settled waits until the drawing has finished dropping its lost parts.
func settled(t *testing.T, ctx context.Context) {
	t.Helper()
	until(t, ctx, "lost parts have fallen", `[...document.querySelectorAll("#kanna .part.lost")].every(p => getComputedStyle(p).opacity === "0")`)
}

func TestCrashingTheLeaderFromTheDashboardLeavesTheGamePlayable(t *testing.T) {
	chromiumPath(t) // before starting a cluster that would have no browser to show
	for _, mk := range []func(*testing.T) stack{fakeStack, demoStack} {
		s := mk(t)
		t.Run(s.name, func(t *testing.T) {
			game := player(t, s.base, "dragon-lair", "kanna")
			do(t, game, "guess E", chromedp.KeyEvent("e"))
			until(t, game, "E lands", tried("e"))

			dash := newBrowser(t)
			do(t, dash, "open the dashboard", chromedp.Navigate(s.dashboard))
			until(t, dash, "three cards and a leader", `document.querySelectorAll(".node").length === 3 && !!document.querySelector(".node.leader")`)
			until(t, dash, "crash buttons shown", `!document.querySelector(".node.leader button[data-action=crash]").hidden`)
			old := eval[string](t, dash, `document.querySelector(".node.leader").dataset.node`)

			do(t, dash, "click crash on the leader", chromedp.Click("crash", css(".node.leader button[data-action=crash]")))
			until(t, dash, "the old leader's card shows it down", `document.querySelector('.node[data-node="`+old+`"]').classList.contains("down")`)
			until(t, dash, "another node leads", `(() => { const l = document.querySelector(".node.leader"); return !!l && l.dataset.node !== "`+old+`"; })()`)
			until(t, dash, "the event log tells of it", `[...document.querySelectorAll("#events li")].some(li => li.textContent.includes("won the election"))`)

			until(t, game, "the O key is ready", `!document.querySelector('#keyboard button[data-letter="o"]').disabled`)
			do(t, game, "guess O", chromedp.KeyEvent("o"))
			until(t, game, "O lands after the crash", tried("o"))
			if s.name == "demo" {
				settled(t, game)
				screenshot(t, game, "game-after-crash.png")
				screenshot(t, dash, "dashboard-after-crash.png")
			}

			// The crashed node comes back from its data folder and follows the new leader.
			until(t, dash, "its restart button is ready", `!document.querySelector('.node[data-node="`+old+`"] button[data-action=restart]').disabled`)
			do(t, dash, "click restart on the old leader", chromedp.Click("restart", css(`.node[data-node="`+old+`"] button[data-action=restart]`)))
			until(t, dash, "the old leader answers again, as a follower of the new one",
				`(() => { const c = document.querySelector('.node[data-node="`+old+`"]'); const l = document.querySelector(".node.leader");
				  return !c.classList.contains("down") && !!l && l !== c && c.querySelector(".role").textContent === "follower"; })()`)
			until(t, dash, "the event log tells of it", `[...document.querySelectorAll("#events li")].some(li => li.textContent.includes("node `+old+` answers again"))`)
		})
	}
}

func TestGamePageFitsAPhone(t *testing.T) {
	s := fakeStack(t)
	ctx := player(t, s.base, "pocket", "kanna")
	do(t, ctx, "phone-sized viewport", chromedp.EmulateViewport(390, 844))
	do(t, ctx, "guess", chromedp.KeyEvent("i"))
	until(t, ctx, "I lands", tried("i"))
	settled(t, ctx)
	// Nothing wider than the screen: no sideways scrolling on a phone.
	require.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), 390)
	require.True(t, eval[bool](t, ctx, `(() => { const r = document.querySelector('#keyboard button[data-letter="p"]').getBoundingClientRect(); return r.right <= 390 && r.width >= 28; })()`),
		"the whole on-screen keyboard fits, with keys big enough to tap")
	screenshot(t, ctx, "game-phone.png")
}

func TestRoomCreatedInTheLobbyIsListedAndOpensByLink(t *testing.T) {
	s := fakeStack(t)
	host := newBrowser(t)
	do(t, host, "create a room from the lobby",
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible("#create-room", css("#create-room")),
		chromedp.SendKeys("#create-room", "tohru's kitchen", css("#create-room")),
		chromedp.SendKeys("#create-player", "tohru", css("#create-player")),
		chromedp.Click("create", css("#create button[type=submit]")),
	)
	until(t, host, "the host is in the room", `location.pathname === "/room/tohru's%20kitchen" && document.querySelector("#join").hidden && document.querySelectorAll("#players li").length === 1`)

	guest := newBrowser(t)
	do(t, guest, "open the lobby", chromedp.Navigate(s.base+"/"))
	until(t, guest, "the lobby lists the room", `[...document.querySelectorAll("#rooms a")].some(a => a.textContent === "tohru's kitchen")`)
	do(t, guest, "follow the room's link", chromedp.Click("room link", css(`#rooms a`)))
	until(t, guest, "the guest sees the room and a form to join it", `document.querySelector("#room-title").textContent === "tohru's kitchen" && !document.querySelector("#join").hidden`)
	until(t, guest, "the guest watches before joining", `document.querySelector("#status").textContent.startsWith("Watching")`)
	screenshot(t, guest, "lobby-join.png")
}

func TestPageReconnectsWhenItsWebServerRestarts(t *testing.T) {
	c, err := fakenode.Start(3, "")
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	cfg := web.Config{Nodes: c.Addrs()}
	first, base := serveWebOn(t, "127.0.0.1:0", cfg)
	page := player(t, base, "sturdy", "kanna")
	eval[string](t, page, `window.kannaMark = "still here"`)
	do(t, page, "guess E", chromedp.KeyEvent("e"))
	until(t, page, "E lands", tried("e"))

	require.NoError(t, first.Close())
	until(t, page, "the page sees the socket drop", `document.querySelector("#conn").dataset.state !== "online"`)
	serveWebOn(t, strings.TrimPrefix(base, "http://"), cfg)
	until(t, page, "the page is live again", `document.querySelector("#conn").dataset.state === "online"`)
	until(t, page, "the A key is ready", `!document.querySelector('#keyboard button[data-letter="a"]').disabled`)
	do(t, page, "guess A", chromedp.KeyEvent("a"))
	until(t, page, "A lands through the new server", tried("a")+` && `+tried("e"))
	require.Equal(t, "still here", eval[string](t, page, `window.kannaMark`), "the page reloaded instead of reconnecting")
}

func TestRoundPlayedToItsEndAndRestartedByKeyboardAlone(t *testing.T) {
	s := fakeStack(t)
	page := player(t, s.base, "marathon", "kanna")
	over := `!document.querySelector("#new-round").hidden`
	// The place of the New round button is kept while it is hidden, so nothing below moves.
	slot := `document.querySelector(".after-round").getBoundingClientRect().height`
	before := eval[float64](t, page, slot)
	for _, l := range "etaoinshrdlucmfwypvbgkjqxz" {
		letter := string(l)
		if eval[bool](t, page, over) {
			break
		}
		until(t, page, letter+" is ready or the round is over", `!document.querySelector('#keyboard button[data-letter="`+letter+`"]').disabled || `+over)
		do(t, page, "type "+letter, chromedp.KeyEvent(letter))
		until(t, page, letter+" lands or the round is over", tried(letter)+` || `+over)
	}
	until(t, page, "the round is over", over)
	require.Equal(t, before, eval[float64](t, page, slot), "the New round button appears without moving what is below it")
	status := eval[string](t, page, `document.querySelector("#status").textContent`)
	require.Regexp(t, `^(Won! The word was “[a-z ]+”\.|Kanna fainted\. The word was “[a-z ]+”\.)$`, status)
	require.True(t, eval[bool](t, page, `[...document.querySelectorAll("#keyboard button")].every(b => b.disabled)`),
		"no key may be pressed once the round is over")

	// The new-round button takes the focus when the round ends, so Enter starts the next one.
	require.Equal(t, "new-round", eval[string](t, page, `document.activeElement.id`))
	do(t, page, "press Enter", chromedp.KeyEvent("\r"))
	until(t, page, "round 2 starts", `document.querySelector("#round").textContent === "Round 2" && document.querySelector("#new-round").hidden`)
	until(t, page, "a fresh keyboard has the focus", `document.activeElement.matches("#keyboard button:not([disabled])")`)
	require.Equal(t, 0, eval[int](t, page, `document.querySelectorAll("#tried .letter").length`))
}

func TestIsolatingTheLeaderFromTheDashboardLeavesTheGamePlayableAndHealBringsItBack(t *testing.T) {
	chromiumPath(t)
	s := demoStack(t)
	game := player(t, s.base, "cut-off", "kanna")
	dash := newBrowser(t)
	do(t, dash, "open the dashboard", chromedp.Navigate(s.dashboard))
	until(t, dash, "three cards and a leader", `document.querySelectorAll(".node").length === 3 && !!document.querySelector(".node.leader")`)
	old := eval[string](t, dash, `document.querySelector(".node.leader").dataset.node`)

	do(t, dash, "click isolate on the leader", chromedp.Click("isolate", css(".node.leader button[data-action=isolate]")))
	until(t, dash, "the card shows its drop rules", `document.querySelector('.node[data-node="`+old+`"] .drops').textContent.startsWith("Dropping traffic")`)
	until(t, dash, "another node leads", `[...document.querySelectorAll(".node.leader")].some(l => l.dataset.node !== "`+old+`")`)

	do(t, game, "guess E", chromedp.KeyEvent("e"))
	until(t, game, "E lands while the old leader is cut off", tried("e"))

	do(t, dash, "click heal all", chromedp.Click("heal", css("#heal")))
	until(t, dash, "no drop rules remain", `[...document.querySelectorAll(".node .drops")].every(d => d.textContent === "")`)
	until(t, dash, "one leader, and the old one follows it", `document.querySelectorAll(".node.leader").length === 1 &&
		document.querySelector('.node[data-node="`+old+`"] dd[data-key=follows]').textContent === "node " + document.querySelector(".node.leader").dataset.node`)
	until(t, game, "the A key is ready", `!document.querySelector('#keyboard button[data-letter="a"]').disabled`)
	do(t, game, "guess A", chromedp.KeyEvent("a"))
	until(t, game, "A lands after the heal", tried("a")+" && "+tried("e"))
}
