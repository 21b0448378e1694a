// Tests of the run's HTML page: the space-time diagram's layout (lanes, arrows paired with their
// deliveries, roles and terms, faults), its caps, and the page around it.

package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/internal/hangmanmodel"
)

// smallRun is a three-node run with crashes, so lanes go down and come back.
func smallRun(t *testing.T) *Run {
	t.Helper()
	r, err := Execute(Options{Seed: 3, Nodes: 3, Duration: 6 * time.Second, KeepEvents: true, Faults: []string{"crash", "loss", "partition"}})
	require.NoError(t, err)
	require.False(t, r.Failed(), "%v", r.Violations)
	return r
}

func writePage(t *testing.T, r *Run, opts HTMLOptions) (string, diagram) {
	t.Helper()
	var page strings.Builder
	require.NoError(t, WriteHTML(&page, r, opts))
	html := page.String()
	start := strings.Index(html, `<script type="application/json" id="data">`)
	require.NotEqual(t, -1, start, "the page embeds the diagram's data")
	rest := html[start+len(`<script type="application/json" id="data">`):]
	var d diagram
	require.NoError(t, json.Unmarshal([]byte(rest[:strings.Index(rest, "</script>")]), &d))
	return html, d
}

func count(r *Run, kind EventKind) int {
	n := 0
	for _, e := range r.Events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func TestDiagramHasOneLanePerNodeWithItsRolesAndTerms(t *testing.T) {
	r := smallRun(t)
	_, d := writePage(t, r, HTMLOptions{})
	require.Equal(t, []uint64{1, 2, 3}, d.Nodes)
	roles := map[uint64]map[string]bool{}
	for _, s := range d.Segments {
		require.Contains(t, d.Nodes, s.Node)
		require.Less(t, s.At, s.End, "a segment has length")
		if roles[s.Node] == nil {
			roles[s.Node] = map[string]bool{}
		}
		roles[s.Node][s.Role] = true
	}
	require.Len(t, roles, 3, "every lane is drawn")
	leaders := 0
	for _, rs := range roles {
		if rs["Leader"] {
			leaders++
		}
	}
	require.Positive(t, leaders, "some lane shows a leader")
	require.Positive(t, count(r, EventCrash))
	down := false
	for _, rs := range roles {
		down = down || rs["down"]
	}
	require.True(t, down, "a crashed node's lane shows it down")
}

func TestDiagramPairsEverySendWithItsDeliveryOrDrop(t *testing.T) {
	r := smallRun(t)
	_, d := writePage(t, r, HTMLOptions{})
	sends := count(r, EventSend)
	require.Equal(t, sends+count(r, EventDrop)-countArrivalDrops(d), d.Total, "every message is counted once")
	delivered := 0
	for _, a := range d.Arrows {
		require.GreaterOrEqual(t, a.End, a.At, "an arrow never goes back in time")
		if a.Fate == "deliver" {
			delivered++
		}
	}
	require.Equal(t, count(r, EventDeliver), delivered, "every delivery ends one arrow")
}

func countArrivalDrops(d diagram) int {
	n := 0
	for _, a := range d.Arrows {
		if strings.HasPrefix(a.Fate, "drop") && a.End > a.At {
			n++
		}
	}
	return n
}

func TestDiagramMarksFaultsAndRoleChanges(t *testing.T) {
	r := smallRun(t)
	_, d := writePage(t, r, HTMLOptions{})
	kinds := map[string]int{}
	for _, m := range d.Marks {
		kinds[m.Kind]++
	}
	require.Equal(t, count(r, EventCrash), kinds["crash"])
	require.Equal(t, count(r, EventRestart), kinds["restart"])
	require.Equal(t, count(r, EventRole), kinds["role"])
	require.Equal(t, count(r, EventPartition), kinds["partition"])
}

func TestPageHasALegendStepControlsAndNoExternalLoads(t *testing.T) {
	r := smallRun(t)
	html, _ := writePage(t, r, HTMLOptions{})
	require.Contains(t, html, "kanna sim --seed 3")
	require.Contains(t, html, r.TraceHash)
	for _, typ := range messageTypes {
		require.Contains(t, html, `data-type="`+typ+`"`, "the legend names %s", typ)
	}
	for _, id := range []string{`id="prev"`, `id="next"`, `id="zoomIn"`, `id="from"`, `id="diagram"`} {
		require.Contains(t, html, id)
	}
	require.Contains(t, html, "ArrowRight", "arrow keys step")
	require.NotContains(t, html, `src="http`)
	require.NotContains(t, html, `href="http`)
	require.Equal(t, 1, strings.Count(html, "<html"), "one page, no porcupine frame for a linearizable run")
	require.True(t, strings.HasSuffix(strings.TrimSpace(html), "</html>"))
}

func TestDiagramDrawsOnlyTheWindowAndSaysWhenCapped(t *testing.T) {
	r := smallRun(t)
	html, d := writePage(t, r, HTMLOptions{From: 2 * time.Second, To: 3 * time.Second, MaxMessages: 50})
	require.Equal(t, 2000.0, d.From)
	require.Equal(t, 3000.0, d.To)
	require.Equal(t, 50, d.Drawn)
	require.Greater(t, d.Total, 50)
	for _, a := range d.Arrows {
		require.GreaterOrEqual(t, a.At, 2000.0)
		require.LessOrEqual(t, a.At, 3000.0)
	}
	for _, s := range d.Segments {
		require.GreaterOrEqual(t, s.At, 2000.0)
		require.LessOrEqual(t, s.End, 3000.0)
	}
	require.Contains(t, html, "Capped:")
	require.Greater(t, d.CapAt, d.Arrows[len(d.Arrows)-1].At-1e-9, "the cap is marked where drawing stopped")
}

func TestPageEmbedsPorcupinesVisualizationOfANonLinearizableHistory(t *testing.T) {
	r, err := Execute(Options{Seed: 21, Nodes: 3, Duration: 8 * time.Second, KeepEvents: true, Faults: []string{"crash", "loss"}})
	require.NoError(t, err)
	stale, target := staleReadPair(r.History)
	require.NotEqual(t, -1, target, "the run has two reads with an acknowledged guess between them")
	r.History[target].Output.Room = r.History[stale].Output.Room
	r.Linearizable = checkHistory(r.History, wordsOfRun(t, r), time.Second)
	require.Equal(t, "Illegal", string(r.Linearizable.Result))
	html, _ := writePage(t, r, HTMLOptions{})
	require.Contains(t, html, `<iframe class="porcupine"`)
	require.Contains(t, html, "srcdoc=\"&lt;!doctype html&gt;", "porcupine's page, escaped into the frame")
}

// wordsOfRun re-runs a seed to read the words its log committed.
func wordsOfRun(t *testing.T, r *Run) hangmanmodel.Words {
	t.Helper()
	opts := r.Options
	bug, err := lookupBug("")
	require.NoError(t, err)
	allowed, err := parseFaults(opts.Faults, bug)
	require.NoError(t, err)
	s := newSim(opts, bug, allowed)
	require.NoError(t, s.run())
	return s.replayLog().words
}

func TestHTMLRefusesARunThatKeptNoEvents(t *testing.T) {
	r, err := Execute(Options{Seed: 4, Nodes: 3, Duration: 6 * time.Second})
	require.NoError(t, err)
	require.ErrorContains(t, WriteHTML(&strings.Builder{}, r, HTMLOptions{}), "KeepEvents")
}

// replayLogs rebuilds every node's log terms from the frames up to at (ms), as diagram.js does.
func replayLogs(frames []logFrame, at float64) map[uint64][]uint64 {
	logs := map[uint64][]uint64{}
	for _, f := range frames {
		if f.At > at {
			break
		}
		logs[f.Node] = append(logs[f.Node][:f.Keep:f.Keep], f.Terms...)
	}
	return logs
}

func TestLogFramesAgreeWithEveryEntryTheTraceSaysWasApplied(t *testing.T) {
	r := smallRun(t)
	_, d := writePage(t, r, HTMLOptions{})
	require.NotEmpty(t, d.Logs)
	checked := 0
	for _, e := range r.Events {
		if e.Kind != EventCommit {
			continue
		}
		var index uint64
		_, err := fmt.Sscanf(e.Detail, "index=%d", &index)
		require.NoError(t, err)
		log := replayLogs(d.Logs, millis(e.At))[e.Node]
		require.GreaterOrEqual(t, uint64(len(log)), index, "node %d applied %d at %v beyond its drawn log", e.Node, index, e.At)
		if got := log[index-1]; got != 0 { // 0: in a snapshot the page never saw the entries of
			require.Equal(t, e.Term, got, "node %d's drawn entry %d at %v", e.Node, index, e.At)
			checked++
		}
	}
	require.Greater(t, checked, 50, "entries compared")
}

func TestLogPanelDataAtTheCommitOldTermViolationShowsTheLogsThatViolate(t *testing.T) {
	r, err := Execute(Options{Seed: 3, Bug: "commit-old-term", KeepEvents: true})
	require.NoError(t, err)
	require.True(t, r.Failed(), "seed 3 with commit-old-term must still violate; pick another seed and update docs/simulation.md")
	v := r.Violations[0]
	var index, term uint64
	_, err = fmt.Sscanf(v.Detail, "entry %d of term %d is committed", &index, &term)
	require.NoError(t, err, v.Detail)
	_, d := writePage(t, r, HTMLOptions{})
	logs := replayLogs(d.Logs, millis(v.At))
	require.True(t, uint64(len(logs[v.Node])) < index || logs[v.Node][index-1] != term,
		"node %d, which the checker says lacks entry %d of term %d, has it drawn", v.Node, index, term)
	holders := 0
	for _, l := range logs {
		if uint64(len(l)) >= index && l[index-1] == term {
			holders++
		}
	}
	require.Positive(t, holders, "no node's drawn log holds the committed entry")
}
