// `kanna demo`: a whole local cluster from one command. It starts node processes of this same
// binary on free loopback ports (server/demo), waits until they have elected a leader (Raft paper
// §5.2) and promoted every joiner to voter (Ongaro's thesis §4.2.1), prints what runs where, and
// serves a control endpoint to crash and restart nodes until Ctrl-C stops everything.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kanna-cluster/kanna/server/demo"
)

func init() {
	register("demo", "run a local cluster of node processes with a crash/restart control endpoint (--nodes 3)", runDemo)
}

// formTimeout bounds the wait for a leader and for every joiner to become a voter: an election
// takes one to two seconds, and each joiner a gossip round and a catch-up, so a minute means
// something is wrong (the node logs say what).
const formTimeout = time.Minute

func runDemo(args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	nodes := fs.Int("nodes", 3, "how many node processes to start")
	webAddr := fs.String("web-addr", "127.0.0.1:0", "loopback address of the HTTP control endpoint (port 0 picks a free one)")
	key := fs.String("cluster-key", "", "cluster key for every node (default: the nodes' development key)")
	dir := fs.String("dir", "", "keep node data and logs in this folder instead of a temporary one that is removed on exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nodes < 1 {
		fmt.Fprintf(os.Stderr, "kanna demo: --nodes %d: start at least one node\n", *nodes)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demoMain(ctx, demoOptions{nodes: *nodes, webAddr: *webAddr, key: *key, dir: *dir}, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "kanna demo: %v\n", err)
		return 1
	}
	return 0
}

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
		return fmt.Errorf("listen for the control endpoint on %s: %w; pick another --web-addr", opt.webAddr, err)
	}
	srv := &http.Server{Handler: sup.Handler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	printCluster(stdout, sup, "http://"+ln.Addr().String())

	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "stopping the cluster (SIGTERM, then SIGKILL after 5 s)...")
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("control endpoint failed: %w", err)
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	return nil
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

// printCluster tells the user what runs where and how to reach it.
func printCluster(w io.Writer, sup *demo.Supervisor, controlURL string) {
	nodes := sup.Nodes()
	fmt.Fprintf(w, "Kanna demo: %d nodes on loopback, fault injection enabled\n\n", len(nodes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tPID\tDATA\tLOG")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", n.ID, n.Addr, n.PID, n.DataDir, n.LogFile)
	}
	_ = tw.Flush()
	first := nodes[0].Addr
	fmt.Fprintf(w, "\ncontrol endpoint: %s\n", controlURL)
	fmt.Fprintf(w, "  curl %s/nodes\n", controlURL)
	fmt.Fprintf(w, "  curl -X POST %s/nodes/1/crash      (then .../restart)\n", controlURL)
	fmt.Fprintf(w, "cluster status:   kanna status --addr %s\n", first)
	fmt.Fprintf(w, "data and logs:    %s\n", sup.Dir())
	fmt.Fprintln(w, "\nCtrl-C stops every node and removes temporary data.")
}

// printLogTails shows the end of each node's log, since the logs go when the temporary folder
// does.
func printLogTails(w io.Writer, nodes []demo.NodeInfo) {
	const keep = 15
	for _, n := range nodes {
		f, err := os.Open(n.LogFile)
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines) > keep {
				lines = lines[1:]
			}
		}
		_ = f.Close()
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
