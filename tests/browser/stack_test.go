// The stacks the browser tests run against: the fake cluster, and `kanna demo` (real node
// processes and the web frontend, as `make demo` starts them).
package browser

import (
	"bufio"
	"github.com/kanna-cluster/kanna/internal/kannabin"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/web"
	"github.com/kanna-cluster/kanna/web/fakenode"
)

// stack is a cluster with a web server in front of it.
type stack struct {
	name      string
	base      string // the web server's URL, "http://127.0.0.1:port"
	dashboard string // the dashboard's URL with the control key, as `kanna demo` prints it
	// member is the address of one node and clusterKey the cluster's key, for `kanna status`
	// (demo only).
	member, clusterKey string
}

// browserControlKey is the control key of the web servers these tests start themselves.
const browserControlKey = "browser-test-control-key"

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
	cfg.ControlKey, cfg.LoopbackOnly = browserControlKey, true
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
	base := serveWeb(t, web.Config{Nodes: c.Addrs(), ClusterKey: "browser-test-key", Control: c})
	return stack{name: "fake", base: base, dashboard: base + "/dashboard?key=" + browserControlKey}
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
		kannaBin, _, buildErr = kannabin.Build("kanna-browser-bin-", filepath.Join("..", ".."))
	})
	require.NoError(t, buildErr)
	return kannaBin
}

// demoStack is `kanna demo` itself, as `make demo` runs it: three `kanna node` processes with
// fault injection, and the web frontend with its dashboard wired to the demo's supervisor. The
// test reads the game's URL from what the demo prints, and stops it with Ctrl-C (SIGINT).
func demoStack(t *testing.T) stack {
	t.Helper()
	cmd := exec.Command(binary(t), "demo", "--web-addr", "127.0.0.1:0", "--dir", t.TempDir())
	// A test binary that dies on its timeout takes the demo, and through it the nodes, along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("kanna demo's stderr:\n%s", stderr.String())
		}
	})

	urls := make(chan stack, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var s stack
		for sc.Scan() {
			if m := gameURL.FindStringSubmatch(sc.Text()); m != nil {
				s.base = m[1]
			}
			if m := dashboardURL.FindStringSubmatch(sc.Text()); m != nil {
				s.dashboard = m[1]
			}
			if m := statusLine.FindStringSubmatch(sc.Text()); m != nil {
				s.member, s.clusterKey = m[1], m[2]
			}
			if s.base != "" && s.dashboard != "" && s.member != "" {
				s.name = "demo"
				urls <- s
				s = stack{}
			}
		}
	}()
	select {
	case s := <-urls:
		return s
	case err := <-exited:
		require.FailNowf(t, "kanna demo exited", "before printing the game's URL: %v\n%s", err, stderr.String())
	case <-time.After(2 * time.Minute):
		require.FailNowf(t, "kanna demo did not start", "no game URL within 2 minutes\n%s", stderr.String())
	}
	return stack{}
}

// gameURL and dashboardURL find the game's address and the dashboard's URL in what `kanna demo`
// prints ("game:   http://127.0.0.1:PORT/?key=K", "dashboard:   http://127.0.0.1:PORT/dashboard?key=K");
// statusLine a node's address and the cluster key ("cluster status:   /path/to/kanna status --addr
// 127.0.0.1:PORT --cluster-key K").
var (
	gameURL      = regexp.MustCompile(`^game:\s+(http://[^\s/]+)/\S*\s*$`)
	dashboardURL = regexp.MustCompile(`^dashboard:\s+(http://\S+/dashboard\S*)\s*$`)
	statusLine   = regexp.MustCompile(`^cluster status:\s+\S+ status --addr (\S+) --cluster-key (\S+)\s*$`)
)
