// Package engine is the deterministic heart of one Kanna node: it composes the Raft core with the
// Hangman state machine. The real shell around it (network, disk, timers) is package server; the
// simulator in tests/sim drives the same engine with virtual ones.
//
// This file is the engine's input side: building it, and handing it ticks, messages, proposals and
// reads. ready.go is its output side: the Ready/Advance loop that applies committed entries
// to the game and answers the requests that were waiting for them. Together they are the "state
// machine replication" of the Raft paper (§2, Figure 1: consensus module, log, state machine) and
// its client interaction (§8): a command is answered once it is applied, a retried command applies
// once (sessions live in game/), and a read is answered only after confirming leadership (thesis
// §6.4, ReadIndex).
//
// The engine, like the cores it composes, does no I/O, starts no goroutine, reads no clock and draws
// randomness only from the *rand.Rand it is given, so the simulator in tests/sim can drive the same
// code the real shell does and replay a run from its seed.
package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

// ProposalID names one proposal or read made through an engine, so that the shell can match the
// Result that answers it. IDs are unique within one engine, and never reused.
type ProposalID uint64

// ErrProposalLost says a request's fate is unknown to this node: its log entry was replaced in a
// leader change or covered by a snapshot before this node applied it, or the node stopped leading
// before it could confirm a read. The command may or may not have been applied. Retrying with the
// same client id and seq is safe: the game's session table applies a request once.
var ErrProposalLost = errors.New("engine: request lost in a leader change; retry with the same client id and seq")

// Config is everything an engine is built from.
type Config struct {
	// Raft configures the core: ID, Peers, Rand, Restore, timing. When Restore holds a
	// snapshot, the engine rebuilds the game from it and the core hands out again every committed
	// entry after it (the game lives in memory, so whatever was applied past the snapshot before a
	// restart is gone with it).
	Raft raft.Config
	// Rand picks the word when this node, as leader, proposes a new room or round. Required.
	Rand *rand.Rand
	// SnapshotEvery makes the engine compact the log after this many entries have been applied
	// since the last snapshot; 0 never compacts.
	SnapshotEvery uint64
	// GameSnapshot, when set, is the game state matching Raft.Restore.Snapshot. Leave it nil to have
	// the engine read it from Raft.Restore.Snapshot.Data, which holds the same bytes for a snapshot
	// this engine took.
	GameSnapshot []byte
}

// Engine is the deterministic part of one node. It is not safe for concurrent use: one goroutine,
// the shell's loop, drives it.
type Engine struct {
	raft          *raft.Node
	game          *game.State
	rand          *rand.Rand
	snapshotEvery uint64
	// spareApplied is an Output's Applied array handed back by RecycleApplied, for the next Ready.
	spareApplied []AppliedEntry

	// applied is the index of the last entry applied to game; appliedTerm its term; conf the
	// configuration as of applied, which a snapshot taken there must carry.
	applied     uint64
	appliedTerm uint64
	conf        raft.ConfState
	// snapshotIndex is the index of the latest snapshot taken or restored.
	snapshotIndex uint64

	nextID    ProposalID
	proposals map[uint64]proposal // by log index: each index holds at most one entry of ours
	reads     []*pendingRead      // in request order: waiting for a read point, then for its apply
	// readTimeout is how many ticks a read may wait for the core to confirm its read point before
	// it is answered with ErrProposalLost: two election timeouts. A heartbeat round whose answers
	// are lost confirms nothing, and a leader that keeps its office never learns it; the client's
	// retry starts a new round (and its confirmation confirms every earlier request too).
	readTimeout int

	// term and leading are what the last Ready showed; they tell when reads can no longer be
	// confirmed.
	term    uint64
	leading bool

	// Carried into the next Output.
	results   []Result
	errs      []error
	compacted *raft.Snapshot
}

// proposal is a proposal waiting for its entry to apply.
type proposal struct {
	id   ProposalID
	term uint64
}

// pendingRead is a linearizable read waiting for its read point (thesis §6.4), then for the game
// to have applied up to it.
type pendingRead struct {
	id        ProposalID
	room      string
	term      uint64 // the leader's term when the read was asked
	index     uint64 // the read point, once confirmed
	confirmed bool
	ticks     int // ticks spent waiting for confirmation
}

// New builds an engine and its Raft core from cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.Rand == nil {
		return nil, errors.New("engine: engine config: Rand is required to pick words (the engine draws no global randomness)")
	}
	e := &Engine{
		game:          game.NewState(),
		rand:          cfg.Rand,
		snapshotEvery: cfg.SnapshotEvery,
		proposals:     map[uint64]proposal{},
	}
	rc := cfg.Raft
	e.readTimeout = 2 * rc.ElectionTick
	if rc.ElectionTick <= 0 {
		e.readTimeout = 2 * raft.DefaultConfig().ElectionTick
	}
	if r := rc.Restore; r != nil {
		restored := *r
		if snap := r.Snapshot; !snap.IsEmpty() {
			data := cfg.GameSnapshot
			if data == nil {
				data = snap.Data
			}
			if err := e.game.Restore(data); err != nil {
				return nil, fmt.Errorf("engine: start from snapshot at index %d: %w; restore this node's data from a peer", snap.Meta.Index, err)
			}
			e.applied, e.appliedTerm, e.snapshotIndex = snap.Meta.Index, snap.Meta.Term, snap.Meta.Index
			e.conf = cloneConfState(snap.Meta.ConfState)
		}
		// The game holds exactly the snapshot: ask the core for every committed entry after it.
		restored.Applied = e.applied
		rc.Restore = &restored
		e.term = r.HardState.Term
	}
	node, err := raft.New(rc)
	if err != nil {
		return nil, fmt.Errorf("engine: start raft core of node %d: %w", rc.ID, err)
	}
	e.raft = node
	return e, nil
}

// Tick advances the core's logical clock by one tick, and gives up on reads that the core has not
// confirmed within readTimeout ticks.
func (e *Engine) Tick() {
	e.raft.Tick()
	kept := e.reads[:0]
	for _, r := range e.reads {
		if !r.confirmed {
			r.ticks++
			if r.ticks >= e.readTimeout {
				e.results = append(e.results, Result{ID: r.id,
					Err: fmt.Errorf("engine: read of room %q: node %d could not confirm its leadership within %d ticks: %w", r.room, e.raft.ID(), e.readTimeout, ErrProposalLost)})
				continue
			}
		}
		kept = append(kept, r)
	}
	clear(e.reads[len(kept):])
	e.reads = kept
}

// Step hands the core a message from a peer. A message the core refuses (from a removed server, a
// stale snapshot chunk) does not stop the node: the error goes into the next Output for the shell
// to log.
func (e *Engine) Step(m raft.Message) {
	if err := e.raft.Step(m); err != nil {
		e.errs = append(e.errs, fmt.Errorf("engine: node %d: step %s: %w", e.raft.ID(), m, err))
	}
}

// Propose proposes a game command. On the leader, a command that starts a round and carries no
// word gets one drawn from the word list (a shell taking commands from players must clear any word
// they sent). The command is checked first: a malformed one returns its *game.Error and takes no
// slot in the log. A follower returns a *raft.NotLeaderError naming the leader it knows. The shell
// stamps cmd.Time with its clock, the time by which sessions and rooms age (game/session.go): the
// engine reads no clock.
//
// The answer comes later as a Result with the returned id: the game's result once the entry
// applies, or ErrProposalLost.
func (e *Engine) Propose(cmd game.Command) (ProposalID, error) {
	if st := e.raft.SoftState(); st.Role != raft.Leader {
		return 0, &raft.NotLeaderError{Leader: st.Lead}
	}
	if cmd.NeedsWord() && cmd.Word == "" {
		cmd.Word = game.PickWord(e.rand)
	}
	if err := cmd.Validate(); err != nil {
		return 0, err
	}
	index, term, err := e.raft.Propose(cmd.Encode())
	if err != nil {
		return 0, err
	}
	return e.track(index, term), nil
}

// ProposeConfChange proposes one membership change (thesis §4.1). Its Result, once the entry
// applies, carries no game result; ErrProposalLost as for any proposal.
func (e *Engine) ProposeConfChange(cc raft.ConfChange) (ProposalID, error) {
	index, term, err := e.raft.ProposeConfChange(cc)
	if err != nil {
		return 0, err
	}
	return e.track(index, term), nil
}

// TransferLeadership asks this node, as leader, to hand leadership to voter to (thesis §3.10).
func (e *Engine) TransferLeadership(to uint64) error { return e.raft.TransferLeadership(to) }

// track records a proposal appended at (index, term). If an older proposal of ours still waits on
// that index, its entry has been overwritten: it is lost, and answered so in the next Output.
func (e *Engine) track(index, term uint64) ProposalID {
	if old, ok := e.proposals[index]; ok {
		e.results = append(e.results, Result{ID: old.id, Err: ErrProposalLost})
	}
	e.nextID++
	e.proposals[index] = proposal{id: e.nextID, term: term}
	return e.nextID
}

// Read asks for a linearizable view of a room: the answer, a Result with the returned id, comes
// once this node has confirmed it still leads and applied everything committed before the request
// (thesis §6.4). A follower returns a *raft.NotLeaderError naming the leader.
func (e *Engine) Read(room string) (ProposalID, error) {
	id := e.nextID + 1
	var ctx [8]byte
	binary.BigEndian.PutUint64(ctx[:], uint64(id))
	if err := e.raft.ReadIndex(ctx[:]); err != nil {
		return 0, err
	}
	e.nextID = id
	e.reads = append(e.reads, &pendingRead{id: id, room: room, term: e.raft.HardState().Term})
	return id, nil
}

// LocalRoom returns a room as this node has applied it: possibly stale, never waiting. Dashboards
// and watch streams use it; a client that must see its own writes uses Read.
func (e *Engine) LocalRoom(room string) (game.RoomView, error) { return e.game.Room(room) }

// Status returns the core's status.
func (e *Engine) Status() raft.Status { return e.raft.Status() }

// StatusInto is Status written into s, reusing its storage (raft.Node.StatusInto).
func (e *Engine) StatusInto(s *raft.Status) { e.raft.StatusInto(s) }

// Raft returns the core, for tests and dashboards. Driving it directly (Propose, Ready) would
// bypass the engine's bookkeeping; read from it only.
func (e *Engine) Raft() *raft.Node { return e.raft }

// GameReader is read-only access to the game state an engine has applied.
type GameReader interface {
	Room(name string) (game.RoomView, error)
	RoomNames() []string
	LastSeq(clientID string) (uint64, bool)
	Snapshot() []byte
}

// Game returns read-only access to the applied game state.
func (e *Engine) Game() GameReader { return e.game }

// Applied returns the index of the last entry applied to the game.
func (e *Engine) Applied() uint64 { return e.applied }

func cloneConfState(cs raft.ConfState) raft.ConfState {
	return raft.ConfState{
		Voters:   append([]uint64(nil), cs.Voters...),
		Learners: append([]uint64(nil), cs.Learners...),
	}
}
