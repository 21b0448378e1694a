// The stacks the browser tests run against: the fake cluster, and real node processes.
package browser

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/server/demo"
	"github.com/kanna-cluster/kanna/web"
	"github.com/kanna-cluster/kanna/web/fakenode"
)

// stack is a cluster with a web server in front of it.
type stack struct {
	name string
	base string // the web server's URL, "http://127.0.0.1:port"
}

// serveWeb starts a web server for nodes and returns its URL.
func serveWeb(t *testing.T, cfg web.Config) string {
	t.Helper()
	_, base := serveWebOn(t, "127.0.0.1:0", cfg)
	return base
}

// serveWebOn starts a web server on addr and returns it with its URL.
func serveWebOn(t *testing.T, addr string, cfg web.Config) (*web.Server, string) {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := web.New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, "http://" + ln.Addr().String()
}

// fakeStack is three fake nodes (web/fakenode) and a web server.
func fakeStack(t *testing.T) stack {
	t.Helper()
	c, err := fakenode.Start(3, "browser-test-key")
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	return stack{name: "fake", base: serveWeb(t, web.Config{Nodes: c.Addrs(), ClusterKey: "browser-test-key", Control: c})}
}

var (
	buildOnce sync.Once
	kannaBin  string
	buildErr  error
)

// binary builds ./cmd/kanna once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kanna-browser-bin-")
		if err != nil {
			buildErr = err
			return
		}
		kannaBin = filepath.Join(dir, "kanna")
		build := exec.Command("go", "build", "-o", kannaBin, "./cmd/kanna")
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/kanna: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return kannaBin
}

// realStack is three `kanna node` processes with fault injection, as `kanna demo` starts them,
// and a web server whose crash and restart buttons go to their supervisor.
func realStack(t *testing.T) stack {
	t.Helper()
	sup, err := demo.New(demo.Config{Binary: binary(t), Dir: t.TempDir(), FaultInjection: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sup.Shutdown() })
	require.NoError(t, sup.StartCluster(3))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, err = sup.WaitReady(ctx)
	require.NoError(t, err, "the real cluster did not form")
	var addrs []string
	for _, n := range sup.Nodes() {
		addrs = append(addrs, n.Addr)
	}
	return stack{name: "real", base: serveWeb(t, web.Config{Nodes: addrs, ClusterKey: demo.DefaultClusterKey, Control: sup})}
}
