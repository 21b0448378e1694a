// The replicated log as one server holds it: the entries after the last snapshot, kept in memory,
// with the indexes that say which of them are durable, committed and applied.
//
// Paper §5.3 (log matching: an index and a term name a whole prefix) and §7 (log compaction: a
// snapshot replaces the prefix it covers). The core keeps the log itself instead of reading it
// back from a Storage interface, as etcd-io/raft does: the driver persists what each Ready hands it
// and gives the whole log back through Config.Restore after a restart (see docs/divergence.md).

package raft

import (
	"errors"
	"fmt"
)

// errPastEnd says an index lies beyond the last entry of the log.
var errPastEnd = errors.New("raft: index is past the end of the log")

// raftLog is the log after the last snapshot. Every index lies in one of these ranges:
//
//	... snapshot.Meta.Index | firstIndex ... stabled | ... written | written+1 ... lastIndex
//	    (compacted)          (durable)          (being written)  (unstable: in the next Ready)
//
// and applied <= committed <= lastIndex. A driver that writes in the foreground (Advance) keeps
// stabled == written; one that writes in the background (AdvanceAsync, then StableTo) lets written
// run ahead while its disk catches up.
type raftLog struct {
	// snapshot is the last snapshot: its Meta names the entry just before entries[0]. On a server
	// that never compacted, Meta.Index and Meta.Term are 0.
	snapshot Snapshot
	entries  []Entry

	committed uint64 // highest index known to be committed (paper Figure 2: commitIndex)
	applied   uint64 // highest index the state machine holds (paper Figure 2: lastApplied)
	stabled   uint64 // highest index the driver reported durable (Advance or StableTo)
	written   uint64 // highest index handed to the driver in a Ready; never below stabled

	// pending is a snapshot received from the leader that the driver has not yet persisted and
	// restored; it rides in Ready.Snapshot until Advance.
	pending *Snapshot
}

func (l *raftLog) firstIndex() uint64 { return l.snapshot.Meta.Index + 1 }

func (l *raftLog) lastIndex() uint64 { return l.snapshot.Meta.Index + uint64(len(l.entries)) }

func (l *raftLog) lastTerm() uint64 {
	t, err := l.term(l.lastIndex())
	if err != nil {
		panic(fmt.Sprintf("raft: log: the last index %d has no term: %v", l.lastIndex(), err))
	}
	return t
}

// term returns the term of the entry at index i, which may be the snapshot's last entry.
func (l *raftLog) term(i uint64) (uint64, error) {
	switch {
	case i == l.snapshot.Meta.Index:
		return l.snapshot.Meta.Term, nil
	case i < l.snapshot.Meta.Index:
		return 0, ErrCompacted
	case i > l.lastIndex():
		return 0, errPastEnd
	}
	return l.entries[i-l.firstIndex()].Term, nil
}

// matchTerm is the consistency check of AppendEntries (paper §5.3): does this log hold an entry
// at index i with term t?
func (l *raftLog) matchTerm(i, t uint64) bool {
	lt, err := l.term(i)
	return err == nil && lt == t
}

// isUpToDate is the election restriction (paper §5.4.1): a log whose last entry has a later term
// is more up to date; with equal last terms, the longer log is.
//
//kanna:lab 1 "The log whose last entry has the later term is more up to date; with equal last terms, the longer log is" §5.4.1
func (l *raftLog) isUpToDate(lastIndex, lastTerm uint64) bool {
	mine := l.lastTerm()
	return lastTerm > mine || (lastTerm == mine && lastIndex >= l.lastIndex())
}

// append writes ents, which must start at most one past the last index, and drops any entries
// they replace. It reports whether existing entries were dropped.
func (l *raftLog) append(ents []Entry) (truncated bool) {
	if len(ents) == 0 {
		return false
	}
	first := ents[0].Index
	if first < l.firstIndex() || first > l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: log: cannot append at index %d to a log holding [%d, %d]",
			first, l.firstIndex(), l.lastIndex()))
	}
	for i, e := range ents {
		if e.Index != first+uint64(i) {
			panic(invariantf("log: appended entries are not contiguous: index %d follows index %d", e.Index, ents[i-1].Index))
		}
	}
	if first <= l.committed {
		// Paper §5.4 (State Machine Safety): a committed entry is never replaced, since every
		// server may already have applied it.
		panic(invariantf("log: an append at index %d would replace committed entries (commit index %d)", first, l.committed))
	}
	truncated = first <= l.lastIndex()
	if keep := first - l.firstIndex(); truncated {
		// Copy on truncation: the replaced entries may still be held by a message in flight or an
		// unfinished Ready (slice hands out views of this array), and they must keep showing what
		// they showed. Appending past the end never touches a view, which slice caps at its length.
		l.entries = append(l.entries[:keep:keep], ents...)
	} else {
		l.entries = append(l.entries, ents...)
	}
	if l.stabled >= first {
		// The durable copy of the replaced entries is stale; the driver overwrites it from the next
		// Ready (Ready.Entries "may overwrite a suffix").
		l.stabled = first - 1
	}
	if l.written >= first {
		l.written = first - 1
	}
	return truncated
}

// findConflict returns the index of the first entry of ents that this log does not hold with the
// same term (a conflict or a new entry), or 0 when the log already holds all of them.
//
//kanna:lab 2 "If an existing entry conflicts with a new one (same index, different terms), delete it and all that follow it" §5.3
func (l *raftLog) findConflict(ents []Entry) uint64 {
	for _, e := range ents {
		if !l.matchTerm(e.Index, e.Term) {
			return e.Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index at or below index whose term is at most term. It
// is the heart of fast backtracking: every entry above the answer has a term greater than term, so
// none of them can match an entry of term at most term on the other side.
func (l *raftLog) findConflictByTerm(index, term uint64) uint64 {
	if index > l.lastIndex() {
		index = l.lastIndex()
	}
	for ; index >= l.firstIndex(); index-- {
		if l.entries[index-l.firstIndex()].Term <= term {
			return index
		}
	}
	// Everything left is at or below the snapshot: the snapshot's entry is committed, so it is the
	// best hint this log can give.
	if index > l.snapshot.Meta.Index {
		index = l.snapshot.Meta.Index
	}
	return index
}

// slice returns the entries [lo, hi) whose data fit in maxSize bytes, always at least one. The
// result is a view of the log's array, not a copy: the log never rewrites an entry in place
// (append copies on truncation, compaction moves to a new array), and the view's capacity ends at
// its length, so an append by the caller copies instead of writing into the log. Callers must not
// modify the entries.
func (l *raftLog) slice(lo, hi, maxSize uint64) ([]Entry, error) {
	if lo < l.firstIndex() {
		return nil, ErrCompacted
	}
	if hi > l.lastIndex()+1 {
		hi = l.lastIndex() + 1
	}
	if lo >= hi {
		return nil, nil
	}
	ents := l.entries[lo-l.firstIndex() : hi-l.firstIndex()]
	var size uint64
	for i, e := range ents {
		size += uint64(len(e.Data))
		if i > 0 && size > maxSize {
			ents = ents[:i]
			break
		}
	}
	return ents[:len(ents):len(ents)], nil
}

// commitTo raises the commit index; it never lowers it.
func (l *raftLog) commitTo(i uint64) {
	if i <= l.committed {
		return
	}
	if i > l.lastIndex() {
		panic(fmt.Sprintf("raft: log: commit index %d is past the last index %d", i, l.lastIndex()))
	}
	l.committed = i
}

// unstable returns the entries not yet handed to the driver.
func (l *raftLog) unstable() []Entry {
	ents, _ := l.slice(l.written+1, l.lastIndex()+1, noLimit)
	return ents
}

// writtenTo records that the driver took the entries up to the one at index i with term t to
// write them; like stableTo, it ignores entries that have since been replaced.
func (l *raftLog) writtenTo(i, t uint64) {
	if i > l.written && l.matchTerm(i, t) {
		l.written = i
	}
}

// toApply returns the committed entries the state machine does not hold yet.
func (l *raftLog) toApply() []Entry {
	lo := max(l.applied+1, l.firstIndex())
	ents, _ := l.slice(lo, l.committed+1, noLimit)
	return ents
}

// stableTo records that the entry at index i with term t is durable. A Ready whose entries have
// since been replaced (the term no longer matches) proves nothing, so it is ignored. An entry the
// log has since compacted into a snapshot is committed, so it can no longer have been replaced.
func (l *raftLog) stableTo(i, t uint64) {
	if i <= l.stabled || i > l.written {
		return
	}
	if i < l.snapshot.Meta.Index || l.matchTerm(i, t) {
		l.stabled = i
	}
}

// appliedTo records that the state machine holds every entry up to i.
func (l *raftLog) appliedTo(i uint64) {
	if i > l.committed {
		panic(invariantf("log: applied index %d is past the commit index %d; only committed entries may be applied", i, l.committed))
	}
	if i > l.applied {
		l.applied = i
	}
}

// compact replaces the entries up to snap.Meta.Index with snap (paper §7).
func (l *raftLog) compact(snap Snapshot) {
	i := snap.Meta.Index
	l.entries = append([]Entry(nil), l.entries[i-l.firstIndex()+1:]...)
	l.snapshot = snap
}

// restore replaces the whole log with a snapshot received from the leader (paper §7,
// InstallSnapshot step 7: "discard the entire log").
func (l *raftLog) restore(snap Snapshot) {
	if snap.Meta.Index < l.committed {
		panic(invariantf("log: a snapshot at index %d would move the commit index back from %d", snap.Meta.Index, l.committed))
	}
	l.entries = nil
	l.snapshot = snap
	l.committed = snap.Meta.Index
	l.stabled = snap.Meta.Index
	l.written = snap.Meta.Index
	l.pending = &snap
}

// noLimit is a size limit that nothing reaches.
const noLimit = ^uint64(0)
