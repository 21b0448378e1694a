// Record framing of the write-ahead log: how one log entry or snapshot marker becomes bytes in a
// segment, and how those bytes are checked on the way back.
//
// Every record carries a CRC-32C so that a torn write or a flipped bit is noticed rather than fed
// to Raft as a log entry (Raft paper, Figure 2: the log is "persistent state on all servers", and
// a server that restarts with a silently damaged log breaks the Log Matching property of §5.3).
// The byte layout is documented in docs/wal.md.

package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/kanna-cluster/kanna/raft"
)

// castagnoli is the CRC-32C table; modern CPUs compute it in hardware, and it detects more error
// patterns in short records than the IEEE polynomial.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordHeaderSize is length (u32) + crc (u32) + type (u8).
const recordHeaderSize = 9

// recordType says how a record's payload is laid out.
type recordType uint8

const (
	// recEntry holds one raft.Entry: index u64, term u64, entry type u8, data.
	recEntry recordType = 1
	// recSnapshot marks the point in the log where a snapshot was saved: index u64, term u64.
	// Replay applies the paper's §7 rule there: keep the entries after the snapshot only if the
	// log holds the snapshot's last entry with the same term, else discard the whole log.
	recSnapshot recordType = 2
	// recCommit records a commit index that advanced while term and vote stayed the same: commit u64.
	// The commit index may be lost without harm (the leader resends it), so it rides in the log,
	// under the batch's one fsync, instead of costing a rewrite of the hard state file each time.
	recCommit recordType = 3
)

const (
	entryFixedSize  = 17 // index + term + type
	markerSize      = 16 // index + term
	commitSize      = 8  // commit
	maxEntryPayload = math.MaxUint32
)

// Reasons a record fails to decode. Each is wrapped into an error naming the file and offset.
var (
	errShortRecord   = errors.New("is cut short (the file ends inside it)")
	errChecksum      = errors.New("fails its checksum")
	errUnknownType   = errors.New("has an unknown record type")
	errShortPayload  = errors.New("has a payload too short for its type")
	errZeroIndexTerm = errors.New("names index or term 0")
	errWrongSize     = errors.New("has a payload of the wrong size for its type")
)

// record is one decoded record; payload aliases the buffer it was decoded from.
type record struct {
	typ     recordType
	payload []byte
}

// appendEntryRecord appends the framed record for e to buf.
func appendEntryRecord(buf []byte, e raft.Entry) []byte {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0, byte(recEntry))
	buf = binary.LittleEndian.AppendUint64(buf, e.Index)
	buf = binary.LittleEndian.AppendUint64(buf, e.Term)
	buf = append(buf, byte(e.Type))
	buf = append(buf, e.Data...)
	return sealRecord(buf, start)
}

// appendSnapshotRecord appends the framed marker for a snapshot ending at (index, term).
func appendSnapshotRecord(buf []byte, index, term uint64) []byte {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0, byte(recSnapshot))
	buf = binary.LittleEndian.AppendUint64(buf, index)
	buf = binary.LittleEndian.AppendUint64(buf, term)
	return sealRecord(buf, start)
}

// appendCommitRecord appends the framed record of a commit index.
func appendCommitRecord(buf []byte, commit uint64) []byte {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0, byte(recCommit))
	buf = binary.LittleEndian.AppendUint64(buf, commit)
	return sealRecord(buf, start)
}

// sealRecord fills in the length and checksum of the record that starts at buf[start]. The
// checksum covers the type byte as well as the payload, so a flipped type is caught too.
func sealRecord(buf []byte, start int) []byte {
	payloadLen := len(buf) - start - recordHeaderSize
	binary.LittleEndian.PutUint32(buf[start:], uint32(payloadLen))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+8:], castagnoli))
	return buf
}

// decodeRecord decodes the record at the front of b and returns it with its size in bytes. The
// cheap checks (type, length) run before the checksum, because recovery calls this at every byte
// offset of a damaged tail to ask "does a valid record start here?".
func decodeRecord(b []byte) (record, int, error) {
	if len(b) < recordHeaderSize {
		return record{}, 0, errShortRecord
	}
	typ := recordType(b[8])
	if typ != recEntry && typ != recSnapshot && typ != recCommit {
		return record{}, 0, fmt.Errorf("%w %d", errUnknownType, typ)
	}
	length := uint64(binary.LittleEndian.Uint32(b))
	if length > uint64(len(b)-recordHeaderSize) {
		return record{}, 0, errShortRecord
	}
	n := recordHeaderSize + int(length)
	if crc32.Checksum(b[8:n], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return record{}, 0, errChecksum
	}
	rec := record{typ: typ, payload: b[recordHeaderSize:n]}
	if err := rec.validate(); err != nil {
		return record{}, 0, err
	}
	return rec, n, nil
}

// validate checks what the checksum cannot: that a record written by this code has the shape its
// type promises. A record failing here was written by a different program or a different version.
func (r record) validate() error {
	switch r.typ {
	case recEntry:
		if len(r.payload) < entryFixedSize {
			return errShortPayload
		}
	case recSnapshot:
		if len(r.payload) != markerSize {
			return errWrongSize
		}
	case recCommit:
		if len(r.payload) != commitSize {
			return errWrongSize
		}
		return nil
	}
	if r.index() == 0 || r.term() == 0 {
		return errZeroIndexTerm
	}
	return nil
}

// entry returns the raft.Entry held by a recEntry record. Data aliases the record's buffer; an
// empty Data decodes as nil.
func (r record) entry() raft.Entry {
	e := raft.Entry{
		Index: binary.LittleEndian.Uint64(r.payload),
		Term:  binary.LittleEndian.Uint64(r.payload[8:]),
		Type:  raft.EntryType(r.payload[16]),
	}
	if len(r.payload) > entryFixedSize {
		e.Data = r.payload[entryFixedSize:]
	}
	return e
}

// index returns the log index a record names: the entry's, the snapshot's last one, or the
// commit index.
func (r record) index() uint64 { return binary.LittleEndian.Uint64(r.payload) }

// term returns the term an entry or snapshot record names.
func (r record) term() uint64 { return binary.LittleEndian.Uint64(r.payload[8:]) }
