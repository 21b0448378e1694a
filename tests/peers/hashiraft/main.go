// Command hashiraft is the peer system of `make bench-cluster`: a cluster of hashicorp/raft nodes
// with raft-boltdb logs (fsync on), each a process of its own on loopback, loaded by the same
// players (internal/loadgen) that load Kanna in `kanna bench`. It prints one JSON line with the
// same keys.
//
//	hashiraft --mode consensus   the players run in the leader's process and call its Game service
//	                             as Go calls, as `kanna bench --inprocess` does
//	hashiraft --mode service     the players are gRPC clients of the leader's Game service, as in
//	                             `kanna bench`, on Game.Play streams (--client-path stream, the
//	                             default) or one unary call per op (--client-path unary)
//
// It lives in a Go module of its own so that Kanna's module does not depend on hashicorp/raft.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kanna-cluster/kanna/internal/loadgen"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// system names the peer in every line it prints.
const system = "hashicorp/raft v1.7.3 + raft-boltdb/v2"

// readyLine is what a node process prints once its cluster is formed (bootstrap node) or once it
// runs (the others).
const readyLine = "ready"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		os.Exit(runNodeProcess(os.Args[2:]))
	}
	os.Exit(runBench(os.Args[1:]))
}

func runBench(args []string) int {
	var opt loadgen.Options
	fs := flag.NewFlagSet("hashiraft", flag.ContinueOnError)
	mode := fs.String("mode", loadgen.ModeService, "consensus (players in the leader's process) or service (players over gRPC)")
	nodes := fs.Int("nodes", 3, "cluster size")
	fs.IntVar(&opt.Clients, "clients", 64, "concurrent players, each with its own room")
	fs.DurationVar(&opt.Duration, "duration", 10*time.Second, "how long to measure")
	fs.IntVar(&opt.Payload, "payload", 16, "length of each player's name, carried by every guess (1-32)")
	path := fs.String("client-path", loadgen.PathStream, "with --mode service: stream (calls on one Game.Play stream per connection) or unary (one call per op)")
	fs.Bool("json", true, "print one JSON object (always on; accepted for kanna bench's flags)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *mode != loadgen.ModeConsensus && *mode != loadgen.ModeService {
		fmt.Fprintf(os.Stderr, "hashiraft: --mode %q: use consensus or service\n", *mode)
		return 2
	}
	if *path != loadgen.PathStream && *path != loadgen.PathUnary {
		fmt.Fprintf(os.Stderr, "hashiraft: --client-path %q: use %s or %s\n", *path, loadgen.PathStream, loadgen.PathUnary)
		return 2
	}
	if *nodes < 1 || opt.Clients < 1 || opt.Duration <= 0 || opt.Payload < 1 || opt.Payload > 32 {
		fmt.Fprintln(os.Stderr, "hashiraft: need --nodes >= 1, --clients >= 1, --duration > 0 and --payload between 1 and 32")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench(ctx, *mode, *path, *nodes, opt, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hashiraft: %v\n", err)
		return 1
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return 0
}

// bench starts the cluster, loads it and stops it. path is the players' client path in the
// service mode.
func bench(ctx context.Context, mode, path string, size int, opt loadgen.Options, progress io.Writer) (loadgen.Result, error) {
	dir, err := os.MkdirTemp("", "hashiraft-")
	if err != nil {
		return loadgen.Result{}, err
	}
	defer os.RemoveAll(dir)
	raftAddrs := map[uint64]string{}
	for id := uint64(1); id <= uint64(size); id++ {
		if raftAddrs[id], err = freeAddr(); err != nil {
			return loadgen.Result{}, err
		}
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	}()
	peers := map[uint64]string{}
	for id := uint64(2); id <= uint64(size); id++ {
		peers[id] = raftAddrs[id]
		p, err := startProcess(dir, id, raftAddrs[id], "", nil, progress)
		if err != nil {
			return loadgen.Result{}, err
		}
		procs = append(procs, p)
	}
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var games []loadgen.Game
	var leader *node
	if mode == loadgen.ModeConsensus {
		n, err := startNode(nodeConfig{id: 1, dir: filepath.Join(dir, "node1"), raftAddr: raftAddrs[1], bootstrap: true})
		if err != nil {
			return loadgen.Result{}, err
		}
		defer n.close()
		if err := n.form(fctx, peers); err != nil {
			return loadgen.Result{}, err
		}
		games = []loadgen.Game{&gameService{n: n}}
		leader = n
	} else {
		gameAddr, err := freeAddr()
		if err != nil {
			return loadgen.Result{}, err
		}
		p, err := startProcess(dir, 1, raftAddrs[1], gameAddr, peers, progress)
		if err != nil {
			return loadgen.Result{}, err
		}
		procs = append(procs, p)
		// As kanna bench does: a few connections, as a few web servers would open.
		for range min(opt.Clients, 8) {
			conn, err := demo.Dial(gameAddr, "")
			if err != nil {
				return loadgen.Result{}, err
			}
			defer conn.Close()
			g, err := loadgen.Client(path, kannapb.NewGameClient(conn))
			if err != nil {
				return loadgen.Result{}, err
			}
			defer g.Close()
			games = append(games, g)
		}
	}
	fmt.Fprintf(progress, "hashiraft: cluster of %d formed, node 1 leads\n", size)
	var before uint64
	if leader != nil {
		before = leader.raft.CurrentTerm()
	}
	res, err := loadgen.Run(ctx, games, opt, progress)
	res.System, res.Mode, res.Nodes = system, mode, size
	if mode == loadgen.ModeService {
		res.ClientPath = path
	}
	if leader != nil && err == nil {
		elections := leader.raft.CurrentTerm() - before
		res.Elections = &elections
	}
	return res, err
}

// startProcess starts node id as a child process and waits until it says it is ready. With peers,
// the node bootstraps the cluster, adds them, and serves the Game service on gameAddr.
func startProcess(dir string, id uint64, raftAddr, gameAddr string, peers map[uint64]string, progress io.Writer) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"node", "--id", strconv.FormatUint(id, 10), "--dir", filepath.Join(dir, fmt.Sprintf("node%d", id)), "--raft", raftAddr}
	if peers != nil {
		var list []string
		for pid, a := range peers {
			list = append(list, fmt.Sprintf("%d=%s", pid, a))
		}
		args = append(args, "--bootstrap", "--peers", strings.Join(list, ","), "--game", gameAddr)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = progress
	// A node outlives no bench that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node %d: %w", id, err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == readyLine {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("node %d exited before it was ready", id)
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Wait()
			return nil, err
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("node %d was not ready within a minute", id)
	}
	return cmd, nil
}

// runNodeProcess is `hashiraft node`: one node until SIGTERM or SIGKILL.
func runNodeProcess(args []string) int {
	fs := flag.NewFlagSet("hashiraft node", flag.ContinueOnError)
	id := fs.Uint64("id", 0, "node id")
	dir := fs.String("dir", "", "data folder")
	raftAddr := fs.String("raft", "", "Raft transport address")
	bootstrap := fs.Bool("bootstrap", false, "found the cluster and add --peers")
	peerList := fs.String("peers", "", "id=addr,... of the nodes to add (with --bootstrap)")
	gameAddr := fs.String("game", "", "address to serve the Game service on (with --bootstrap)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *id == 0 || *dir == "" || *raftAddr == "" {
		fmt.Fprintln(os.Stderr, "hashiraft node: need --id, --dir and --raft")
		return 2
	}
	peers := map[uint64]string{}
	for _, p := range strings.Split(*peerList, ",") {
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		pid, err := strconv.ParseUint(k, 10, 64)
		if !ok || err != nil {
			fmt.Fprintf(os.Stderr, "hashiraft node: --peers entry %q is not id=host:port\n", p)
			return 2
		}
		peers[pid] = v
	}
	n, err := startNode(nodeConfig{id: *id, dir: *dir, raftAddr: *raftAddr, bootstrap: *bootstrap})
	if err != nil {
		fmt.Fprintf(os.Stderr, "hashiraft node: %v\n", err)
		return 1
	}
	defer n.close()
	if *bootstrap {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := n.form(ctx, peers)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "hashiraft node: %v\n", err)
			return 1
		}
		if *gameAddr != "" {
			stop, err := serveGame(n, *gameAddr)
			if err != nil {
				fmt.Fprintf(os.Stderr, "hashiraft node: serve the Game service: %v\n", err)
				return 1
			}
			defer stop()
		}
	}
	fmt.Println(readyLine)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	return 0
}

// freeAddr asks the kernel for a free loopback port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
