// Benchmarks of group commit: Save with sync=true of batches of small entries, the cost a node
// pays per Ready (Ongaro's thesis §10.2 on batching). Run with
// go test -run '^$' -bench . ./server/wal/

package wal

import (
	"fmt"
	"testing"

	"github.com/kanna-cluster/kanna/raft"
)

func BenchmarkSaveSynced(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		for _, withHardState := range []bool{false, true} {
			name := fmt.Sprintf("batch=%d", batch)
			if withHardState {
				name += "/hardstate=changed"
			}
			b.Run(name, func(b *testing.B) { benchmarkSave(b, batch, withHardState) })
		}
	}
}

// benchmarkSave saves b.N batches of 64-byte entries, each synced; withHardState also advances the
// commit index every call, as a leader's Ready usually does, which rewrites the hard state file.
func benchmarkSave(b *testing.B, batch int, withHardState bool) {
	w, _, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	data := make([]byte, 64)
	entries := make([]raft.Entry, batch)
	next := uint64(1)
	b.ReportAllocs()
	b.SetBytes(int64(batch * len(data)))
	b.ResetTimer()
	for b.Loop() {
		for i := range entries {
			entries[i] = raft.Entry{Index: next, Term: 1, Data: data}
			next++
		}
		var hs raft.HardState
		if withHardState {
			hs = raft.HardState{Term: 1, Vote: 1, Commit: next - 1}
		}
		if err := w.Save(hs, entries, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(next-1)/b.Elapsed().Seconds(), "entries/s")
}
