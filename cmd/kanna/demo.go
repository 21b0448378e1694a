// `kanna demo`: a whole local cluster from one command. It starts node processes of this same
// binary on free loopback ports (server/demo), waits until they have elected a leader (Raft paper
// §5.2) and promoted every joiner to voter (Ongaro's thesis §4.2.1), prints what runs where, and
// serves, on one loopback HTTP address, the web frontend (the game and the dashboard, package web)
// and the control endpoint that crashes and restarts nodes, until Ctrl-C stops everything.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kanna-cluster/kanna/server/demo"
	"github.com/kanna-cluster/kanna/web"
)

func init() {
	register("demo", "run a local cluster of node processes with a crash/restart control endpoint (--nodes 3)", runDemo)
}

// formTimeout bounds the wait for a leader and for every joiner to become a voter: an election
// takes one to two seconds, and each joiner a gossip round and a catch-up, so a minute means
// something is wrong (the node logs say what).
const formTimeout = time.Minute

func runDemo(args []string) int {
	fs := newFlags("demo", demoHelp,
		"kanna demo",
		"kanna demo --nodes 5 --web-addr 127.0.0.1:8080",
		"kanna demo --dir ./demo-data          keep the nodes' data and logs after Ctrl-C")
	nodes := fs.Int("nodes", 3, "how many node processes to start, at least 1")
	webAddr := fs.String("web-addr", "127.0.0.1:0", "loopback address of the game, the dashboard and the control endpoint (port 0 picks a free one)")
	key := fs.String("cluster-key", "", "cluster key for every node (default: a new random key for this run)")
	dir := fs.String("dir", "", "keep node data and logs in this folder instead of a temporary one that is removed on exit")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !checkFlags("demo", atLeast("nodes", *nodes, 1)) {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demoMain(ctx, demoOptions{nodes: *nodes, webAddr: *webAddr, key: *key, dir: *dir}, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "kanna demo: %v\n", err)
		return 1
	}
	return 0
}

const demoHelp = `
Runs a whole local cluster from one command: starts --nodes node processes of this binary on free
loopback ports, waits until they have elected a leader and made every node a voter, prints what
runs where, and serves on --web-addr the Hangman game, the cluster dashboard and a control
endpoint that crashes and restarts nodes. Ctrl-C stops every node and removes the temporary data.`

// demoOptions are the parsed flags of `kanna demo`.
type demoOptions struct {
	nodes   int
	webAddr string
	key     string
	dir     string
}

// demoMain runs the demo until ctx ends (the signal), then stops every node.
func demoMain(ctx context.Context, opt demoOptions, stdout, stderr io.Writer) error {
	if err := requireLoopback(opt.webAddr); err != nil {
		return err
	}
	// A key of its own: with the public development key, any local process could join the
	// cluster's conversation or inject faults into it.
	if opt.key == "" {
		k, err := web.NewControlKey()
		if err != nil {
			return fmt.Errorf("draw a cluster key: %w", err)
		}
		opt.key = k
	}
	controlKey, err := web.NewControlKey()
	if err != nil {
		return fmt.Errorf("draw a control key: %w", err)
	}
	sup, err := demo.New(demo.Config{
		Dir: opt.dir, ClusterKey: opt.key, FaultInjection: true, Progress: stderr,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := sup.Shutdown(); err != nil {
			fmt.Fprintln(stderr, err)
		}
	}()
	if err := sup.StartCluster(opt.nodes); err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, formTimeout)
	_, err = sup.WaitReady(fctx)
	cancel()
	if err != nil {
		printLogTails(stderr, sup.Nodes())
		return err
	}
	ln, err := net.Listen("tcp", opt.webAddr)
	if err != nil {
		return fmt.Errorf("listen for the web frontend on %s: %w; pick another --web-addr", opt.webAddr, err)
	}
	front, err := newDemoFrontend(sup, opt.key, controlKey)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer front.close()
	srv := &http.Server{Handler: front.handler, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	printCluster(stdout, sup.Nodes(), sup.Dir(), "http://"+ln.Addr().String(), opt.key, controlKey)

	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "stopping the cluster (SIGTERM, then SIGKILL after 5 s)...")
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("control endpoint failed: %w", err)
		}
	}
	// Close, not Shutdown: browsers hold websockets open, and they reconnect by themselves.
	_ = srv.Close()
	return nil
}

// demoFrontend is what the demo serves over HTTP: the web frontend at / (package web, its
// dashboard buttons wired straight to the supervisor) and the control endpoint at /nodes.
type demoFrontend struct {
	handler http.Handler
	web     *web.Server
	logFile *os.File
}

// newDemoFrontend builds the frontend for the supervisor's nodes; the web server's log goes to
// web.log beside the nodes' logs. Its levers and the control endpoint answer only loopback
// requests that carry controlKey (web/security.go).
func newDemoFrontend(sup *demo.Supervisor, key, controlKey string) (*demoFrontend, error) {
	logFile, err := os.OpenFile(filepath.Join(sup.Dir(), "web.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the web frontend's log: %w", err)
	}
	if key == "" {
		key = demo.DefaultClusterKey
	}
	var addrs []string
	for _, n := range sup.Nodes() {
		addrs = append(addrs, n.Addr)
	}
	w, err := web.New(web.Config{
		Nodes: addrs, ClusterKey: key, Control: supervisorControl{sup}, ControlKey: controlKey, LoopbackOnly: true,
		Logger: slog.New(slog.NewTextHandler(logFile, nil)).With("component", "web"),
	})
	if err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start the web frontend: %w", err)
	}
	mux := http.NewServeMux()
	control := web.GuardControl(controlKey, false, sup.Handler())
	mux.Handle("/nodes", control)
	mux.Handle("/nodes/", control)
	mux.Handle("/", w.Handler())
	return &demoFrontend{handler: mux, web: w, logFile: logFile}, nil
}

// supervisorControl is the supervisor as the web server's Control, its "no such node" in the web
// server's words.
type supervisorControl struct{ sup *demo.Supervisor }

func (c supervisorControl) Crash(id uint64) error   { return unknownNode(c.sup.Crash(id)) }
func (c supervisorControl) Restart(id uint64) error { return unknownNode(c.sup.Restart(id)) }

func unknownNode(err error) error {
	if errors.Is(err, demo.ErrNoSuchNode) {
		return fmt.Errorf("%w: %w", err, web.ErrUnknownNode)
	}
	return err
}

func (f *demoFrontend) close() {
	_ = f.web.Close()
	_ = f.logFile.Close()
}

// requireLoopback refuses a control endpoint address that other machines could reach: anyone who
// can reach it can kill the nodes.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--web-addr %q is not host:port: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--web-addr %q: the control endpoint can kill nodes, so it listens on loopback only; use 127.0.0.1:PORT", addr)
	}
	return nil
}

// printCluster tells the user what runs where and how to reach it. The game's and the dashboard's
// URLs carry the control key: opening either stores it in the browser (a cookie) and enables the
// dashboard's levers.
func printCluster(w io.Writer, nodes []demo.NodeInfo, dir, baseURL, clusterKey, controlKey string) {
	fmt.Fprintf(w, "Kanna demo: %d nodes on loopback, fault injection enabled\n\n", len(nodes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tPID\tDATA\tLOG")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", n.ID, n.Addr, n.PID, n.DataDir, n.LogFile)
	}
	_ = tw.Flush()
	first := nodes[0].Addr
	q := "?" + web.ControlKeyParam + "=" + controlKey
	fmt.Fprintf(w, "\ngame:             %s/%s\n", baseURL, q)
	fmt.Fprintf(w, "dashboard:        %s/dashboard%s\n", baseURL, q)
	fmt.Fprintf(w, "control endpoint: %s/%s  (for %s web --control; its JSON API under /nodes:)\n", baseURL, q, self)
	fmt.Fprintf(w, "  curl -H '%s: %s' %s/nodes\n", web.ControlKeyHeader, controlKey, baseURL)
	fmt.Fprintf(w, "  curl -X POST -H '%s: %s' %s/nodes/1/crash\n", web.ControlKeyHeader, controlKey, baseURL)
	fmt.Fprintf(w, "  curl -X POST -H '%s: %s' %s/nodes/1/restart\n", web.ControlKeyHeader, controlKey, baseURL)
	fmt.Fprintf(w, "cluster status:   %s status --addr %s --cluster-key %s\n", self, first, clusterKey)
	fmt.Fprintf(w, "data and logs:    %s\n", dir)
	fmt.Fprintln(w, "\nCtrl-C stops every node and removes temporary data.")
}

// printLogTails shows the end of each node's log, since the logs go when the temporary folder
// does.
func printLogTails(w io.Writer, nodes []demo.NodeInfo) {
	const keep = 15
	for _, n := range nodes {
		if _, err := os.Stat(n.LogFile); err != nil {
			continue
		}
		lines := n.LogTail(keep)
		state := "running"
		if !n.Running {
			state = n.Exit
		}
		fmt.Fprintf(w, "--- last lines of node %d's log (%s) ---\n", n.ID, state)
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
}
