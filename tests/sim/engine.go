// The boundary between the simulated shell and the node it drives.
//
// The simulator plays the part of the real shell around a node's deterministic engine (Raft core
// plus Hangman state machine). It sees the engine only through this small interface, so the code
// it tortures is the code that runs in production, and a change in the engine's API touches one
// adapter file.

package sim

import (
	"errors"
	"math/rand"
	"slices"
	"strconv"

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
	// Recycle hands back the last Ready's output once its messages are sent and its applied
	// entries checked (the checkers keep copies): the core queues later messages in the same
	// array, and the engine applies later entries into the same array.
	Recycle(messages []raft.Message, applied []appliedEntry)
	Status() raft.Status
	// StatusInto is Status written into s, reusing its map and slices.
	StatusInto(s *raft.Status)
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

// appendSummary appends the short form of an applied entry that its commit line shows.
func appendSummary(b []byte, a *appliedEntry) []byte {
	switch a.Type {
	case raft.EntryNormal:
		cmd, res := &a.Command, &a.Result
		b = append(b, cmd.Kind...)
		b = append(b, ' ')
		b = append(b, cmd.ClientID...)
		b = append(b, '#')
		b = strconv.AppendUint(b, cmd.Seq, 10)
		b = append(b, " room="...)
		b = append(b, cmd.Room...)
		if res.Err != nil {
			b = append(b, " -> "...)
			b = append(b, res.Err.Code.String()...)
		} else {
			b = append(b, " -> ok round="...)
			b = strconv.AppendUint(b, res.Round, 10)
			b = append(b, ' ')
			b = append(b, res.Status.String()...)
		}
		return b
	case raft.EntryConfChange:
		return appendConfChange(b, a.ConfChange)
	default:
		return append(b, a.Type.String()...)
	}
}

// appendAppliedDigest appends what the state-machine-safety checker compares of an applied entry:
// the command and its result in full, or the configuration change, or the entry's type.
func appendAppliedDigest(b []byte, a *appliedEntry) []byte {
	switch a.Type {
	case raft.EntryNormal:
		return appendDigest(b, &a.Command, &a.Result)
	case raft.EntryConfChange:
		return appendConfChange(b, a.ConfChange)
	default:
		return append(b, a.Type.String()...)
	}
}

// sameApplied reports whether two applications of an entry agree on everything appendAppliedDigest
// shows: the checker compares every entry on every node, so it compares fields rather than
// formatted digests. A Command or Result field added later is compared by == already (a field ==
// cannot compare stops it compiling); TestDigestCoversEveryField changes every field in turn.
func sameApplied(a, b *appliedEntry) bool {
	if a.Type != b.Type {
		return false
	}
	switch a.Type {
	case raft.EntryNormal:
		return a.Command == b.Command && sameResult(&a.Result, &b.Result)
	case raft.EntryConfChange:
		return a.ConfChange == b.ConfChange
	default:
		return true
	}
}

func sameResult(a, b *game.Result) bool {
	x, y := *a, *b
	x.Err, y.Err, x.State, y.State = nil, nil, nil, nil
	if x != y || (a.Err == nil) != (b.Err == nil) || (a.State == nil) != (b.State == nil) {
		return false
	}
	if a.Err != nil && *a.Err != *b.Err {
		return false
	}
	return a.State == nil || sameRoom(a.State, b.State)
}

// sameRoom compares every field of two rooms; TestDigestCoversEveryField changes each in turn.
func sameRoom(a, b *game.RoomView) bool {
	return a.Name == b.Name && a.Round == b.Round && a.Status == b.Status && a.Masked == b.Masked &&
		a.Word == b.Word && a.Lives == b.Lives && a.Guessed == b.Guessed && a.Misses == b.Misses &&
		a.Version == b.Version && slices.Equal(a.Players, b.Players)
}

func appendConfChange(b []byte, cc raft.ConfChange) []byte {
	b = append(b, cc.Type.String()...)
	b = append(b, ' ')
	return strconv.AppendUint(b, cc.NodeID, 10)
}

// appendDigest appends every field of a command and of its result, strings quoted, so that two
// replicas' digests are equal exactly when they applied the same command with the same result. It
// runs for every entry on every node, so it appends rather than marshalling with reflection;
// TestDigestCoversEveryField fails when a field is added to either type and not here.
func appendDigest(b []byte, c *game.Command, r *game.Result) []byte {
	for _, f := range []string{string(c.Kind), c.ClientID} {
		b = appendQuoted(b, f)
		b = append(b, ' ')
	}
	b = strconv.AppendUint(b, c.Seq, 10)
	for _, f := range []string{c.Room, c.Player, c.Letter, c.Word, c.Token} {
		b = append(b, ' ')
		b = appendQuoted(b, f)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, c.Time, 10)
	return appendResult(append(b, " =>"...), r)
}

// appendResult appends every field of a result, as appendDigest does; the linearizability check
// compares a client's answer with the log's by it.
func appendResult(b []byte, r *game.Result) []byte {
	for _, f := range []string{string(r.Kind), r.Room, r.Player, r.Letter} {
		b = append(b, ' ')
		b = appendQuoted(b, f)
	}
	for _, v := range []int64{int64(r.Round), int64(r.Revealed), int64(r.Points), int64(r.Status)} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, v, 10)
	}
	for _, v := range []bool{r.Hit, r.Repeated} {
		b = append(b, ' ')
		b = strconv.AppendBool(b, v)
	}
	if r.Err != nil {
		b = append(b, " error "...)
		b = strconv.AppendUint(b, uint64(r.Err.Code), 10)
		b = append(b, ' ')
		b = appendQuoted(b, r.Err.Message)
	}
	if v := r.State; v != nil {
		b = appendRoomView(append(b, " state"...), v)
	}
	return b
}

// appendQuoted appends s quoted as strconv.AppendQuote does, without its rune-by-rune walk when s
// is printable ASCII with nothing to escape, as the game's names and words are.
func appendQuoted(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRoomView appends every field of a room as a command left it (Result.State): what a retried
// write answers, so replicas must agree on it too.
func appendRoomView(b []byte, v *game.RoomView) []byte {
	for _, f := range []string{v.Name, v.Masked, v.Word, v.Guessed, v.Misses} {
		b = append(b, ' ')
		b = appendQuoted(b, f)
	}
	for _, n := range []int64{int64(v.Round), int64(v.Status), int64(v.Lives), int64(v.Version)} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, n, 10)
	}
	for _, p := range v.Players {
		b = append(b, ' ')
		b = appendQuoted(b, p.Name)
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(p.Score), 10)
	}
	return b
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
