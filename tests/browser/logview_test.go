// The dashboard's views of a real cluster (`kanna demo`): the event log the nodes stream, every
// node's log drawn beside `kanna status`, a guess seen as an entry in the leader's log, and the game
// page's banner when the cluster loses its majority (Raft paper §5.2-5.3: without a majority
// nothing is elected or committed).
package browser

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

func TestDashboardDrawsTheRealClusterAndTheGamePageTellsWhenItCannotCommit(t *testing.T) {
	chromiumPath(t)
	s := demoStack(t)

	// A fresh page load shows the start-up election: it happened before the page, and before
	// the web server, existed, and the nodes replay it.
	dash := newBrowser(t)
	do(t, dash, "open the dashboard", chromedp.Navigate(s.dashboard))
	until(t, dash, "the events list shows the start-up election",
		`[...document.querySelectorAll("#events li")].some(li => /node \d won the election for term \d+/.test(li.textContent))`)

	// A guess on the game page becomes an entry in the leader's log, named in words.
	game := player(t, s.base, "log-view", "kanna")
	do(t, game, "guess E", chromedp.KeyEvent("e"))
	until(t, game, "E lands", tried("e"))
	until(t, dash, "the leader's log holds the guess",
		`(() => { const l = document.querySelector(".node.leader"); if (!l) return false;
		  return [...document.querySelectorAll('.logrow[data-node="' + l.dataset.node + '"] .cell.entry')]
		    .some(c => c.dataset.text === "kanna guessed e in room log-view"); })()`)
	until(t, dash, "the events list shows the guess committed",
		`[...document.querySelectorAll("#events li")].some(li => li.textContent.includes("committed: kanna guessed e in room log-view"))`)

	// Every node's log row ends where `kanna status` says its log ends and commits. The cluster
	// is idle, so the two agree once the page has its next poll.
	deadline := time.Now().Add(stepTimeout)
	for {
		want := kannaStatus(t, s.member, s.clusterKey)
		got := map[uint64][2]uint64{}
		for _, r := range eval[[][]float64](t, dash, `[...document.querySelectorAll(".logrow[data-node]")].map(r => [+r.dataset.node, +r.dataset.last, +r.dataset.commit])`) {
			got[uint64(r[0])] = [2]uint64{uint64(r[1]), uint64(r[2])}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
			require.Equal(t, want, got, "each node's log row (last index, commit) against kanna status")
			require.Len(t, got, 3)
			break
		}
		time.Sleep(100 * time.Millisecond) // the page polls four times a second; poll it back
	}
	screenshot(t, dash, "dashboard.png")
	do(t, dash, "phone-sized viewport", chromedp.EmulateViewport(390, 844))
	require.LessOrEqual(t, eval[int](t, dash, `document.documentElement.scrollWidth`), 390, "nothing wider than a phone")
	screenshot(t, dash, "dashboard-phone.png")
	do(t, dash, "laptop-sized viewport", chromedp.EmulateViewport(1280, 900))

	// Two of three nodes crashed: within two seconds the game page says it waits for a majority.
	leader := eval[string](t, dash, `document.querySelector(".node.leader").dataset.node`)
	victims := eval[[]string](t, dash, `[...document.querySelectorAll(".node")].map(n => n.dataset.node).filter(id => id !== "`+leader+`")`)
	require.Len(t, victims, 2)
	for _, id := range victims {
		until(t, dash, "crash "+id+" is ready", `!document.querySelector('.node[data-node="`+id+`"] button[data-action=crash]').disabled`)
		do(t, dash, "crash node "+id, chromedp.Click("crash", css(`.node[data-node="`+id+`"] button[data-action=crash]`)))
	}
	until(t, dash, "both show down", `document.querySelectorAll(".node.down").length === 2`)
	crashed := time.Now()
	banner := `(() => { const h = document.querySelector("#health"); return !h.hidden && h.textContent.startsWith("waiting for a majority (1 of 3 up)"); })()`
	bctx, cancel := context.WithTimeout(game, 2*time.Second)
	_, err := chromedp.Run(bctx, chromedp.Poll[bool](banner, chromedp.WithPollingInterval(20*time.Millisecond)))
	cancel()
	require.NoError(t, err, "the majority banner within 2 s of the page showing both nodes down (%v)", time.Since(crashed))
	until(t, dash, "the summary says it cannot commit", `document.querySelector("#summary").textContent.includes("needs 2 of 3; 1 answering: cannot commit")`)

	// A guess now waits, shown as pending, then fails in words, and Enter retries it.
	do(t, game, "guess A", chromedp.KeyEvent("a"))
	until(t, game, "A is shown pending", `!!document.querySelector("#tried .letter.pending")`)
	screenshot(t, game, "game-no-majority.png")

	do(t, dash, "restart node "+victims[0], chromedp.Click("restart", css(`.node[data-node="`+victims[0]+`"] button[data-action=restart]`)))
	until(t, game, "the banner clears once the cluster commits again", `document.querySelector("#health").hidden`)
	until(t, game, "A lands, or fails in words with a way to retry it", tried("a")+` || !document.querySelector("#retry").hidden`)
	if !eval[bool](t, game, tried("a")) {
		require.Contains(t, eval[string](t, game, `document.querySelector("#status").textContent`), "Press Enter or A to try again")
		do(t, game, "retry with one key press", chromedp.KeyEvent("\r"))
		until(t, game, "A lands on the retry", tried("a"))
	}
	status := eval[string](t, game, `document.querySelector("#status").textContent`)
	require.NotContains(t, status, "rpc error")
	require.NotContains(t, status, "deadline")
}

// kannaStatus runs `kanna status --addr member --cluster-key key` and returns each answering node's last index and
// commit.
func kannaStatus(t *testing.T, member, key string) map[uint64][2]uint64 {
	t.Helper()
	out, err := exec.Command(binary(t), "status", "--addr", member, "--cluster-key", key).CombinedOutput()
	require.NoError(t, err, "kanna status:\n%s", out)
	lines := strings.Split(string(out), "\n")
	require.Equal(t, []string{"ID", "ADDRESS", "GOSSIP", "SUFFRAGE", "ROLE", "TERM", "COMMIT", "APPLIED", "LAST", "INDEX", "LAST", "CONTACT"},
		strings.Fields(lines[0]))
	rows := map[uint64][2]uint64{}
	row := regexp.MustCompile(`^(\d+)\s+\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(\d+)\s+\d+\s+(\d+)\s`)
	for _, l := range lines[1:] {
		if m := row.FindStringSubmatch(l); m != nil {
			id, _ := strconv.ParseUint(m[1], 10, 64)
			commit, _ := strconv.ParseUint(m[2], 10, 64)
			last, _ := strconv.ParseUint(m[3], 10, 64)
			rows[id] = [2]uint64{last, commit}
		}
	}
	return rows
}
