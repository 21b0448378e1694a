// The HTML page of a run: one self-contained file (inline CSS, JavaScript and SVG, nothing
// loaded from anywhere) holding the run's space-time diagram (diagram.go lays it out, diagram.js
// draws it), every node's log at the selected moment (logview.go), a control to step through it
// event by event, and, when porcupine found the history not linearizable, porcupine's own
// visualization of it in an iframe.

package sim

import (
	_ "embed" // diagram.js and diagram.css are part of every page
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/anishathalye/porcupine"
)

//go:embed diagram.js
var diagramJS string

//go:embed diagram.css
var diagramCSS string

// typeColors gives each message type of messageTypes its colour: requests dark, their responses
// the light shade of the same hue, so a request and its answer read as a pair.
var typeColors = map[string]string{
	"MsgApp": "#1f77b4", "MsgAppResp": "#8fbce0",
	"MsgHeartbeat": "#7f7f7f", "MsgHeartbeatResp": "#c7c7c7",
	"MsgVote": "#d62728", "MsgVoteResp": "#f29a9b",
	"MsgPreVote": "#ff7f0e", "MsgPreVoteResp": "#ffbf86",
	"MsgSnap": "#9467bd", "MsgSnapResp": "#c9b3de",
	"MsgTimeoutNow": "#8c564b",
}

// roleColors colours the lanes.
var roleColors = map[string]string{
	"Follower": "#d9d9d9", "PreCandidate": "#fdd49e", "Candidate": "#fc8d59", "Leader": "#2ca25f",
	"down": "#ffffff", "paused": "#b3a2c7",
}

var roles = []string{"Follower", "PreCandidate", "Candidate", "Leader", "down", "paused"}

type legendItem struct{ Name, Color string }

type pageData struct {
	Run          *Run
	Diagram      template.JS // the diagram as JSON
	Types        []legendItem
	Roles        []legendItem
	Capped       bool
	Drawn, Total int
	From, To     string
	Porcupine    string // porcupine's page, for an Illegal history
	PorcupineRes string
	CSS          template.CSS
	JS           template.JS
}

var page = template.Must(template.New("run").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>kanna sim seed {{.Run.Options.Seed}}</title>
<style>{{.CSS}}</style></head><body>
<header id="head">
<h1>kanna sim --seed {{.Run.Options.Seed}}{{if .Run.Options.Bug}} --bug {{.Run.Options.Bug}}{{end}}</h1>
<span class="summary">{{.Run.Options.Nodes}} nodes, {{printf "%.1f" .Run.SimTime.Seconds}} s simulated, {{.Run.EventCount}} events, {{.Run.OpsOK}}/{{len .Run.History}} ops ok, {{.Run.LeaderChanges}} leader changes; porcupine: {{.PorcupineRes}}
<details class="more"><summary>more</summary>faults: {{.Run.Mix}}<br>trace_hash {{.Run.TraceHash}}<br>Window {{.From}} to {{.To}}: {{.Drawn}} of {{.Total}} messages drawn.</details></span>
{{if .Capped}}<p class="window"><b>Capped:</b> only the first {{.Drawn}} of {{.Total}} messages of the window are drawn; pick another window with <code>--html-window FROM:TO</code> (e.g. <code>--html-window 12s:15s</code>) or raise <code>--html-max</code>.</p>{{end}}
{{if .Run.Violations}}<div class="violations"><b>Violations</b> (End selects the first){{range .Run.Violations}}<div>{{.}}</div>{{end}}</div>{{end}}
</header>
<div id="main" class="main">
<div class="left">
<div id="lanes" class="lanes"></div>
<div id="scroll" class="scroll"><svg id="diagram" xmlns="http://www.w3.org/2000/svg"></svg></div>
</div>
<aside class="side">
<div class="controls">
<button id="first" title="first event (Home)">|◀</button><button id="prev" title="previous event (← or k)">◀</button><button id="next" title="next event (→ or j)">▶</button><button id="last" title="the violation, else the last event (End)">▶|</button>
<button id="prevMark" title="previous role change or fault (↑)">◀ fault/role</button><button id="nextMark" title="next role change or fault (↓)">fault/role ▶</button>
<br>zoom <button id="zoomOut" title="zoom out (-)">−</button><span id="scale"></span><button id="zoomIn" title="zoom in (+)">+</button>
window <input id="from" size="5"> to <input id="to" size="5"> ms <button id="apply">show</button> <button id="all">all</button>
</div>
<div id="detail" class="detail">Step with ◀ ▶ or the arrow keys; click an arrow or a mark to select it.</div>
<h2>Logs <span id="log-at" class="muted"></span></h2>
<div id="logpanel" class="logpanel" aria-label="every node's log at the selected moment"></div>
<p class="logkey"><span class="lc committed" style="background:hsl(67 65% 80%)">1</span> entry of term 1, committed · <span class="lc uncommitted" style="background:hsl(134 65% 80%)">2</span> not committed · <span class="lc commit"></span> commit · <span class="lc applied"></span> applied · <span class="lc snap committed"></span> in the snapshot · ♛ leader, ✕ down</p>
<details class="legend" id="legend" open><summary>legend</summary><span class="label">messages (click to hide):</span>
{{range .Types}}<label class="type" data-type="{{.Name}}"><input type="checkbox" checked><svg width="26" height="10"><line x1="1" y1="5" x2="25" y2="5" stroke="{{.Color}}" stroke-width="2"/></svg>{{.Name}}</label>
{{end}}<span class="drop-key">✕ dropped</span>
<br><span class="label">lanes:</span>
{{range .Roles}}<span class="role"><i style="background:{{.Color}}"></i>{{.Name}}</span>
{{end}}<br><span class="fault-key">─ partition / heal / phase lines across all lanes</span></details>
</aside>
</div>
{{if .Porcupine}}<h2 id="porcupine">Linearizability: porcupine's visualization</h2>
<p>porcupine found no order of the client operations that one Hangman room per name could produce. Below, per room, the longest prefix it could order; the operations it could not place are the ones to read.</p>
<iframe class="porcupine" sandbox="allow-scripts" srcdoc="{{.Porcupine}}"></iframe>{{end}}
<script type="application/json" id="data">{{.Diagram}}</script>
<script>{{.JS}}</script>
</body></html>
`))

// WriteHTML writes the page of a run, which must have been executed with Options.KeepEvents.
func WriteHTML(w io.Writer, run *Run, opts HTMLOptions) error {
	if run.EventCount > 0 && len(run.Events) == 0 {
		return fmt.Errorf("sim: write html: the run kept no events; execute it with Options.KeepEvents")
	}
	d := buildDiagram(run, opts)
	d.TypeColors, d.RoleColors = typeColors, roleColors
	data, err := json.Marshal(d) // escapes <, > and &, so it is safe inside <script>
	if err != nil {
		return fmt.Errorf("sim: write html: encode the diagram: %w", err)
	}
	p := pageData{
		Run: run, Diagram: template.JS(data), Capped: d.Drawn < d.Total, Drawn: d.Drawn, Total: d.Total,
		From: fmt.Sprintf("%.3f s", d.From/1000), To: fmt.Sprintf("%.3f s", d.To/1000),
		PorcupineRes: "not run (the run stopped before its end)",
		CSS:          template.CSS(diagramCSS), JS: template.JS(diagramJS),
	}
	for _, t := range messageTypes {
		p.Types = append(p.Types, legendItem{t, typeColors[t]})
	}
	for _, r := range roles {
		p.Roles = append(p.Roles, legendItem{r, roleColors[r]})
	}
	if rep := run.Linearizable; rep != nil {
		p.PorcupineRes = fmt.Sprintf("%s (%d operations, %d unanswered)", rep.Result, rep.Ops, rep.Unknown)
		if rep.Result == porcupine.Unknown {
			p.PorcupineRes = fmt.Sprintf("not proven: the search passed its %v limit (%d operations)", porcupineTimeout, rep.Ops)
		}
		if rep.Result == porcupine.Illegal {
			var vis strings.Builder
			if err := rep.Visualize(&vis); err != nil {
				return fmt.Errorf("sim: write html: %w", err)
			}
			p.Porcupine = vis.String()
		}
	}
	if err := page.Execute(w, p); err != nil {
		return fmt.Errorf("sim: write html: %w", err)
	}
	return nil
}
