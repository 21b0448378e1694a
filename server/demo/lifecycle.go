// Stopping and starting node processes on purpose: a crash with SIGKILL (the fail-stop failure of
// the Raft paper §5.5), a graceful stop with SIGTERM (a leave: SWIM §4.2, and the configuration
// change of Ongaro's thesis §4.1 that follows it), a restart from the same data folder (Raft paper
// Figure 2: persistent state survives), and the shutdown of the whole cluster.

package demo

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Crash kills node id's process with SIGKILL, as a power cut would, and waits for it to die.
func (s *Supervisor) Crash(id uint64) error {
	p, run, err := s.running(id)
	if err != nil {
		return err
	}
	s.markStopped(p)
	if err := run.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("demo: kill node %d: %w", id, err)
	}
	<-run.done
	fmt.Fprintf(s.cfg.Progress, "crashed node %d (SIGKILL)\n", id)
	return nil
}

// Stop asks node id to leave with SIGTERM and waits up to grace for it to exit, then kills it.
func (s *Supervisor) Stop(id uint64, grace time.Duration) error {
	p, run, err := s.running(id)
	if err != nil {
		return err
	}
	s.terminate(p, run, grace)
	fmt.Fprintf(s.cfg.Progress, "stopped node %d: %s\n", id, s.Node(id).Exit)
	return nil
}

// markStopped records that the supervisor is ending p's process on purpose.
func (s *Supervisor) markStopped(p *proc) {
	s.mu.Lock()
	p.stopped = true
	s.mu.Unlock()
}

// failed returns the nodes whose process exited without the supervisor asking, with how.
func (s *Supervisor) failed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.nodes {
		if p.run != nil && !p.isRunning() && !p.stopped {
			out = append(out, fmt.Sprintf("node %d %s (log: %s)", p.id, p.exit, p.logPath))
		}
	}
	sort.Strings(out)
	return out
}

// terminate sends SIGTERM, then SIGKILL once grace has passed, and waits for the exit.
func (s *Supervisor) terminate(p *proc, run *process, grace time.Duration) {
	s.markStopped(p)
	_ = run.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-run.done:
	case <-timer.C:
		_ = run.cmd.Process.Signal(syscall.SIGKILL)
		<-run.done
	}
}

// Restart starts node id again with the flags and data folder it had, after a crash or stop. A
// node that is still running is left alone and an error says so.
func (s *Supervisor) Restart(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.nodes[id]
	if !ok {
		return fmt.Errorf("%w: node %d; GET /nodes lists the nodes", ErrNoSuchNode, id)
	}
	if s.closed {
		return errors.New("demo: the supervisor is shut down; start a new one")
	}
	if p.isRunning() {
		return fmt.Errorf("%w: node %d (pid %d); crash it first", ErrRunning, id, p.run.cmd.Process.Pid)
	}
	return s.start(p)
}

// Wait blocks until node id's current process exits and returns how it ended.
func (s *Supervisor) Wait(id uint64) (string, error) {
	s.mu.Lock()
	p, ok := s.nodes[id]
	var run *process
	if ok {
		run = p.run
	}
	s.mu.Unlock()
	if run == nil {
		return "", fmt.Errorf("%w: node %d", ErrNoSuchNode, id)
	}
	<-run.done
	return s.Node(id).Exit, nil
}

// ErrNoSuchNode, ErrRunning and ErrNotRunning are wrapped by errors from Crash, Stop, Restart and
// Wait, so that the control endpoint can answer 404 and 409.
var (
	ErrNoSuchNode = errors.New("demo: no such node")
	ErrRunning    = errors.New("demo: node is running")
	ErrNotRunning = errors.New("demo: node is not running")
)

// running returns node id and its process when the process is alive.
func (s *Supervisor) running(id uint64) (*proc, *process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.nodes[id]
	if !ok {
		return nil, nil, fmt.Errorf("%w: node %d; GET /nodes lists the nodes", ErrNoSuchNode, id)
	}
	if !p.isRunning() {
		return nil, nil, fmt.Errorf("%w: node %d (%s); restart it first", ErrNotRunning, id, p.exit)
	}
	return p, p.run, nil
}

// Shutdown stops every running node (SIGTERM, then SIGKILL after StopGrace), all at once, and
// removes the data folder when the supervisor created it. Later calls do nothing.
func (s *Supervisor) Shutdown() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	type live struct {
		p   *proc
		run *process
	}
	var running []live
	for _, p := range s.nodes {
		if p.isRunning() {
			running = append(running, live{p, p.run})
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.terminate(l.p, l.run, StopGrace)
		}()
	}
	wg.Wait()
	fmt.Fprintf(s.cfg.Progress, "stopped %d node(s)\n", len(running))
	if s.ownsDir {
		if err := os.RemoveAll(s.dir); err != nil {
			return fmt.Errorf("demo: remove temporary data %s: %w; delete it by hand", s.dir, err)
		}
	}
	return nil
}
