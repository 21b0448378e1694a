// `kanna node`: one Kanna node in this process, serving the Raft, Gossip, Game and Cluster gRPC
// services on one address (server.Node). docs/operations.md describes every flag and the data
// folder.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/kanna-cluster/kanna/server"
)

func init() {
	register("node", "run one cluster node (--id, --data, --addr, --join)", runNode)
}

// shutdownGrace bounds a graceful stop: the node must exit within 5 s of SIGTERM, so that
// process supervisors need not escalate to SIGKILL.
const shutdownGrace = 4500 * time.Millisecond

func runNode(args []string) int {
	args, profile := cpuProfileFlag(args)
	cfg, logger, code, ok := parseNodeFlags(args)
	if !ok {
		return code
	}
	n, err := server.NewNode(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "kanna node: %v\n", err)
		return 1
	}
	if profile != "" {
		stop, err := startCPUProfile(fmt.Sprintf("%s.%d", profile, cfg.ID))
		if err != nil {
			fmt.Fprintf(stderr, "kanna node: %v\n", err)
			return 1
		}
		defer stop()
	}
	logger = logger.With("node", cfg.ID)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	n.Start()
	fmt.Fprintf(stdout, "kanna node %d serving on %s\n", n.ID(), n.Addr())
	select {
	case sig := <-sigs:
		logger.Info("kanna node: stopping", "signal", sig.String())
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			logger.Warn("kanna node: graceful stop incomplete", "err", err)
		}
		if err := n.Err(); err != nil {
			return 1
		}
		return 0
	case <-n.Done():
		_ = n.Kill()
		fmt.Fprintf(stderr, "kanna node: stopped: %v\n", n.Err())
		return 1
	}
}

const nodeHelp = `
Runs one Kanna node in this process: Raft, gossip and the Hangman game, serving the Raft, Gossip,
Game and Cluster gRPC services on --addr. The first node of a cluster starts with an empty --data
and no --join, and bootstraps a one-node cluster; every other node starts with --join and gossip
brings it in, first as a learner, then as a voter once it has caught up. A restarted node finds its
log, snapshot and peers in --data and needs no --join. SIGTERM or Ctrl-C stops it gracefully.`

// parseNodeFlags reads the flags of `kanna node` into a server.Config. ok is false when the
// command must stop with code: after --help, or after an error it has printed.
func parseNodeFlags(args []string) (cfg server.Config, logger *slog.Logger, code int, ok bool) {
	cfg, logger, err := nodeConfig(args)
	var done exitStatus
	if errors.As(err, &done) {
		return cfg, nil, int(done), false
	}
	if err != nil {
		printError("node", err)
		return cfg, nil, 2, false
	}
	return cfg, logger, 0, true
}

func nodeConfig(args []string) (server.Config, *slog.Logger, error) {
	fs := newFlags("node", nodeHelp,
		"kanna node --id 1 --data ./data/n1 --addr 127.0.0.1:7001",
		"kanna node --id 2 --data ./data/n2 --addr 127.0.0.1:7002 --join 127.0.0.1:7001",
		"kanna node --id 3 --data ./data/n3 --addr 127.0.0.1:7003 --join 127.0.0.1:7001 --reap-after 5m")
	var (
		id            = fs.Uint64("id", 0, "this node's id, a positive integer unique in the cluster (required)")
		data          = fs.String("data", "", "folder for this node's log, snapshots and address book (required)")
		addr          = fs.String("addr", "127.0.0.1:7001", "host:port to serve every service on; peers and clients dial it")
		join          = fs.String("join", "", "comma-separated addresses of members of an existing cluster; empty with empty --data bootstraps a new cluster")
		key           = fs.String("cluster-key", "", "shared secret of node-to-node and Cluster calls (default: the public development key "+server.DevClusterKey+")")
		faults        = fs.Bool("enable-fault-injection", false, "allow Cluster.DropTraffic and Heal (for demos and tests)")
		tlsCert       = fs.String("tls-cert", "", "PEM certificate for mutual TLS (with --tls-key and --tls-ca)")
		tlsKey        = fs.String("tls-key", "", "PEM private key of --tls-cert")
		tlsCA         = fs.String("tls-ca", "", "PEM CA bundle that signed every node's certificate")
		snapshotEvery = fs.Uint64("snapshot-every", 10000, "snapshot the game and compact the log after this many applied entries, at least 1")
		reapAfter     = fs.Duration("reap-after", 0, "remove a member gossip has declared dead for this long, keeping at least 3 voters (0: never)")
		tick          = fs.Duration("tick", server.DefaultTickInterval, "length of one Raft and gossip tick, a positive duration")
		electionTicks = fs.Int("election-ticks", server.DefaultElectionTick, "Raft election timeout in ticks, at least 3 (followers wait one to two timeouts)")
		logLevel      = fs.String("log-level", "info", "debug, info, warn or error")
		logJSON       = fs.Bool("log-json", false, "write log lines as JSON instead of text")
	)
	if code, ok := parseFlags(fs, args); !ok {
		return server.Config{}, nil, exitStatus(code)
	}
	if err := flagErrors(
		atLeast("snapshot-every", *snapshotEvery, 1),
		notNegative("reap-after", *reapAfter),
		longerThan("tick", *tick, 0),
		atLeast("election-ticks", *electionTicks, 3),
	); err != nil {
		return server.Config{}, nil, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return server.Config{}, nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	if *logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, opts))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, opts))
	}
	switch {
	case *id == 0:
		return server.Config{}, nil, errors.New("--id is required: a positive integer unique in the cluster, e.g. --id 1")
	case *data == "":
		return server.Config{}, nil, errors.New("--data is required: a folder only this node uses, e.g. --data ./data/node1")
	case *addr == "" || !strings.Contains(*addr, ":"):
		return server.Config{}, nil, fmt.Errorf("--addr %q is not host:port, e.g. 127.0.0.1:7001", *addr)
	}
	cfg := server.Config{
		ID: *id, DataDir: *data, Addr: *addr, ClusterKey: *key, EnableFaultInjection: *faults,
		SnapshotEvery: *snapshotEvery, ReapAfter: *reapAfter, TickInterval: *tick, ElectionTick: *electionTicks,
		Logger: logger,
	}
	for _, a := range strings.Split(*join, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if !strings.Contains(a, ":") {
			return server.Config{}, nil, fmt.Errorf("--join address %q is not host:port", a)
		}
		cfg.Join = append(cfg.Join, a)
	}
	if *tlsCert != "" || *tlsKey != "" || *tlsCA != "" {
		if *tlsCert == "" || *tlsKey == "" || *tlsCA == "" {
			return server.Config{}, nil, errors.New("mutual TLS needs all three of --tls-cert, --tls-key and --tls-ca")
		}
		var err error
		if cfg.ServerTLS, cfg.ClientTLS, err = server.LoadTLS(*tlsCert, *tlsKey, *tlsCA); err != nil {
			return server.Config{}, nil, err
		}
	}
	return cfg, logger, nil
}

// cpuProfileFlag takes the hidden --cpuprofile PREFIX flag out of args: a node writes a CPU
// profile to PREFIX.ID until it stops, for performance work under `kanna bench --node-flags`.
func cpuProfileFlag(args []string) (rest []string, prefix string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "--cpuprofile" || a == "-cpuprofile") && i+1 < len(args):
			prefix = args[i+1]
			i++
		case strings.HasPrefix(a, "--cpuprofile="):
			prefix = strings.TrimPrefix(a, "--cpuprofile=")
		default:
			rest = append(rest, a)
		}
	}
	return rest, prefix
}

// startCPUProfile starts writing a CPU profile to path; stop ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
