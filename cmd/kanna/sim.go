// `kanna sim`: seeded, deterministic simulations of whole clusters (tests/sim), one seed or a
// sweep of many across all cores, with JSON summaries, text traces and HTML diagrams.
//
// Each run is single-threaded and decided by its seed alone; only the sweep uses goroutines, one
// run per goroutine, so a failing seed found in a sweep replays alone with `kanna sim --seed N`.

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/kanna-cluster/kanna/tests/sim"
)

// simOut and simErr are where `kanna sim` writes its results and its progress and failures.
var simOut, simErr io.Writer = os.Stdout, os.Stderr

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
	GossipMsgs int    `json:"gossip_msgs"`
	Replay     string `json:"replay,omitempty"`
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
}

func runSim(args []string) int {
	if gossipOnly(args) {
		return runGossipSim(args)
	}
	var f simFlags
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(simErr)
	fs.Int64Var(&f.seed, "seed", 1, "the seed of the run, or the first seed of a sweep")
	fs.IntVar(&f.seeds, "seeds", 0, "run this many consecutive seeds from --seed, across all cores")
	fs.IntVar(&f.nodes, "nodes", 5, "cluster size")
	fs.IntVar(&f.clients, "clients", 0, "concurrent players (0: each seed draws 3 to 5)")
	fs.DurationVar(&f.duration, "duration", 60*time.Second, "simulated time of a run, safety and liveness phases together")
	fs.StringVar(&f.faults, "faults", "", "comma list of faults a seed may enable: "+strings.Join(sim.FaultNames, ",")+" (default: all, or the bug's own list)")
	fs.StringVar(&f.bug, "bug", "", "switch on the teaching bug `NAME` (--bug list names them)")
	fs.StringVar(&f.preset, "preset", "", "use the fault mix of the bug `NAME` without the bug: the control run for a seed the bug fails")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per seed (and a final aggregate for --seeds)")
	fs.StringVar(&f.trace, "trace", "", "write the text trace of the run to this file (one seed only)")
	fs.StringVar(&f.html, "html", "", "write the run's space-time diagram, a self-contained HTML page, to this file (one seed only)")
	fs.StringVar(&f.window, "html-window", "", "draw only this `FROM:TO` window of simulated time in --html, e.g. 12s:15s (default: the whole run)")
	fs.IntVar(&f.htmlMax, "html-max", sim.DefaultMaxMessages, "draw at most this many messages in --html (the first of the window)")
	fs.BoolVar(&f.gossip, "gossip", true, "run a gossip core beside every node; --gossip=false runs Raft alone")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if f.bug == "list" {
		for _, b := range sim.Bugs {
			fmt.Fprintf(simOut, "%-28s %s (caught by %s within %d seeds)\n", b.Name, b.Help, b.Expect, b.Seeds)
		}
		return 0
	}
	if f.seeds > 0 && (f.trace != "" || f.html != "") {
		fmt.Fprintln(simErr, "kanna sim: --trace and --html write one run; use them with --seed alone, e.g. to replay a failing seed of a sweep")
		return 2
	}
	if _, err := f.htmlOptions(); err != nil {
		fmt.Fprintf(simErr, "kanna sim: %v\n", err)
		return 2
	}
	if f.seeds > 0 {
		return sweep(f)
	}
	return single(f)
}

func (f simFlags) options(seed int64) sim.Options {
	o := sim.Options{Seed: seed, Nodes: f.nodes, Duration: f.duration, Bug: f.bug, Preset: f.preset, Clients: f.clients, NoGossip: !f.gossip}
	if f.faults != "" {
		o.Faults = strings.Split(f.faults, ",")
	}
	return o
}

// replay is the command that reruns one seed exactly.
func (f simFlags) replay(seed int64) string {
	cmd := fmt.Sprintf("kanna sim --seed %d --nodes %d --duration %v", seed, f.nodes, f.duration)
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
	return cmd
}

func summarize(f simFlags, r *sim.Run, wall time.Duration) seedSummary {
	s := seedSummary{
		Seed: r.Options.Seed, TraceHash: r.TraceHash, Violations: r.Violations, Events: r.EventCount,
		SimSeconds: r.SimTime.Seconds(), WallSeconds: wall.Seconds(), Ops: len(r.History), OpsOK: r.OpsOK,
		LeaderChanges: r.LeaderChanges, Faults: r.Mix.String(), GossipMsgs: r.GossipMsgs,
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
			fmt.Fprintf(simErr, "kanna sim: create trace file: %v\n", err)
			return 1
		}
		defer traceFile.Close()
		opts.Trace = traceFile
	}
	start := time.Now()
	r, err := sim.Execute(opts)
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintf(simErr, "kanna sim: %v\n", err)
		return 2
	}
	if f.html != "" {
		if err := writeHTMLFile(f, r); err != nil {
			fmt.Fprintf(simErr, "kanna sim: %v\n", err)
			return 1
		}
	}
	s := summarize(f, r, wall)
	if f.json {
		printJSON(simOut, s)
	} else {
		fmt.Fprintf(simOut, "seed %d: %s; %d events, %.1fs simulated in %.2fs, %d/%d ops ok, %d leader changes, trace_hash %s\n",
			s.Seed, verdict(r), s.Events, s.SimSeconds, s.WallSeconds, s.OpsOK, s.Ops, s.LeaderChanges, s.TraceHash)
		fmt.Fprintf(simOut, "  faults: %s\n", s.Faults)
		if s.Linearizable == "Unknown" {
			fmt.Fprintln(simOut, "  linearizable: not proven; porcupine's search passed its time limit (not a violation)")
		}
	}
	if r.Failed() {
		reportFailure(f, r)
		return 1
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

func verdict(r *sim.Run) string {
	if r.Failed() {
		return "VIOLATION"
	}
	return "ok"
}

func reportFailure(f simFlags, r *sim.Run) {
	fmt.Fprintf(simErr, "seed %d violated %d invariant(s):\n", r.Options.Seed, len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(simErr, "  %s\n", v)
	}
	fmt.Fprintf(simErr, "replay: %s --trace seed-%d.trace --html seed-%d.html\n", f.replay(r.Options.Seed), r.Options.Seed, r.Options.Seed)
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
	var failed []*sim.Run
	var runErr error
	for i := range f.seeds {
		d := <-results[i]
		progress(i+1, f.seeds, len(failed), start)
		if d.err != nil {
			runErr = d.err
			break
		}
		s := summarize(f, d.run, d.wall)
		if f.json {
			printJSON(simOut, s)
		}
		agg.Events += s.Events
		agg.SimSeconds += s.SimSeconds
		agg.OpsOK += s.OpsOK
		agg.LeaderChanges += s.LeaderChanges
		if d.run.Failed() {
			failed = append(failed, d.run)
			agg.FailedSeeds = append(agg.FailedSeeds, s.Seed)
		}
	}
	fmt.Fprintln(simErr)
	if runErr != nil {
		fmt.Fprintf(simErr, "kanna sim: %v\n", runErr)
		return 2 // the remaining workers stop once the seeds they hold are done
	}
	wg.Wait()
	agg.Failed = len(failed)
	agg.WallSeconds = time.Since(start).Seconds()
	if agg.WallSeconds > 0 {
		agg.SimPerWall = agg.SimSeconds / agg.WallSeconds
	}
	if f.json {
		printJSON(simOut, agg)
	} else {
		fmt.Fprintf(simOut, "%d seeds from %d: %d failed; %.0fs simulated in %.1fs (%.0fx real time on %d workers), %d ops ok, %d leader changes\n",
			agg.Seeds, f.seed, agg.Failed, agg.SimSeconds, agg.WallSeconds, agg.SimPerWall, workers, agg.OpsOK, agg.LeaderChanges)
	}
	for _, r := range failed {
		reportFailure(f, r)
	}
	if len(failed) > 0 {
		return 1
	}
	return 0
}

// progress draws a one-line progress bar on stderr.
func progress(doneCount, total, failed int, start time.Time) {
	const width = 30
	filled := doneCount * width / total
	fmt.Fprintf(simErr, "\r[%s%s] %d/%d seeds, %d failed, %.0fs",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), doneCount, total, failed, time.Since(start).Seconds())
}
