// Tests of start-up recovery: a torn tail left by a crash is cut away, and damage anywhere else
// (a record in the middle, a missing segment, the hard state, a snapshot) is detected and never
// silently turned into a shorter log (the crash/corruption split of Alagappan et al., FAST 2018).

package wal

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

// recordSize is the framed size of an entry record, computed from the documented layout rather
// than by the encoder under test.
func recordSize(e raft.Entry) int { return 9 + 17 + len(e.Data) }

// writeOneByOne saves each entry in its own synced call and returns the offsets where each
// record ends in the (single) segment.
func writeOneByOne(t *testing.T, dir string, entries []raft.Entry) []int {
	t.Helper()
	w, _ := openWAL(t, dir, Options{})
	var ends []int
	end := 0
	for _, e := range entries {
		require.NoError(t, w.Save(raft.HardState{Term: e.Term}, []raft.Entry{e}, true))
		end += recordSize(e)
		ends = append(ends, end)
	}
	require.NoError(t, w.Close())
	return ends
}

// flipByte inverts one byte of a file, the way a bad sector or a stray write would.
func flipByte(t *testing.T, path string, offset int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[offset] ^= 0xFF
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func TestTornTailIsCutAwayAtEveryCutPoint(t *testing.T) {
	entries := makeEntries(1, 6, 1)
	lastTwo := recordSize(entries[4]) + recordSize(entries[5])
	for cut := 1; cut <= lastTwo; cut++ {
		dir := t.TempDir()
		ends := writeOneByOne(t, dir, entries)
		seg := filepath.Join(dir, "00000001.wal")
		remaining := ends[len(ends)-1] - cut
		require.NoError(t, os.Truncate(seg, int64(remaining)))

		kept := 0
		for kept < len(ends) && ends[kept] <= remaining {
			kept++
		}
		logger, logs := capturedLogger()
		w, restored, err := Open(dir, Options{Logger: logger})
		require.NoError(t, err, "cut %d bytes", cut)
		require.Equal(t, entries[:kept], restored.Entries, "cut %d bytes", cut)
		if remaining != ends[kept-1] {
			require.Contains(t, logs.String(), "torn tail", "cut %d bytes: the repair is reported", cut)
		}
		info, err := os.Stat(seg)
		require.NoError(t, err)
		require.Equal(t, int64(ends[kept-1]), info.Size(), "cut %d bytes: the tail is truncated on disk", cut)

		// New entries follow the last good record and survive another restart.
		next := makeEntries(uint64(kept)+1, uint64(kept)+1, 2)
		require.NoError(t, w.Save(raft.HardState{Term: 2}, next, true))
		w, restored = reopen(t, w, Options{})
		require.Equal(t, append(entries[:kept:kept], next...), restored.Entries, "cut %d bytes", cut)
		require.NoError(t, w.Close())
	}
}

func TestDamagedFinalRecordOfTheLastSegmentIsATornTail(t *testing.T) {
	entries := makeEntries(1, 4, 1)
	for _, at := range []string{"length", "checksum", "type", "payload"} {
		dir := t.TempDir()
		ends := writeOneByOne(t, dir, entries)
		start := ends[2]
		offset := map[string]int{"length": start, "checksum": start + 4, "type": start + 8, "payload": start + 12}[at]
		flipByte(t, filepath.Join(dir, "00000001.wal"), offset)

		w, restored, err := Open(dir, Options{})
		require.NoError(t, err, "damaged %s of the final record", at)
		require.Equal(t, entries[:3], restored.Entries, "damaged %s of the final record", at)
		require.NoError(t, w.Close())
	}
}

func TestGarbageAfterTheLastRecordIsCutAway(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	entries := makeEntries(1, 5, 1)
	tails := map[string][]byte{"zeros": make([]byte, 4096)}
	for _, n := range []int{1, 8, 9, 26, 100, 4096} {
		tail := make([]byte, n)
		for i := range tail {
			tail[i] = byte(rng.UintN(256))
		}
		tails[string(rune('a'+len(tails)))] = tail
	}
	for name, tail := range tails {
		dir := t.TempDir()
		ends := writeOneByOne(t, dir, entries)
		seg := filepath.Join(dir, "00000001.wal")
		f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write(tail)
		require.NoError(t, err)
		require.NoError(t, f.Close())

		w, restored, err := Open(dir, Options{})
		require.NoError(t, err, "tail %s (%d bytes)", name, len(tail))
		require.Equal(t, entries, restored.Entries, "tail %s", name)
		info, err := os.Stat(seg)
		require.NoError(t, err)
		require.Equal(t, int64(ends[len(ends)-1]), info.Size(), "tail %s is removed from disk", name)
		require.NoError(t, w.Close())
	}
}

func TestFlippedByteInAMiddleRecordRefusesToStart(t *testing.T) {
	entries := makeEntries(1, 6, 1)
	for _, at := range []struct {
		field  string
		offset int
	}{{"length", 0}, {"length high byte", 3}, {"checksum", 5}, {"type", 8}, {"index", 9}, {"data", 30}} {
		dir := t.TempDir()
		ends := writeOneByOne(t, dir, entries)
		start := ends[1] // record 3 starts where record 2 ends
		flipByte(t, filepath.Join(dir, "00000001.wal"), start+at.offset)

		_, restored, err := Open(dir, Options{})
		require.ErrorIs(t, err, ErrCorrupt, "flipped %s", at.field)
		require.Nil(t, restored)
		require.ErrorContains(t, err, "record 3 of segment 00000001.wal", "flipped %s", at.field)
		require.ErrorContains(t, err, "kanna recover --data")
	}
}

func TestDamageInAnOlderSegmentRefusesToStart(t *testing.T) {
	opts := Options{SegmentSize: 200}
	build := func(t *testing.T) string {
		dir := t.TempDir()
		w, _ := openWAL(t, dir, opts)
		for i := uint64(1); i <= 30; i++ {
			require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(i, i, 1), true))
		}
		require.NoError(t, w.Close())
		require.Greater(t, len(segmentFiles(t, dir)), 2)
		return dir
	}
	t.Run("flipped byte in its final record", func(t *testing.T) {
		dir := build(t)
		seg := filepath.Join(dir, "00000002.wal")
		info, err := os.Stat(seg)
		require.NoError(t, err)
		flipByte(t, seg, int(info.Size())-1)
		_, _, err = Open(dir, opts)
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "of segment 00000002.wal")
		require.ErrorContains(t, err, "fails its checksum")
	})
	t.Run("cut short", func(t *testing.T) {
		dir := build(t)
		seg := filepath.Join(dir, "00000001.wal")
		info, err := os.Stat(seg)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(seg, info.Size()-3))
		_, _, err = Open(dir, opts)
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "of segment 00000001.wal")
	})
	t.Run("missing", func(t *testing.T) {
		dir := build(t)
		require.NoError(t, os.Remove(filepath.Join(dir, "00000002.wal")))
		_, _, err := Open(dir, opts)
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "segment 00000002.wal is missing")
	})
}

func TestHoleInTheLogRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	var b []byte
	for _, e := range []raft.Entry{{Index: 1, Term: 1}, {Index: 2, Term: 1}, {Index: 4, Term: 1}} {
		b = appendEntryRecord(b, e)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000001.wal"), b, 0o600))

	_, _, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "record 3 of segment 00000001.wal")
	require.ErrorContains(t, err, "holds entry 4, but the log before it ends at entry 2")
}

func TestDamagedHardStateIsReadFromThePromiseFile(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 5, Vote: 3}, makeEntries(1, 2, 5), true))
	require.NoError(t, w.Close())
	flipByte(t, filepath.Join(dir, hardStateFile), 13)

	w, restored := openWAL(t, dir, Options{})
	require.Equal(t, raft.HardState{Term: 5, Vote: 3}, restored.HardState)
	require.Nil(t, restored.Lost, "term and vote survive in the promise file; no entry was lost")
	require.NoError(t, w.Close())
}

func TestDamagedHardStateWithoutAPromiseRefusesToStart(t *testing.T) {
	for name, damage := range map[string]func(path string){
		"flipped byte": func(path string) { flipByte(t, path, 13) },
		"cut short":    func(path string) { require.NoError(t, os.Truncate(path, 10)) },
	} {
		dir := t.TempDir()
		w, _ := openWAL(t, dir, Options{})
		require.NoError(t, w.Save(raft.HardState{Term: 5, Vote: 3}, makeEntries(1, 2, 5), true))
		require.NoError(t, w.Close())
		damage(filepath.Join(dir, hardStateFile))
		require.NoError(t, os.Remove(filepath.Join(dir, promiseFile)))

		_, _, err := Open(dir, Options{})
		require.ErrorIs(t, err, ErrCorrupt, name)
		require.ErrorContains(t, err, filepath.Join(dir, hardStateFile), name)
		require.ErrorContains(t, err, "vote twice", name)
	}
}

func TestCommitBeyondTheLogRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 1}, makeEntries(1, 10, 1), true))
	require.NoError(t, w.Close())
	require.NoError(t, writeHardState(dir, raft.HardState{Term: 1, Commit: 12}, true))

	_, _, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "entry 12 is committed but the log ends at entry 10")
}

// snapshotsAt builds a WAL of entries 1..100 in small segments with snapshots at the given
// indexes, and returns its folder.
func snapshotsAt(t *testing.T, indexes ...uint64) string {
	t.Helper()
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{SegmentSize: 300})
	require.NoError(t, w.Save(raft.HardState{Term: 1, Commit: 100}, makeEntries(1, 100, 1), true))
	for _, i := range indexes {
		require.NoError(t, w.SaveSnapshot(raft.Snapshot{Meta: raft.SnapshotMeta{Index: i, Term: 1},
			Data: bytes.Repeat([]byte{byte(i)}, 64)}))
	}
	require.NoError(t, w.Close())
	return dir
}

func TestDamagedNewestSnapshotFallsBackToTheOlderOneAndTheLog(t *testing.T) {
	damages := map[string]func(t *testing.T, dir string){
		"flipped byte": func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, snapFile{term: 1, index: 90}.name()), 30)
		},
		"cut short": func(t *testing.T, dir string) {
			require.NoError(t, os.Truncate(filepath.Join(dir, snapFile{term: 1, index: 90}.name()), 3))
		},
		"content of another snapshot": func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, snapFile{term: 1, index: 80}.name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapFile{term: 1, index: 90}.name()), b, 0o600))
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := snapshotsAt(t, 40, 80, 90)
			damage(t, dir)

			logger, logs := capturedLogger()
			w, restored := openWAL(t, dir, Options{SegmentSize: 300, Logger: logger})
			require.Equal(t, uint64(80), restored.Snapshot.Meta.Index)
			require.Equal(t, bytes.Repeat([]byte{80}, 64), restored.Snapshot.Data)
			require.Equal(t, makeEntries(81, 100, 1), restored.Entries)
			require.Contains(t, logs.String(), snapFile{term: 1, index: 90}.name())
			require.FileExists(t, filepath.Join(dir, snapFile{term: 1, index: 90}.name()+brokenSuffix))

			snaps, err := listSnapshots(dir)
			require.NoError(t, err)
			require.Equal(t, []snapFile{{term: 1, index: 80}}, snaps, "40 was pruned when 90 was saved")

			// The node goes on from there, and restarts again without the damaged file.
			require.NoError(t, w.Save(raft.HardState{}, makeEntries(101, 102, 1), true))
			w, restored = reopen(t, w, Options{SegmentSize: 300})
			require.Equal(t, uint64(80), restored.Snapshot.Meta.Index)
			require.Equal(t, makeEntries(81, 102, 1), restored.Entries)
			require.NoError(t, w.Close())
		})
	}
}

func TestDamagedSnapshotsWithoutALogBehindThemRefuseToStart(t *testing.T) {
	dir := snapshotsAt(t, 40, 80, 90)
	flipByte(t, filepath.Join(dir, snapFile{term: 1, index: 90}.name()), 30)
	flipByte(t, filepath.Join(dir, snapFile{term: 1, index: 80}.name()), 30)

	_, _, err := Open(dir, Options{SegmentSize: 300})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, snapFile{term: 1, index: 90}.name())
	require.ErrorContains(t, err, snapFile{term: 1, index: 80}.name())
	require.ErrorContains(t, err, "are missing")
	require.FileExists(t, filepath.Join(dir, snapFile{term: 1, index: 90}.name()),
		"nothing is renamed when Open refuses")
}

func TestFolderHoldingOnlyASnapshotRestoresIt(t *testing.T) {
	// The last-resort recovery of docs/wal.md: a folder with nothing but a trusted snapshot.
	dir := t.TempDir()
	snap := raft.Snapshot{Meta: raft.SnapshotMeta{Index: 42, Term: 3, ConfState: raft.ConfState{Voters: []uint64{1, 2, 3}}}}
	require.NoError(t, writeSnapshot(dir, snap))

	w, restored := openWAL(t, dir, Options{})
	require.Equal(t, &raft.Restored{HardState: raft.HardState{Commit: 42}, Snapshot: &snap, Applied: 42}, restored)
	require.NoError(t, w.Save(raft.HardState{Term: 4}, makeEntries(43, 44, 4), true))
	w, restored = reopen(t, w, Options{})
	require.Equal(t, makeEntries(43, 44, 4), restored.Entries)
	require.NoError(t, w.Close())
}

func TestDamagedOnlySnapshotFallsBackToTheWholeLog(t *testing.T) {
	// With one snapshot saved, no segment was compacted, so the log from entry 1 stands in for it.
	dir := snapshotsAt(t, 60)
	flipByte(t, filepath.Join(dir, snapFile{term: 1, index: 60}.name()), 30)

	w, restored := openWAL(t, dir, Options{SegmentSize: 300})
	require.Nil(t, restored.Snapshot)
	require.Zero(t, restored.Applied)
	require.Equal(t, makeEntries(1, 100, 1), restored.Entries)
	require.NoError(t, w.Close())
}
