// The simulated disk: what a node has written survives a crash only once an fsync has completed.
//
// The Raft paper's Figure 2 says currentTerm, votedFor and log[] are "persistent state on all
// servers (updated on stable storage before responding to RPCs)". The disk here makes that rule
// testable: writes wait in a pending list until sync, and a crash throws the pending list away, so
// a shell that sent a message before its state was durable would be caught by the checkers.

package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/kanna-cluster/kanna/raft"
)

// chainHash is a hash of one log entry and, through its predecessor's hash, of the whole prefix
// before it: two logs with equal chain hashes at an index agree on every entry up to it, which is
// the Log Matching Property of Raft paper §5.3 checked in O(1).
type chainHash [32]byte

// nextChain extends a chain hash with one entry: the SHA-256 of the previous hash, the entry's
// index, term and type, and its data, hashed in one piece from scratch, which it reuses.
func nextChain(scratch *[]byte, prev chainHash, e raft.Entry) chainHash {
	b := append((*scratch)[:0], prev[:]...)
	b = binary.BigEndian.AppendUint64(b, e.Index)
	b = binary.BigEndian.AppendUint64(b, e.Term)
	b = append(b, byte(e.Type))
	b = append(b, e.Data...)
	*scratch = b
	return sha256.Sum256(b)
}

// write is one Ready's worth of state headed for the disk.
type write struct {
	hardState raft.HardState // zero when unchanged
	snapshot  *raft.Snapshot // received from the leader
	entries   []raft.Entry
	compacted *raft.Snapshot // taken by the node itself, of entries it already holds
	// endRecovery: with this write the core had caught up after a loss of storage.
	endRecovery bool
}

// disk is one node's stable storage: a hard state, a snapshot and the log after it.
type disk struct {
	hardState raft.HardState
	snapshot  *raft.Snapshot
	entries   []raft.Entry   // contiguous, starting right after the snapshot
	chain     []chainHash    // chain[i] is the chain hash of entries[i]
	fresh     []durableEntry // reused by sync: valid until the next sync
	base      chainHash      // chain hash of the snapshot's last entry, or zero for an empty log

	pending []write
	scratch []byte // reused by nextChain

	// promise is the promise file; recovering, that the disk reported a loss at the last start
	// and the core has not yet caught up; wiped, that the whole folder was lost (storage.go).
	promise    diskPromise
	recovering bool
	wiped      bool

	// baseFor finds the chain hash of the entry a snapshot ends at, as some log held it; when no
	// log ever held it the snapshot's own (index, term) stands in.
	baseFor func(index, term uint64) (chainHash, bool)
}

// write queues w; it is lost by a crash until sync.
func (d *disk) write(w write) { d.pending = append(d.pending, w) }

// hasPending reports whether a write waits for fsync.
func (d *disk) hasPending() bool { return len(d.pending) > 0 }

// durableEntry names an entry that just became durable and its chain hash.
type durableEntry struct {
	index, term uint64
	chain       chainHash
}

// sync makes every pending write durable, in order, and returns the entries that became durable
// (for the log-matching checker).
func (d *disk) sync() []durableEntry {
	durable := d.fresh[:0]
	for _, w := range d.pending {
		if w.snapshot != nil && !w.snapshot.IsEmpty() {
			d.installSnapshot(w.snapshot)
		}
		if len(w.entries) > 0 {
			durable = d.appendTo(durable, w.entries)
		}
		if !w.hardState.IsEmpty() {
			d.hardState = w.hardState
		}
		if w.compacted != nil && w.compacted.Meta.Index >= d.firstIndex() {
			d.installSnapshot(w.compacted)
		}
		if w.endRecovery {
			// The core caught up, as wal.WAL.EndRecovery records: the mark follows the log again.
			d.recovering = false
		}
	}
	d.forgetPending()
	d.keepPromise()
	d.fresh = durable
	return durable
}

// crash forgets everything not yet synced.
func (d *disk) crash() { d.forgetPending() }

// forgetPending empties the pending list, keeping its array for the next writes.
func (d *disk) forgetPending() {
	clear(d.pending)
	d.pending = d.pending[:0]
}

// firstIndex is the index of the first entry in the log, after the snapshot.
func (d *disk) firstIndex() uint64 {
	if d.snapshot != nil {
		return d.snapshot.Meta.Index + 1
	}
	return 1
}

// lastIndex is the index of the last entry, or of the snapshot when the log is empty.
func (d *disk) lastIndex() uint64 { return d.firstIndex() + uint64(len(d.entries)) - 1 }

// chainAt returns the chain hash at index i, if the disk knows it.
func (d *disk) chainAt(i uint64) (chainHash, bool) {
	first := d.firstIndex()
	if i == first-1 {
		return d.base, true
	}
	if i < first || i > d.lastIndex() {
		return chainHash{}, false
	}
	return d.chain[i-first], true
}

// termAt returns the term of the entry at index i, if the disk holds it.
func (d *disk) termAt(i uint64) (uint64, bool) {
	first := d.firstIndex()
	if i == first-1 {
		if d.snapshot != nil {
			return d.snapshot.Meta.Term, true
		}
		return 0, true
	}
	if i < first || i > d.lastIndex() {
		return 0, false
	}
	return d.entries[i-first].Term, true
}

// append writes entries that may overwrite a suffix of the log (paper §5.3: "if an existing entry
// conflicts with a new one, delete the existing entry and all that follow it").
func (d *disk) append(ents []raft.Entry) []durableEntry { return d.appendTo(nil, ents) }

// appendTo is append, adding what became durable to out.
func (d *disk) appendTo(out []durableEntry, ents []raft.Entry) []durableEntry {
	first := d.firstIndex()
	for _, e := range ents {
		if e.Index < first {
			continue // already inside the snapshot
		}
		keep := e.Index - first
		if keep > uint64(len(d.entries)) {
			panic("sim: disk: entry leaves a gap in the log; the core handed out a non-contiguous Ready")
		}
		d.entries = d.entries[:keep]
		d.chain = d.chain[:keep]
		prev := d.base
		if keep > 0 {
			prev = d.chain[keep-1]
		}
		h := nextChain(&d.scratch, prev, e)
		d.entries = append(d.entries, e)
		d.chain = append(d.chain, h)
		out = append(out, durableEntry{index: e.Index, term: e.Term, chain: h})
	}
	return out
}

// installSnapshot replaces the log's prefix with a snapshot; entries after it survive only when
// the log holds the snapshot's last entry with the same term (paper §7: "if existing log entry has
// same index and term as snapshot's last included entry, retain log entries following it").
func (d *disk) installSnapshot(s *raft.Snapshot) {
	kept := 0 // entries after the snapshot that survive, moved to the front of the same arrays
	if t, ok := d.termAt(s.Meta.Index); ok && t == s.Meta.Term && s.Meta.Index >= d.firstIndex() {
		at := s.Meta.Index - d.firstIndex() + 1
		d.base = d.chain[at-1]
		kept = copy(d.entries, d.entries[at:])
		copy(d.chain, d.chain[at:])
	} else if d.baseFor != nil {
		if h, ok := d.baseFor(s.Meta.Index, s.Meta.Term); ok {
			d.base = h
		} else {
			d.base = snapshotStandIn(s.Meta.Index, s.Meta.Term)
		}
	} else {
		d.base = snapshotStandIn(s.Meta.Index, s.Meta.Term)
	}
	snap := *s
	d.snapshot = &snap
	clear(d.entries[kept:]) // let go of the data of the entries compacted away
	d.entries, d.chain = d.entries[:kept], d.chain[:kept]
}

// snapshotStandIn names a snapshot whose last entry no log was seen to hold.
func snapshotStandIn(index, term uint64) chainHash {
	var scratch []byte
	return nextChain(&scratch, chainHash{}, raft.Entry{Index: index, Term: term, Data: []byte("snapshot")})
}

// restored is what a restarting node reads back: only what was synced, and, unless detect is
// off (the no-storage-recovery bug), what the promise file says was lost.
func (d *disk) restored(detect bool) *raft.Restored {
	r := &raft.Restored{HardState: d.hardState, Entries: append([]raft.Entry(nil), d.entries...)}
	if detect {
		r.Lost = d.lost()
		d.recovering = r.Lost != nil
		if d.recovering {
			d.keepPromise() // a restart before the core caught up reports the loss again
		}
	}
	if d.snapshot != nil {
		snap := *d.snapshot
		r.Snapshot = &snap
		r.Applied = snap.Meta.Index
	}
	return r
}

// empty reports whether nothing was ever synced: a node that crashed before its first fsync
// restarts as a brand-new member. A wiped folder is empty too, and only the cluster can tell:
// fresh tells the two apart as the real shell does (an empty folder that is told to join).
func (d *disk) empty() bool {
	return d.hardState.IsEmpty() && d.snapshot == nil && len(d.entries) == 0 && !d.promise.present
}

// confStateAt folds the configuration in force at index: the snapshot's, changed by every
// configuration entry up to index (Raft thesis §4.1: a server uses the latest configuration in its
// log). ok is false when index lies inside the snapshot, where the entries are gone.
func (d *disk) confStateAt(index uint64) (cs raft.ConfState, ok bool) {
	first := d.firstIndex()
	if index+1 < first {
		return raft.ConfState{}, false
	}
	if d.snapshot != nil {
		cs = d.snapshot.Meta.ConfState
	}
	voters, learners := slices.Clone(cs.Voters), slices.Clone(cs.Learners)
	for _, e := range d.entries {
		if e.Index > index {
			break
		}
		if e.Type != raft.EntryConfChange {
			continue
		}
		cc, err := raft.UnmarshalConfChange(e.Data)
		if err != nil {
			continue
		}
		voters = slices.DeleteFunc(voters, func(id uint64) bool { return id == cc.NodeID })
		learners = slices.DeleteFunc(learners, func(id uint64) bool { return id == cc.NodeID })
		switch cc.Type {
		case raft.AddVoter:
			voters = append(voters, cc.NodeID)
		case raft.AddLearner:
			learners = append(learners, cc.NodeID)
		}
	}
	slices.Sort(voters)
	slices.Sort(learners)
	return raft.ConfState{Voters: voters, Learners: learners}, true
}
