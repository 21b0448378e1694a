// Package wal is the durable write-ahead log of a Kanna node: it keeps on disk what the Raft core
// hands out in each Ready (hard state, entries, snapshots) and gives it back at start-up.
//
// It implements the persistence Raft requires (Raft paper, Figure 2, "Persistent state on all
// servers... updated on stable storage before responding to RPCs"; §5.3 for overwriting a
// conflicting suffix; §7 and Ongaro's thesis §5.1 for snapshots and log compaction). A folder
// holds numbered log segments of checksummed records, the hard state in its own small file, and
// snapshot files. docs/wal.md gives the byte layout and the start-up recovery rules.
//
// The shell drives it once per Ready, in this order:
//
//	if !rd.Snapshot.IsEmpty() { w.SaveSnapshot(*rd.Snapshot) } // first: entries may follow it
//	w.Save(rd.HardState, rd.Entries, rd.MustSync)
//
// A WAL is not safe for concurrent use, and one folder must be opened by one process at a time.
package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kanna-cluster/kanna/raft"
)

// ErrCorrupt is wrapped by every error that reports damaged data on disk: a record or file that
// fails its checksum, or a hole in the log. errors.Is(err, ErrCorrupt) tells such an error apart
// from an I/O failure; the message names the file and says what to do.
var ErrCorrupt = errors.New("wal: corrupt data")

// errClosed is returned by every call on a closed WAL.
var errClosed = errors.New("wal: closed; open the folder again to use it")

// DefaultSegmentSize is the size at which a new log segment is started.
const DefaultSegmentSize = 64 << 20

// Options tune a WAL. The zero value is ready to use.
type Options struct {
	// SegmentSize is the size in bytes past which appends go to a new segment. Default 64 MiB:
	// large enough that rolling (an fsync of the old file and of the folder) is rare, small enough
	// that compaction frees space in useful steps. Tests set it small to exercise rolling.
	SegmentSize int64

	// Logger receives warnings about what start-up repaired (a torn tail cut away, a damaged
	// snapshot set aside). Nil discards them.
	Logger *slog.Logger
}

// WAL is an open write-ahead log folder.
type WAL struct {
	dir  string
	opts Options

	segments []segment // oldest first; the last one is open for appending
	f        *os.File  // the last segment
	size     int64     // bytes in the last segment
	unsynced bool      // bytes were written to f since its last fsync
	buf      []byte    // records of the call in progress, reused across calls

	hs        raft.HardState // the hard state on disk
	lastIndex uint64         // index of the last entry saved (or the snapshot's, when later)
	snapIndex uint64         // index of the newest snapshot saved

	pf   *os.File // the promise file (promise.go)
	prom promise  // the promise on disk
	// recovering: Open found promised state lost (or MarkLost said so) and EndRecovery has not
	// been called; the promise keeps the old mark until then.
	recovering bool

	// err, once set, is returned by every later call: after a failed write or fsync the file's
	// state is unknown (a failed fsync cannot be retried safely), so only reopening, which
	// re-reads and repairs the folder, may continue.
	err error
}

// Open opens the WAL in dir, creating the folder when it does not exist, and replays it: the
// newest valid snapshot, the hard state, and the entries after the snapshot. Restored is nil for a
// folder holding nothing. Open cuts away a torn tail (a partial or damaged record at the very end
// of the last segment, left by a crash mid-write) and warns about it through opts.Logger; any
// other damage makes it refuse with an error wrapping ErrCorrupt that says what to do.
func Open(dir string, opts Options) (*WAL, *raft.Restored, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("open wal: create folder: %w", err)
	}
	if err := removeTemporaries(dir); err != nil {
		return nil, nil, err
	}

	snaps, err := listSnapshots(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open wal: %w", err)
	}
	snap, broken, problems, err := loadSnapshot(dir, snaps)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range problems {
		opts.Logger.Warn("wal: skipping damaged snapshot; recovering from an older one and the log",
			"dir", dir, "problem", p.Error())
	}
	hs, hsPresent, hsDamage, err := readHardState(dir)
	if err != nil {
		return nil, nil, err
	}
	prom, promState, err := readPromise(dir)
	if err != nil {
		return nil, nil, err
	}
	if hsDamage != nil && promState != promiseOK {
		return nil, nil, hsDamage
	}

	w := &WAL{dir: dir, opts: opts}
	ents, logCommit, lastMarker, err := w.replaySegments(snap, broken)
	if err != nil {
		return nil, nil, err
	}
	hs.Commit = max(hs.Commit, logCommit)
	if snap != nil {
		w.snapIndex = snap.Meta.Index
		w.lastIndex = snap.Meta.Index
	}
	if len(ents) > 0 {
		w.lastIndex = ents[len(ents)-1].Index
	}
	// A folder holding nothing but a snapshot is the last-resort reseed of docs/wal.md, not a
	// loss: only a log or hard state without a promise beside it is.
	hasState := len(ents) > 0 || hsPresent
	lost := w.checkPromise(&hs, hsDamage, prom, promState, hasState)
	w.hs = hs
	if hs.Commit > w.lastIndex && lost == nil {
		return nil, nil, fmt.Errorf("open wal: the saved commit index says entry %d is committed but the log "+
			"ends at entry %d; refusing to start: committed entries were lost (were entries saved "+
			"without sync?). %s (%w)", hs.Commit, w.lastIndex, remedy, ErrCorrupt)
	}
	if err := setAsideBroken(dir, broken); err != nil {
		return nil, nil, fmt.Errorf("open wal: %w", err)
	}
	if err := w.openLastSegment(); err != nil {
		return nil, nil, fmt.Errorf("open wal: %w", err)
	}
	if w.pf, err = openPromiseFile(dir); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("open wal: %w", err), w.Close())
	}
	if lost != nil && promState != promiseOK {
		// Remember the loss, so a restart before the node caught up reports it again.
		if err := w.MarkLost(); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("open wal: %w", err), w.Close())
		}
	}
	if snap != nil && lastMarker != (snapFile{term: snap.Meta.Term, index: snap.Meta.Index}) {
		// The snapshot restored is not the last one the log marks: a crash fell between its file
		// and its marker, or a newer snapshot was set aside. Marking it now makes later replays
		// apply its §7 rule here, before the entries this run appends, not after them.
		if err := w.appendSnapshotMarker(snap.Meta.Index, snap.Meta.Term); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("open wal: %w", err), w.Close())
		}
	}
	if snap == nil && hs.IsEmpty() && len(ents) == 0 && lost == nil {
		return w, nil, nil
	}
	restored := &raft.Restored{HardState: hs, Snapshot: snap, Entries: ents, Lost: lost}
	if snap != nil {
		restored.Applied = snap.Meta.Index
		// A snapshot only ever holds committed state, so its index is committed even when the
		// hard state naming a higher commit was not yet written when the node stopped.
		restored.HardState.Commit = max(restored.HardState.Commit, snap.Meta.Index)
	}
	return w, restored, nil
}

// replaySegments scans every segment, oldest first, cuts a torn tail off the last one, and
// rebuilds the log after snap; commit is the highest commit record found, and lastMarker the
// snapshot named by the last snapshot marker (zero when none). broken names newer
// snapshot files that failed their checks, for the error message should the log not reach back
// to the older snapshot.
func (w *WAL) replaySegments(snap *raft.Snapshot, broken []snapFile) (
	ents []raft.Entry, commit uint64, lastMarker snapFile, err error,
) {
	seqs, err := listSegments(w.dir)
	if err != nil {
		return nil, 0, lastMarker, err
	}
	log := replayLog{}
	if snap != nil {
		log.covered = snap.Meta.Index
	}
	for i, seq := range seqs {
		name := segmentName(seq)
		path := filepath.Join(w.dir, name)
		last := i == len(seqs)-1
		seg := segment{seq: seq}
		end, size, err := replaySegment(path, name, last, func(rec scannedRecord) error {
			seg.maxIndex = max(seg.maxIndex, rec.index())
			switch rec.typ {
			case recEntry:
				return log.appendEntry(rec.entry(), name, rec)
			case recSnapshot:
				log.applySnapshot(rec.index(), rec.term())
				lastMarker = snapFile{term: rec.term(), index: rec.index()}
			case recCommit:
				commit = max(commit, rec.index())
			}
			return nil
		})
		if err != nil {
			return nil, 0, lastMarker, err
		}
		if end < size {
			w.opts.Logger.Warn("wal: cutting away a torn tail left by a crash mid-write",
				"segment", path, "offset", end, "bytes", size-end)
			if err := truncateTornTail(path, int(end)); err != nil {
				return nil, 0, lastMarker, err
			}
		}
		w.segments = append(w.segments, seg)
		if last {
			w.size = end
		}
	}
	note := ""
	if len(broken) > 0 {
		names := make([]string, len(broken))
		for i, s := range broken {
			names[i] = s.name()
		}
		note = fmt.Sprintf(" (the newer snapshot file(s) %s failed their checks)", strings.Join(names, ", "))
	}
	ents, err = log.finish(snap, note)
	return ents, commit, lastMarker, err
}

// checkPromise compares what Open found with the promise file (promise.go). It fills in a term
// and vote the hard state file lost or holds stale, and returns what the node lost, or nil: a log
// that ends before the mark, a mark itself unknown, or state on disk without any promise beside
// it (the promise file was deleted or damaged).
func (w *WAL) checkPromise(hs *raft.HardState, hsDamage error, prom promise, state promiseState, hasState bool) *raft.Lost {
	log := w.opts.Logger
	if state != promiseOK {
		if !hasState {
			return nil // a new folder
		}
		log.Warn("wal: the promise file is missing or damaged beside a log; how far this node had "+
			"acknowledged is unknown, so it will not vote until the leader has sent it the log again",
			"dir", w.dir, "promise_file", filepath.Join(w.dir, promiseFile), "state", promiseStateName(state))
		w.recovering = true
		return &raft.Lost{Term: hs.Term}
	}
	w.prom = prom
	if hsDamage != nil || prom.term > hs.Term || (prom.term == hs.Term && hs.Vote == raft.None && prom.vote != raft.None) {
		log.Warn("wal: the hard state file is missing, damaged or older than the promise file; "+
			"taking the term and vote from the promise file", "dir", w.dir,
			"hardstate_term", hs.Term, "hardstate_vote", hs.Vote, "promise_term", prom.term, "promise_vote", prom.vote)
		hs.Term, hs.Vote = prom.term, prom.vote
	}
	switch {
	case prom.unknown:
		log.Warn("wal: this node lost what it had acknowledged (marked by an earlier start or by "+
			"kanna recover); it will not vote until the leader has sent it the log again", "dir", w.dir)
	case prom.mark > w.lastIndex:
		log.Warn("wal: the log ends before the last entry this node acknowledged: acknowledged "+
			"entries were lost; it will not vote until the leader has sent them back",
			"dir", w.dir, "acknowledged", prom.mark, "log_ends_at", w.lastIndex, "term", prom.term)
	default:
		return nil
	}
	w.recovering = true
	if prom.unknown {
		return &raft.Lost{Term: prom.term}
	}
	return &raft.Lost{Index: prom.mark, Term: prom.term}
}

func promiseStateName(s promiseState) string {
	if s == promiseDamaged {
		return "damaged"
	}
	return "missing"
}

// replaySegment streams one segment's records to visit (scanRecords) and returns where its valid
// records end and its size.
func replaySegment(path, name string, last bool, visit func(scannedRecord) error) (end, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open wal: read segment: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("open wal: read segment: %w", err)
	}
	end, err = scanRecords(name, bufio.NewReaderSize(f, replayBuffer), f, info.Size(), last, visit)
	return end, info.Size(), err
}

// replayBuffer is the read buffer of replay: large enough that reads are few, small beside a
// segment.
const replayBuffer = 1 << 20

// openLastSegment opens the newest segment for appending, or creates the first one.
func (w *WAL) openLastSegment() error {
	if len(w.segments) == 0 {
		f, err := openSegment(w.dir, 1, true)
		if err != nil {
			return err
		}
		w.f, w.size = f, 0
		w.segments = append(w.segments, segment{seq: 1})
		return nil
	}
	f, err := openSegment(w.dir, w.segments[len(w.segments)-1].seq, false)
	if err != nil {
		return err
	}
	w.f = f
	return nil
}

// removeTemporaries deletes files a crash left half-written; their real names still hold the
// previous, complete versions.
func removeTemporaries(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("open wal: list %s: %w", dir, err)
	}
	for _, de := range entries {
		if strings.HasSuffix(de.Name(), tmpSuffix) {
			err := os.Remove(filepath.Join(dir, de.Name()))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("open wal: remove leftover temporary file: %w", err)
			}
		}
	}
	return nil
}

// Close makes everything written durable and closes the segment. Later calls return an error.
func (w *WAL) Close() error {
	if w.f == nil {
		return errClosed
	}
	var err error
	if w.err == nil && w.unsynced {
		err = w.f.Sync()
	}
	err = errors.Join(err, w.f.Close())
	if w.pf != nil {
		err = errors.Join(err, w.pf.Close())
	}
	w.f, w.pf, w.err = nil, nil, errClosed
	if err != nil {
		return fmt.Errorf("wal: close segment: %w", err)
	}
	return nil
}
