// Tests of the supervisor against stand-in nodes: the test binary re-executes itself as a fake
// `kanna node` that serves Cluster.Status, so that process handling (start, crash with SIGKILL,
// restart from the same data folder, SIGTERM then SIGKILL, clean-up) and the readiness rule (one
// leader, every running node a voter: Raft paper §5.2, thesis §4.2.1) are checked without a real
// node.
package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// fakeNodeEnv switches the test binary into a fake node; its value lists the voters the fake
// leader (node 1) reports.
const fakeNodeEnv = "KANNA_DEMO_FAKE_NODE"

// fakeSupervisorEnv switches the test binary into a process that supervises one fake node in the
// folder the variable names, prints the node's pid and waits to be killed.
const fakeSupervisorEnv = "KANNA_DEMO_FAKE_SUPERVISOR"

func TestMain(m *testing.M) {
	if voters, ok := os.LookupEnv(fakeNodeEnv); ok {
		os.Exit(fakeNode(os.Args[1:], voters))
	}
	if dir, ok := os.LookupEnv(fakeSupervisorEnv); ok {
		os.Exit(fakeSupervisor(dir))
	}
	os.Exit(m.Run())
}

// fakeNode serves Cluster.Status like a node of a cluster led by node 1, writes its arguments to
// DATA/args, and exits 0 on SIGTERM, or ignores it when --ignore-term is given.
func fakeNode(args []string, voters string) int {
	if len(args) == 0 || args[0] != "node" {
		return 3
	}
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	id := fs.Uint64("id", 0, "")
	data := fs.String("data", "", "")
	addr := fs.String("addr", "", "")
	fs.String("join", "", "")
	fs.String("cluster-key", "", "")
	fs.Bool("enable-fault-injection", false, "")
	ignoreTerm := fs.Bool("ignore-term", false, "")
	refuse := fs.Bool("refuse", false, "")
	if err := fs.Parse(args[1:]); err != nil {
		return 3
	}
	if *refuse {
		fmt.Fprintln(os.Stderr, "open wal: refusing to start")
		return 1
	}
	if err := os.MkdirAll(*data, 0o755); err != nil {
		return 4
	}
	// SIGTERM is caught before the arguments are written: the test reads them as the sign that the
	// node is up, and a SIGTERM between the two would kill a node meant to ignore it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	// Written aside and renamed, so that the test never reads a half-written file.
	tmp := filepath.Join(*data, "args.tmp")
	if err := os.WriteFile(tmp, []byte(strings.Join(args, " ")), 0o644); err != nil {
		return 4
	}
	if err := os.Rename(tmp, filepath.Join(*data, "args")); err != nil {
		return 4
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return 5
	}
	srv := grpc.NewServer()
	kannapb.RegisterClusterServer(srv, &fakeCluster{id: *id, addr: *addr, voters: voters})
	go func() { _ = srv.Serve(ln) }()
	for range sig {
		if !*ignoreTerm {
			return 0
		}
	}
	return 0
}

// fakeSupervisor starts one fake node that ignores SIGTERM, with its data in dir (the test's: a
// supervisor killed outright removes nothing), prints its pid, and blocks until it is killed: only
// the death of its supervisor can stop that node.
func fakeSupervisor(dir string) int {
	exe, err := os.Executable()
	if err != nil {
		return 6
	}
	if err := os.Setenv(fakeNodeEnv, "1"); err != nil {
		return 6
	}
	s, err := New(Config{Binary: exe, Dir: dir, Progress: io.Discard})
	if err != nil {
		return 6
	}
	n, err := s.AddNode("--ignore-term")
	if err != nil {
		return 7
	}
	fmt.Println(n.PID)
	select {}
}

// fakeCluster answers Status as a member of a cluster led by node 1 with the given voters, and
// refuses calls without the development cluster key, as a real node does.
type fakeCluster struct {
	kannapb.UnimplementedClusterServer
	id     uint64
	addr   string
	voters string
}

func (f *fakeCluster) Status(ctx context.Context, _ *kannapb.StatusRequest) (*kannapb.NodeStatus, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get(ClusterKeyHeader); len(got) != 1 || got[0] != DefaultClusterKey {
		return nil, status.Error(codes.Unauthenticated, "wrong cluster key")
	}
	st := &kannapb.NodeStatus{Id: f.id, Address: f.addr, Role: kannapb.NodeRole_NODE_ROLE_FOLLOWER, Term: 2, Leader: 1}
	if f.id == 1 {
		st.Role = kannapb.NodeRole_NODE_ROLE_LEADER
	}
	for _, v := range strings.Split(f.voters, ",") {
		n, _ := strconv.ParseUint(v, 10, 64)
		st.Voters = append(st.Voters, n)
	}
	return st, nil
}

// newTestSupervisor returns a supervisor whose nodes are fake nodes reporting voters.
func newTestSupervisor(t *testing.T, voters string) *Supervisor {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	t.Setenv(fakeNodeEnv, voters)
	s, err := New(Config{Binary: exe, FaultInjection: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown()) })
	return s
}

func readArgs(t *testing.T, n NodeInfo) string {
	t.Helper()
	var got []byte
	require.Eventually(t, func() bool {
		var err error
		got, err = os.ReadFile(filepath.Join(n.DataDir, "args"))
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "node %d never wrote its arguments", n.ID)
	return string(got)
}

func TestFirstNodeBootstrapsAndLaterNodesJoinIt(t *testing.T) {
	s := newTestSupervisor(t, "1,2,3")
	require.NoError(t, s.StartCluster(3))
	nodes := s.Nodes()
	require.Len(t, nodes, 3)
	first := readArgs(t, nodes[0])
	require.NotContains(t, first, "--join", "node 1 must bootstrap alone")
	require.Contains(t, first, "--enable-fault-injection")
	for _, n := range nodes[1:] {
		require.Contains(t, readArgs(t, n), "--join "+nodes[0].Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	leader, err := s.WaitReady(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), leader)
}

func TestClusterIsNotFormedUntilEveryRunningNodeVotes(t *testing.T) {
	s := newTestSupervisor(t, "1,2") // node 3 stays a learner in the leader's eyes
	require.NoError(t, s.StartCluster(3))
	var missing string
	require.Eventually(t, func() bool {
		_, missing = s.Formed(s.Statuses(context.Background(), time.Second))
		return !strings.HasPrefix(missing, "no answer yet")
	}, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, "leader 1 (term 2) has voters [1 2] and learners []; waiting for voters [1 2 3]", missing)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.WaitReady(ctx)
	require.ErrorContains(t, err, "cluster did not form")
}

func TestWaitReadyFailsAtOnceWhenANodeExitsByItself(t *testing.T) {
	s := newTestSupervisor(t, "1,2")
	_, err := s.AddNode()
	require.NoError(t, err)
	bad, err := s.AddNode("--refuse")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = s.WaitReady(ctx)
	require.ErrorContains(t, err, fmt.Sprintf("node 2 exited with status 1 (log: %s)", bad.LogFile))
	require.Less(t, time.Since(start), 30*time.Second, "WaitReady must not wait out its context for a dead node")
	logText, err := os.ReadFile(bad.LogFile)
	require.NoError(t, err)
	require.Contains(t, string(logText), "refusing to start", "the node's output goes to its log file")

	require.NoError(t, s.Crash(1))
	require.Len(t, s.failed(), 1, "a crash the supervisor caused is not a failure")
}

func TestCrashKillsTheProcessAndRestartReusesItsDataAndFlags(t *testing.T) {
	s := newTestSupervisor(t, "1")
	n, err := s.AddNode()
	require.NoError(t, err)
	before := readArgs(t, n)
	require.NoError(t, os.Remove(filepath.Join(n.DataDir, "args")))

	require.NoError(t, s.Crash(n.ID))
	after := s.Node(n.ID)
	require.False(t, after.Running)
	require.Equal(t, "killed by signal 9 (killed)", after.Exit)
	require.ErrorIs(t, s.Crash(n.ID), ErrNotRunning)

	require.NoError(t, s.Restart(n.ID))
	require.True(t, s.Node(n.ID).Running)
	require.NotEqual(t, n.PID, s.Node(n.ID).PID)
	require.Equal(t, before, readArgs(t, s.Node(n.ID)))
	require.ErrorIs(t, s.Restart(n.ID), ErrRunning)
}

func TestStopSendsSigtermAndKillsANodeThatIgnoresIt(t *testing.T) {
	s := newTestSupervisor(t, "1")
	polite, err := s.AddNode()
	require.NoError(t, err)
	stubborn, err := s.AddNode("--ignore-term")
	require.NoError(t, err)
	readArgs(t, polite)
	readArgs(t, stubborn)

	require.NoError(t, s.Stop(polite.ID, 10*time.Second))
	require.Equal(t, "exited with status 0", s.Node(polite.ID).Exit)
	require.NoError(t, s.Stop(stubborn.ID, 100*time.Millisecond))
	require.Equal(t, "killed by signal 9 (killed)", s.Node(stubborn.ID).Exit)
}

func TestShutdownStopsEveryNodeAndRemovesTemporaryData(t *testing.T) {
	s := newTestSupervisor(t, "1,2")
	require.NoError(t, s.StartCluster(2))
	for _, n := range s.Nodes() {
		readArgs(t, n)
	}
	dir := s.Dir()
	require.NoError(t, s.Shutdown())
	for _, n := range s.Nodes() {
		require.False(t, n.Running, "node %d", n.ID)
	}
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = s.AddNode()
	require.Error(t, err)
}

func TestNodesDieWithASupervisorKilledWithoutWarning(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fakeSupervisorEnv+"="+t.TempDir())
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the supervisor did not report its node")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err, "pid line %q", line)
	require.True(t, processLives(pid), "node %d is not running", pid)

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Eventually(t, func() bool { return !processLives(pid) }, 10*time.Second, 10*time.Millisecond,
		"node %d outlived its supervisor's SIGKILL", pid)
}

// processLives says whether pid runs: a process that has ended but waits to be reaped by whoever
// inherited it (state Z) does not.
func processLives(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may hold spaces.
	rest := stat[strings.LastIndexByte(string(stat), ')')+1:]
	fields := strings.Fields(string(rest))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func TestControlEndpointCrashesRestartsAndListsNodes(t *testing.T) {
	s := newTestSupervisor(t, "1")
	n, err := s.AddNode()
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	post := func(path string) (int, map[string]any) {
		resp, err := http.Post(srv.URL+path, "application/json", nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}
	list := func() []NodeInfo {
		resp, err := http.Get(srv.URL + "/nodes")
		require.NoError(t, err)
		defer resp.Body.Close()
		var nodes []NodeInfo
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&nodes))
		return nodes
	}

	require.Equal(t, []NodeInfo{s.Node(n.ID)}, list())
	require.True(t, list()[0].Running)

	code, body := post(fmt.Sprintf("/nodes/%d/crash", n.ID))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, false, body["running"])
	require.False(t, list()[0].Running)

	code, _ = post(fmt.Sprintf("/nodes/%d/crash", n.ID))
	require.Equal(t, http.StatusConflict, code)

	code, body = post(fmt.Sprintf("/nodes/%d/restart", n.ID))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, true, body["running"])

	code, body = post("/nodes/9/crash")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body["error"], "no such node")

	code, _ = post("/nodes/zero/restart")
	require.Equal(t, http.StatusBadRequest, code)
}
