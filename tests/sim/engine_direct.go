// A node engine assembled in the simulator from the Raft core and the Hangman state machine, for
// driving raft.Node directly: the apply loop of Raft paper §5.3 ("once an entry is committed, the
// leader applies it to its state machine") with client sessions (§8) and ReadIndex reads (thesis
// §6.4). server.Engine does the same for real nodes; this one keeps the simulator self-contained.
package sim

import (
	"errors"
	"fmt"
	"math/rand"
	"strconv"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

// errLost says a request's fate is unknown: its entry was replaced in a leader change, or this
// node stopped leading before a read was confirmed. Retrying with the same client id and seq is
// safe, because the session table applies a request once.
var errLost = errors.New("sim: request lost in a leader change; retry with the same client id and seq")

type proposal struct{ id, term uint64 }

type readRequest struct {
	id    uint64
	room  string
	index uint64 // the read point, once confirmed
}

// directEngine composes raft.Node and game.State with no I/O.
type directEngine struct {
	raft          *raft.Node
	game          *game.State
	rng           *rand.Rand
	snapshotEvery uint64
	sinceSnapshot uint64

	nextID    uint64
	proposals map[uint64]proposal     // by log index
	reads     map[string]*readRequest // by ReadIndex context, waiting for confirmation
	confirmed []*readRequest          // confirmed, waiting for the read point to be applied
	leading   bool
	last      raft.Ready
}

func newDirectEngine(cfg engineConfig) (engine, error) {
	rc := raft.DefaultConfig()
	rc.ID, rc.Peers, rc.Restore, rc.Rand = cfg.ID, cfg.Peers, cfg.Restore, cfg.RaftRand
	rc.ElectionTick, rc.HeartbeatTick = cfg.ElectionTick, cfg.HeartbeatTick
	rc.PreVote, rc.CheckQuorum, rc.Bugs = cfg.PreVote, cfg.CheckQuorum, cfg.Bugs
	if cfg.MaxSizePerMsg > 0 {
		rc.MaxSizePerMsg = cfg.MaxSizePerMsg
	}
	node, err := raft.New(rc)
	if err != nil {
		return nil, err
	}
	e := &directEngine{
		raft: node, game: game.NewState(), rng: cfg.GameRand, snapshotEvery: cfg.SnapshotEvery,
		proposals: map[uint64]proposal{}, reads: map[string]*readRequest{},
	}
	if r := cfg.Restore; r != nil && !r.Snapshot.IsEmpty() {
		if err := e.game.Restore(r.Snapshot.Data); err != nil {
			return nil, fmt.Errorf("sim: restore game state from snapshot %d: %w", r.Snapshot.Meta.Index, err)
		}
	}
	return e, nil
}

func (e *directEngine) Tick()               { e.raft.Tick() }
func (e *directEngine) Status() raft.Status { return e.raft.Status() }
func (e *directEngine) HasReady() bool      { return e.raft.HasReady() || e.servable() }
func (e *directEngine) GameSnapshot() []byte {
	return e.game.Snapshot()
}

func (e *directEngine) Step(m raft.Message) {
	// A message the core refuses (from a removed server, a stale snapshot chunk) is not fatal.
	_ = e.raft.Step(m)
}

func (e *directEngine) Propose(cmd game.Command) (uint64, error) {
	if cmd.NeedsWord() {
		cmd.Word = game.PickWord(e.rng)
	}
	index, term, err := e.raft.Propose(cmd.Encode())
	if err != nil {
		return 0, err
	}
	e.nextID++
	e.proposals[index] = proposal{id: e.nextID, term: term}
	return e.nextID, nil
}

func (e *directEngine) Read(room string) (uint64, error) {
	ctx := strconv.FormatUint(e.nextID+1, 10)
	if err := e.raft.ReadIndex([]byte(ctx)); err != nil {
		return 0, err
	}
	e.nextID++
	e.reads[ctx] = &readRequest{id: e.nextID, room: room}
	return e.nextID, nil
}

// servable reports whether a confirmed read's point is applied.
func (e *directEngine) servable() bool {
	return len(e.confirmed) > 0 && e.confirmed[0].index <= e.raft.Status().Applied
}

func (e *directEngine) Ready() output {
	rd := e.raft.Ready()
	e.last = rd
	out := output{HardState: rd.HardState, Entries: rd.Entries, Snapshot: rd.Snapshot, MustSync: rd.MustSync, Messages: rd.Messages}
	applied := e.raft.Status().Applied
	if s := rd.Snapshot; !s.IsEmpty() {
		if err := e.game.Restore(s.Data); err != nil {
			panic(fmt.Sprintf("sim: node %d: restore game state from snapshot %d: %v", e.raft.ID(), s.Meta.Index, err))
		}
		applied = s.Meta.Index
		for _, index := range sortedKeys(e.proposals) {
			if index <= applied {
				out.Results = append(out.Results, result{ID: e.proposals[index].id, Err: errLost})
				delete(e.proposals, index)
			}
		}
	}
	for _, ent := range rd.CommittedEntries {
		applied = ent.Index
		p, waited := e.proposals[ent.Index]
		delete(e.proposals, ent.Index)
		if ent.Type != raft.EntryNormal {
			if waited {
				out.Results = append(out.Results, result{ID: p.id, Err: errLost})
			}
			continue
		}
		e.sinceSnapshot++
		var res game.Result
		cmd, err := game.DecodeCommand(ent.Data)
		if err != nil {
			res = game.Result{Err: &game.Error{Code: game.InvalidArgument, Message: err.Error()}}
		} else {
			res = e.game.Apply(cmd)
		}
		out.Applied = append(out.Applied, describeApplied(ent, cmd, res))
		if waited {
			if p.term == ent.Term {
				out.Results = append(out.Results, result{ID: p.id, Result: res})
			} else {
				out.Results = append(out.Results, result{ID: p.id, Err: errLost})
			}
		}
	}
	for _, rs := range rd.ReadStates {
		if r, ok := e.reads[string(rs.Context)]; ok {
			delete(e.reads, string(rs.Context))
			r.index = rs.Index
			e.confirmed = append(e.confirmed, r)
		}
	}
	for len(e.confirmed) > 0 && e.confirmed[0].index <= applied {
		r := e.confirmed[0]
		e.confirmed = e.confirmed[1:]
		view, err := e.game.Room(r.room)
		out.Results = append(out.Results, result{ID: r.id, Room: view, Err: err})
	}
	leading := rd.SoftState != nil && rd.SoftState.Role == raft.Leader || rd.SoftState == nil && e.leading
	if e.leading && !leading {
		// Reads not yet confirmed will never be: a new leader does not know their contexts.
		for _, ctx := range sortedKeys(e.reads) {
			out.Results = append(out.Results, result{ID: e.reads[ctx].id, Err: errLost})
		}
		e.reads = map[string]*readRequest{}
	}
	e.leading = leading
	return out
}

func (e *directEngine) Advance() {
	e.raft.Advance(e.last)
	if e.snapshotEvery > 0 && e.sinceSnapshot >= e.snapshotEvery {
		st := e.raft.Status()
		if st.Applied > st.FirstIndex {
			if err := e.raft.Compact(st.Applied, e.game.Snapshot()); err == nil {
				e.sinceSnapshot = 0
			}
		}
	}
}

func init() { newEngine = newDirectEngine }
