// Writing to the write-ahead log: appending entries with group commit, replacing the hard state,
// saving snapshots, rolling segments and compacting the log behind snapshots.
//
// Raft paper, Figure 2: the log and currentTerm/votedFor are on stable storage before a server
// answers an RPC; §5.3: a follower deletes a conflicting suffix before appending; §7: a snapshot
// replaces the log up to its last included entry. One fsync covers a whole batch of entries, so
// the cost of durability is paid per Ready rather than per entry (batching, Ongaro's thesis §10.2;
// the leader may also write to its disk in parallel with replicating, §10.2.1).

package wal

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kanna-cluster/kanna/raft"
)

// maxRetainedBuffer bounds the record buffer kept between calls; one huge batch should not pin
// its memory for the life of the node.
const maxRetainedBuffer = 4 << 20

// Save appends entries to the log and saves hs when it is not empty and differs from the saved
// one. An entry whose index is at or below the last saved one cuts the log from there (Raft
// overwrote a conflicting suffix). When sync, everything written so far is made durable with one
// fsync of the log for the whole batch (group commit).
//
// A change of term or vote replaces the hard state file (its own fsync, and one of the folder when
// sync), after the entries are written. A change of the commit index alone is appended to the log
// as a commit record instead and shares the batch's fsync: losing it costs only re-work (the
// leader sends the commit index again), while rewriting the file for it would cost two more
// fsyncs on nearly every Ready of a busy leader. Either way the commit index is written after the
// entries, so a saved commit index never points past the durable log.
func (w *WAL) Save(hs raft.HardState, entries []raft.Entry, sync bool) error {
	if w.err != nil {
		return w.err
	}
	if err := w.checkEntries(entries); err != nil {
		return err
	}
	changed := !hs.IsEmpty() && hs != w.hs
	termOrVote := changed && (hs.Term != w.hs.Term || hs.Vote != w.hs.Vote)
	for _, e := range entries {
		err := w.stage(e.Index, func(b []byte) []byte { return appendEntryRecord(b, e) })
		if err != nil {
			return w.fail(err)
		}
	}
	if changed && !termOrVote {
		commit := hs.Commit
		if err := w.stage(commit, func(b []byte) []byte { return appendCommitRecord(b, commit) }); err != nil {
			return w.fail(err)
		}
	}
	if err := w.flush(sync); err != nil {
		return w.fail(err)
	}
	if len(entries) > 0 {
		w.lastIndex = entries[len(entries)-1].Index
	}
	if termOrVote {
		if err := writeHardState(w.dir, hs, sync); err != nil {
			return w.fail(err)
		}
	}
	if changed {
		w.hs = hs
	}
	if sync {
		// After the log and hard state are durable, before any message acknowledges them.
		if err := w.keepPromise(); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// checkEntries refuses a batch that would leave a hole or rewrite snapshotted (committed) entries:
// the caller has a bug, and nothing is written.
func (w *WAL) checkEntries(entries []raft.Entry) error {
	for i, e := range entries {
		switch {
		case e.Index == 0 || e.Term == 0:
			return fmt.Errorf("wal: save: entry at position %d has index %d term %d; Raft entries "+
				"start at index 1 and term 1", i, e.Index, e.Term)
		case i > 0 && e.Index != entries[i-1].Index+1:
			return fmt.Errorf("wal: save: entry %d follows entry %d in one batch; a batch must be "+
				"contiguous", e.Index, entries[i-1].Index)
		case i > 0 && e.Term < entries[i-1].Term:
			return fmt.Errorf("wal: save: entry %d has term %d, lower than the %d before it; terms in "+
				"a Raft log never decrease", e.Index, e.Term, entries[i-1].Term)
		case uint64(len(e.Data)) > maxEntryPayload-entryFixedSize:
			return fmt.Errorf("wal: save: entry %d holds %d bytes, more than a record can frame",
				e.Index, len(e.Data))
		}
	}
	if len(entries) == 0 {
		return nil
	}
	if first := entries[0].Index; first > w.lastIndex+1 {
		return fmt.Errorf("wal: save: entry %d would leave a hole after the last saved entry %d; "+
			"append from %d", first, w.lastIndex, w.lastIndex+1)
	} else if first <= w.snapIndex {
		return fmt.Errorf("wal: save: entry %d is inside the saved snapshot (up to %d), whose entries "+
			"are committed and never overwritten", first, w.snapIndex)
	}
	return nil
}

// SaveSnapshot makes snap durable in its own file, marks the point in the log where it was taken,
// keeps only the newest snapshot files, and deletes the log segments that lie wholly behind the
// older snapshot kept. The log is compacted behind the older of the two kept snapshots, not the
// newest, so that should the newest be found damaged at start-up, the older one plus the log
// still rebuild the whole state. Call it before Save for the same Ready: entries may follow it.
func (w *WAL) SaveSnapshot(snap raft.Snapshot) error {
	if w.err != nil {
		return w.err
	}
	if snap.IsEmpty() || snap.Meta.Term == 0 {
		return fmt.Errorf("wal: save snapshot: snapshot of index %d term %d names no entry; a "+
			"snapshot covers at least entry 1", snap.Meta.Index, snap.Meta.Term)
	}
	if snap.Meta.Index < w.snapIndex {
		return fmt.Errorf("wal: save snapshot: snapshot of index %d is older than the saved one "+
			"(index %d); Raft never installs an older snapshot", snap.Meta.Index, w.snapIndex)
	}
	if err := writeSnapshot(w.dir, snap); err != nil {
		return w.fail(err)
	}
	// The marker is written after the snapshot file: a crash between the two leaves a snapshot
	// without a marker, and replay then applies the snapshot's rule at the end of the log, which
	// is exact because nothing was appended after it yet; Open then writes the missing marker.
	index, term := snap.Meta.Index, snap.Meta.Term
	if err := w.appendSnapshotMarker(index, term); err != nil {
		return err
	}
	w.snapIndex = index
	w.lastIndex = max(w.lastIndex, index)
	if err := w.keepPromise(); err != nil {
		return w.fail(err)
	}
	kept, err := pruneSnapshots(w.dir)
	if err != nil {
		return w.fail(err)
	}
	if len(kept) == keepSnapshots {
		if err := w.compact(kept[len(kept)-1].index); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// appendSnapshotMarker durably marks the point in the log where the snapshot ending at (index,
// term) took effect.
func (w *WAL) appendSnapshotMarker(index, term uint64) error {
	if err := w.stage(index, func(b []byte) []byte { return appendSnapshotRecord(b, index, term) }); err != nil {
		return w.fail(err)
	}
	if err := w.flush(true); err != nil {
		return w.fail(err)
	}
	return nil
}

// compact deletes, oldest first, the segments whose every record names an index at or below
// upTo. It never deletes the segment being written, and stops at the first segment it must keep,
// so that the segments left are always a contiguous run.
func (w *WAL) compact(upTo uint64) error {
	removed := 0
	for len(w.segments) > 1 && w.segments[0].maxIndex <= upTo {
		path := filepath.Join(w.dir, segmentName(w.segments[0].seq))
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("wal: compact: %w", err)
		}
		w.segments = w.segments[1:]
		removed++
	}
	if removed > 0 {
		return fsyncDir(w.dir)
	}
	return nil
}

// stage encodes one record into the pending buffer. When the record would push the current
// segment past SegmentSize, the records before it are written and a new segment is started, so a
// segment is exceeded only by a single record larger than SegmentSize itself.
func (w *WAL) stage(index uint64, encode func([]byte) []byte) error {
	start := len(w.buf)
	w.buf = encode(w.buf)
	if w.size+int64(len(w.buf)) > w.opts.SegmentSize && w.size+int64(start) > 0 {
		if err := w.write(w.buf[:start]); err != nil {
			return err
		}
		if err := w.roll(); err != nil {
			return err
		}
		w.buf = append(w.buf[:0], w.buf[start:]...)
	}
	seg := &w.segments[len(w.segments)-1]
	seg.maxIndex = max(seg.maxIndex, index)
	return nil
}

// flush writes the pending records in one write and, when sync, fsyncs the segment.
func (w *WAL) flush(sync bool) error {
	err := w.write(w.buf)
	if cap(w.buf) > maxRetainedBuffer {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	if err != nil {
		return err
	}
	if sync && w.unsynced {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("wal: sync segment %s: %w", w.f.Name(), err)
		}
		w.unsynced = false
	}
	return nil
}

// write appends b to the current segment.
func (w *WAL) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("wal: append to segment %s: %w", w.f.Name(), err)
	}
	w.unsynced = true
	return nil
}

// roll starts a new segment. The old one is fsynced first: only the last segment may ever hold
// unsynced bytes, which is what lets start-up treat damage anywhere else as corruption.
func (w *WAL) roll() error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("wal: sync segment %s before starting the next: %w", w.f.Name(), err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("wal: close segment %s: %w", w.f.Name(), err)
	}
	seq := w.segments[len(w.segments)-1].seq + 1
	f, err := openSegment(w.dir, seq, true)
	if err != nil {
		w.f = nil
		return fmt.Errorf("wal: start segment: %w", err)
	}
	w.f, w.size, w.unsynced = f, 0, false
	w.segments = append(w.segments, segment{seq: seq})
	return nil
}

// fail records err so that every later call returns it: after a failed write or fsync, what the
// disk holds is unknown, and only reopening (which re-reads and repairs the folder) may go on.
func (w *WAL) fail(err error) error {
	w.err = fmt.Errorf("%w (the WAL stopped accepting writes; close it and open the folder again)", err)
	return w.err
}
