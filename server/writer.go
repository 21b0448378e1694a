// The writer: the goroutine that makes the loop's Outputs durable, in order, while the loop goes
// on stepping messages and proposals into the engine.
//
// Raft thesis §10.2.1 lets the leader write its log in parallel with replicating it, and §10.2
// batches many entries into one fsync. A loop that blocked on each fsync would do both only in
// part: acknowledgements and proposals would queue behind the disk, and every commit would wait
// for the next write to finish before it could be applied and answered. So the loop hands each
// Output to this goroutine and calls AdvanceAsync at once; the writer writes every Output waiting
// (snapshots, hard state, entries) in order and covers them with one fsync; then it sends the
// messages that had to wait for that (a follower's acknowledgement, a vote), and reports back so
// that the loop counts the entries durable (StableTo), answers the callers that waited, and
// pushes room states to watchers.
//
// The persistence contract (docs/design.md) holds because the writes are in order and a batch's held
// messages leave only after the fsync that covers it and every batch before it.
package server

import (
	"fmt"
	"github.com/kanna-cluster/kanna/server/engine"

	"github.com/kanna-cluster/kanna/raft"
)

// maxWriteGroup bounds the Outputs one fsync covers, so that a burst cannot postpone every
// acknowledgement in it behind one huge write.
const maxWriteGroup = 64

// maxInflightWrites bounds the Outputs handed to the writer and not yet reported: the capacity of
// both channels between it and the loop, so that neither side ever blocks on a full one. The loop
// hands over a second Output during a write only when it answers callers (loop.go), so this is
// reached only when the disk stalls.
const maxInflightWrites = 256

// writeBatch is one Output for the writer.
type writeBatch struct {
	out engine.Output
	// held says that out's messages and results wait for the write: everything but a leader's
	// appends and answers once its term and vote are durable (loop.go).
	held bool
	// applied is the engine's applied index as of out, which the answers carry.
	applied uint64
	// endRecovery: with out the core left recovery from lost storage; once out is durable, the
	// WAL may stop reporting the loss at start-up.
	endRecovery bool
}

// writeDone reports batches made durable, in the order they were handed over; err, when set, is
// why the first of them could not be, and the node must stop.
type writeDone struct {
	batches []writeBatch
	err     error
}

// logStore is the part of the write-ahead log the writer uses (server/wal.WAL).
type logStore interface {
	Save(hs raft.HardState, entries []raft.Entry, sync bool) error
	SaveSnapshot(snap raft.Snapshot) error
	// EndRecovery records that the core caught up after a loss of storage (wal.WAL.EndRecovery).
	EndRecovery() error
}

// diskWriter is the writer goroutine's state.
type diskWriter struct {
	log  logStore
	send func([]raft.Message) // sends a held batch's messages once it is durable
	// snapshotSaved is told of each snapshot the engine took, once saved.
	snapshotSaved func(index uint64)

	saved  raft.HardState // the term and vote this writer last made durable
	failed error          // the first failure; nothing is written after it
}

func (n *Node) newDiskWriter() *diskWriter {
	return &diskWriter{
		log:  n.wal,
		send: n.tr.sendRaft,
		snapshotSaved: func(index uint64) {
			n.logger().Info("snapshot saved; log compacted behind it", "index", index)
		},
	}
}

// run makes the batches from in durable and reports them on out, which it closes once in is
// closed and drained.
func (w *diskWriter) run(in <-chan writeBatch, out chan<- writeDone) {
	defer close(out)
	for first := range in {
		group := []writeBatch{first}
	more:
		for len(group) < maxWriteGroup {
			select {
			case b, ok := <-in:
				if !ok {
					break more
				}
				group = append(group, b)
			default:
				break more
			}
		}
		if w.failed == nil {
			w.failed = w.writeGroup(group)
			if w.failed == nil {
				for _, b := range group {
					if b.held {
						w.send(b.out.Messages)
					}
				}
			}
		}
		out <- writeDone{batches: group, err: w.failed}
	}
}

// writeGroup writes every batch of group, then fsyncs once for all of them. A batch that changes
// the term or vote is synced on its own, since its hard state lives in a file that the log's
// fsync does not cover.
func (w *diskWriter) writeGroup(group []writeBatch) error {
	needSync, caughtUp := false, false
	for _, b := range group {
		out := b.out
		caughtUp = caughtUp || b.endRecovery
		hs := out.HardState
		termOrVote := !hs.IsEmpty() && (hs.Term != w.saved.Term || hs.Vote != w.saved.Vote)
		if err := w.persist(out, out.MustSync && termOrVote); err != nil {
			return err
		}
		needSync = needSync || (out.MustSync && !termOrVote)
		if termOrVote {
			w.saved = hs
		}
	}
	if needSync {
		if err := w.log.Save(raft.HardState{}, nil, true); err != nil {
			return fmt.Errorf("sync the log: %w", err)
		}
	}
	if caughtUp {
		// Only once the entries that carried the node past its promise mark are durable.
		if err := w.log.EndRecovery(); err != nil {
			return fmt.Errorf("record the end of recovery: %w", err)
		}
	}
	return nil
}

// persist writes what out asks to keep: the leader's snapshot first (entries may follow it), then
// hard state and entries, with an fsync when sync, then a snapshot the engine took, which lets the
// log be compacted behind it.
func (w *diskWriter) persist(out engine.Output, sync bool) error {
	if out.Snapshot != nil {
		if err := w.log.SaveSnapshot(*out.Snapshot); err != nil {
			return fmt.Errorf("save the leader's snapshot at index %d: %w", out.Snapshot.Meta.Index, err)
		}
	}
	if err := w.log.Save(out.HardState, out.Entries, sync); err != nil {
		return fmt.Errorf("save %d entries and hard state %+v: %w", len(out.Entries), out.HardState, err)
	}
	if out.Compacted != nil {
		if err := w.log.SaveSnapshot(*out.Compacted); err != nil {
			return fmt.Errorf("save snapshot at index %d: %w", out.Compacted.Meta.Index, err)
		}
		w.snapshotSaved(out.Compacted.Meta.Index)
	}
	return nil
}

// completeWrites takes the writer's report on the loop: the entries count as durable, the
// callers whose answers waited for the write get them, and a failed write stops the node.
func (n *Node) completeWrites(d writeDone) error {
	n.loop.inflight -= len(d.batches)
	if d.err != nil {
		return d.err
	}
	for _, b := range d.batches {
		out := b.out
		if b.held {
			n.loop.heldInflight--
		}
		if !out.HardState.IsEmpty() {
			n.loop.saved = out.HardState
			if out.HardState.Term != n.term.Load() {
				n.term.Store(out.HardState.Term)
			}
		}
		if len(out.Entries) > 0 {
			last := out.Entries[len(out.Entries)-1]
			n.engine.StableTo(last.Index, last.Term)
		}
		if b.held {
			n.deliver(out, b.applied)
		}
	}
	return nil
}

// awaitWrite blocks until the writer reports, and takes its report.
func (n *Node) awaitWrite() error {
	d, ok := <-n.fromWriter
	if !ok {
		return fmt.Errorf("the writer stopped with %d writes unreported", n.loop.inflight)
	}
	return n.completeWrites(d)
}
