// The simulator's page in a browser: `kanna sim --bug commit-old-term --seed 3 --html`, End, and
// the log panel at the violation showing the logs that break Leader Completeness (Raft paper
// §5.4.1): an entry committed in one term that a node able to win the next election lacks.
package browser

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
)

func TestSimPageShowsTheViolatingLogsAtTheViolation(t *testing.T) {
	chromiumPath(t)
	page := filepath.Join(t.TempDir(), "f.html")
	out, err := exec.Command(binary(t), "sim", "--bug", "commit-old-term", "--seed", "3", "--html", page).CombinedOutput()
	require.Error(t, err, "the bug must break an invariant at this seed:\n%s", out)
	require.Contains(t, string(out), "wrote "+page, "--html says where it wrote the page")

	ctx := newBrowser(t)
	do(t, ctx, "open the page", chromedp.Navigate("file://"+page))
	until(t, ctx, "the diagram is drawn", `document.querySelectorAll("#diagram line.arrow").length > 0`)
	do(t, ctx, "press End", chromedp.KeyEvent(kb.End))
	detail := eval[string](t, ctx, `document.querySelector("#detail").textContent`)
	m := regexp.MustCompile(`violation  node (\d+)\n.*entry (\d+) of term (\d+) is committed, yet node (\d+) lacks it`).FindStringSubmatch(detail)
	require.NotNil(t, m, "End selects the violation; the detail pane says %q", detail)
	node, index, term := m[4], m[2], m[3]

	// The violation is in view, not below the fold.
	require.True(t, eval[bool](t, ctx, `(() => { const r = document.querySelector("#diagram .current").getBoundingClientRect();
		return r.top >= 0 && r.bottom <= window.innerHeight; })()`), "the selected violation is on the screen")

	// The panel is centred on the entry, and shows who has it and who lacks it.
	require.True(t, eval[bool](t, ctx, `!!document.querySelector('#logpanel .lc.idx.focus')`))
	lacking := eval[string](t, ctx, `(() => { const c = document.querySelector('#logpanel .logrow[data-node="`+node+`"] .lc[data-index="`+index+`"]');
		return c ? c.dataset.term : "none"; })()`)
	require.NotEqual(t, term, lacking, "node %s's log at index %s", node, index)
	holders := eval[[]string](t, ctx, `[...document.querySelectorAll('#logpanel .logrow[data-node]')]
		.filter(r => r.querySelector('.lc[data-index="`+index+`"][data-term="`+term+`"]') && +r.dataset.commit >= `+index+`)
		.map(r => r.dataset.node)`)
	require.NotEmpty(t, holders, "some node committed entry %s of term %s", index, term)

	// No label covers another.
	overlaps := eval[[]string](t, ctx, `(() => {
		const boxes = [...document.querySelectorAll("#diagram text.term, #diagram text.label")].map(e => [e.textContent, e.getBBox()]);
		const out = [];
		for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
			const [ta, a] = boxes[i], [tb, b] = boxes[j];
			if (a.x < b.x + b.width - 1 && b.x < a.x + a.width - 1 && a.y < b.y + b.height - 1 && b.y < a.y + a.height - 1) out.push(ta + " / " + tb);
		}
		return out; })()`)
	require.Empty(t, overlaps, "labels drawn over each other")

	// Zooming keeps the violation selected and on the screen.
	do(t, ctx, "zoom in", chromedp.KeyEvent("+"))
	require.Contains(t, eval[string](t, ctx, `document.querySelector("#detail").textContent`), "violation  node")
	require.True(t, eval[bool](t, ctx, `(() => { const r = document.querySelector("#diagram .current").getBoundingClientRect();
		return r.top >= 0 && r.bottom <= window.innerHeight; })()`), "the violation stays on the screen after zooming in")
	do(t, ctx, "zoom back out", chromedp.KeyEvent("-"))
	screenshot(t, ctx, "sim.png")
	do(t, ctx, "phone-sized viewport", chromedp.EmulateViewport(390, 844))
	screenshot(t, ctx, "sim-phone.png")
	require.False(t, strings.Contains(detail, "->"), "role changes are written in words")
}
