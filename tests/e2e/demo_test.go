// `kanna demo` then `kanna status`, as a user runs them: the demo forms a three-node cluster with
// one leader (Raft paper §5.2, Election Safety: at most one leader per term), status shows three
// members and one leader, the demo's address serves the game page and the control endpoint lists
// the node processes, and Ctrl-C stops every node and removes the temporary data.
package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/server/demo"
	"github.com/kanna-cluster/kanna/web"
)

// syncBuffer is a bytes.Buffer that a child process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDemoThenStatusShowsThreeMembersAndOneLeader(t *testing.T) {
	t.Parallel()
	var stdout, stderr syncBuffer
	cmd := exec.Command(kannaBin, "demo", "--nodes", "3")
	// A test binary that dies on its timeout takes the demo, and through it the nodes, along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
		}
		if t.Failed() {
			t.Logf("demo stdout:\n%s\ndemo stderr:\n%s", stdout.String(), stderr.String())
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "Ctrl-C stops") }, formTimeout, 50*time.Millisecond,
		"the demo did not report a formed cluster")
	out := stdout.String()
	addr := regexp.MustCompile(`kanna status --addr (\S+) --cluster-key (\S+)`).FindStringSubmatch(out)
	control := regexp.MustCompile(`control endpoint: (\S+)/\?key=(\S+)`).FindStringSubmatch(out)
	dataDir := regexp.MustCompile(`data and logs:\s+(\S+)`).FindStringSubmatch(out)
	require.Len(t, addr, 3)
	require.Len(t, control, 3)
	require.NotEqual(t, demo.DefaultClusterKey, addr[2], "the demo draws a cluster key of its own")
	require.Len(t, dataDir, 2)

	status, err := exec.Command(kannaBin, "status", "--addr", addr[1], "--cluster-key", addr[2]).CombinedOutput()
	require.NoError(t, err, "%s", status)
	var members, leaders int
	for _, line := range strings.Split(string(status), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 || !regexp.MustCompile(`^\d+$`).MatchString(fields[0]) {
			continue
		}
		members++
		require.Equal(t, []string{"alive", "voter"}, fields[2:4], "row %q", line)
		if fields[4] == "leader" {
			leaders++
		}
	}
	require.Equal(t, 3, members, "status:\n%s", status)
	require.Equal(t, 1, leaders, "status:\n%s", status)

	page, err := http.Get(control[1] + "/")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.Header.Get("Content-Type"), "text/html", "the game page is served beside the control endpoint")
	require.NoError(t, page.Body.Close())

	resp, err := http.Get(control[1] + "/nodes")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the control endpoint wants its key")
	require.NoError(t, resp.Body.Close())
	req, err := http.NewRequest(http.MethodGet, control[1]+"/nodes", nil)
	require.NoError(t, err)
	req.Header.Set(web.ControlKeyHeader, control[2])
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var nodes []demo.NodeInfo
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&nodes))
	require.NoError(t, resp.Body.Close())
	require.Len(t, nodes, 3)
	for _, n := range nodes {
		require.True(t, n.Running, "node %d", n.ID)
		require.NoError(t, syscall.Kill(n.PID, 0), "node %d's process %d is alive", n.ID, n.PID)
	}

	// Ctrl-C: every node stops and the temporary data goes.
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	var waitErr error
	require.Eventually(t, func() bool {
		select {
		case waitErr = <-exited:
			stopped = true
			return true
		default:
			return false
		}
	}, 3*demo.StopGrace, 20*time.Millisecond, "the demo did not stop after Ctrl-C")
	require.NoError(t, waitErr)
	for _, n := range nodes {
		require.ErrorIs(t, syscall.Kill(n.PID, 0), syscall.ESRCH, "node %d's process %d outlived the demo", n.ID, n.PID)
	}
	_, err = os.Stat(dataDir[1])
	require.ErrorIs(t, err, os.ErrNotExist, "the demo left its temporary data behind")
}
