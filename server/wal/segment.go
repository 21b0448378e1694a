// Log segments of the write-ahead log: numbered files of records, how they are found, scanned at
// start-up, and told apart when damaged: a torn tail (a crash mid-write) or corruption.
//
// Raft assumes a server's log survives a crash intact up to what it acknowledged (paper Figure 2,
// §5.3). A crash can only tear what was written after the last fsync, which is always at the very
// end of the newest segment: older segments are fsynced before a new one is started. So damage at
// the end of the last segment is cut away, and damage anywhere else is corruption that recovery
// must not paper over, the distinction drawn by Alagappan et al., "Protocol-Aware Recovery for
// Consensus-Based Storage" (FAST 2018): truncating a corrupt log can lose committed entries.

package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const segmentSuffix = ".wal"

// remedy is what an operator should do when Open refuses to start on damaged data.
const remedy = "Stop the node, run `kanna recover --data <its data folder>` (it moves the damaged files aside and keeps the promise file), and start it again: it rejoins without voting until the leader has sent it back what it lost (docs/operations.md)"

// segment is one log file, oldest first in WAL.segments.
type segment struct {
	seq uint64
	// maxIndex is the highest log index any record in the segment names, 0 when it holds none.
	// Compaction deletes a segment only when maxIndex is covered by a kept snapshot.
	maxIndex uint64
}

// segmentName returns the file name of segment seq, e.g. 00000003.wal.
func segmentName(seq uint64) string { return fmt.Sprintf("%08d%s", seq, segmentSuffix) }

// parseSegmentName reads a segment file name; ok is false for any other name.
func parseSegmentName(name string) (seq uint64, ok bool) {
	digits, found := strings.CutSuffix(name, segmentSuffix)
	if !found || len(digits) < 8 || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil && seq > 0
}

// listSegments returns the sequence numbers of the segments in dir, oldest first. Compaction
// deletes the oldest segments first, so a gap in the numbers means a file went missing.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open wal: list segments in %s: %w", dir, err)
	}
	var seqs []uint64
	for _, de := range entries {
		if seq, ok := parseSegmentName(de.Name()); ok && de.Type().IsRegular() {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return nil, fmt.Errorf("open wal: segment %s is missing (found %s and then %s in %s); "+
				"refusing to start: committed entries may be lost. %s (%w)",
				segmentName(seqs[i-1]+1), segmentName(seqs[i-1]), segmentName(seqs[i]), dir, remedy, ErrCorrupt)
		}
	}
	return seqs, nil
}

// scannedRecord is a record found in a segment, with where it was found for error messages.
type scannedRecord struct {
	record
	number int // 1-based position in its segment
	offset int
}

// scanSegment decodes every record of a segment held in memory, each payload copied out; the
// fuzz tests use it. Replay reads segments through scanRecords instead.
func scanSegment(name string, data []byte, last bool) (recs []scannedRecord, end int, err error) {
	r := bytes.NewReader(data)
	n, err := scanRecords(name, r, r, int64(len(data)), last, func(rec scannedRecord) error {
		rec.payload = bytes.Clone(rec.payload)
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return recs, int(n), nil
}

// scanRecords reads the records of one segment of size bytes from r, one at a time, and hands each
// to visit; a record's payload is valid only during the call, so replay holds one record in memory
// at a time, not the segment. In the last segment, a damaged record that nothing valid follows is
// a torn tail: scanning stops there and end is where the file must be cut. Any other damage is
// corruption, reported with the record's number and offset. at reads what follows damage, to look
// for a valid record there.
func scanRecords(name string, r io.Reader, at io.ReaderAt, size int64, last bool, visit func(scannedRecord) error) (end int64, err error) {
	var buf []byte
	var off int64
	for number := 1; off < size; number++ {
		rec, n, derr := readRecord(r, &buf, size-off)
		if derr == nil {
			if err := visit(scannedRecord{record: rec, number: number, offset: int(off)}); err != nil {
				return 0, err
			}
			off += int64(n)
			continue
		}
		if errors.Is(derr, errRead) {
			return 0, fmt.Errorf("open wal: read segment %s: %w", name, derr)
		}
		why := derr.Error()
		if !last {
			why += " in a segment that was complete and synced before a newer one was started"
		} else {
			rest := make([]byte, size-off)
			if _, err := at.ReadAt(rest, off); err != nil && !errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("open wal: read segment %s after damage at offset %d: %w", name, off, err)
			}
			next, found := validRecordAfter(rest, 0)
			if !found {
				return off, nil
			}
			why += fmt.Sprintf(", yet a valid record follows at offset %d, so this is not a torn write", off+int64(next))
		}
		return 0, fmt.Errorf("open wal: record %d of segment %s (offset %d) %s; refusing to start: "+
			"committed entries may be lost. %s (%w)", number, name, off, why, remedy, ErrCorrupt)
	}
	return off, nil
}

// errRead marks a failure to read, as opposed to damage found in what was read.
var errRead = errors.New("read failed")

// readRecord reads the next record from r, with left bytes left in the segment, into *buf. A
// header that cannot be right (an unknown type, a length its type does not allow or that runs past
// the end of the segment) is damage found before reading the payload, so damage never makes it
// read more than the segment holds.
func readRecord(r io.Reader, buf *[]byte, left int64) (record, int, error) {
	if left < recordHeaderSize {
		return record{}, 0, errShortRecord
	}
	b := slices.Grow((*buf)[:0], recordHeaderSize)[:recordHeaderSize]
	if _, err := io.ReadFull(r, b); err != nil {
		return record{}, 0, fmt.Errorf("%w: %w", errRead, err)
	}
	length := int64(binary.LittleEndian.Uint32(b))
	if length > left-recordHeaderSize {
		if !plausibleType(b) {
			_, _, err := decodeRecord(b)
			return record{}, 0, err
		}
		return record{}, 0, errShortRecord
	}
	b = slices.Grow(b, int(length))[:recordHeaderSize+int(length)]
	if _, err := io.ReadFull(r, b[recordHeaderSize:]); err != nil {
		return record{}, 0, fmt.Errorf("%w: %w", errRead, err)
	}
	*buf = b
	return decodeRecord(b)
}

// plausibleType reports whether a record header names a known type.
func plausibleType(b []byte) bool {
	t := recordType(b[8])
	return t == recEntry || t == recSnapshot || t == recCommit
}

// validRecordAfter reports whether a valid record starts anywhere after the damaged one at off,
// and where. It tries every byte offset, not only where the damaged record's length field points,
// because that length may be the very field that was damaged. Almost every offset is rejected by
// its type and length before any checksum is computed.
func validRecordAfter(data []byte, off int) (int, bool) {
	for p := off + 1; p+recordHeaderSize <= len(data); p++ {
		if !plausibleHeader(data[p:]) {
			continue
		}
		if _, _, err := decodeRecord(data[p:]); err == nil {
			return p, true
		}
	}
	return 0, false
}

// plausibleHeader is decodeRecord's first checks without building an error: a known type, and a
// payload that fits in b with the size its type allows.
func plausibleHeader(b []byte) bool {
	length := uint64(binary.LittleEndian.Uint32(b))
	if length > uint64(len(b)-recordHeaderSize) {
		return false
	}
	switch recordType(b[8]) {
	case recEntry:
		return length >= entryFixedSize
	case recSnapshot:
		return length == markerSize
	case recCommit:
		return length == commitSize
	}
	return false
}

// truncateTornTail cuts the last segment at end and makes the cut durable, so that new records are
// appended after the last good one rather than after the garbage.
func truncateTornTail(path string, end int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open wal: cut torn tail of %s: %w", path, err)
	}
	terr := f.Truncate(int64(end))
	if terr == nil {
		terr = f.Sync()
	}
	if cerr := f.Close(); terr == nil {
		terr = cerr
	}
	if terr != nil {
		return fmt.Errorf("open wal: cut torn tail of %s at offset %d: %w", path, end, terr)
	}
	return nil
}

// openSegment opens segment seq for appending, creating it (and syncing the folder so that the
// new name survives a crash) when create is set.
func openSegment(dir string, seq uint64, create bool) (*os.File, error) {
	path := filepath.Join(dir, segmentName(seq))
	flags := os.O_WRONLY | os.O_APPEND
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open segment %s for appending: %w", path, err)
	}
	if create {
		if err := fsyncDir(dir); err != nil {
			return nil, errors.Join(err, f.Close())
		}
	}
	return f, nil
}
