// Package demo runs a whole Kanna cluster on one machine as child processes of the `kanna` binary:
// the supervisor behind `kanna demo`, `kanna bench` and the end-to-end tests, and the crash and
// restart buttons of the web dashboard.
//
// It implements no section of the Raft or SWIM papers; it is the harness that lets people watch
// those papers' rules at work on real processes: a node is crashed with SIGKILL (the fail-stop
// failure both papers assume, Raft paper §5.5 "Follower and candidate crashes"), restarted from
// the same data folder (Raft paper Figure 2: persistent state survives), or asked to leave with
// SIGTERM (a graceful leave, SWIM §4.2 and Ongaro's thesis §4.1 for the configuration change).
//
// Node 1 bootstraps a new cluster alone; every later node starts with --join naming node 1, and the
// leader adds it through gossip as a learner, then a voter (docs/design.md, "Membership").
//
// A web package uses a *Supervisor directly (Nodes, Crash, Restart) or mounts Handler, the JSON
// control endpoint that `kanna demo` serves.
package demo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// StopGrace is how long Stop and Shutdown wait after SIGTERM before SIGKILL: a node promises to
// leave gossip, hand off leadership and exit within 5 s of SIGTERM (docs/operations.md).
const StopGrace = 5 * time.Second

// Config says what cluster a Supervisor runs.
type Config struct {
	// Binary is the `kanna` executable to start nodes from. Empty means this process's own
	// executable, which is what `kanna demo` wants.
	Binary string
	// Dir is the folder that holds each node's data folder and log file. Empty means a new
	// temporary folder that Shutdown removes; a folder given here is kept.
	Dir string
	// Host is the loopback address nodes bind to. Empty means 127.0.0.1.
	Host string
	// ClusterKey, when set, is passed to every node as --cluster-key and sent by Dial's callers.
	ClusterKey string
	// FaultInjection starts every node with --enable-fault-injection, so Cluster.DropTraffic and
	// Heal work (the dashboard's link cutting).
	FaultInjection bool
	// ExtraArgs are appended to every node's command line, e.g. a smaller snapshot interval.
	ExtraArgs []string
	// Progress receives one line per step (node started, crashed, leader found). Nil discards.
	Progress io.Writer
	// Join, when set, is a node outside the supervisor (`kanna bench --inprocess` runs the leader
	// in its own process) that every node joins, the first one included; FirstID is then the id
	// of the first node the supervisor starts.
	Join    string
	FirstID uint64
	// Place, when set, says where node id runs: the address it serves on, and a command the binary
	// is run through there (e.g. `ip netns exec NS`, which execs it, so the supervisor's signals
	// still reach the node). The real-network tests put each node in a network namespace of its
	// own this way. Nil runs every node directly, on a free port of Host.
	Place func(id uint64) (addr string, prefix []string)
}

// NodeInfo is what the supervisor knows of one node process; GET /nodes returns a list of them.
type NodeInfo struct {
	ID      uint64 `json:"id"`
	Addr    string `json:"addr"`
	PID     int    `json:"pid"` // 0 when the node is not running
	Running bool   `json:"running"`
	DataDir string `json:"data_dir"`
	LogFile string `json:"log_file"`
	// Exit describes how the last process of this node ended, empty while it runs.
	Exit string `json:"exit,omitempty"`
}

// LogTail returns the last n lines of the node's log file (all of them when it has fewer), or nil
// when the file cannot be read: the logs go with the temporary folder, so whoever shows a failure
// shows them first.
func (n NodeInfo) LogTail(keep int) []string {
	f, err := os.Open(n.LogFile)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > keep {
			lines = lines[1:]
		}
	}
	return lines
}

// Supervisor starts, crashes, restarts and stops the node processes of one local cluster. Its
// methods are safe for concurrent use, so an HTTP handler and a signal handler may share it.
type Supervisor struct {
	cfg     Config
	dir     string
	ownsDir bool

	mu     sync.Mutex
	nodes  map[uint64]*proc
	nextID uint64
	closed bool
}

// proc is one node: the flags it was started with and its current process, if any.
type proc struct {
	id      uint64
	addr    string
	dataDir string
	logPath string
	prefix  []string // the command the binary runs through (Config.Place), if any
	args    []string

	run  *process // the current or last process; nil before the first start
	exit string
	// stopped is set when the supervisor itself crashed or stopped the process, so that an exit
	// it did not cause (a node refusing to start) can be told apart.
	stopped bool
}

// process is one run of a node's process. Restart replaces a proc's process with a new one, so a
// caller that waits on a process captures it under the lock first.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited and exit is set
}

// New prepares a supervisor for cfg without starting any process.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("demo: find the kanna binary to start nodes from: %w; pass Config.Binary", err)
		}
		cfg.Binary = exe
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	s := &Supervisor{cfg: cfg, dir: cfg.Dir, nodes: map[uint64]*proc{}, nextID: max(cfg.FirstID, 1)}
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "kanna-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: create a temporary folder for node data: %w; check that TMPDIR is writable", err)
		}
		s.dir, s.ownsDir = dir, true
	} else if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: create folder %s for node data: %w", s.dir, err)
	}
	return s, nil
}

// Dir returns the folder holding every node's data folder and log file.
func (s *Supervisor) Dir() string { return s.dir }

// StartCluster starts n nodes: node 1 bootstraps the cluster, the others join it. It returns once
// the processes are started; WaitReady waits for the cluster to form.
func (s *Supervisor) StartCluster(n int) error {
	if n < 1 {
		return fmt.Errorf("demo: a cluster needs at least one node, not %d", n)
	}
	for i := 0; i < n; i++ {
		if _, err := s.AddNode(); err != nil {
			return err
		}
	}
	return nil
}

// AddNode starts one more node on a free port with the next id. The first node bootstraps; every
// later one is given --join with node 1's address. extra flags are appended after Config.ExtraArgs.
func (s *Supervisor) AddNode(extra ...string) (NodeInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return NodeInfo{}, errors.New("demo: the supervisor is shut down; start a new one")
	}
	id := s.nextID
	p := &proc{
		id:      id,
		dataDir: filepath.Join(s.dir, fmt.Sprintf("node%d", id)),
		logPath: filepath.Join(s.dir, fmt.Sprintf("node%d.log", id)),
	}
	if s.cfg.Place != nil {
		p.addr, p.prefix = s.cfg.Place(id)
	} else {
		port, err := freePort(s.cfg.Host)
		if err != nil {
			return NodeInfo{}, err
		}
		p.addr = net.JoinHostPort(s.cfg.Host, strconv.Itoa(port))
	}
	p.args = []string{"node", "--id", strconv.FormatUint(id, 10), "--data", p.dataDir, "--addr", p.addr}
	if s.cfg.Join != "" {
		p.args = append(p.args, "--join", s.cfg.Join)
	} else if first, ok := s.nodes[1]; ok {
		p.args = append(p.args, "--join", first.addr)
	}
	if s.cfg.ClusterKey != "" {
		p.args = append(p.args, "--cluster-key", s.cfg.ClusterKey)
	}
	if s.cfg.FaultInjection {
		p.args = append(p.args, "--enable-fault-injection")
	}
	p.args = append(p.args, s.cfg.ExtraArgs...)
	p.args = append(p.args, extra...)
	if err := s.start(p); err != nil {
		return NodeInfo{}, err
	}
	s.nodes[id] = p
	s.nextID++
	return p.info(), nil
}

// start launches p's process; the caller holds s.mu.
func (s *Supervisor) start(p *proc) error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("demo: open log file for node %d: %w", p.id, err)
	}
	argv := append(append(slices.Clip(p.prefix), s.cfg.Binary), p.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A process group of its own keeps the terminal's Ctrl-C away from the nodes, so that the
	// supervisor stops them in order (SIGTERM, then SIGKILL) instead of all dying at once. A
	// supervisor that dies without that chance (SIGKILL, a crash) takes its nodes with it rather
	// than leaving them holding their ports and data folders.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("demo: start node %d (%s %v): %w", p.id, s.cfg.Binary, p.args, err)
	}
	run := &process{cmd: cmd, done: make(chan struct{})}
	p.run, p.exit, p.stopped = run, "", false
	go func() {
		werr := cmd.Wait()
		_ = logFile.Close()
		s.mu.Lock()
		p.exit = describeExit(werr)
		s.mu.Unlock()
		close(run.done)
	}()
	fmt.Fprintf(s.cfg.Progress, "started node %d (pid %d) on %s\n", p.id, cmd.Process.Pid, p.addr)
	return nil
}

// describeExit says how a process ended.
func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exited with status 0"
}

// freePort asks the kernel for a port that is free on host right now. Another program could take
// it before the node binds; on loopback, within the time it takes to start a child, that is rare.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("demo: find a free port on %s: %w", host, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// isRunning reports whether p's process has been started and has not exited; the caller holds
// s.mu.
func (p *proc) isRunning() bool {
	if p.run == nil {
		return false
	}
	select {
	case <-p.run.done:
		return false
	default:
		return true
	}
}

// info is p's NodeInfo; the caller holds s.mu.
func (p *proc) info() NodeInfo {
	n := NodeInfo{ID: p.id, Addr: p.addr, DataDir: p.dataDir, LogFile: p.logPath, Exit: p.exit}
	if p.isRunning() {
		n.Running, n.PID = true, p.run.cmd.Process.Pid
	}
	return n
}

// Node returns what the supervisor knows of node id; ID is 0 when there is no such node.
func (s *Supervisor) Node(id uint64) NodeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.nodes[id]; ok {
		return p.info()
	}
	return NodeInfo{}
}

// Nodes lists every node the supervisor started, by id.
func (s *Supervisor) Nodes() []NodeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NodeInfo, 0, len(s.nodes))
	for _, p := range s.nodes {
		out = append(out, p.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
