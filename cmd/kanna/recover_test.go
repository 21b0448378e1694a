package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
	"github.com/kanna-cluster/kanna/server/wal"
)

func TestRecoverMovesTheLogAsideAndTheNextOpenReportsTheLoss(t *testing.T) {
	data := t.TempDir()
	w, _, err := wal.Open(filepath.Join(data, "wal"), wal.Options{})
	require.NoError(t, err)
	ents := []raft.Entry{{Index: 1, Term: 2}, {Index: 2, Term: 2}}
	require.NoError(t, w.Save(raft.HardState{Term: 2, Vote: 1}, ents, true))
	require.NoError(t, w.Close())

	var out bytes.Buffer
	stdout = &out
	t.Cleanup(func() { stdout = os.Stdout })
	now := time.Date(2026, 12, 6, 3, 4, 5, 0, time.UTC)
	require.Equal(t, 0, recoverMain([]string{"--data", data}, now))
	require.Contains(t, out.String(), "damaged-20261206T030405Z")
	require.Contains(t, out.String(), "00000001.wal")
	require.FileExists(t, filepath.Join(data, "wal", "damaged-20261206T030405Z", "00000001.wal"))

	w, restored, err := wal.Open(filepath.Join(data, "wal"), wal.Options{})
	require.NoError(t, err)
	require.Equal(t, &raft.Lost{Index: 2, Term: 2}, restored.Lost)
	require.Equal(t, uint64(1), restored.HardState.Vote)
	require.NoError(t, w.Close())
}

func TestRecoverWithoutDataSaysWhatIsMissing(t *testing.T) {
	var errOut bytes.Buffer
	stderr = &errOut
	t.Cleanup(func() { stderr = os.Stderr })
	require.Equal(t, 2, recoverMain(nil, time.Now()))
	require.Contains(t, errOut.String(), "--data is required")
	_, err := os.Stat("wal")
	require.True(t, os.IsNotExist(err), "nothing is created without --data")
}

func TestRecoverRefusesAFolderThatIsNotThere(t *testing.T) {
	var errOut bytes.Buffer
	stderr = &errOut
	t.Cleanup(func() { stderr = os.Stderr })
	missing := filepath.Join(t.TempDir(), "node3-typo")
	require.Equal(t, 2, recoverMain([]string{"--data", missing}, time.Now()))
	require.Contains(t, errOut.String(), "is not a folder")
	_, err := os.Stat(missing)
	require.True(t, os.IsNotExist(err), "nothing is created for a path that is not there")
}
