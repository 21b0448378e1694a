// `kanna sim`: seeded, deterministic simulations of whole clusters (tests/sim), one seed or a
// sweep of many across all cores, with JSON summaries, text traces and HTML diagrams.
//
// Each run is single-threaded and decided by its seed alone; only the sweep uses goroutines, one
// run per goroutine, so a failing seed found in a sweep replays alone with `kanna sim --seed N`.

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/kanna-cluster/kanna/tests/sim"
)

func init() {
	register("sim", "run seeded cluster simulations with faults and checkers (--seed, --seeds, --bug list)", runSim)
}

// simFlags are the parsed flags of `kanna sim`.
type simFlags struct {
	seed     int64
	seeds    int
	nodes    int
	clients  int
	duration time.Duration
	faults   string
	bug      string
	preset   string
	json     bool
	trace    string
	html     string
	window   string
	htmlMax  int
	gossip   bool
	members  bool
	// cpuprofile is where --cpuprofile writes the CPU profile; empty writes none.
	cpuprofile string
}

// seedSummary is one seed's line of --json output.
type seedSummary struct {
	Seed          int64           `json:"seed"`
	TraceHash     string          `json:"trace_hash"`
	Violations    []sim.Violation `json:"violations"`
	Events        int             `json:"events"`
	SimSeconds    float64         `json:"sim_seconds"`
	WallSeconds   float64         `json:"wall_seconds"`
	Ops           int             `json:"ops"`
	OpsOK         int             `json:"ops_ok"`
	LeaderChanges int             `json:"leader_changes"`
	Faults        string          `json:"faults"`
	// Linearizable is porcupine's verdict on the history: Ok, Illegal, or Unknown when its search
	// timed out (not proven, not a violation); empty when the run stopped before its end.
	Linearizable string `json:"linearizable,omitempty"`
	// GossipMsgs counts the gossip messages sent beside Raft (0 with --gossip=false).
	GossipMsgs int `json:"gossip_msgs"`
	// FailoverLeaderMs and FailoverWriteMs are, per crash of a leader, the virtual milliseconds
	// until a new leader and until the next acknowledged write.
	FailoverLeaderMs []float64 `json:"failover_leader_ms"`
	FailoverWriteMs  []float64 `json:"failover_write_ms"`
	Replay           string    `json:"replay,omitempty"`
}

// aggregate is the final --json object of a sweep.
type aggregate struct {
	Aggregate     bool    `json:"aggregate"`
	Seeds         int     `json:"seeds"`
	Failed        int     `json:"failed"`
	FailedSeeds   []int64 `json:"failed_seeds"`
	Events        int     `json:"events"`
	SimSeconds    float64 `json:"sim_seconds"`
	WallSeconds   float64 `json:"wall_seconds"`
	SimPerWall    float64 `json:"sim_seconds_per_wall_second"`
	OpsOK         int     `json:"ops_ok"`
	LeaderChanges int     `json:"leader_changes"`
	Workers       int     `json:"workers"`
	// The failover spans of every seed together: how many, nearest-rank p50 and p99, and the worst.
	Failovers         int     `json:"failovers"`
	FailoverLeaderP50 float64 `json:"failover_leader_p50_ms"`
	FailoverLeaderP99 float64 `json:"failover_leader_p99_ms"`
	FailoverLeaderMax float64 `json:"failover_leader_max_ms"`
	FailoverWriteP50  float64 `json:"failover_write_p50_ms"`
	FailoverWriteP99  float64 `json:"failover_write_p99_ms"`
	FailoverWriteMax  float64 `json:"failover_write_max_ms"`
}

func runSim(args []string) int {
	if gossipOnly(args) || isGossipBug(bugArg(args)) {
		return runGossipSim(args)
	}
	var f simFlags
	fs := newFlags("sim", simHelp,
		"kanna sim --seed 7                      one run, summary and verdict",
		"kanna sim --seeds 500 --json            a sweep of seeds 1 to 500 on every core, one JSON line each",
		"kanna sim --bug list                    the teaching bugs and the checker that catches each",
		"kanna sim --seeds 50 --bug commit-old-term",
		"kanna sim --seeds 200 --membership          nodes join, leave and are replaced under faults",
		"kanna sim --seed 12 --trace s12.trace --html s12.html --html-window 10s:14s",
		"kanna sim --gossip-only --members 500 --loss 0.05   (see 'kanna sim --gossip-only --help')")
	fs.Int64Var(&f.seed, "seed", 1, "the seed of the run, or the first seed of a sweep")
	fs.IntVar(&f.seeds, "seeds", 0, "run this many consecutive seeds from --seed, across all cores (0: --seed alone)")
	fs.IntVar(&f.nodes, "nodes", 5, "cluster size, at least 1")
	fs.IntVar(&f.clients, "clients", 0, "concurrent players (0: each seed draws 3 to 5)")
	fs.DurationVar(&f.duration, "duration", 60*time.Second, "simulated time of a run, safety and liveness phases together; more than "+minSimDuration.String())
	fs.StringVar(&f.faults, "faults", "", "comma list of faults a seed may enable: "+strings.Join(sim.FaultNames, ",")+" (default: all, or the bug's own list)")
	fs.StringVar(&f.bug, "bug", "", "switch on the teaching bug `NAME` (--bug list names them)")
	fs.StringVar(&f.preset, "preset", "", "use the fault mix of the bug `NAME` without the bug: the control run for a seed the bug fails")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per seed (and a final aggregate for --seeds); with --bug list, the bugs as JSON")
	fs.StringVar(&f.trace, "trace", "", "write the text trace of the run to this file (one seed only)")
	fs.StringVar(&f.html, "html", "", "write the run's space-time diagram, a self-contained HTML page, to this file (one seed only)")
	fs.StringVar(&f.window, "html-window", "", "draw only this `FROM:TO` window of simulated time in --html, e.g. 12s:15s (default: the whole run)")
	fs.IntVar(&f.htmlMax, "html-max", sim.DefaultMaxMessages, "draw at most this many messages in --html (the first of the window), at least 1")
	fs.BoolVar(&f.gossip, "gossip", true, "run a gossip core beside every node; --gossip=false runs Raft alone")
	fs.BoolVar(&f.members, "membership", false, "swarm membership changes: nodes join, leave and are replaced under faults, gossip driving the configuration")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the run (or the sweep) to this file")
	fs.Bool("gossip-only", false, "simulate the gossip core alone at up to thousands of members (its own flags: 'kanna sim --gossip-only --help')")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if f.bug == "list" {
		listBugs(f.json)
		return 0
	}
	if _, ok := lookupTeaching(f.bug); f.bug != "" && !ok {
		fmt.Fprintf(stderr, "kanna sim: unknown bug %q; choose from %s (or --bug list)\n", f.bug, strings.Join(teachingNames(), ", "))
		return 2
	}
	if !checkFlags("sim",
		atLeast("seeds", f.seeds, 0),
		atLeast("nodes", f.nodes, 1),
		atLeast("clients", f.clients, 0),
		longerThan("duration", f.duration, minSimDuration),
		atLeast("html-max", f.htmlMax, 1),
	) {
		return 2
	}
	if f.seeds > 0 && (f.trace != "" || f.html != "") {
		fmt.Fprintln(stderr, "kanna sim: --trace and --html write one run; use them with --seed alone, e.g. to replay a failing seed of a sweep")
		return 2
	}
	if _, err := f.htmlOptions(); err != nil {
		simFailed(err)
		return 2
	}
	if f.cpuprofile != "" {
		stop, err := startCPUProfile(f.cpuprofile)
		if err != nil {
			simFailed(err)
			return 1
		}
		defer stop()
	}
	// A run holds a few megabytes (36 MB at the peak of a two-worker sweep); collecting garbage a
	// quarter as often trades a little of that for a fifth of a run's CPU.
	debug.SetGCPercent(400)
	if f.seeds > 0 {
		return sweep(f)
	}
	return single(f)
}

// minSimDuration is the shortest run less one tick: the run ends with a liveness phase of at least
// five seconds with every fault healed (tests/sim Options.Liveness), and a run must be longer
// than that phase.
const minSimDuration = 5 * time.Second

const simHelp = `
Runs seeded, deterministic simulations of a whole cluster: Raft and gossip cores of every node in
one thread, on a simulated network and disks that drop, delay, reorder, partition, crash and lose
unsynced writes, while clients play Hangman. Checkers test Raft's safety properties and
linearizability after every step, then a final phase heals every fault and checks liveness.

The same seed replays the same run byte for byte (see trace_hash). A failing seed prints the
command that replays it, with --trace and --html to study it. --seeds sweeps many seeds on every
core. The teaching bugs (--bug list) break Raft on purpose, to show the checkers catch them.`

func (f simFlags) options(seed int64) sim.Options {
	o := sim.Options{Seed: seed, Nodes: f.nodes, Duration: f.duration, Bug: f.bug, Preset: f.preset, Clients: f.clients, NoGossip: !f.gossip, Membership: f.members}
	if f.faults != "" {
		o.Faults = strings.Split(f.faults, ",")
	}
	return o
}

// replay is the command that reruns one seed exactly.
func (f simFlags) replay(seed int64) string {
	cmd := fmt.Sprintf("%s sim --seed %d --nodes %d --duration %v", self, seed, f.nodes, f.duration)
	if f.clients != 0 {
		cmd += fmt.Sprintf(" --clients %d", f.clients)
	}
	if f.faults != "" {
		cmd += " --faults " + f.faults
	}
	if f.bug != "" {
		cmd += " --bug " + f.bug
	}
	if f.preset != "" {
		cmd += " --preset " + f.preset
	}
	if !f.gossip {
		cmd += " --gossip=false"
	}
	if f.members {
		cmd += " --membership"
	}
	return cmd
}

func summarize(f simFlags, r *sim.Run, wall time.Duration) seedSummary {
	s := seedSummary{
		Seed: r.Options.Seed, TraceHash: r.TraceHash, Violations: r.Violations, Events: r.EventCount,
		SimSeconds: r.SimTime.Seconds(), WallSeconds: wall.Seconds(), Ops: len(r.History), OpsOK: r.OpsOK,
		LeaderChanges: r.LeaderChanges, Faults: r.Mix.String(), GossipMsgs: r.GossipMsgs,
		FailoverLeaderMs: millis(r.FailoverElect), FailoverWriteMs: millis(r.FailoverWrite),
	}
	if r.Linearizable != nil {
		s.Linearizable = string(r.Linearizable.Result)
	}
	if s.Violations == nil {
		s.Violations = []sim.Violation{}
	}
	if r.Failed() {
		s.Replay = f.replay(r.Options.Seed)
	}
	return s
}

func single(f simFlags) int {
	opts := f.options(f.seed)
	opts.KeepEvents = f.html != ""
	var traceFile *os.File
	if f.trace != "" {
		var err error
		if traceFile, err = os.Create(f.trace); err != nil {
			fmt.Fprintf(stderr, "kanna sim: create trace file: %v\n", err)
			return 1
		}
		defer traceFile.Close()
		opts.Trace = traceFile
	}
	start := time.Now()
	r, err := sim.Execute(opts)
	wall := time.Since(start)
	if err != nil {
		simFailed(err)
		return 2
	}
	if f.html != "" {
		if err := writeHTMLFile(f, r); err != nil {
			simFailed(err)
			return 1
		}
		path, err := filepath.Abs(f.html)
		if err != nil {
			path = f.html
		}
		fmt.Fprintf(stderr, "wrote %s: open it in a browser\n", path)
	}
	s := summarize(f, r, wall)
	if f.json {
		printJSON(stdout, s)
	} else {
		fmt.Fprintf(stdout, "seed %d: %s; %d events, %.1fs simulated in %.2fs, %d/%d ops ok, %d leader changes, trace_hash %s\n",
			s.Seed, verdict(r), s.Events, s.SimSeconds, s.WallSeconds, s.OpsOK, s.Ops, s.LeaderChanges, s.TraceHash)
		fmt.Fprintf(stdout, "  faults: %s\n", s.Faults)
		if s.Linearizable == "Unknown" {
			fmt.Fprintln(stdout, "  linearizable: not proven; porcupine's search passed its time limit (not a violation)")
		}
	}
	if r.Failed() {
		reportFailure(f, r)
		if f.bug != "" {
			explainFailure(f.bug)
		}
		return 1
	}
	if f.bug != "" {
		explainNothing(f.bug, false)
	}
	return 0
}

// htmlOptions reads --html-window and --html-max.
func (f simFlags) htmlOptions() (sim.HTMLOptions, error) {
	o := sim.HTMLOptions{MaxMessages: f.htmlMax}
	if f.window == "" {
		return o, nil
	}
	a, b, ok := strings.Cut(f.window, ":")
	var err error
	if ok {
		if o.From, err = time.ParseDuration(a); err == nil {
			o.To, err = time.ParseDuration(b)
		}
	}
	if err != nil {
		return o, fmt.Errorf("--html-window %q: %w; want FROM:TO, e.g. 12s:15s", f.window, err)
	}
	if !ok || o.From < 0 || o.To <= o.From {
		return o, fmt.Errorf("--html-window %q: want FROM:TO with FROM before TO, e.g. 12s:15s", f.window)
	}
	return o, nil
}

func writeHTMLFile(f simFlags, r *sim.Run) error {
	opts, err := f.htmlOptions()
	if err != nil {
		return err
	}
	out, err := os.Create(f.html)
	if err != nil {
		return fmt.Errorf("create html file: %w", err)
	}
	if err := sim.WriteHTML(out, r, opts); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// simFailed prints an error of `kanna sim`. Errors of package sim start with "sim: ", which the
// command's own prefix already says.
func simFailed(err error) {
	fmt.Fprintf(stderr, "kanna sim: %s\n", strings.TrimPrefix(err.Error(), "sim: "))
}

func verdict(r *sim.Run) string {
	if r.Failed() {
		return "VIOLATION"
	}
	return "ok"
}

func reportFailure(f simFlags, r *sim.Run) {
	fmt.Fprintf(stderr, "seed %d violated %d invariant(s):\n", r.Options.Seed, len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(stderr, "  %s\n", v)
	}
	fmt.Fprintf(stderr, "replay: %s --trace seed-%d.trace --html seed-%d.html\n", f.replay(r.Options.Seed), r.Options.Seed, r.Options.Seed)
}

func printJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of numbers and strings always marshal
	}
	fmt.Fprintln(w, string(b))
}

// sweep runs f.seeds seeds on every core and prints their summaries in seed order.
func sweep(f simFlags) int {
	workers := min(runtime.NumCPU(), f.seeds)
	type done struct {
		run  *sim.Run
		wall time.Duration
		err  error
	}
	results := make([]chan done, f.seeds)
	for i := range results {
		results[i] = make(chan done, 1)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				r, err := sim.Execute(f.options(f.seed + int64(i)))
				results[i] <- done{run: r, wall: time.Since(start), err: err}
			}
		}()
	}
	go func() {
		for i := range f.seeds {
			next <- i
		}
		close(next)
	}()

	start := time.Now()
	agg := aggregate{Aggregate: true, Seeds: f.seeds, FailedSeeds: []int64{}, Workers: workers}
	var leaderMs, writeMs []float64
	var failed []*sim.Run
	var runErr error
	for i := range f.seeds {
		d := <-results[i]
		if d.err != nil {
			runErr = d.err
			break
		}
		s := summarize(f, d.run, d.wall)
		if f.json {
			printJSON(stdout, s)
		}
		agg.Events += s.Events
		agg.SimSeconds += s.SimSeconds
		agg.OpsOK += s.OpsOK
		agg.LeaderChanges += s.LeaderChanges
		leaderMs = append(leaderMs, s.FailoverLeaderMs...)
		writeMs = append(writeMs, s.FailoverWriteMs...)
		if d.run.Failed() {
			failed = append(failed, d.run)
			agg.FailedSeeds = append(agg.FailedSeeds, s.Seed)
		}
		progress(i+1, f.seeds, len(failed), start)
	}
	if isTerminal(stderr) {
		fmt.Fprintln(stderr) // end the bar's line
	}
	if runErr != nil {
		simFailed(runErr)
		return 2 // the remaining workers stop once the seeds they hold are done
	}
	wg.Wait()
	agg.Failed = len(failed)
	agg.Failovers = len(writeMs)
	agg.FailoverLeaderP50, agg.FailoverLeaderP99, agg.FailoverLeaderMax = percentiles(leaderMs)
	agg.FailoverWriteP50, agg.FailoverWriteP99, agg.FailoverWriteMax = percentiles(writeMs)
	agg.WallSeconds = time.Since(start).Seconds()
	if agg.WallSeconds > 0 {
		agg.SimPerWall = agg.SimSeconds / agg.WallSeconds
	}
	if f.json {
		printJSON(stdout, agg)
	} else {
		fmt.Fprintf(stdout, "%d seeds from %d: %d failed; %.0fs simulated in %.1fs (%.0fx real time on %d workers), %d ops ok, %d leader changes\n",
			agg.Seeds, f.seed, agg.Failed, agg.SimSeconds, agg.WallSeconds, agg.SimPerWall, workers, agg.OpsOK, agg.LeaderChanges)
	}
	for _, r := range failed {
		reportFailure(f, r)
	}
	switch {
	case f.bug != "" && len(failed) > 0:
		explainFailure(f.bug)
	case f.bug != "":
		explainNothing(f.bug, false)
	}
	if len(failed) > 0 {
		return 1
	}
	return 0
}

// progress draws a one-line progress bar on stderr when it is a terminal; into a file or a pipe
// (a CI log) it writes a line at every tenth of the sweep instead of a bar redrawn per seed.
func progress(doneCount, total, failed int, start time.Time) {
	if !isTerminal(stderr) {
		if doneCount*10/total != (doneCount-1)*10/total {
			fmt.Fprintf(stderr, "%d/%d seeds, %d failed, %.0fs\n", doneCount, total, failed, time.Since(start).Seconds())
		}
		return
	}
	const width = 30
	filled := doneCount * width / total
	fmt.Fprintf(stderr, "\r[%s%s] %d/%d seeds, %d failed, %.0fs",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), doneCount, total, failed, time.Since(start).Seconds())
}

// isTerminal reports whether w is a terminal, where a line can be redrawn with \r.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// millis converts virtual durations to milliseconds, an empty list to an empty one.
func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d.Microseconds()) / 1000
	}
	return out
}
