// Fuzz tests of the record decoder and of segment scanning: whatever bytes a damaged disk hands
// back, decoding never panics, never reads past the buffer, and accepts only what the encoder
// could have written.

package wal

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

// fuzzSeeds are valid records and near misses to start the fuzzer from.
func fuzzSeeds() [][]byte {
	entry := appendEntryRecord(nil, raft.Entry{Index: 7, Term: 3, Type: raft.EntryConfChange, Data: []byte("add 4")})
	marker := appendSnapshotRecord(nil, 40, 2)
	commit := appendCommitRecord(nil, 39)
	short := entry[:len(entry)-1]
	flipped := bytes.Clone(entry)
	flipped[12] ^= 1
	return [][]byte{entry, marker, commit, append(bytes.Clone(entry), marker...), short, flipped, {}, make([]byte, 9)}
}

func FuzzDecodeRecordAcceptsOnlyWhatTheEncoderWrites(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, n, err := decodeRecord(b)
		if err != nil {
			require.Zero(t, n)
			return
		}
		require.GreaterOrEqual(t, n, recordHeaderSize)
		require.LessOrEqual(t, n, len(b))
		require.True(t, plausibleHeader(b), "the recovery scan's pre-check must never skip a valid record")
		var again []byte
		switch rec.typ {
		case recEntry:
			again = appendEntryRecord(nil, rec.entry())
		case recSnapshot:
			again = appendSnapshotRecord(nil, rec.index(), rec.term())
		case recCommit:
			again = appendCommitRecord(nil, rec.index())
		default:
			t.Fatalf("decoded a record of unknown type %d", rec.typ)
		}
		require.Equal(t, b[:n], again, "a decoded record re-encodes to the same bytes")
	})
}

func FuzzScanLastSegmentKeepsAValidPrefix(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, end, err := scanSegment("00000001.wal", b, true)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		require.LessOrEqual(t, end, len(b))
		off := 0
		for _, r := range recs {
			require.Equal(t, off, r.offset)
			_, n, err := decodeRecord(b[off:])
			require.NoError(t, err)
			off += n
		}
		require.Equal(t, end, off, "the kept prefix is exactly the records returned")
	})
}

func FuzzDecodeSnapshotNeverOverrunsAndRoundTrips(f *testing.F) {
	snap := raft.Snapshot{
		Meta: raft.SnapshotMeta{Index: 9, Term: 2, ConfState: raft.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}},
		Data: []byte("rooms"),
	}
	good := encodeSnapshot(snap)
	f.Add(good)
	f.Add(good[:20])
	f.Add(encodeSnapshot(raft.Snapshot{Meta: raft.SnapshotMeta{Index: 1, Term: 1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		require.Equal(t, b, encodeSnapshot(got), "a decoded snapshot re-encodes to the same bytes")
	})
}
