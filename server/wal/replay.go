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

package wal

import (
	"fmt"

	"github.com/kanna-cluster/kanna/raft"
)

// replayLog is the log as replay has rebuilt it so far: contiguous entries, oldest first.
type replayLog struct {
	ents []raft.Entry
}

// appendEntry applies one entry record. A jump forward (an index past the last one plus one)
// means records are missing, which no crash can cause: it is reported as corruption.
func (r *replayLog) appendEntry(e raft.Entry, segName string, rec scannedRecord) error {
	if len(r.ents) == 0 {
		r.ents = append(r.ents, e)
		return nil
	}
	first, last := r.ents[0].Index, r.ents[len(r.ents)-1].Index
	switch {
	case e.Index == last+1:
		r.ents = append(r.ents, e)
	case e.Index > last+1:
		return fmt.Errorf("open wal: record %d of segment %s (offset %d) holds entry %d, but the log "+
			"before it ends at entry %d; refusing to start: committed entries may be lost. %s (%w)",
			rec.number, segName, rec.offset, e.Index, last, remedy, ErrCorrupt)
	case e.Index <= first:
		// The overwrite reaches below every entry still on disk: the older ones were compacted.
		r.ents = append(r.ents[:0], e)
	default:
		r.ents = append(r.ents[:e.Index-first], e)
	}
	return nil
}

// applySnapshot applies the §7 rule for a snapshot ending at (index, term): when the log holds
// its last entry with the same term, or lies wholly after it, the log stands; otherwise the log is
// stale or conflicting and is dropped. Entries the snapshot covers are not trimmed here but in
// finish, against the snapshot actually restored: should this one be found damaged, an older
// snapshot needs them.
func (r *replayLog) applySnapshot(index, term uint64) {
	if len(r.ents) == 0 {
		return
	}
	first, last := r.ents[0].Index, r.ents[len(r.ents)-1].Index
	if index < first || (index <= last && r.ents[index-first].Term == term) {
		return
	}
	r.ents = nil
}

// finish applies the restored snapshot (nil when none) to the replayed log and returns the entries
// after it, their data copied out of the segment buffers so those can be freed. The entries must
// start right after the snapshot (or at index 1 with no snapshot); a hole there means entries are
// missing. note, when not empty, says why the snapshot may be older than expected.
func (r *replayLog) finish(snap *raft.Snapshot, note string) ([]raft.Entry, error) {
	var snapIndex uint64
	if snap != nil {
		snapIndex = snap.Meta.Index
		r.applySnapshot(snap.Meta.Index, snap.Meta.Term)
		if len(r.ents) > 0 && r.ents[0].Index <= snapIndex {
			r.ents = r.ents[snapIndex-r.ents[0].Index+1:]
		}
	}
	if len(r.ents) == 0 {
		return nil, nil
	}
	if first := r.ents[0].Index; first != snapIndex+1 {
		return nil, fmt.Errorf("open wal: the log on disk starts at entry %d but the restored snapshot "+
			"ends at entry %d%s; refusing to start: entries %d to %d are missing. %s (%w)",
			first, snapIndex, note, snapIndex+1, first-1, remedy, ErrCorrupt)
	}
	size := 0
	for _, e := range r.ents {
		size += len(e.Data)
	}
	arena := make([]byte, 0, size)
	out := make([]raft.Entry, len(r.ents))
	for i, e := range r.ents {
		out[i] = e
		if e.Data != nil {
			start := len(arena)
			arena = append(arena, e.Data...)
			out[i].Data = arena[start:len(arena):len(arena)]
		}
	}
	return out, nil
}
