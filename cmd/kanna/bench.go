// `kanna bench`: a real cluster on loopback under load. It starts node processes (real gRPC,
// fsync'd write-ahead logs) as `kanna demo` does, then runs --clients concurrent players
// (internal/loadgen) for --duration and prints throughput and latency of committed commands: the
// cost of one trip through Raft's replication (paper §5.3: the leader appends, a majority persists,
// the entry commits, the leader applies and answers, §8).
//
// Two modes, the two halves of docs/benchmarks.md:
//   - the whole service (the default): the players are gRPC clients of the leader's Game service,
//     their calls on Game.Play streams (--client-path stream) or one unary call each (unary);
//   - consensus alone (--inprocess): this process hosts node 1, which bootstraps the cluster and
//     leads it, the other nodes are processes that join it, and the players call its Game service
//     as Go calls, so every op is proposed through the engine with no client network hop. The
//     replication between nodes is the same real gRPC and fsync.
//
// One op is one Game.Guess or Game.NewRound call that returned OK: a command proposed through the
// leader, replicated to a majority with fsync, committed and applied. Each client owns a room and
// plays it: it guesses letters in English frequency order and starts a new round when one is won or
// lost. --payload sets the length of each client's player name (1 to 32 characters, the game's
// limit), which every Guess command carries in the log.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kanna-cluster/kanna/internal/loadgen"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server"
	"github.com/kanna-cluster/kanna/server/demo"
)

func init() {
	register("bench", "load a local cluster of real nodes and print ops_per_sec, p50_ms, p99_ms (--json)", runBench)
}

// benchOptions are the parsed flags of `kanna bench`.
type benchOptions struct {
	nodes     int
	load      loadgen.Options
	json      bool
	inprocess bool
	extra     []string // flags for every node, from --node-flags
	profile   string   // CPU profile of this process, from --cpuprofile
	path      string   // the players' client path, from --client-path
	failover  bool
	kills     int
}

func runBench(args []string) int {
	var opt benchOptions
	var nodeFlags string
	fs := newFlags("bench", benchHelp,
		"kanna bench",
		"kanna bench --nodes 5 --clients 128 --duration 30s --json",
		"kanna bench --inprocess --nodes 3 --json",
		"kanna bench --client-path unary",
		"kanna bench --node-flags '--tick 50ms --snapshot-every 5000'")
	fs.IntVar(&opt.nodes, "nodes", 3, "cluster size, at least 1")
	fs.IntVar(&opt.load.Clients, "clients", 64, "concurrent players, each with its own room, at least 1")
	fs.DurationVar(&opt.load.Duration, "duration", 10*time.Second, "how long to measure, a positive duration")
	fs.IntVar(&opt.load.Payload, "payload", 16, "length of each player's name, carried by every guess (1-32)")
	fs.BoolVar(&opt.json, "json", false, "print one JSON object instead of a sentence")
	fs.BoolVar(&opt.inprocess, "inprocess", false, "consensus alone: host the leader in this process and call its Game service without gRPC")
	fs.StringVar(&nodeFlags, "node-flags", "", "extra flags for every node, space separated")
	fs.BoolVar(&opt.failover, "failover", false, "kill the leader with SIGKILL --kills times under load; print the time to a new leader and to the next acknowledged write")
	fs.IntVar(&opt.kills, "kills", 20, "leader kills of --failover")
	fs.StringVar(&opt.path, "client-path", loadgen.PathStream, "how the players call the Game service over gRPC: stream (many calls on one Game.Play stream per connection) or unary (one call per op)")
	fs.StringVar(&opt.profile, "cpuprofile", "", "write this process's CPU profile (with --inprocess, the leader's) to this file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !checkFlags("bench",
		atLeast("nodes", opt.nodes, 1),
		atLeast("clients", opt.load.Clients, 1),
		longerThan("duration", opt.load.Duration, 0),
		between("payload", opt.load.Payload, 1, 32),
	) {
		return 2
	}
	if opt.path != loadgen.PathStream && opt.path != loadgen.PathUnary {
		fmt.Fprintf(stderr, "kanna bench: --client-path %q: use %s or %s\n", opt.path, loadgen.PathStream, loadgen.PathUnary)
		return 2
	}
	opt.extra = strings.Fields(nodeFlags)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opt.profile != "" {
		stopProfile, err := startCPUProfile(opt.profile)
		if err != nil {
			fmt.Fprintf(stderr, "kanna bench: %v\n", err)
			return 1
		}
		defer stopProfile()
	}
	if opt.failover {
		if opt.inprocess || opt.kills < 1 {
			fmt.Fprintln(stderr, "kanna bench: --failover needs --kills >= 1 and kills node processes, so it does not go with --inprocess")
			return 2
		}
		res, err := benchFailover(ctx, opt, opt.kills, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "kanna bench: %v\n", err)
			return 1
		}
		printFailover(res, opt.json)
		return 0
	}
	bench := benchMain
	if opt.inprocess {
		bench = benchInProcess
	}
	res, err := bench(ctx, opt, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kanna bench: %v\n", err)
		return 1
	}
	if opt.json {
		out, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(out))
	} else {
		fmt.Fprintf(stdout, "%s, %s: %d nodes, %d clients, %v: %d ops, %.0f ops/s, p50 %.2f ms, p99 %.2f ms\n",
			res.System, res.Mode, res.Nodes, res.Clients, opt.load.Duration, res.Ops, res.OpsPerSec, res.P50ms, res.P99ms)
	}
	return 0
}

const benchHelp = `
Loads a local cluster and prints the throughput and latency of committed commands: ops_per_sec,
p50_ms and p99_ms. It starts node processes of this binary on loopback (real gRPC, write-ahead logs
that fsync), waits for a leader, then runs --clients concurrent players for --duration.

By default the players are gRPC clients of the leader's Game service: the whole service, their
calls sharing one Game.Play stream per connection (--client-path stream, the default), or one
unary call per op (--client-path unary). With --inprocess this process hosts the leader and the
players call its Game service as Go calls: consensus alone, with the same gRPC and fsync between
nodes. One op is one Guess or NewRound call
that returned OK: proposed through the leader, replicated to a majority, committed and applied.
Progress and node logs go to stderr, the result to stdout (one JSON object with --json).`

// benchMain starts the cluster as processes, loads its leader over gRPC and stops it.
func benchMain(ctx context.Context, opt benchOptions, progress io.Writer) (loadgen.Result, error) {
	sup, err := demo.New(demo.Config{ExtraArgs: opt.extra, Progress: progress})
	if err != nil {
		return loadgen.Result{}, err
	}
	defer func() {
		if err := sup.Shutdown(); err != nil {
			fmt.Fprintln(progress, err)
		}
	}()
	if err := sup.StartCluster(opt.nodes); err != nil {
		return loadgen.Result{}, err
	}
	fctx, cancel := context.WithTimeout(ctx, formTimeout)
	leader, err := sup.WaitReady(fctx)
	cancel()
	if err != nil {
		printLogTails(progress, sup.Nodes())
		return loadgen.Result{}, err
	}
	// A few connections, as a few web servers would open. On two cores, 1 and 8 connections
	// measured the same within run-to-run noise; 64 were slower (more transports for the leader).
	games := make([]loadgen.Game, min(opt.load.Clients, 8))
	for i := range games {
		conn, err := demo.Dial(sup.Node(leader).Addr, "")
		if err != nil {
			return loadgen.Result{}, err
		}
		defer conn.Close()
		g, err := loadgen.Client(opt.path, kannapb.NewGameClient(conn))
		if err != nil {
			return loadgen.Result{}, err
		}
		defer g.Close()
		games[i] = g
	}
	before := maxTerm(ctx, sup)
	res, err := loadgen.Run(ctx, games, opt.load, progress)
	res.System, res.Mode, res.Nodes, res.ClientPath = "kanna", loadgen.ModeService, opt.nodes, opt.path
	if after := maxTerm(ctx, sup); err == nil && after >= before && before > 0 {
		elections := after - before
		res.Elections = &elections
	}
	return res, err
}

// benchInProcess hosts node 1 in this process, starts the others as processes that join it, and
// loads node 1's Game service with Go calls.
func benchInProcess(ctx context.Context, opt benchOptions, progress io.Writer) (loadgen.Result, error) {
	dir, err := os.MkdirTemp("", "kanna-bench-")
	if err != nil {
		return loadgen.Result{}, fmt.Errorf("create a temporary folder for node data: %w; check that TMPDIR is writable", err)
	}
	defer os.RemoveAll(dir)
	flags := append([]string{"--id", "1", "--data", filepath.Join(dir, "node1"), "--addr", "127.0.0.1:0", "--log-level", "warn"}, opt.extra...)
	cfg, _, err := nodeConfig(flags)
	if err != nil {
		return loadgen.Result{}, fmt.Errorf("the in-process node's flags (--node-flags %q): %w", strings.Join(opt.extra, " "), err)
	}
	leader, err := server.NewNode(cfg)
	if err != nil {
		return loadgen.Result{}, err
	}
	leader.Start()
	defer func() { _ = leader.Kill() }()
	fmt.Fprintf(progress, "node 1 serving in this process on %s\n", leader.Addr())
	sup, err := demo.New(demo.Config{Dir: dir, ExtraArgs: opt.extra, Progress: progress, FirstID: 2, Join: leader.Addr()})
	if err != nil {
		return loadgen.Result{}, err
	}
	defer func() {
		if err := sup.Shutdown(); err != nil {
			fmt.Fprintln(progress, err)
		}
	}()
	if opt.nodes > 1 {
		if err := sup.StartCluster(opt.nodes - 1); err != nil {
			return loadgen.Result{}, err
		}
	}
	fctx, cancel := context.WithTimeout(ctx, formTimeout)
	err = waitLeads(fctx, leader, opt.nodes, progress)
	cancel()
	if err != nil {
		printLogTails(progress, sup.Nodes())
		return loadgen.Result{}, err
	}
	before := max(maxTerm(ctx, sup), leader.Term())
	res, err := loadgen.Run(ctx, []loadgen.Game{leader.GameServer()}, opt.load, progress)
	res.System, res.Mode, res.Nodes = "kanna", loadgen.ModeConsensus, opt.nodes
	if after := max(maxTerm(ctx, sup), leader.Term()); err == nil && after >= before && before > 0 {
		elections := after - before
		res.Elections = &elections
	}
	return res, err
}

// maxTerm is the highest term the supervised nodes report, 0 when none answers.
func maxTerm(ctx context.Context, sup *demo.Supervisor) uint64 {
	var term uint64
	for _, st := range sup.Statuses(ctx, 2*time.Second) {
		term = max(term, st.Term)
	}
	return term
}

// waitLeads polls node n until it leads a configuration of the voters 1..size and no learner.
func waitLeads(ctx context.Context, n *server.Node, size int, progress io.Writer) error {
	conn, err := demo.Dial(n.Addr(), "")
	if err != nil {
		return err
	}
	defer conn.Close()
	cluster := kannapb.NewClusterClient(conn)
	want := make([]uint64, size)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		st, err := cluster.Status(ctx, &kannapb.StatusRequest{})
		missing := ""
		switch {
		case err != nil:
			missing = err.Error()
		case st.Role != kannapb.NodeRole_NODE_ROLE_LEADER:
			missing = fmt.Sprintf("node 1 is %s in term %d", st.Role, st.Term)
		case !slices.Equal(st.Voters, want) || len(st.Learners) > 0:
			missing = fmt.Sprintf("voters %v and learners %v; waiting for voters %v", st.Voters, st.Learners, want)
		default:
			fmt.Fprintf(progress, "cluster formed: node 1 leads in this process\n")
			return nil
		}
		if missing != last {
			fmt.Fprintf(progress, "waiting: %s\n", missing)
			last = missing
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster did not form: %s (%w)", missing, ctx.Err())
		case <-n.Done():
			return errors.Join(errors.New("node 1 stopped"), n.Err())
		case <-tick.C:
		}
	}
}
