// The adapter from the simulator's engine interface to server/engine.Engine: the very engine a real Kanna
// node runs, composing the Raft core with the Hangman state machine (Raft paper Figure 1: consensus
// module, log, state machine).

package sim

import (
	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
	nodeengine "github.com/kanna-cluster/kanna/server/engine"
)

// appliedEntry is one entry the engine applied to its game state: the command and its result, or
// the configuration change. The checkers compare it across nodes (appendAppliedDigest) and the
// trace shows it (appendSummary), each formatting it into a reused buffer when it is read.
type appliedEntry = nodeengine.AppliedEntry

type serverEngine struct {
	e    *nodeengine.Engine
	last nodeengine.Output
	// results is the array of the last Ready's Results, refilled by the next: the shell answers
	// them before it calls Advance, and Ready is not called again before that.
	results []result
}

func newServerEngine(cfg engineConfig) (engine, error) {
	rc := raft.DefaultConfig()
	rc.ID, rc.Peers, rc.Restore, rc.Rand = cfg.ID, cfg.Peers, cfg.Restore, cfg.RaftRand
	rc.ElectionTick, rc.HeartbeatTick = cfg.ElectionTick, cfg.HeartbeatTick
	rc.PreVote, rc.CheckQuorum = cfg.PreVote, cfg.CheckQuorum
	rc = raft.WithTeachingBugs(rc, cfg.Bugs)
	if cfg.MaxSizePerMsg > 0 {
		rc.MaxSizePerMsg = cfg.MaxSizePerMsg
	}
	e, err := nodeengine.New(nodeengine.Config{Raft: rc, Rand: cfg.GameRand, SnapshotEvery: cfg.SnapshotEvery})
	if err != nil {
		return nil, err
	}
	return &serverEngine{e: e}, nil
}

func (s *serverEngine) Tick()               { s.e.Tick() }
func (s *serverEngine) Step(m raft.Message) { s.e.Step(m) }
func (s *serverEngine) HasReady() bool      { return s.e.HasReady() }
func (s *serverEngine) Advance()            { s.e.Advance(s.last) }
func (s *serverEngine) Recycle(messages []raft.Message, applied []appliedEntry) {
	s.last.Messages, s.last.Applied = nil, nil
	s.e.RecycleMessages(messages)
	s.e.RecycleApplied(applied)
}
func (s *serverEngine) Status() raft.Status        { return s.e.Status() }
func (s *serverEngine) StatusInto(st *raft.Status) { s.e.StatusInto(st) }
func (s *serverEngine) Entries(lo, hi uint64) ([]raft.Entry, error) {
	return s.e.Raft().Entries(lo, hi)
}
func (s *serverEngine) State() (raft.SoftState, raft.HardState) {
	return s.e.Raft().SoftState(), s.e.Raft().HardState()
}
func (s *serverEngine) GameSnapshot() []byte { return s.e.Game().Snapshot() }

func (s *serverEngine) Propose(cmd game.Command) (uint64, error) {
	id, err := s.e.Propose(cmd)
	return uint64(id), err
}

func (s *serverEngine) ProposeConfChange(cc raft.ConfChange) (uint64, error) {
	id, err := s.e.ProposeConfChange(cc)
	return uint64(id), err
}

func (s *serverEngine) TransferLeadership(to uint64) error { return s.e.TransferLeadership(to) }

func (s *serverEngine) Read(room string) (uint64, error) {
	id, err := s.e.Read(room)
	return uint64(id), err
}

func (s *serverEngine) Ready() output {
	s.last = s.e.Ready()
	out := &s.last
	o := output{
		HardState: out.HardState, Entries: out.Entries, Snapshot: out.Snapshot, MustSync: out.MustSync,
		Messages: out.Messages, Compacted: out.Compacted, Errors: out.Errors, Applied: out.Applied,
	}
	if len(out.Results) > 0 {
		clear(s.results)
		o.Results = s.results[:0]
		for _, r := range out.Results {
			o.Results = append(o.Results, result{ID: uint64(r.ID), Result: r.Result, Room: r.Room, Err: r.Err})
		}
		s.results = o.Results
	}
	return o
}

func init() { newEngine = newServerEngine }
