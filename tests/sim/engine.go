// The boundary between the simulated shell and the node it drives.
//
// The simulator plays the part of the real shell around a node's deterministic engine (Raft core
// plus Hangman state machine). It sees the engine only through this small interface, so the code
// it tortures is the code that runs in production, and a change in the engine's API touches one
// adapter file.

package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

// engine is one node as the simulated shell drives it. Between Ready and Advance the shell may
// still Tick, Step, Propose and Read; it calls Ready again only after Advance.
type engine interface {
	Tick()
	Step(m raft.Message)
	Propose(cmd game.Command) (proposalID uint64, err error)
	Read(room string) (proposalID uint64, err error)
	// ProposeConfChange and TransferLeadership serve the membership policy (membership.go).
	ProposeConfChange(cc raft.ConfChange) (proposalID uint64, err error)
	TransferLeadership(to uint64) error
	HasReady() bool
	Ready() output
	Advance()
	Status() raft.Status
	// Entries returns the log's entries [lo, hi), for the diagram's log panel.
	Entries(lo, hi uint64) ([]raft.Entry, error)
	// State is the role, leader, term and commit index: what the checkers read after every event,
	// without the cost of a whole Status.
	State() (raft.SoftState, raft.HardState)
	// GameSnapshot returns the encoded game state, for comparing replicas at the end of a run.
	GameSnapshot() []byte
}

// output is one Ready of the engine, in the order the persistence contract handles it: persist
// HardState, Snapshot and Entries; then send Messages; then deliver Results; then Advance.
type output struct {
	HardState raft.HardState
	Entries   []raft.Entry
	Snapshot  *raft.Snapshot
	MustSync  bool
	// Compacted is a snapshot the engine took of its own state: persisted, it lets the disk drop
	// the log up to its index.
	Compacted *raft.Snapshot
	Messages  []raft.Message
	Results   []result
	Applied   []appliedEntry
	// Errors are problems the engine reports without stopping (a message the core refused).
	Errors []error
}

// result answers one proposal or read.
type result struct {
	ID     uint64
	Result game.Result
	Room   game.RoomView
	Err    error
}

// appliedEntry is one entry the engine applied to its game state, reduced to what the
// state-machine-safety checker compares.
type appliedEntry struct {
	Index, Term uint64
	Digest      string        // the command and its result, in full
	Summary     string        // a short form of Digest for the trace
	Command     *game.Command // for EntryNormal: what the linearizability check replays
}

// describeApplied reduces an applied entry to what the checkers compare and the trace shows.
func describeApplied(index, term uint64, typ raft.EntryType, cmd game.Command, res game.Result, cc raft.ConfChange) appliedEntry {
	a := appliedEntry{Index: index, Term: term}
	switch typ {
	case raft.EntryNormal:
		cmdText, _ := json.Marshal(cmd)
		resText, _ := json.Marshal(res)
		a.Digest = string(cmdText) + " => " + string(resText)
		a.Command = &cmd
		a.Summary = fmt.Sprintf("%s %s#%d room=%s", cmd.Kind, cmd.ClientID, cmd.Seq, cmd.Room)
		if res.Err != nil {
			a.Summary += " -> " + res.Err.Code.String()
		} else {
			a.Summary += fmt.Sprintf(" -> ok round=%d %s", res.Round, res.Status)
		}
	case raft.EntryConfChange:
		a.Digest = fmt.Sprintf("%s %d", cc.Type, cc.NodeID)
		a.Summary = a.Digest
	default:
		a.Digest = typ.String()
		a.Summary = a.Digest
	}
	return a
}

// engineConfig is everything a node is built from.
type engineConfig struct {
	ID            uint64
	Peers         []uint64 // set for a brand-new node, empty for a restart
	Restore       *raft.Restored
	RaftRand      *rand.Rand
	GameRand      *rand.Rand
	ElectionTick  int
	HeartbeatTick int
	PreVote       bool
	CheckQuorum   bool
	Bugs          raft.TeachingBugs
	SnapshotEvery uint64
	MaxSizePerMsg uint64 // 0: the core's default
}

// newEngine builds a node's engine; engine_server.go sets it to the adapter over server.Engine,
// so that a change in the engine's API touches that one file.
var newEngine func(cfg engineConfig) (engine, error)

// errNoEngine is returned by a run when no engine is wired in.
var errNoEngine = errors.New("sim: no node engine is wired in (server.Engine adapter missing); build with the server package")

// retryable reports whether a client should resend the same request (same client id and seq)
// after err: the request did not reach a verdict, as opposed to a game error that is the verdict.
// The second result is the leader to try next, when err names one.
func retryable(err error) (bool, uint64) {
	var nl *raft.NotLeaderError
	if errors.As(err, &nl) {
		return true, nl.Leader
	}
	var ge *game.Error
	if errors.As(err, &ge) {
		return false, 0
	}
	return true, 0
}
