// The engine's output side: one Ready/Advance round applies what the core committed to the game
// and answers the proposals and reads that were waiting for it.
//
// Raft paper §5.3: once an entry is committed, every server applies it, in log order, to its state
// machine; the leader answers the client once its entry is applied (§8). A proposal is known by the
// (index, term) the core gave it: if the entry applied at that index has another term, a new leader
// replaced it and the proposal's fate is unknown here (ErrProposalLost). Snapshots (§7) replace
// the game state wholesale; the engine takes its own every SnapshotEvery entries and hands the core
// the game's bytes to compact the log with. Reads (thesis §6.4) are answered once their read point
// is confirmed and applied.

package engine

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

// Output is one round of work for the shell, to be handled in this order:
//
//  1. persist HardState, Snapshot, Entries (and Compacted) to stable storage, with an fsync when
//     MustSync;
//  2. send Messages;
//  3. deliver Results to the clients waiting on them;
//  4. call Advance(out).
//
// The game has already applied the snapshot and committed entries by the time Ready returns; the
// Results must still wait for step 1, since a result is a promise about durable state.
type Output struct {
	HardState raft.HardState
	Entries   []raft.Entry
	Snapshot  *raft.Snapshot // received from the leader; the game has been restored from it
	MustSync  bool

	Messages []raft.Message

	// Results answers finished proposals and reads, one each.
	Results []Result
	// Applied is every entry applied to the game in this round, in log order: what the simulator's
	// checkers compare across nodes.
	Applied []AppliedEntry

	SoftState *raft.SoftState // nil when unchanged

	// Compacted is a snapshot the engine took at the previous Advance (SnapshotEvery). Persist it;
	// the entries up to its index may then be dropped from stable storage.
	Compacted *raft.Snapshot
	// Errors are problems worth logging that did not stop the node (a message the core refused, a
	// compaction that failed).
	Errors []error

	rd raft.Ready
}

// Result answers one proposal or read.
type Result struct {
	ID ProposalID
	// Result is the game's answer to a proposal, identical on every node; a command the game
	// rejected has its reason in Result.Err (a verdict, not to be retried).
	Result game.Result
	// Room is the room as the proposal left it (for a retried request too: its first answer's room,
	// from the session table), or the room a read asked for. Room.Version orders rooms.
	Room game.RoomView
	// Err is set when there is no answer from the game: ErrProposalLost (retry with the same client
	// id and seq), or, for a read, a *game.Error such as NotFound.
	Err error
}

// AppliedEntry is one log entry as the game applied it.
type AppliedEntry struct {
	Index, Term uint64
	Type        raft.EntryType
	Command     game.Command    // EntryNormal
	Result      game.Result     // EntryNormal
	ConfChange  raft.ConfChange // EntryConfChange
}

// HasReady reports whether Ready has anything to hand out.
func (e *Engine) HasReady() bool {
	return e.raft.HasReady() || len(e.results) > 0 || len(e.errs) > 0 || e.compacted != nil
}

// HasResults reports whether Ready would apply committed entries or answer requests: what a shell
// that paces its Readies to its disk still takes at once, since callers wait for it.
func (e *Engine) HasResults() bool {
	return e.raft.HasCommittedToApply() || len(e.results) > 0
}

// Ready pulls the core's Ready, applies its snapshot and committed entries to the game, and
// gathers the answers now known. Call Advance with the Output before calling Ready again.
func (e *Engine) Ready() Output {
	rd := e.raft.Ready()
	out := Output{
		HardState: rd.HardState, Entries: rd.Entries, Snapshot: rd.Snapshot, MustSync: rd.MustSync,
		Messages: rd.Messages, SoftState: rd.SoftState,
		Results: e.results, Errors: e.errs, Compacted: e.compacted,
		rd: rd,
	}
	e.results, e.errs, e.compacted = nil, nil, nil
	if !rd.HardState.IsEmpty() {
		e.term = rd.HardState.Term
	}
	if rd.SoftState != nil {
		e.leading = rd.SoftState.Role == raft.Leader
	}
	if !rd.Snapshot.IsEmpty() {
		e.installSnapshot(*rd.Snapshot, &out)
	}
	if n := len(rd.CommittedEntries); n > 0 {
		if cap(e.spareApplied) >= n {
			out.Applied, e.spareApplied = e.spareApplied[:0], nil
		} else {
			out.Applied = make([]AppliedEntry, 0, n) // one allocation, not one per doubling
		}
	}
	for _, ent := range rd.CommittedEntries {
		e.apply(ent, &out)
	}
	e.confirmReads(rd.ReadStates)
	e.answerReads(&out)
	return out
}

// Advance tells the engine the Output was handled, and takes a snapshot when SnapshotEvery entries
// have been applied since the last one.
func (e *Engine) Advance(out Output) {
	e.raft.Advance(out.rd)
	e.maybeSnapshot()
}

// RecycleMessages hands back an Output's Messages once every one is sent or copied, so the core
// queues later messages in the same array (raft.Node.RecycleMessages). Calling it is optional.
func (e *Engine) RecycleMessages(msgs []raft.Message) { e.raft.RecycleMessages(msgs) }

// RecycleApplied hands back an Output's Applied once the shell holds none of its elements (copies
// of them stay valid: only the array is reused), so a later Ready fills the same array instead of
// allocating one. Calling it is optional; a shell that does must pass Applied as the Output held
// it and must not read it afterwards.
func (e *Engine) RecycleApplied(applied []AppliedEntry) {
	if cap(applied) <= cap(e.spareApplied) {
		return
	}
	// Drop the commands and results the old entries point at. Past the length the array is zero
	// already: Ready fills it from the start, and each recycling cleared what the last fill wrote.
	clear(applied)
	e.spareApplied = applied[:0]
}

// AdvanceAsync is Advance for a shell that writes out in the background (thesis §10.2.1): the
// engine may hand out the next Output at once, and counts out's Entries durable only once StableTo
// says so. The shell must still write Outputs in the order they came, and send out's Messages only
// once out and every Output before it are durable, except on a leader whose term and vote are
// durable, which may send its appends while it writes them.
func (e *Engine) AdvanceAsync(out Output) {
	e.raft.AdvanceAsync(out.rd)
	e.maybeSnapshot()
}

// StableTo tells the engine that the log is durable up to the entry at index with term: the last
// of an Output's Entries, passed to AdvanceAsync, in the order the Outputs came.
func (e *Engine) StableTo(index, term uint64) { e.raft.StableTo(index, term) }

// maybeSnapshot takes a snapshot when SnapshotEvery entries have been applied since the last one.
func (e *Engine) maybeSnapshot() {
	if e.snapshotEvery == 0 || e.applied < e.snapshotIndex+e.snapshotEvery {
		return
	}
	data := e.game.Snapshot()
	meta, err := e.raft.Compact(e.applied, data)
	// Success or not, wait another SnapshotEvery entries: a failure is reported once, not on every
	// Advance.
	e.snapshotIndex = e.applied
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("engine: node %d: snapshot at applied index %d: %w; the log stays uncompacted until the next try", e.raft.ID(), e.applied, err))
		return
	}
	e.compacted = &raft.Snapshot{Meta: meta, Data: data}
}

// installSnapshot replaces the game with a snapshot from the leader (paper §7). Proposals whose
// index it covers were never applied here: whether they were committed is unknown.
func (e *Engine) installSnapshot(s raft.Snapshot, out *Output) {
	if err := e.game.Restore(s.Data); err != nil {
		// The core has already replaced its log with this snapshot; running on would serve a game
		// state that matches no log. Stopping is the only safe answer.
		panic(fmt.Sprintf("engine: node %d: restore game from the leader's snapshot at index %d: %v; the leader's snapshot is corrupt, wipe this node's data and let it rejoin",
			e.raft.ID(), s.Meta.Index, err))
	}
	e.applied, e.appliedTerm, e.snapshotIndex = s.Meta.Index, s.Meta.Term, s.Meta.Index
	e.conf = cloneConfState(s.Meta.ConfState)
	indexes := make([]uint64, 0, len(e.proposals))
	for index := range e.proposals {
		if index <= s.Meta.Index {
			indexes = append(indexes, index)
		}
	}
	slices.Sort(indexes)
	for _, index := range indexes {
		out.Results = append(out.Results, Result{ID: e.proposals[index].id, Err: ErrProposalLost})
		delete(e.proposals, index)
	}
}

// apply applies one committed entry and answers the proposal waiting on its index, if any.
func (e *Engine) apply(ent raft.Entry, out *Output) {
	if ent.Index <= e.applied {
		return // already in the game through a snapshot
	}
	if ent.Index != e.applied+1 {
		panic(fmt.Sprintf("engine: node %d: committed entry %d follows applied entry %d; the core skipped entries, which is a bug in raft/",
			e.raft.ID(), ent.Index, e.applied))
	}
	ae := AppliedEntry{Index: ent.Index, Term: ent.Term, Type: ent.Type}
	switch ent.Type {
	case raft.EntryNormal:
		cmd, err := game.DecodeCommand(ent.Data)
		if err != nil {
			// Every node fails the same way on the same bytes, so this stays deterministic.
			ae.Result = game.Result{Err: &game.Error{Code: game.InvalidArgument, Message: err.Error()}}
		} else {
			ae.Command, ae.Result = cmd, e.game.ApplyAt(ent.Index, cmd)
		}
	case raft.EntryConfChange:
		// The core already acted on the change when it appended it (thesis §4.1); the engine
		// follows it only to stamp its own snapshots with the configuration they cover.
		if cc, err := raft.UnmarshalConfChange(ent.Data); err == nil {
			ae.ConfChange = cc
			e.conf = applyConfChange(e.conf, cc)
		}
	}
	e.applied, e.appliedTerm = ent.Index, ent.Term
	out.Applied = append(out.Applied, ae)

	p, ok := e.proposals[ent.Index]
	if !ok {
		return
	}
	delete(e.proposals, ent.Index)
	if p.term != ent.Term {
		out.Results = append(out.Results, Result{ID: p.id, Err: ErrProposalLost})
		return
	}
	res := Result{ID: p.id, Result: ae.Result}
	if st := ae.Result.State; st != nil {
		res.Room = *st
	} else if ent.Type == raft.EntryNormal {
		res.Room, _ = e.game.Room(ae.Command.Room) // zero view when the room does not exist
	}
	out.Results = append(out.Results, res)
}

// confirmReads records the read points the core has confirmed.
func (e *Engine) confirmReads(states []raft.ReadState) {
	for _, rs := range states {
		if len(rs.Context) != 8 {
			continue
		}
		id := ProposalID(binary.BigEndian.Uint64(rs.Context))
		for _, r := range e.reads {
			if r.id == id {
				r.index, r.confirmed = rs.Index, true
				break
			}
		}
	}
}

// answerReads answers, in request order, each read whose point is applied, and fails each read
// that can no longer be confirmed: the core forgets unconfirmed reads when its leadership ends.
func (e *Engine) answerReads(out *Output) {
	kept := e.reads[:0]
	for _, r := range e.reads {
		switch {
		case r.confirmed && r.index <= e.applied:
			view, err := e.game.Room(r.room)
			out.Results = append(out.Results, Result{ID: r.id, Room: view, Err: err})
		case !r.confirmed && (!e.leading || e.term != r.term):
			out.Results = append(out.Results, Result{ID: r.id,
				Err: fmt.Errorf("engine: read of room %q: node %d stopped leading term %d before confirming it: %w", r.room, e.raft.ID(), r.term, ErrProposalLost)})
		default:
			kept = append(kept, r)
		}
	}
	clear(e.reads[len(kept):])
	e.reads = kept
}

// applyConfChange returns cs after cc, with the meaning the core gives a ConfChange (thesis §4.1):
// AddLearner adds a non-voter (a voter stays a voter), AddVoter adds or promotes, RemoveNode
// removes either.
func applyConfChange(cs raft.ConfState, cc raft.ConfChange) raft.ConfState {
	voters := slices.DeleteFunc(slices.Clone(cs.Voters), func(id uint64) bool { return id == cc.NodeID })
	learners := slices.DeleteFunc(slices.Clone(cs.Learners), func(id uint64) bool { return id == cc.NodeID })
	switch cc.Type {
	case raft.AddVoter:
		voters = append(voters, cc.NodeID)
	case raft.AddLearner:
		if slices.Contains(cs.Voters, cc.NodeID) {
			voters = append(voters, cc.NodeID)
		} else {
			learners = append(learners, cc.NodeID)
		}
	}
	slices.Sort(voters)
	slices.Sort(learners)
	return raft.ConfState{Voters: voters, Learners: learners}
}
