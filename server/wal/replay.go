// Replay of the write-ahead log: rebuilding the log Raft had from records read in the order they
// were written, where a later record may overwrite an earlier suffix.
//
// The WAL only ever appends; the log rules of the Raft paper are applied at replay instead:
//   - §5.3, AppendEntries receiver step 3 (Figure 2): "If an existing entry conflicts with a new one (same index but
//     different terms), delete the existing entry and all that follow it". An entry record whose
//     index is at or below the last one replayed cuts the log there before it is appended.
//   - §7, InstallSnapshot receiver steps 6-7 (Figure 13): "If existing log entry has same index and term as snapshot's
//     last included entry, retain log entries following it"; otherwise "discard the entire log".
//     A snapshot marker record applies this rule at the point in the log where the snapshot was
//     saved, and the snapshot Open restores applies it once more at the end.
//
// Replay streams: records are read one at a time, and entries that the restored snapshot covers
// keep only their terms, run-length encoded, which is all the §7 rule needs of them. A segment of
// 64 MiB whose entries are mostly behind the snapshot so costs little more memory than the entries
// the node will hold once running.

package wal

import (
	"bytes"
	"fmt"

	"github.com/kanna-cluster/kanna/raft"
)

// termRun is a run of consecutive indexes, from start on, that all have one term.
type termRun struct{ start, term uint64 }

// replayLog is the log as replay has rebuilt it so far: contiguous indexes, oldest first. Those at
// or below covered (the restored snapshot's index) are kept as term runs only; the rest as entries.
type replayLog struct {
	covered uint64
	runs    []termRun    // terms of the indexes first..min(last, covered)
	end     uint64       // last index in runs, valid when runs is not empty
	ents    []raft.Entry // the indexes after covered, their data owned
}

func (r *replayLog) empty() bool { return len(r.runs) == 0 && len(r.ents) == 0 }

func (r *replayLog) first() uint64 {
	if len(r.runs) > 0 {
		return r.runs[0].start
	}
	return r.ents[0].Index
}

func (r *replayLog) last() uint64 {
	if len(r.ents) > 0 {
		return r.ents[len(r.ents)-1].Index
	}
	return r.end
}

// term returns the term at index i, which must lie in first..last.
func (r *replayLog) term(i uint64) uint64 {
	if len(r.ents) > 0 && i >= r.ents[0].Index {
		return r.ents[i-r.ents[0].Index].Term
	}
	for k := len(r.runs) - 1; ; k-- {
		if r.runs[k].start <= i {
			return r.runs[k].term
		}
	}
}

// cutFrom drops index i and every later one.
func (r *replayLog) cutFrom(i uint64) {
	if len(r.ents) > 0 && i >= r.ents[0].Index {
		r.ents = r.ents[:i-r.ents[0].Index]
		return
	}
	r.ents = r.ents[:0]
	for len(r.runs) > 0 && r.runs[len(r.runs)-1].start >= i {
		r.runs = r.runs[:len(r.runs)-1]
	}
	if len(r.runs) > 0 {
		r.end = i - 1
	}
}

// push appends e, the next index; data is copied unless the snapshot covers e.
func (r *replayLog) push(e raft.Entry) {
	if e.Index <= r.covered {
		if n := len(r.runs); n == 0 || r.runs[n-1].term != e.Term {
			r.runs = append(r.runs, termRun{start: e.Index, term: e.Term})
		}
		r.end = e.Index
		return
	}
	e.Data = bytes.Clone(e.Data)
	r.ents = append(r.ents, e)
}

// appendEntry applies one entry record, whose data is only valid during the call. A jump forward
// (an index past the last one plus one) means records are missing, which no crash can cause: it is
// reported as corruption.
func (r *replayLog) appendEntry(e raft.Entry, segName string, rec scannedRecord) error {
	if !r.empty() {
		first, last := r.first(), r.last()
		switch {
		case e.Index > last+1:
			return fmt.Errorf("open wal: record %d of segment %s (offset %d) holds entry %d, but the log "+
				"before it ends at entry %d; refusing to start: committed entries may be lost. %s (%w)",
				rec.number, segName, rec.offset, e.Index, last, remedy, ErrCorrupt)
		case e.Index <= first:
			// The overwrite reaches below every entry still on disk: the older ones were compacted.
			r.runs, r.ents = r.runs[:0], r.ents[:0]
		case e.Index <= last:
			r.cutFrom(e.Index)
		}
	}
	r.push(e)
	return nil
}

// applySnapshot applies the §7 rule for a snapshot ending at (index, term): when the log holds
// its last entry with the same term, or lies wholly after it, the log stands; otherwise the log is
// stale or conflicting and is dropped. Entries the snapshot covers are not trimmed here but in
// finish, against the snapshot actually restored: should this one be found damaged, an older
// snapshot needs them.
func (r *replayLog) applySnapshot(index, term uint64) {
	if r.empty() {
		return
	}
	if index < r.first() || (index <= r.last() && r.term(index) == term) {
		return
	}
	r.runs, r.ents = r.runs[:0], r.ents[:0]
}

// finish applies the restored snapshot (nil when none) to the replayed log and returns the entries
// after it. The entries must start right after the snapshot (or at index 1 with no snapshot); a
// hole there means entries are missing. note, when not empty, says why the snapshot may be older
// than expected.
func (r *replayLog) finish(snap *raft.Snapshot, note string) ([]raft.Entry, error) {
	var snapIndex uint64
	if snap != nil {
		snapIndex = snap.Meta.Index
		r.applySnapshot(snap.Meta.Index, snap.Meta.Term)
	}
	if r.empty() || r.last() <= snapIndex {
		return nil, nil
	}
	if first := r.first(); first > snapIndex+1 {
		return nil, fmt.Errorf("open wal: the log on disk starts at entry %d but the restored snapshot "+
			"ends at entry %d%s; refusing to start: entries %d to %d are missing. %s (%w)",
			first, snapIndex, note, snapIndex+1, first-1, remedy, ErrCorrupt)
	}
	// Every index up to the snapshot's is in runs (push keeps those as terms only), so ents starts
	// right after it.
	return r.ents, nil
}
