// Tests of the promise file (promise.go) and Quarantine: each kind of damage of issue 12's table
// is reported as a loss (raft.Restored.Lost) or refused, never taken for a clean end.

package wal

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

// tenAcknowledged is a folder whose log durably holds entries 1-10 of term 2, vote 3, saved in
// two batches so that both copies of the promise file are written.
func tenAcknowledged(t *testing.T, opts Options) string {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, opts)
	require.NoError(t, w.Save(raft.HardState{Term: 2, Vote: 3}, makeEntries(1, 5, 2), true))
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(6, 10, 2), true))
	require.NoError(t, w.Close())
	return dir
}

func TestLogCutBackOnARecordBoundaryIsALoss(t *testing.T) {
	dir := t.TempDir()
	w, _ := openWAL(t, dir, Options{})
	require.NoError(t, w.Save(raft.HardState{Term: 2, Vote: 3}, makeEntries(1, 5, 2), true))
	seg := filepath.Join(dir, segmentName(1))
	info, err := os.Stat(seg)
	require.NoError(t, err)
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(6, 8, 2), true))
	require.NoError(t, w.Close())
	require.NoError(t, os.Truncate(seg, info.Size())) // finding B: back to the pre-W length

	logger, out := capturedLogger()
	w, restored := openWAL(t, dir, Options{Logger: logger})
	require.Len(t, restored.Entries, 5)
	require.Equal(t, &raft.Lost{Index: 8, Term: 2}, restored.Lost)
	require.Contains(t, out.String(), "acknowledged=8")
	require.Contains(t, out.String(), "log_ends_at=5")
	require.True(t, w.Recovering())

	// Until EndRecovery the mark stays, even as the log grows back below it.
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(6, 7, 2), true))
	w, restored = reopen(t, w, Options{})
	require.Equal(t, &raft.Lost{Index: 8, Term: 2}, restored.Lost)
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(8, 9, 3), true))
	require.NoError(t, w.EndRecovery())
	w, restored = reopen(t, w, Options{})
	require.Nil(t, restored.Lost)
	require.NoError(t, w.Close())
}

func TestDamageTableOfIssue12(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		check  func(t *testing.T, r *raft.Restored)
	}{{
		name:   "hard state deleted beside term-2 entries",
		damage: func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, hardStateFile))) },
		check: func(t *testing.T, r *raft.Restored) {
			require.Equal(t, uint64(2), r.HardState.Term)
			require.Equal(t, uint64(3), r.HardState.Vote, "the vote is not forgotten")
			require.Nil(t, r.Lost)
		},
	}, {
		name:   "only segment deleted",
		damage: func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, segmentName(1)))) },
		check: func(t *testing.T, r *raft.Restored) {
			require.Empty(t, r.Entries)
			require.Equal(t, &raft.Lost{Index: 10, Term: 2}, r.Lost)
		},
	}, {
		name: "segment cut to half",
		damage: func(t *testing.T, dir string) {
			seg := filepath.Join(dir, segmentName(1))
			info, err := os.Stat(seg)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(seg, info.Size()/2))
		},
		check: func(t *testing.T, r *raft.Restored) {
			require.Less(t, len(r.Entries), 10)
			require.Equal(t, &raft.Lost{Index: 10, Term: 2}, r.Lost)
		},
	}, {
		name: "byte flipped inside the last record",
		damage: func(t *testing.T, dir string) {
			seg := filepath.Join(dir, segmentName(1))
			info, err := os.Stat(seg)
			require.NoError(t, err)
			flipByte(t, seg, int(info.Size())-3)
		},
		check: func(t *testing.T, r *raft.Restored) {
			require.Len(t, r.Entries, 9)
			require.Equal(t, &raft.Lost{Index: 10, Term: 2}, r.Lost)
		},
	}, {
		name:   "promise file deleted beside the log",
		damage: func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, promiseFile))) },
		check: func(t *testing.T, r *raft.Restored) {
			require.Equal(t, &raft.Lost{Term: 2}, r.Lost, "how far it acknowledged is unknown")
		},
	}, {
		name: "one copy of the promise torn",
		damage: func(t *testing.T, dir string) {
			p, _, err := readPromise(dir)
			require.NoError(t, err)
			flipByte(t, filepath.Join(dir, promiseFile), int(p.seq%2)*promiseSlot+9)
		},
		check: func(t *testing.T, r *raft.Restored) {
			require.Nil(t, r.Lost, "the older copy still covers every acknowledgement")
			require.Equal(t, uint64(3), r.HardState.Vote)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tenAcknowledged(t, Options{})
			tc.damage(t, dir)
			w, restored, err := Open(dir, Options{})
			require.NoError(t, err)
			require.NotNil(t, restored)
			tc.check(t, restored)
			// Reported again on every start until the node caught up.
			w, again := reopen(t, w, Options{})
			require.Equal(t, restored.Lost, again.Lost)
			require.NoError(t, w.Close())
		})
	}
}

func TestQuarantineTurnsARefusalIntoARecovery(t *testing.T) {
	dir := tenAcknowledged(t, Options{})
	seg := filepath.Join(dir, segmentName(1))
	flipByte(t, seg, 40) // inside the second record: corruption in the middle
	_, _, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "kanna recover --data")

	dest, moved, err := Quarantine(dir, time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "damaged-20261206T030000Z"), dest)
	require.ElementsMatch(t, []string{segmentName(1), hardStateFile}, moved)
	require.FileExists(t, filepath.Join(dest, segmentName(1)), "the evidence is kept")

	w, restored := openWAL(t, dir, Options{})
	require.Empty(t, restored.Entries)
	require.Equal(t, raft.HardState{Term: 2, Vote: 3}, restored.HardState)
	require.Equal(t, &raft.Lost{Index: 10, Term: 2}, restored.Lost)
	require.NoError(t, w.Close())
}

func TestQuarantineOfAWipedFolderMarksTheLossUnknown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	_, moved, err := Quarantine(dir, time.Now())
	require.NoError(t, err)
	require.Empty(t, moved)
	w, restored := openWAL(t, dir, Options{})
	require.Equal(t, &raft.Lost{}, restored.Lost)
	require.NoError(t, w.Close())
}

func TestMarkLostOnANewFolderIsReportedUntilEndRecovery(t *testing.T) {
	dir := t.TempDir()
	w, restored := openWAL(t, dir, Options{})
	require.Nil(t, restored)
	require.NoError(t, w.MarkLost())
	require.NoError(t, w.Save(raft.HardState{Term: 4, Vote: 1, Commit: 3}, makeEntries(1, 3, 4), true))
	w, restored = reopen(t, w, Options{})
	require.Equal(t, &raft.Lost{Term: 4}, restored.Lost)
	require.NoError(t, w.EndRecovery())
	w, restored = reopen(t, w, Options{})
	require.Nil(t, restored.Lost)
	require.NoError(t, w.Close())
}

func TestPromiseFileOnlyChangesWhenThePromiseDoes(t *testing.T) {
	dir := tenAcknowledged(t, Options{})
	w, _ := openWAL(t, dir, Options{})
	seq := w.prom.seq
	require.NoError(t, w.Save(raft.HardState{Term: 2, Vote: 3, Commit: 10}, nil, false))
	require.Equal(t, seq, w.prom.seq, "a commit index alone promises nothing new")
	require.NoError(t, w.Save(raft.HardState{}, makeEntries(11, 11, 2), true))
	require.Equal(t, seq+1, w.prom.seq)
	require.Equal(t, uint64(11), w.prom.mark)
	require.NoError(t, w.Close())
}
