// Tests of the disk model: what survives a crash (Raft paper Figure 2, persistent state), suffix
// overwrites (§5.3), snapshots and compaction (§7), and the hash chain behind log matching.

package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

func ents(term uint64, from, to uint64) []raft.Entry {
	var out []raft.Entry
	for i := from; i <= to; i++ {
		out = append(out, raft.Entry{Index: i, Term: term, Data: []byte{byte(i), byte(term)}})
	}
	return out
}

func TestUnsyncedWritesAreLostInACrash(t *testing.T) {
	var d disk
	d.write(write{hardState: raft.HardState{Term: 1, Vote: 2}, entries: ents(1, 1, 3)})
	d.sync()
	d.write(write{hardState: raft.HardState{Term: 2, Vote: 3}, entries: ents(2, 4, 5)})
	require.True(t, d.hasPending())
	d.crash()
	r := d.restored(true)
	require.Equal(t, raft.HardState{Term: 1, Vote: 2}, r.HardState, "the vote of term 2 was never synced")
	require.Len(t, r.Entries, 3)
	require.Equal(t, uint64(3), d.lastIndex())
}

func TestAppendOverwritesAConflictingSuffix(t *testing.T) {
	var d disk
	d.write(write{entries: ents(1, 1, 5)})
	d.sync()
	d.write(write{entries: ents(2, 3, 4)})
	d.sync()
	require.Equal(t, uint64(4), d.lastIndex(), "entries after the overwritten ones are deleted (paper §5.3)")
	term, ok := d.termAt(3)
	require.True(t, ok)
	require.Equal(t, uint64(2), term)
}

func TestEqualPrefixesHaveEqualChainHashes(t *testing.T) {
	var a, b disk
	a.write(write{entries: ents(1, 1, 4)})
	a.sync()
	b.write(write{entries: ents(1, 1, 2)})
	b.sync()
	b.write(write{entries: ents(1, 3, 4)})
	b.sync()
	ha, _ := a.chainAt(4)
	hb, _ := b.chainAt(4)
	require.Equal(t, ha, hb)

	b.write(write{entries: []raft.Entry{{Index: 2, Term: 1, Data: []byte("other")}}})
	b.sync()
	b.write(write{entries: ents(1, 3, 4)})
	b.sync()
	hb, _ = b.chainAt(4)
	require.NotEqual(t, ha, hb, "a different entry 2 changes the chain of every later index")
}

func TestSnapshotKeepsTheLogSuffixOnlyWhenItsLastEntryMatches(t *testing.T) {
	var d disk
	d.write(write{entries: ents(1, 1, 6)})
	d.sync()
	d.write(write{snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 4, Term: 1}}})
	d.sync()
	require.Equal(t, uint64(5), d.firstIndex())
	require.Equal(t, uint64(6), d.lastIndex(), "entries after a matching snapshot survive (paper §7)")

	d.write(write{snapshot: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 5, Term: 3}}})
	d.sync()
	require.Equal(t, uint64(6), d.firstIndex())
	require.Equal(t, uint64(5), d.lastIndex(), "a conflicting snapshot discards the whole log")
	r := d.restored(true)
	require.Equal(t, uint64(5), r.Applied)
	require.Empty(t, r.Entries)
}

func TestCompactionDropsTheLogPrefixItCovers(t *testing.T) {
	var d disk
	d.write(write{entries: ents(1, 1, 6)})
	d.sync()
	before, _ := d.chainAt(6)
	d.write(write{compacted: &raft.Snapshot{Meta: raft.SnapshotMeta{Index: 3, Term: 1}}})
	d.sync()
	require.Equal(t, uint64(4), d.firstIndex())
	after, _ := d.chainAt(6)
	require.Equal(t, before, after, "compaction keeps the chain of the entries it keeps")
}

func TestANodeThatNeverSyncedRestartsEmpty(t *testing.T) {
	var d disk
	require.True(t, d.empty())
	d.write(write{hardState: raft.HardState{Term: 1}})
	d.crash()
	require.True(t, d.empty())
}
