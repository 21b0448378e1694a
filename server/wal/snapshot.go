// Snapshot files of the write-ahead log: one file per snapshot, named after the last entry it
// covers, checksummed, written atomically; the newest is kept plus one older.
//
// Raft paper §7 (log compaction) and Ongaro's thesis §5.1 (snapshotting memory-based state
// machines): a snapshot replaces the log up to its last included index and term, and carries the
// configuration as of that index so that membership survives compaction.

package wal

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kanna-cluster/kanna/raft"
)

const (
	snapPrefix = "snap-"
	snapSuffix = ".snap"
	// brokenSuffix is appended to a snapshot file that failed its checks, once Open has recovered
	// without it: the file is kept for inspection but no longer counts as a snapshot.
	brokenSuffix = ".broken"
	// keepSnapshots is how many snapshot files survive a SaveSnapshot: the newest, plus one older
	// to fall back on should the newest be found damaged (the log is kept back to the older one).
	keepSnapshots = 2
)

// snapFile names one snapshot file by the last entry its snapshot covers.
type snapFile struct {
	term, index uint64
}

// name returns the file name, snap-<term>-<index>.snap in fixed-width hex so names sort by term.
func (s snapFile) name() string {
	return fmt.Sprintf("%s%016x-%016x%s", snapPrefix, s.term, s.index, snapSuffix)
}

// parseSnapFile reads a snapshot file name; ok is false for any other name.
func parseSnapFile(name string) (snapFile, bool) {
	rest, found := strings.CutPrefix(name, snapPrefix)
	if !found {
		return snapFile{}, false
	}
	rest, found = strings.CutSuffix(rest, snapSuffix)
	if !found {
		return snapFile{}, false
	}
	termHex, indexHex, found := strings.Cut(rest, "-")
	if !found || len(termHex) != 16 || len(indexHex) != 16 {
		return snapFile{}, false
	}
	term, err1 := strconv.ParseUint(termHex, 16, 64)
	index, err2 := strconv.ParseUint(indexHex, 16, 64)
	if err1 != nil || err2 != nil {
		return snapFile{}, false
	}
	return snapFile{term: term, index: index}, true
}

// newestFirst orders snapshot files by index, then term, highest first.
func newestFirst(a, b snapFile) int {
	if c := cmp.Compare(b.index, a.index); c != 0 {
		return c
	}
	return cmp.Compare(b.term, a.term)
}

// listSnapshots returns the snapshot files in dir, newest first.
func listSnapshots(dir string) ([]snapFile, error) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots in %s: %w", dir, err)
	}
	var snaps []snapFile
	for _, de := range names {
		if s, ok := parseSnapFile(de.Name()); ok && de.Type().IsRegular() {
			snaps = append(snaps, s)
		}
	}
	slices.SortFunc(snaps, newestFirst)
	return snaps, nil
}

// encodeSnapshot lays out a snapshot file: crc u32 over the rest, index u64, term u64, voter count
// u32 and voters u64 each, learner count u32 and learners u64 each, then the data to the end.
func encodeSnapshot(snap raft.Snapshot) []byte {
	cs := snap.Meta.ConfState
	b := make([]byte, 4, 4+16+8+8*(len(cs.Voters)+len(cs.Learners))+len(snap.Data))
	b = binary.LittleEndian.AppendUint64(b, snap.Meta.Index)
	b = binary.LittleEndian.AppendUint64(b, snap.Meta.Term)
	for _, ids := range [][]uint64{cs.Voters, cs.Learners} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
		for _, id := range ids {
			b = binary.LittleEndian.AppendUint64(b, id)
		}
	}
	b = append(b, snap.Data...)
	binary.LittleEndian.PutUint32(b, crc32.Checksum(b[4:], castagnoli))
	return b
}

// decodeSnapshot checks and decodes a snapshot file's content; Data aliases b.
func decodeSnapshot(b []byte) (raft.Snapshot, error) {
	if len(b) < 4+16+8 {
		return raft.Snapshot{}, errShortRecord
	}
	if crc32.Checksum(b[4:], castagnoli) != binary.LittleEndian.Uint32(b) {
		return raft.Snapshot{}, errChecksum
	}
	var snap raft.Snapshot
	snap.Meta.Index = binary.LittleEndian.Uint64(b[4:])
	snap.Meta.Term = binary.LittleEndian.Uint64(b[12:])
	rest := b[20:]
	var lists [2][]uint64
	for i := range lists {
		if len(rest) < 4 {
			return raft.Snapshot{}, errShortPayload
		}
		n := uint64(binary.LittleEndian.Uint32(rest))
		rest = rest[4:]
		if n > uint64(len(rest))/8 {
			return raft.Snapshot{}, errShortPayload
		}
		for range n {
			lists[i] = append(lists[i], binary.LittleEndian.Uint64(rest))
			rest = rest[8:]
		}
	}
	snap.Meta.ConfState = raft.ConfState{Voters: lists[0], Learners: lists[1]}
	if len(rest) > 0 {
		snap.Data = rest
	}
	return snap, nil
}

// readSnapshot loads and checks one snapshot file, including that its content names the entry its
// file name does (a file renamed by hand, or copied from another node, must not pass). A damaged
// file gives a non-nil damage; failing to read it at all gives err.
func readSnapshot(dir string, s snapFile) (snap raft.Snapshot, damage, err error) {
	b, err := os.ReadFile(filepath.Join(dir, s.name()))
	if err != nil {
		return raft.Snapshot{}, nil, fmt.Errorf("open wal: read snapshot: %w", err)
	}
	snap, damage = decodeSnapshot(b)
	if damage == nil && (snap.Meta.Index != s.index || snap.Meta.Term != s.term) {
		damage = fmt.Errorf("holds the snapshot of index %d term %d, not the one its name says",
			snap.Meta.Index, snap.Meta.Term)
	}
	return snap, damage, nil
}

// loadSnapshot reads the newest snapshot in dir that passes its checks. Newer files that fail are
// returned in broken (with why, in problems) so that Open can warn, and refuse if the older
// snapshot and the log cannot make up for them.
func loadSnapshot(dir string, snaps []snapFile) (snap *raft.Snapshot, broken []snapFile, problems []error, err error) {
	for _, s := range snaps {
		got, damage, err := readSnapshot(dir, s)
		if err != nil {
			return nil, nil, nil, err
		}
		if damage == nil {
			return &got, broken, problems, nil
		}
		broken = append(broken, s)
		problems = append(problems, fmt.Errorf("snapshot file %s %w", s.name(), damage))
	}
	return nil, broken, problems, nil
}

// setAsideBroken renames damaged snapshot files out of the way once Open has recovered without
// them, so retention never counts them and nobody mistakes them for good ones.
func setAsideBroken(dir string, broken []snapFile) error {
	var errs []error
	for _, s := range broken {
		path := filepath.Join(dir, s.name())
		if err := os.Rename(path, path+brokenSuffix); err != nil {
			errs = append(errs, fmt.Errorf("set aside damaged snapshot: %w", err))
		}
	}
	if len(errs) == 0 && len(broken) > 0 {
		errs = append(errs, fsyncDir(dir))
	}
	return errors.Join(errs...)
}

// writeSnapshot makes snap durable in its own file (temporary file, fsync, rename, fsync folder).
func writeSnapshot(dir string, snap raft.Snapshot) error {
	s := snapFile{term: snap.Meta.Term, index: snap.Meta.Index}
	if err := writeFileAtomic(dir, s.name(), encodeSnapshot(snap), true); err != nil {
		return fmt.Errorf("wal: save snapshot: %w", err)
	}
	return nil
}

// pruneSnapshots removes all but the keepSnapshots newest snapshot files and returns the kept
// ones, newest first.
func pruneSnapshots(dir string) ([]snapFile, error) {
	snaps, err := listSnapshots(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: prune snapshots: %w", err)
	}
	if len(snaps) <= keepSnapshots {
		return snaps, nil
	}
	for _, s := range snaps[keepSnapshots:] {
		if err := os.Remove(filepath.Join(dir, s.name())); err != nil {
			return nil, fmt.Errorf("wal: prune snapshots: %w", err)
		}
	}
	return snaps[:keepSnapshots], nil
}
