// `kanna web`: the web frontend (package web) for a running cluster: the Hangman page and the
// cluster dashboard, on one HTTP address, talking gRPC to the nodes given with --nodes.
package main

import (
	"context"
	"errors"
	"flag"
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
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP address to serve the pages and websockets on")
	nodes := fs.String("nodes", "", "comma-separated gRPC addresses of the nodes (host:port,...); required")
	key := fs.String("cluster-key", "", "the cluster's key, sent on every call (default: the nodes' development key "+server.DevClusterKey+")")
	control := fs.String("control", "", "URL of the control endpoint that kanna demo prints; enables the dashboard's crash and restart buttons")
	origins := fs.String("allow-origin", "", "comma-separated extra origins (https://host[:port]) whose pages may open websockets")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nodes == "" {
		fmt.Fprintln(os.Stderr, "kanna web: --nodes is required: give the gRPC address of at least one node, e.g. --nodes 127.0.0.1:7001")
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
	if *control != "" {
		ctl, err := web.NewHTTPControl(*control)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kanna web: %v\n", err)
			return 2
		}
		cfg.Control = ctl
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := webMain(ctx, *addr, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "kanna web: %v\n", err)
		return 1
	}
	return 0
}

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
	fmt.Printf("Kanna web: game at http://%s/  dashboard at http://%s/dashboard\n", ln.Addr(), ln.Addr())
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
