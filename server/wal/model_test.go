// A seeded model test of the write-ahead log: random histories that a Raft follower or leader can
// produce (appends, a new leader overwriting an uncommitted suffix per §5.3, commit advances, local
// snapshots and installed snapshots that discard a conflicting log per §7), with restarts and
// crashes that tear the tail of the last segment. After every restart, what Open restores must be
// exactly what a plain in-memory model of the Raft log says.

package wal

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

// logModel is the state a Raft server should get back after a restart.
type logModel struct {
	hs      raft.HardState
	snap    *raft.Snapshot
	entries []raft.Entry // after the snapshot
}

func (m *logModel) snapIndex() uint64 {
	if m.snap == nil {
		return 0
	}
	return m.snap.Meta.Index
}

func (m *logModel) lastIndex() uint64 {
	if len(m.entries) > 0 {
		return m.entries[len(m.entries)-1].Index
	}
	return m.snapIndex()
}

// termAt returns the term of entry i, which must be in the model's log.
func (m *logModel) termAt(i uint64) uint64 { return m.entries[i-m.snapIndex()-1].Term }

// cut keeps the entries before index i.
func (m *logModel) cut(i uint64) { m.entries = m.entries[:i-m.snapIndex()-1] }

func TestRandomRaftHistoriesSurviveRestartsAndTornTails(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runModel(t, seed, 150) })
	}
}

// runModel plays steps random operations and checks every restart against the model; a failure
// names the seed and the step that replays it.
func runModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	dir := t.TempDir()
	opts := Options{SegmentSize: 512}
	w, restored := openWAL(t, dir, opts)
	require.Nil(t, restored)
	m := &logModel{hs: raft.HardState{Term: 1}}
	require.NoError(t, w.Save(m.hs, nil, true))

	for step := range steps {
		why := fmt.Sprintf("seed %d step %d", seed, step)
		switch op := rng.IntN(21); {
		case op < 8: // the leader appends a batch
			batch := makeEntries(m.lastIndex()+1, m.lastIndex()+1+uint64(rng.IntN(5)), m.hs.Term)
			require.NoError(t, w.Save(raft.HardState{}, batch, true), why)
			m.entries = append(m.entries, batch...)
		case op < 10: // a new leader overwrites the uncommitted suffix (§5.3)
			from := max(m.hs.Commit, m.snapIndex()) + 1
			at := from + uint64(rng.IntN(int(m.lastIndex()-from+2)))
			m.hs.Term++
			m.hs.Vote = uint64(1 + rng.IntN(5))
			batch := makeEntries(at, at+uint64(rng.IntN(3)), m.hs.Term)
			require.NoError(t, w.Save(m.hs, batch, true), why)
			m.cut(at)
			m.entries = append(m.entries, batch...)
		case op < 14: // the commit index advances
			if m.hs.Commit < m.lastIndex() {
				m.hs.Commit += 1 + uint64(rng.IntN(int(m.lastIndex()-m.hs.Commit)))
				require.NoError(t, w.Save(m.hs, nil, true), why)
			}
		case op < 16: // the state machine is snapshotted locally; the log after it stays (§7)
			if m.hs.Commit > m.snapIndex() {
				at := m.snapIndex() + 1 + uint64(rng.IntN(int(m.hs.Commit-m.snapIndex())))
				snap := raft.Snapshot{Meta: raft.SnapshotMeta{Index: at, Term: m.termAt(at),
					ConfState: raft.ConfState{Voters: []uint64{1, 2, 3}}}, Data: fmt.Appendf(nil, "state@%d", at)}
				require.NoError(t, w.SaveSnapshot(snap), why)
				m.entries = m.entries[at-m.snapIndex():]
				m.snap = &snap
			}
		case op < 17: // a leader of a newer term installs a snapshot this log conflicts with (§7)
			at := m.hs.Commit + 1 + uint64(rng.IntN(int(m.lastIndex()-m.hs.Commit+3)))
			m.hs = raft.HardState{Term: m.hs.Term + 1, Commit: at}
			snap := raft.Snapshot{Meta: raft.SnapshotMeta{Index: at, Term: m.hs.Term}, Data: fmt.Appendf(nil, "leader@%d", at)}
			require.NoError(t, w.SaveSnapshot(snap), why)
			require.NoError(t, w.Save(m.hs, nil, true), why)
			m.snap, m.entries = &snap, nil
		case op < 19: // a clean restart
			w, restored = reopen(t, w, opts)
			requireModel(t, m, restored, why)
		case op < 20: // a crash after a snapshot file is durable but before its marker is written
			local := m.hs.Commit > m.snapIndex() && rng.IntN(2) == 0
			at := m.hs.Commit + 1 + uint64(rng.IntN(int(m.lastIndex()-m.hs.Commit+3)))
			term := m.hs.Term + 1
			if local {
				at = m.snapIndex() + 1 + uint64(rng.IntN(int(m.hs.Commit-m.snapIndex())))
				term = m.termAt(at)
			}
			snap := raft.Snapshot{Meta: raft.SnapshotMeta{Index: at, Term: term}, Data: fmt.Appendf(nil, "crash@%d", at)}
			require.NoError(t, writeSnapshot(dir, snap), why)
			require.NoError(t, w.f.Close())
			if local {
				m.entries = m.entries[at-m.snapIndex():]
			} else {
				m.entries = nil
			}
			m.snap = &snap
			m.hs.Commit = max(m.hs.Commit, at)
			w, restored = openWAL(t, dir, opts)
			requireModel(t, m, restored, why)
			// The node learns the leader's term again before it appends anything.
			m.hs.Term = max(m.hs.Term, term)
			require.NoError(t, w.Save(m.hs, nil, true), why)
		default: // a crash in the middle of a write nobody was told about: a torn tail
			require.NoError(t, w.f.Close())
			tearLastSegment(t, dir, rng)
			w, restored = openWAL(t, dir, opts)
			requireModel(t, m, restored, why)
		}
	}
	w, restored = reopen(t, w, opts)
	requireModel(t, m, restored, fmt.Sprintf("seed %d at the end", seed))
	require.NoError(t, w.Close())
}

// requireModel checks what Open restored against the model.
func requireModel(t *testing.T, m *logModel, restored *raft.Restored, why string) {
	t.Helper()
	require.NotNil(t, restored, why)
	require.Equal(t, m.hs.Term, restored.HardState.Term, why)
	require.Equal(t, m.hs.Vote, restored.HardState.Vote, why)
	require.Equal(t, max(m.hs.Commit, m.snapIndex()), restored.HardState.Commit, why)
	require.Equal(t, m.snap, restored.Snapshot, why)
	require.Equal(t, m.snapIndex(), restored.Applied, why)
	if len(m.entries) == 0 {
		require.Empty(t, restored.Entries, why)
	} else {
		require.Equal(t, m.entries, restored.Entries, why)
	}
}

// tearLastSegment appends the start of a record that a crash cut short: a real record's first
// bytes, or random bytes.
func tearLastSegment(t *testing.T, dir string, rng *rand.Rand) {
	t.Helper()
	seqs, err := listSegments(dir)
	require.NoError(t, err)
	path := filepath.Join(dir, segmentName(seqs[len(seqs)-1]))
	var tail []byte
	if rng.IntN(2) == 0 {
		rec := appendEntryRecord(nil, raft.Entry{Index: 1 << 40, Term: 1 << 40, Data: []byte("never acknowledged")})
		tail = rec[:1+rng.IntN(len(rec)-1)]
	} else {
		tail = make([]byte, 1+rng.IntN(64))
		for i := range tail {
			tail[i] = byte(rng.UintN(256))
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(tail)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
