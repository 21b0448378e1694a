// Package browser tests Kanna's web frontend in a real browser: Debian's chromium, headless,
// driven by chromedp. Two players in one room see each other's guesses without reloading; the
// leader is crashed from the dashboard and the next guess still lands (Raft paper §5.2: a new
// leader is elected, and §8: the web server retries the guess with the same request id); each page
// is photographed into tests/artifacts/.
//
// The tests run against two stacks: the fake cluster of web/fakenode (fast, no processes), and
// `kanna demo` of the built binary, real node processes and all, as `make demo` runs it. Without
// chromium the tests skip, saying why, except in CI (CI=true), where a missing browser is a
// failure: scripts/deps-browser.sh installs it where it can (as root or with sudo).
//
// This file finds the browser and holds the helpers.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds the browser: $KANNA_CHROMIUM, else the first of the usual names on $PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KANNA_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on $PATH (looked for chromium, chromium-browser, google-chrome): install it as root with " +
		"`apt-get install -y --no-install-recommends chromium` (make test does, as root or with sudo) or set KANNA_CHROMIUM"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts one headless chromium with a fresh profile and returns a context for its
// first tab, sized like a laptop screen. The browser stops when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// stepTimeout bounds one step: a page load, a click and its effect. A leader election under
// -race on a shared two-core machine is the slowest thing a step waits for.
const stepTimeout = 30 * time.Second

// do runs steps with stepTimeout.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, steps...), what)
}

// eval evaluates a JavaScript expression and returns its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, "evaluate %s", expr)
	return v
}

// until waits for a JavaScript expression to become true. A poll does not survive the page
// navigating (chromedp answers "navigated or closed", or "cannot find context"), so any error
// before the deadline starts the poll again on the page there is then.
func until(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		sctx, cancel := context.WithTimeout(ctx, stepTimeout+5*time.Second)
		_, err := chromedp.Run(sctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)),
			chromedp.WithPollingInterval(50*time.Millisecond)))
		cancel()
		if err != nil && time.Now().Before(deadline.Add(-100*time.Millisecond)) {
			continue
		}
		require.NoError(t, err, "waiting until %s (%s)", what, expr)
		return
	}
}

// css makes a query find elements by CSS selector.
func css(sel string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, dom.QuerySelectorAll, dom.QuerySelectorAllParams{NodeID: n.NodeID, Selector: sel})
		return res.NodeIDs, err
	})
}

// screenshot writes the viewport to tests/artifacts/name.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	require.NoError(t, err, "screenshot %s", name)
	dir := filepath.Join("..", "artifacts")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// player opens the game page of room in a new browser and joins as name.
func player(t *testing.T, base, room, name string) context.Context {
	t.Helper()
	ctx := newBrowser(t)
	do(t, ctx, "open the room page",
		chromedp.Navigate(fmt.Sprintf("%s/room/%s", base, room)),
		chromedp.WaitVisible("#join-player", css("#join-player")),
		chromedp.SendKeys("#join-player", name, css("#join-player")),
		chromedp.Click("#join button", css("#join button[type=submit]")),
	)
	until(t, ctx, name+" has joined", `document.querySelector("#join").hidden && [...document.querySelectorAll("#players li")].some(li => li.textContent.includes(`+jsString(name)+`))`)
	return ctx
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

// tried is the JavaScript test that letter shows among the letters tried, committed: a guess still
// on its way shows there too, marked pending.
func tried(letter string) string {
	return `[...document.querySelectorAll("#tried .letter:not(.pending)")].some(e => e.textContent === ` + jsString(letter) + `)`
}
