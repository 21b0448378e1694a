// `kanna web`: the web frontend (package web) for a running cluster: the Hangman page and the
// cluster dashboard, on one HTTP address, talking gRPC to the nodes given with --nodes.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kanna-cluster/kanna/server"
	"github.com/kanna-cluster/kanna/web"
)

func init() {
	register("web", "serve the game page and the cluster dashboard for running nodes (--addr, --nodes)", runWeb)
}

func runWeb(args []string) int {
	fs := newFlags("web", webHelp,
		"kanna web --nodes 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003",
		"kanna web --addr 127.0.0.1:9090 --nodes 127.0.0.1:7001 --control http://127.0.0.1:41234/?key=KEY")
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP address to serve the pages and websockets on")
	nodes := fs.String("nodes", "", "comma-separated gRPC addresses of the nodes (host:port,...); required")
	key := fs.String("cluster-key", "", "the cluster's key, sent on every call (default: the nodes' development key "+server.DevClusterKey+")")
	control := fs.String("control", "", "URL of the control endpoint that kanna demo prints (with its ?key=); enables the dashboard's crash and restart buttons")
	controlKey := fs.String("control-key", "", "the secret the dashboard's levers require (default: the key in --control's URL, else a new random one, printed in the dashboard's URL)")
	remoteControl := fs.Bool("allow-remote-control", false, "let browsers that reach a non-loopback --addr pull the dashboard's levers (crash, restart, isolate, heal)")
	origins := fs.String("allow-origin", "", "comma-separated extra origins (https://host[:port]) whose pages may open websockets")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *nodes == "" {
		fmt.Fprintln(stderr, "kanna web: --nodes is required: give the gRPC address of at least one node, e.g. --nodes 127.0.0.1:7001")
		return 2
	}
	if *key == "" {
		*key = server.DevClusterKey
	}
	cfg := web.Config{
		Nodes:      strings.Split(*nodes, ","),
		ClusterKey: *key,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "web"),
	}
	if *origins != "" {
		cfg.AllowedOrigins = strings.Split(*origins, ",")
	}
	loopback := web.LoopbackHost(*addr)
	if !loopback && *control != "" && !*remoteControl {
		fmt.Fprintf(stderr, "kanna web: --addr %s is reachable from other machines, and --control lets a browser kill nodes: serve on 127.0.0.1, or add --allow-remote-control if you mean it\n", *addr)
		return 2
	}
	if !loopback && *remoteControl {
		fmt.Fprintf(stderr, "kanna web: WARNING: --allow-remote-control on %s: anyone who can reach it and has the control key can crash, restart and isolate nodes\n", *addr)
	}
	cfg.LoopbackOnly, cfg.RemoteControl, cfg.ControlKey = loopback, *remoteControl, *controlKey
	if *control != "" {
		ctl, err := web.NewHTTPControl(*control)
		if err != nil {
			fmt.Fprintf(stderr, "kanna web: %v\n", err)
			return 2
		}
		cfg.Control = ctl
		if cfg.ControlKey == "" {
			cfg.ControlKey = ctl.Key()
		}
	}
	if cfg.ControlKey == "" {
		k, err := web.NewControlKey()
		if err != nil {
			fmt.Fprintf(stderr, "kanna web: draw a control key: %v\n", err)
			return 1
		}
		cfg.ControlKey = k
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := webMain(ctx, *addr, cfg); err != nil {
		fmt.Fprintf(stderr, "kanna web: %v\n", err)
		return 1
	}
	return 0
}

const webHelp = `
Serves the web frontend of a running cluster on one HTTP address: the Hangman game at / and the
cluster dashboard at /dashboard, with websockets that push every room's state as the cluster
commits it. It talks gRPC to the nodes given with --nodes; any of them serves the game, and when
one cannot help, the next one is tried.`

// webMain serves until ctx ends.
func webMain(ctx context.Context, addr string, cfg web.Config) error {
	srv, err := web.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("listen on %s: %w; pick another --addr", addr, err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Kanna web: game at http://%s/  dashboard at http://%s/dashboard?%s=%s\n", ln.Addr(), ln.Addr(), web.ControlKeyParam, cfg.ControlKey)
	select {
	case <-ctx.Done():
	case err := <-served:
		_ = srv.Close()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("serving http: %w", err)
		}
		return nil
	}
	return srv.Close()
}
