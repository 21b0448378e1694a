// `kanna bench`: a real cluster on loopback under load. It starts node processes (real gRPC,
// fsync'd write-ahead logs) as `kanna demo` does, then runs --clients concurrent players against
// the leader for --duration and prints throughput and latency of committed commands: the cost of
// one trip through Raft's replication (paper §5.3: the leader appends, a majority persists, the
// entry commits, the leader applies and answers, §8).
//
// One op is one Game.Guess or Game.NewRound call that returned OK: a command proposed through the
// leader, replicated to a majority with fsync, committed and applied. Each client owns a room and
// plays it: it guesses letters in English frequency order and starts a new round when one is won or
// lost. --payload sets the length of each client's player name (1 to 32 characters, the game's
// limit), which every Guess command carries in the log; it is not an opaque blob as in the
// hashicorp/raft anchor, whose commands are exactly --payload bytes.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/kanna-cluster/kanna/server/demo"
)

func init() {
	register("bench", "load a local cluster of real nodes and print ops_per_sec, p50_ms, p99_ms (--json)", runBench)
}

// benchOptions are the parsed flags of `kanna bench`.
type benchOptions struct {
	nodes    int
	clients  int
	duration time.Duration
	payload  int
	json     bool
	extra    []string // flags for every node, from --node-flags
}

func runBench(args []string) int {
	var opt benchOptions
	var nodeFlags string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&opt.nodes, "nodes", 3, "cluster size")
	fs.IntVar(&opt.clients, "clients", 64, "concurrent players, each with its own room")
	fs.DurationVar(&opt.duration, "duration", 10*time.Second, "how long to measure")
	fs.IntVar(&opt.payload, "payload", 16, "length of each player's name, carried by every guess (1-32)")
	fs.BoolVar(&opt.json, "json", false, "print one JSON object instead of a sentence")
	fs.StringVar(&nodeFlags, "node-flags", "", "extra flags for every node, space separated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if opt.nodes < 1 || opt.clients < 1 || opt.duration <= 0 || opt.payload < 1 || opt.payload > 32 {
		fmt.Fprintln(os.Stderr, "kanna bench: need --nodes >= 1, --clients >= 1, --duration > 0 and --payload between 1 and 32")
		return 2
	}
	opt.extra = strings.Fields(nodeFlags)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := benchMain(ctx, opt, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kanna bench: %v\n", err)
		return 1
	}
	if opt.json {
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
	} else {
		fmt.Printf("%d nodes, %d clients, %v: %d ops, %.0f ops/s, p50 %.2f ms, p99 %.2f ms\n",
			res.Nodes, res.Clients, opt.duration, res.Ops, res.OpsPerSec, res.P50ms, res.P99ms)
	}
	return 0
}

// benchMain starts the cluster, loads it and stops it.
func benchMain(ctx context.Context, opt benchOptions, progress io.Writer) (benchResult, error) {
	sup, err := demo.New(demo.Config{ExtraArgs: opt.extra, Progress: progress})
	if err != nil {
		return benchResult{}, err
	}
	defer func() {
		if err := sup.Shutdown(); err != nil {
			fmt.Fprintln(progress, err)
		}
	}()
	if err := sup.StartCluster(opt.nodes); err != nil {
		return benchResult{}, err
	}
	fctx, cancel := context.WithTimeout(ctx, formTimeout)
	leader, err := sup.WaitReady(fctx)
	cancel()
	if err != nil {
		printLogTails(progress, sup.Nodes())
		return benchResult{}, err
	}
	// A few connections, as a few web servers would open. On two cores, 1 and 8 connections
	// measured the same within run-to-run noise; 64 were slower (more transports for the leader).
	conns := make([]*grpc.ClientConn, min(opt.clients, 8))
	for i := range conns {
		if conns[i], err = demo.Dial(sup.Node(leader).Addr, ""); err != nil {
			return benchResult{}, err
		}
		defer conns[i].Close()
	}
	res, err := runLoad(ctx, conns, loadOptions{clients: opt.clients, duration: opt.duration, payload: opt.payload}, progress)
	if err != nil {
		return benchResult{}, err
	}
	res.Nodes = opt.nodes
	return res, nil
}
