// Snapshots: compacting the log at the application's request, and bringing a follower whose next
// entry is compacted up to date by sending it the snapshot in chunks.
//
// Paper §7: the state machine's state at an applied index replaces the log up to that index; the
// leader sends it with InstallSnapshot, split into chunks at byte offsets, the last one marked
// done. The follower reassembles the chunks, then either keeps the entries that follow the
// snapshot (if its log already holds the snapshot's last entry) or discards its whole log. The
// leader sends one chunk at a time and the follower acknowledges each with the offset it wants
// next, so a lost or duplicated chunk costs one round trip, not the whole transfer.

package raft

import "fmt"

// Compact records a snapshot of the applied state at index and drops the log up to it. The
// application calls it with the bytes of its state machine as of index, which must already be
// applied; those bytes are what the leader will send to a follower that lags behind the snapshot.
// It returns the snapshot's metadata (index, term, configuration), which the driver persists
// beside the bytes: it need not look up the term or the configuration itself.
//
//kanna:lab 4 "A snapshot replaces the log up to an applied index and keeps that entry's index and term and the configuration" §7
func (n *Node) Compact(index uint64, data []byte) (SnapshotMeta, error) {
	if index <= n.log.snapshot.Meta.Index {
		return SnapshotMeta{}, fmt.Errorf("raft: compact to %d: the log already starts after snapshot %d: %w",
			index, n.log.snapshot.Meta.Index, ErrCompacted)
	}
	if index > n.log.applied {
		return SnapshotMeta{}, fmt.Errorf("raft: compact to %d: only %d is applied; snapshot an applied index: %w",
			index, n.log.applied, ErrUnavailable)
	}
	term, err := n.log.term(index)
	if err != nil {
		return SnapshotMeta{}, fmt.Errorf("raft: compact to %d: %w", index, err)
	}
	snap := Snapshot{
		Meta: SnapshotMeta{Index: index, Term: term, ConfState: n.configAt(index).confState()},
		Data: data,
	}
	n.log.compact(snap)
	return snap.Meta, nil
}

// sendSnapshot starts sending the leader's latest snapshot to a follower that needs compacted
// entries.
func (n *Node) sendSnapshot(id uint64, pr *progress) {
	snap := n.log.snapshot
	if snap.IsEmpty() {
		panic(invariantf("follower %d needs compacted entries, but there is no snapshot", id))
	}
	pr.becomeSnapshot(&snap)
	n.sendSnapshotChunk(id, pr)
}

// sendSnapshotChunk sends the chunk of pr's snapshot that starts at the offset the follower asked
// for.
//
//kanna:lab 4 "Send the snapshot in chunks at byte offsets, the last one marked done" §7, Figure 13
func (n *Node) sendSnapshotChunk(id uint64, pr *progress) {
	data := pr.snap.Data
	off := min(pr.snapOffset, uint64(len(data)))
	end := min(off+n.cfg.SnapshotChunkSize, uint64(len(data)))
	n.send(Message{
		To:       id,
		Type:     MsgSnap,
		Snapshot: &Snapshot{Meta: pr.snap.Meta, Data: data[off:end]},
		Offset:   off,
		Done:     end == uint64(len(data)),
		// The Commit of a snapshot message is 0: ending an unknown-mark recovery needs an append.
		Recovering: pr.recovering,
	})
}

// snapshotReceiver holds the chunks of one snapshot received so far.
type snapshotReceiver struct {
	meta SnapshotMeta
	data []byte
}

// handleSnapshot is the follower's side of InstallSnapshot (paper Figure 13).
//
//kanna:lab 4 "Reassemble the chunks in offset order; on the last, install the snapshot" Figure 13, steps 2-5
func (n *Node) handleSnapshot(m Message) {
	if m.Snapshot == nil {
		return
	}
	meta := m.Snapshot.Meta
	if meta.Index <= n.log.committed {
		// We already hold everything it covers (perhaps the answer to its last chunk was lost).
		n.snapRecv = nil
		n.send(Message{To: m.From, Type: MsgAppResp, Index: n.log.committed, Recovering: n.rec.on})
		return
	}
	if m.Offset == 0 {
		n.snapRecv = &snapshotReceiver{meta: meta}
	}
	r := n.snapRecv
	if r == nil || r.meta.Index != meta.Index || r.meta.Term != meta.Term || m.Offset != uint64(len(r.data)) {
		// A chunk out of order: ask for the one we need, or for the start of this snapshot.
		var want uint64
		if r != nil && r.meta.Index == meta.Index && r.meta.Term == meta.Term {
			want = uint64(len(r.data))
		}
		n.send(Message{To: m.From, Type: MsgSnapResp, Index: meta.Index, Offset: want, Reject: true})
		return
	}
	r.data = append(r.data, m.Snapshot.Data...)
	if !m.Done {
		n.send(Message{To: m.From, Type: MsgSnapResp, Index: meta.Index, Offset: uint64(len(r.data))})
		return
	}
	n.snapRecv = nil
	n.installSnapshot(Snapshot{Meta: r.meta, Data: r.data})
	n.maybeEndRecovery(m, r.meta.Index)
	// Only up to the snapshot is the log known to match the leader's: entries kept after it
	// (step 6) may not, so the answer claims no more than the commit index.
	n.send(Message{To: m.From, Type: MsgAppResp, Index: n.log.committed, Recovering: n.rec.on})
}

// installSnapshot makes a complete snapshot from the leader this server's log (paper Figure 13,
// receiver steps 6-8).
//
//kanna:lab 4 "Keep the entries after the snapshot if the log holds its last entry; otherwise discard the log" Figure 13, steps 6-8
func (n *Node) installSnapshot(snap Snapshot) {
	if n.log.matchTerm(snap.Meta.Index, snap.Meta.Term) {
		// Step 6: the log already holds the snapshot's last entry; keep what follows it.
		n.log.commitTo(snap.Meta.Index)
		return
	}
	// Steps 7-8: discard the log; the driver restores the state machine from Ready.Snapshot.
	n.log.restore(snap)
	n.setConfig(configFrom(snap.Meta.ConfState))
}

// handleSnapshotResponse sends the chunk the follower asked for next.
func (n *Node) handleSnapshotResponse(m Message, pr *progress) {
	if pr.state != stateSnapshot || m.Index != pr.snap.Meta.Index {
		return // an answer about a transfer that is over
	}
	pr.snapOffset = m.Offset
	n.sendSnapshotChunk(m.From, pr)
}

// invariantf formats the message of a panic raised when an invariant of the algorithm breaks:
// that is a bug in the core or in its driver, never a condition to handle.
func invariantf(format string, args ...any) string {
	return "raft: invariant violated: " + fmt.Sprintf(format, args...)
}
