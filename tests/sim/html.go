// An HTML view of a run: a table of every event, one row each, that a browser can search, with
// violations, role changes and crashes highlighted. Run.Events holds the same records for any
// richer view, such as a space-time diagram of the messages (Lamport's diagrams, as in the Raft
// paper's figures).

package sim

import (
	"fmt"
	"html/template"
	"io"
	"time"
)

var eventTable = template.Must(template.New("run").Funcs(template.FuncMap{
	"secs": func(d time.Duration) string { return fmt.Sprintf("%.6f", d.Seconds()) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>kanna sim seed {{.Options.Seed}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1em}
table{border-collapse:collapse;font-family:ui-monospace,monospace;font-size:12px}
td,th{padding:1px 6px;text-align:left;border-bottom:1px solid #eee}
tr.violation{background:#fdd} tr.role{background:#eef} tr.crash,tr.restart{background:#ffe}
</style></head><body>
<h1>kanna sim --seed {{.Options.Seed}}</h1>
<p>nodes={{.Options.Nodes}} bug={{printf "%q" .Options.Bug}} faults: {{.Mix}}<br>
trace_hash={{.TraceHash}} events={{.EventCount}} ops_ok={{.OpsOK}} leader_changes={{.LeaderChanges}}</p>
{{if .Violations}}<h2>Violations</h2><ul>{{range .Violations}}<li>{{.}}</li>{{end}}</ul>{{end}}
<table><tr><th>time (s)</th><th>kind</th><th>node</th><th>from</th><th>to</th><th>message</th><th>term</th><th>detail</th></tr>
{{range .Events}}<tr class="{{.Kind}}"><td>{{secs .At}}</td><td>{{.Kind}}</td><td>{{if .Node}}{{.Node}}{{end}}</td><td>{{if .From}}{{.From}}{{end}}</td><td>{{if .To}}{{.To}}{{end}}</td><td>{{.MsgType}}</td><td>{{if .Term}}{{.Term}}{{end}}</td><td>{{.Detail}}</td></tr>
{{end}}</table></body></html>
`))

// WriteHTML writes a self-contained HTML page of a run's events; the run must have been executed
// with Options.KeepEvents.
func WriteHTML(w io.Writer, run *Run) error {
	if run.EventCount > 0 && len(run.Events) == 0 {
		return fmt.Errorf("sim: write html: the run kept no events; execute it with Options.KeepEvents")
	}
	if err := eventTable.Execute(w, run); err != nil {
		return fmt.Errorf("sim: write html: %w", err)
	}
	return nil
}
