// Tests of the write-ahead log's normal life: what is saved comes back after Close and Open, with
// the Raft paper's log rules applied (§5.3 overwrite of a conflicting suffix, §7 snapshots and
// compaction), across segments.

package wal

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

// makeEntries returns entries lo..hi of one term, each carrying data that names it.
func makeEntries(lo, hi, term uint64) []raft.Entry {
	var out []raft.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, raft.Entry{Index: i, Term: term, Data: fmt.Appendf(nil, "cmd-%d-%d", term, i)})
	}
	return out
}

// openWAL opens dir and fails the test on error.
func openWAL(t *testing.T, dir string, opts Options) (*WAL, *raft.Restored) {
	t.Helper()
	w, restored, err := Open(dir, opts)
	require.NoError(t, err)
	return w, restored
}

// reopen closes w and opens its folder again.
func reopen(t *testing.T, w *WAL, opts Options) (*WAL, *raft.Restored) {
	t.Helper()
	require.NoError(t, w.Close())
	return openWAL(t, w.dir, opts)
}

// segmentFiles lists the segment file names in dir, oldest first.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	seqs, err := listSegments(dir)
	require.NoError(t, err)
	names := make([]string, len(seqs))
	for i, s := range seqs {
		names[i] = segmentName(s)
	}
	return names
}

// capturedLogger returns a logger writing into a buffer the test can read.
func capturedLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func TestOpenOnNewFolderCreatesItAndRestoresNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node1", "wal")
	w, restored := openWAL(t, dir, Options{})
	require.Nil(t, restored)
	require.DirExists(t, dir)
	require.Equal(t, []string{"00000001.wal"}, segmentFiles(t, dir))

	w, restored = reopen(t, w, Options{})
	require.Nil(t, restored, "an empty segment is still nothing to restore")
	require.NoError(t, w.Close())
}

func TestHardStateEntriesAndSnapshotSurviveCloseAndOpen(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	hs := raft.HardState{Term: 3, Vote: 2, Commit: 5}
	entries := []raft.Entry{
		{Index: 1, Term: 1, Type: raft.EntryNoop},
		{Index: 2, Term: 1, Type: raft.EntryConfChange, Data: []byte{1, 2, 3}},
		{Index: 3, Term: 2, Data: []byte("guess e")},
		{Index: 4, Term: 3, Data: bytes.Repeat([]byte{0xAB}, 10_000)},
		{Index: 5, Term: 3, Data: []byte("guess k")},
		{Index: 6, Term: 3, Data: []byte("guess a")},
	}
	require.NoError(t, w.Save(hs, entries, true))

	w, restored := reopen(t, w, Options{})
	require.Equal(t, &raft.Restored{HardState: hs, Entries: entries}, restored)

	snap := raft.Snapshot{
		Meta: raft.SnapshotMeta{Index: 4, Term: 3, ConfState: raft.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{7}}},
		Data: []byte("rooms at 4"),
	}
	require.NoError(t, w.SaveSnapshot(snap))
	w, restored = reopen(t, w, Options{})
	require.Equal(t, &raft.Restored{HardState: hs, Snapshot: &snap, Entries: entries[4:], Applied: 4}, restored)
	require.NoError(t, w.Close())
}

func TestEmptyHardStateLeavesTheSavedOneInPlace(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	hs := raft.HardState{Term: 7, Vote: 1, Commit: 0}
	require.NoError(t, w.Save(hs, nil, true))
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(1, 3, 7), true))

	w, restored := reopen(t, w, Options{})
	require.Equal(t, hs, restored.HardState)
	require.Len(t, restored.Entries, 3)
	require.NoError(t, w.Close())
}

func TestEntriesSavedWithoutSyncAreDurableAfterClose(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(1, 4, 1), false))
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(5, 6, 1), false))

	w, restored := reopen(t, w, Options{})
	require.Equal(t, makeEntries(1, 6, 1), restored.Entries)
	require.NoError(t, w.Close())
}

func TestEntryAtOrBelowLastIndexOverwritesTheConflictingSuffix(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(1, 10, 1), true))
	// A new leader of term 2 replaces 6..10 with a shorter suffix of its own (§5.3).
	require.NoError(t, w.Save(raft.HardState{Term: 2}, makeEntries(6, 8, 2), true))

	w, restored := reopen(t, w, Options{})
	want := append(makeEntries(1, 5, 1), makeEntries(6, 8, 2)...)
	require.Equal(t, want, restored.Entries)

	// An overwrite after a restart is replayed just the same, and appends go on after it.
	require.NoError(t, w.Save(raft.HardState{Term: 3}, makeEntries(3, 4, 3), true))
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(5, 5, 3), true))
	w, restored = reopen(t, w, Options{})
	want = append(makeEntries(1, 2, 1), makeEntries(3, 5, 3)...)
	require.Equal(t, want, restored.Entries)
	require.NoError(t, w.Close())
}

func TestSegmentsRollAtTheSizeLimitAndReplayAcrossThem(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 300}
	w, _ := openWAL(t, dir, opts)
	for lo := uint64(1); lo <= 100; lo += 10 {
		require.NoError(t, w.Save(raft.HardState{Term: 1, Commit: min(lo-1, 15)}, makeEntries(lo, lo+9, 1), true))
	}
	segs := segmentFiles(t, dir)
	require.Greater(t, len(segs), 5, "300-byte segments must roll many times for 100 entries")
	for _, name := range segs[:len(segs)-1] {
		info, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.LessOrEqual(t, info.Size(), int64(300), "segment %s exceeds the limit", name)
		require.Positive(t, info.Size())
	}

	w, restored := reopen(t, w, opts)
	require.Equal(t, makeEntries(1, 100, 1), restored.Entries)

	// An overwrite reaching back into an older segment (past the commit index, 15) is honoured.
	require.NoError(t, w.Save(raft.HardState{Term: 2, Commit: 15}, makeEntries(20, 25, 2), true))
	w, restored = reopen(t, w, opts)
	require.Equal(t, append(makeEntries(1, 19, 1), makeEntries(20, 25, 2)...), restored.Entries)
	require.Equal(t, raft.HardState{Term: 2, Commit: 15}, restored.HardState)
	require.NoError(t, w.Close())
}

func TestRecordLargerThanASegmentGetsASegmentOfItsOwn(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 100}
	w, _ := openWAL(t, dir, opts)
	big := raft.Entry{Index: 2, Term: 1, Data: bytes.Repeat([]byte("x"), 500)}
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(1, 1, 1), true))
	require.NoError(t, w.Save(raft.HardState{}, []raft.Entry{big}, true))
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(3, 3, 1), true))
	require.Equal(t, []string{"00000001.wal", "00000002.wal", "00000003.wal"}, segmentFiles(t, dir))

	w, restored := reopen(t, w, opts)
	require.Equal(t, []raft.Entry{makeEntries(1, 1, 1)[0], big, makeEntries(3, 3, 1)[0]}, restored.Entries)
	require.NoError(t, w.Close())
}

func TestSnapshotCompactsSegmentsBehindTheOlderKeptSnapshot(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 300}
	w, _ := openWAL(t, dir, opts)
	for lo := uint64(1); lo <= 100; lo += 5 {
		require.NoError(t, w.Save(raft.HardState{Term: 1, Commit: lo + 4}, makeEntries(lo, lo+4, 1), true))
	}
	all := segmentFiles(t, dir)

	snapAt := func(index uint64) raft.Snapshot {
		return raft.Snapshot{Meta: raft.SnapshotMeta{Index: index, Term: 1, ConfState: raft.ConfState{Voters: []uint64{1}}},
			Data: fmt.Appendf(nil, "state at %d", index)}
	}
	// The first snapshot has no older one to fall back on, so the log behind it stays whole.
	require.NoError(t, w.SaveSnapshot(snapAt(40)))
	require.Equal(t, all, segmentFiles(t, dir))

	require.NoError(t, w.SaveSnapshot(snapAt(80)))
	left := segmentFiles(t, dir)
	require.Less(t, len(left), len(all), "segments behind snapshot 40 must go")
	require.Equal(t, all[len(all)-len(left):], left, "only the oldest segments are deleted")
	for _, s := range w.segments[:len(w.segments)-1] {
		require.Greater(t, s.maxIndex, uint64(40), "segment %d was wholly behind snapshot 40", s.seq)
	}

	require.NoError(t, w.SaveSnapshot(snapAt(90)))
	snaps, err := listSnapshots(dir)
	require.NoError(t, err)
	require.Equal(t, []snapFile{{term: 1, index: 90}, {term: 1, index: 80}}, snaps)

	w, restored := reopen(t, w, opts)
	want := snapAt(90)
	require.Equal(t, &want, restored.Snapshot)
	require.Equal(t, uint64(90), restored.Applied)
	require.Equal(t, makeEntries(91, 100, 1), restored.Entries)
	require.Equal(t, raft.HardState{Term: 1, Commit: 100}, restored.HardState)

	// Writing goes on after compaction and a restart.
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(101, 110, 1), true))
	w, restored = reopen(t, w, opts)
	require.Equal(t, makeEntries(91, 110, 1), restored.Entries)
	require.NoError(t, w.Close())
}

func TestSnapshotMatchingTheLogKeepsTheEntriesAfterIt(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1, Commit: 10}, makeEntries(1, 20, 1), true))
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Meta: raft.SnapshotMeta{Index: 10, Term: 1}}))

	w, restored := reopen(t, w, Options{})
	require.Equal(t, makeEntries(11, 20, 1), restored.Entries)
	require.Equal(t, uint64(10), restored.Applied)
	require.NoError(t, w.Close())
}

func TestInstalledSnapshotDiscardsAConflictingLog(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(1, 20, 1), true))
	// The leader of term 2 sends a snapshot whose last entry (15, term 2) this log does not hold:
	// §7 says discard the entire log, then the leader's entries follow the snapshot.
	snap := raft.Snapshot{Meta: raft.SnapshotMeta{Index: 15, Term: 2}, Data: []byte("s")}
	require.NoError(t, w.SaveSnapshot(snap))
	require.NoError(t, w.Save(raft.HardState{Term: 2, Commit: 16}, makeEntries(16, 17, 2), true))

	w, restored := reopen(t, w, Options{})
	require.Equal(t, makeEntries(16, 17, 2), restored.Entries, "entries 18..20 of term 1 are stale")
	require.Equal(t, &snap, restored.Snapshot)
	require.NoError(t, w.Close())
}

func TestSnapshotSavedWithoutItsMarkerStillDiscardsAConflictingLog(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(1, 20, 1), true))
	require.NoError(t, w.Close())
	// A crash after the snapshot file was written but before its marker reached the log.
	require.NoError(t, writeSnapshot(dir, raft.Snapshot{Meta: raft.SnapshotMeta{Index: 25, Term: 2}}))

	w, restored := openWAL(t, dir, Options{})
	require.Empty(t, restored.Entries)
	require.Equal(t, uint64(25), restored.Applied)
	require.Equal(t, uint64(25), restored.HardState.Commit, "a snapshot's index is committed")

	// Entries saved after that restart survive the next one: the stale log stays behind.
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(26, 27, 2), true))
	w, restored = reopen(t, w, Options{})
	require.Equal(t, makeEntries(26, 27, 2), restored.Entries)
	require.NoError(t, w.Close())
}

func TestEntriesAfterAnUnmarkedConflictingSnapshotSurviveRestarts(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(1, 20, 1), true))
	require.NoError(t, w.Close())
	// The crash falls between the snapshot file and its marker; the log conflicts at index 15.
	require.NoError(t, writeSnapshot(dir, raft.Snapshot{Meta: raft.SnapshotMeta{Index: 15, Term: 2}}))

	w, restored := openWAL(t, dir, Options{})
	require.Empty(t, restored.Entries)
	require.NoError(t, w.Save(raft.HardState{Term: 2}, makeEntries(16, 17, 2), true))
	w, restored = reopen(t, w, Options{})
	require.Equal(t, makeEntries(16, 17, 2), restored.Entries)
	require.NoError(t, w.Close())
}

func TestSaveRefusesBatchesThatBreakTheLog(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 2}, makeEntries(1, 5, 2), true))
	require.NoError(t, w.SaveSnapshot(raft.Snapshot{Meta: raft.SnapshotMeta{Index: 3, Term: 2}}))

	cases := map[string][]raft.Entry{
		"hole after the last entry":  makeEntries(7, 8, 2),
		"index zero":                 {{Index: 0, Term: 2}},
		"term zero":                  {{Index: 6, Term: 0}},
		"not contiguous":             {{Index: 6, Term: 2}, {Index: 8, Term: 2}},
		"decreasing terms":           {{Index: 6, Term: 3}, {Index: 7, Term: 2}},
		"inside the saved snapshot":  makeEntries(3, 4, 3),
		"overwrite of snapshot head": makeEntries(1, 1, 3),
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		require.Error(t, w.Save(raft.HardState{}, cases[name], true), name)
	}
	require.Error(t, w.SaveSnapshot(raft.Snapshot{Meta: raft.SnapshotMeta{Index: 2, Term: 2}}), "older snapshot")
	require.Error(t, w.SaveSnapshot(raft.Snapshot{}), "empty snapshot")

	// Refused batches wrote nothing, and the WAL still works.
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(6, 6, 2), true))
	w, restored := reopen(t, w, Options{})
	require.Equal(t, makeEntries(4, 6, 2), restored.Entries)
	require.NoError(t, w.Close())
}

func TestClosedWALRefusesEveryCall(t *testing.T) {
	w, _ := openWAL(t, t.TempDir(), Options{})
	require.NoError(t, w.Close())
	require.ErrorIs(t, w.Save(raft.HardState{Term: 1}, nil, true), errClosed)
	require.ErrorIs(t, w.SaveSnapshot(raft.Snapshot{Meta: raft.SnapshotMeta{Index: 1, Term: 1}}), errClosed)
	require.ErrorIs(t, w.Close(), errClosed)
}

func TestFailedWriteStopsTheWALUntilReopened(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(1, 2, 1), true))
	require.NoError(t, w.f.Close()) // the disk goes away under the WAL

	err := w.Save(raft.HardState{}, makeEntries(3, 3, 1), true)
	require.ErrorContains(t, err, "open the folder again")
	require.ErrorIs(t, w.Save(raft.HardState{}, makeEntries(3, 3, 1), true), err, "the failure sticks")

	w, restored := openWAL(t, dir, Options{})
	require.Equal(t, makeEntries(1, 2, 1), restored.Entries)
	require.NoError(t, w.Close())
}

func TestLeftoverTemporaryFilesAreRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 4, Vote: 1}, nil, true))
	require.NoError(t, w.Close())
	// A crash while replacing the hard state leaves a half-written temporary file.
	tmp := filepath.Join(dir, hardStateFile+tmpSuffix)
	require.NoError(t, os.WriteFile(tmp, []byte{1, 2}, 0o600))

	w, restored := openWAL(t, dir, Options{})
	require.Equal(t, raft.HardState{Term: 4, Vote: 1}, restored.HardState)
	require.NoFileExists(t, tmp)
	require.NoError(t, w.Close())
}

func TestUnrelatedFilesInTheFolderAreIgnored(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(1, 3, 1), true))
	require.NoError(t, w.Close())
	for _, name := range []string{"notes.txt", "1.wal", "00000000.wal", "0000000x.wal", "snap-1-2.snap", "snap-zz.snap"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("not mine"), 0o600))
	}

	w, restored := openWAL(t, dir, Options{})
	require.Equal(t, makeEntries(1, 3, 1), restored.Entries)
	require.Nil(t, restored.Snapshot)
	require.NoError(t, w.Close())
}

// savedHardStateFile reads the hard state file itself, bypassing the log.
func savedHardStateFile(t *testing.T, dir string) raft.HardState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, hardStateFile))
	require.NoError(t, err)
	hs, err := decodeHardState(b)
	require.NoError(t, err)
	return hs
}

func TestTermOrVoteReplaceTheHardStateFileWhileCommitAloneRidesInTheLog(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1, Vote: 1}, makeEntries(1, 5, 1), true))
	require.Equal(t, raft.HardState{Term: 1, Vote: 1}, savedHardStateFile(t, dir))

	require.NoError(t, w.Save(raft.HardState{Term: 1, Vote: 1, Commit: 4}, nil, true))
	require.Equal(t, raft.HardState{Term: 1, Vote: 1}, savedHardStateFile(t, dir), "a commit advance costs no file rewrite")
	w, restored := reopen(t, w, Options{})
	require.Equal(t, raft.HardState{Term: 1, Vote: 1, Commit: 4}, restored.HardState)

	require.NoError(t, w.Save(raft.HardState{Term: 2, Vote: 3, Commit: 5}, nil, true))
	require.Equal(t, raft.HardState{Term: 2, Vote: 3, Commit: 5}, savedHardStateFile(t, dir))
	w, restored = reopen(t, w, Options{})
	require.Equal(t, raft.HardState{Term: 2, Vote: 3, Commit: 5}, restored.HardState)
	require.NoError(t, w.Close())
}

func TestLosingACommitRecordInATornTailOnlyLowersTheCommitIndex(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1, Vote: 1, Commit: 2}, makeEntries(1, 3, 1), true))
	require.NoError(t, w.Save(raft.HardState{Term: 1, Vote: 1, Commit: 3}, nil, true))
	require.NoError(t, w.Close())
	seg := filepath.Join(dir, "00000001.wal")
	info, err := os.Stat(seg)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(seg, info.Size()-1)) // the commit record for 3 is torn

	w, restored := openWAL(t, dir, Options{})
	require.Equal(t, makeEntries(1, 3, 1), restored.Entries)
	require.Equal(t, raft.HardState{Term: 1, Vote: 1, Commit: 2}, restored.HardState)
	require.NoError(t, w.Close())
}
