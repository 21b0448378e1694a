// `kanna sim --gossip-only`: the gossip core alone (SWIM + Lifeguard, gossip/) at up to thousands
// of members in the deterministic simulator of tests/sim/gossipsim, measuring what the SWIM paper
// (Das, Gupta, Motivala 2002, §5) and the Lifeguard paper (Dadgar et al. 2018, §5) measure:
// detection time, dissemination, messages per member per second and false positives.
//
// A run is single-threaded and decided by its flags alone, so a printed result replays exactly.
package main

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kanna-cluster/kanna/tests/sim/gossipsim"
)

// gossipOnly reports whether the arguments of `kanna sim` ask for the gossip-only simulator.
func gossipOnly(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--gossip-only" || a == "-gossip-only" || strings.HasPrefix(a, "--gossip-only=true") {
			return true
		}
	}
	return false
}

// runGossipSim runs `kanna sim --gossip-only` and prints its measurements.
func runGossipSim(args []string) int {
	d := gossipsim.DefaultOptions(0, 1)
	o := d
	var jsonOut bool
	fs := newFlags("sim --gossip-only", gossipSimHelp,
		"kanna sim --gossip-only --members 100                     a crash among 100 members, no other fault",
		"kanna sim --gossip-only --members 1000 --loss 0.05 --json",
		"kanna sim --gossip-only --members 50 --pause --lifeguard=false   a paused member under plain SWIM",
		"kanna sim --gossip-only --members 20 --partition 5 --crash-at -1s")
	fs.Bool("gossip-only", true, "simulate the gossip core alone (this mode)")
	fs.IntVar(&o.Members, "members", 50, "cluster size, at least 2")
	fs.Int64Var(&o.Seed, "seed", d.Seed, "the seed of the run")
	fs.DurationVar(&o.Duration, "duration", d.Duration, "simulated length of the run")
	fs.Float64Var(&o.Loss, "loss", 0, "share of messages lost while faults last, from 0 up to but not including 1, e.g. 0.05")
	fs.BoolVar(&o.Pause, "pause", false, "freeze one member (the middle one) for --pause-for in every --pause-every while faults last")
	fs.DurationVar(&o.PauseFor, "pause-for", d.PauseFor, "length of each pause")
	fs.DurationVar(&o.PauseEvery, "pause-every", d.PauseEvery, "period of the pauses")
	fs.BoolVar(&o.Lifeguard, "lifeguard", true, "Lifeguard on (local health, nacks, dynamic suspicion, buddy system); --lifeguard=false is plain SWIM")
	fs.DurationVar(&o.CrashAt, "crash-at", d.CrashAt, "when the last member crashes; negative: no crash")
	fs.IntVar(&o.Partition, "partition", 0, "cut this many members off from the rest from --partition-at until faults end")
	fs.DurationVar(&o.PartitionAt, "partition-at", d.PartitionAt, "when the partition starts")
	fs.DurationVar(&o.FaultsEnd, "faults-end", d.FaultsEnd, "when loss, pauses and the partition end; the rest of the run must converge")
	fs.DurationVar(&o.Warmup, "warmup", d.Warmup, "messages are counted from this time on")
	fs.DurationVar(&o.Latency, "latency", d.Latency, "one-way network delay")
	fs.DurationVar(&o.Jitter, "jitter", d.Jitter, "extra delay drawn uniformly from [0, jitter)")
	fs.DurationVar(&o.StaleDeadBound, "stale-dead-bound", d.StaleDeadBound, "how long a live, reachable member may stay dead in a view")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON object")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	bug := fs.String("bug", "", "switch on the gossip teaching bug `NAME` ('kanna sim --bug list' names them), with the faults that expose it")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var loss error
	if o.Loss < 0 || o.Loss >= 1 {
		loss = fmt.Errorf("--loss %v: must be at least 0 and less than 1, e.g. 0.05", o.Loss)
	}
	if !checkFlags("sim --gossip-only",
		atLeast("members", o.Members, 2),
		longerThan("duration", o.Duration, 0),
		loss,
		longerThan("pause-for", o.PauseFor, 0),
		longerThan("pause-every", o.PauseEvery, o.PauseFor),
		between("partition", o.Partition, 0, max(0, o.Members-1)),
		notNegative("partition-at", o.PartitionAt),
		notNegative("faults-end", o.FaultsEnd),
		notNegative("warmup", o.Warmup),
		notNegative("latency", o.Latency),
		notNegative("jitter", o.Jitter),
		longerThan("stale-dead-bound", o.StaleDeadBound, 0),
	) {
		return 2
	}
	if *profile != "" {
		stop, err := startCPUProfile(*profile)
		if err != nil {
			fmt.Fprintf(stderr, "kanna sim --gossip-only: %v\n", err)
			return 1
		}
		defer stop()
	}
	if o.FaultsEnd > o.Duration {
		o.FaultsEnd = o.Duration
	}
	if *bug != "" {
		b, err := gossipsim.LookupBug(*bug)
		if err != nil {
			fmt.Fprintf(stderr, "kanna sim --gossip-only: %s\n", strings.TrimPrefix(err.Error(), "gossip sim: "))
			return 2
		}
		b.Apply(&o)
	}
	// A large run holds every member's table and broadcast queue (about 1.5 KB per pair of
	// members); collecting garbage less often trades that memory for a third less time.
	debug.SetGCPercent(400)
	start := time.Now()
	r, err := gossipsim.Run(o)
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintf(stderr, "kanna sim --gossip-only: %s\n", strings.TrimPrefix(err.Error(), "gossip sim: "))
		return 2
	}
	if jsonOut {
		printJSON(stdout, r)
	} else {
		printGossipResult(r, o, wall)
	}
	if r.ViolationCount > 0 {
		fmt.Fprintf(stderr, "seed %d violated %d check(s); replay: %s sim %s\n", r.Seed, r.ViolationCount, self, strings.Join(args, " "))
		if *bug != "" {
			explainFailure(*bug)
		}
		return 1
	}
	if *bug != "" {
		explainNothing(*bug, true)
	}
	return 0
}

const gossipSimHelp = `
Simulates the gossip core alone (SWIM with the Lifeguard extensions, package gossip) at up to
thousands of members, in one thread, and measures what the SWIM and Lifeguard papers measure: how
long until the survivors declare a crashed member dead, how fast that news spreads, messages per
member per second, and healthy members falsely declared dead under loss, pauses and a partition.
Faults last until --faults-end; the rest of the run must bring every view back to the truth.
The same flags replay the same run exactly.`

func printGossipResult(r *gossipsim.Result, o gossipsim.Options, wall time.Duration) {
	secs := func(v *float64, unit string) string {
		if v == nil {
			return "never"
		}
		return fmt.Sprintf("%.1f %s", *v, unit)
	}
	mode := "Lifeguard"
	if !r.Lifeguard {
		mode = "SWIM (no Lifeguard)"
	}
	fmt.Fprintf(stdout, "gossip sim, seed %d: %d members, %s, loss %.0f%%, pause %v, partition %d; %.0fs simulated in %.1fs\n",
		r.Seed, r.Members, mode, 100*r.Loss, r.Pause, r.Partition, r.SimSeconds, wall.Seconds())
	if o.CrashAt >= 0 {
		fmt.Fprintf(stdout, "  crash at %v: first survivor marked it dead after %s, the last after %s; dead news spread in %s\n",
			o.CrashAt, secs(r.FirstDetectS, "s"), secs(r.AllDetectS, "s"), secs(r.DisseminationPeriods, "periods"))
	}
	fmt.Fprintf(stdout, "  false positives: %d healthy members declared dead (%d declarations, %d suspicions); paused member declared dead %d times\n",
		r.FalsePositives, r.FalsePositiveEvents, r.FalseSuspicionEvents, r.PausedDeclaredDead)
	fmt.Fprintf(stdout, "  messages: %.2f per member per second after warmup\n", r.MsgsPerMemberPerS)
	fmt.Fprintf(stdout, "  views matched the truth %s after faults ended\n", secs(r.ConvergedS, "s"))
	if r.ViolationCount == 0 {
		fmt.Fprintln(stdout, "  violations: none")
		return
	}
	fmt.Fprintf(stdout, "  violations: %d\n", r.ViolationCount)
	for _, v := range r.Violations {
		fmt.Fprintf(stdout, "    %s\n", v)
	}
}
