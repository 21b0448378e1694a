// `kanna sim --gossip-only`: the gossip core alone (SWIM + Lifeguard, gossip/) at up to thousands
// of members in the deterministic simulator of tests/sim/gossipsim, measuring what the SWIM paper
// (Das, Gupta, Motivala 2002, §5) and the Lifeguard paper (Dadgar et al. 2018, §5) measure:
// detection time, dissemination, messages per member per second and false positives.
//
// A run is single-threaded and decided by its flags alone, so a printed result replays exactly.
package main

import (
	"flag"
	"fmt"
	"os"
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
	fs := flag.NewFlagSet("sim --gossip-only", flag.ContinueOnError)
	fs.Bool("gossip-only", true, "simulate the gossip core alone (this mode)")
	fs.IntVar(&o.Members, "members", 50, "cluster size")
	fs.Int64Var(&o.Seed, "seed", d.Seed, "the seed of the run")
	fs.DurationVar(&o.Duration, "duration", d.Duration, "simulated length of the run")
	fs.Float64Var(&o.Loss, "loss", 0, "share of messages lost while faults last, e.g. 0.05")
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
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.FaultsEnd > o.Duration {
		o.FaultsEnd = o.Duration
	}
	// A large run holds every member's table and broadcast queue (about 1.5 KB per pair of
	// members); collecting garbage less often trades that memory for a third less time.
	debug.SetGCPercent(400)
	start := time.Now()
	r, err := gossipsim.Run(o)
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kanna sim --gossip-only: %v\n", err)
		return 2
	}
	if jsonOut {
		printJSON(os.Stdout, r)
	} else {
		printGossipResult(r, o, wall)
	}
	if r.ViolationCount > 0 {
		fmt.Fprintf(os.Stderr, "seed %d violated %d check(s); replay: kanna sim %s\n", r.Seed, r.ViolationCount, strings.Join(args, " "))
		return 1
	}
	return 0
}

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
	fmt.Printf("gossip sim, seed %d: %d members, %s, loss %.0f%%, pause %v, partition %d; %.0fs simulated in %.1fs\n",
		r.Seed, r.Members, mode, 100*r.Loss, r.Pause, r.Partition, r.SimSeconds, wall.Seconds())
	if o.CrashAt >= 0 {
		fmt.Printf("  crash at %v: first survivor marked it dead after %s, the last after %s; dead news spread in %s\n",
			o.CrashAt, secs(r.FirstDetectS, "s"), secs(r.AllDetectS, "s"), secs(r.DisseminationPeriods, "periods"))
	}
	fmt.Printf("  false positives: %d healthy members declared dead (%d declarations, %d suspicions); paused member declared dead %d times\n",
		r.FalsePositives, r.FalsePositiveEvents, r.FalseSuspicionEvents, r.PausedDeclaredDead)
	fmt.Printf("  messages: %.2f per member per second after warmup\n", r.MsgsPerMemberPerS)
	fmt.Printf("  views matched the truth %s after faults ended\n", secs(r.ConvergedS, "s"))
	if r.ViolationCount == 0 {
		fmt.Println("  violations: none")
		return
	}
	fmt.Printf("  violations: %d\n", r.ViolationCount)
	for _, v := range r.Violations {
		fmt.Printf("    %s\n", v)
	}
}
