// The promise file: what this node has promised the cluster (the highest log index it made
// durable, so may have acknowledged, with its term and vote), kept apart from the log so that
// damage to the log cannot erase it too.
//
// Raft counts a server's acknowledgement and its vote on the belief that its disk keeps what it
// fsynced (paper Figure 2). Alagappan et al., "Protocol-Aware Recovery for Consensus-Based
// Storage" (FAST 2018), §3-4, show what follows when it does not: a log cut short looks just like a
// shorter log, so the node votes and answers as if it had never acknowledged the lost entries, and
// committed entries vanish. Comparing the log found at start-up with this mark tells the two apart:
// a log that ends before the mark lost acknowledged entries, and Open reports it in
// raft.Restored.Lost instead of starting as if nothing happened.
//
// The file holds two copies, each in its own 512-byte sector and each checksummed, written in turn
// with a sequence number and one fsync per write: a write torn by a crash damages only the copy
// being written, and the other still holds the previous promise, which covers everything
// acknowledged before that write began. Overwriting in place costs one fsync per synced Save;
// replacing the file by rename, as the hard state is, would cost two.

package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// promiseFile is the name of the promise file inside the WAL folder.
const promiseFile = "promise"

const (
	// promiseSlot is the distance between the two copies: one disk sector, so a torn write of one
	// cannot reach the other.
	promiseSlot = 512
	// promiseSize is crc (u32) + seq, term, vote, mark, flags (u64 each).
	promiseSize = 4 + 5*8
	// flagMarkUnknown says the mark was lost: the node must recover without knowing how far.
	flagMarkUnknown = 1
)

// promise is one copy of the promise file.
type promise struct {
	seq  uint64 // which copy is newer
	term uint64 // currentTerm when written
	vote uint64 // votedFor when written
	// mark is the last index the log held durably when written: every acknowledgement this node
	// sent covers at most that much. While the node recovers it never goes down.
	mark    uint64
	unknown bool // flagMarkUnknown
}

func encodePromise(p promise) []byte {
	b := make([]byte, 4, promiseSize)
	var flags uint64
	if p.unknown {
		flags = flagMarkUnknown
	}
	for _, v := range []uint64{p.seq, p.term, p.vote, p.mark, flags} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	binary.LittleEndian.PutUint32(b, crc32.Checksum(b[4:], castagnoli))
	return b
}

func decodePromise(b []byte) (promise, bool) {
	if len(b) < promiseSize || crc32.Checksum(b[4:promiseSize], castagnoli) != binary.LittleEndian.Uint32(b) {
		return promise{}, false
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[4+8*i:]) }
	flags := u(4)
	if flags&^flagMarkUnknown != 0 || u(0) == 0 {
		return promise{}, false
	}
	return promise{seq: u(0), term: u(1), vote: u(2), mark: u(3), unknown: flags&flagMarkUnknown != 0}, true
}

// promiseState says what Open found in the promise file.
type promiseState uint8

const (
	promiseMissing promiseState = iota // no file: a new folder, or one that lost it
	promiseOK
	promiseDamaged // the file is there but neither copy passes its checksum
)

// readPromise loads the newer valid copy of dir's promise file.
func readPromise(dir string) (promise, promiseState, error) {
	b, err := os.ReadFile(filepath.Join(dir, promiseFile))
	if errors.Is(err, fs.ErrNotExist) {
		return promise{}, promiseMissing, nil
	}
	if err != nil {
		return promise{}, promiseMissing, fmt.Errorf("open wal: read promise file: %w", err)
	}
	var best promise
	found := false
	for off := 0; off < len(b); off += promiseSlot {
		if p, ok := decodePromise(b[off:]); ok && (!found || p.seq > best.seq) {
			best, found = p, true
		}
	}
	if !found {
		return promise{}, promiseDamaged, nil
	}
	return best, promiseOK, nil
}

// openPromiseFile opens (creating if needed) the promise file for overwriting in place.
func openPromiseFile(dir string) (*os.File, error) {
	path := filepath.Join(dir, promiseFile)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open promise file: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := fsyncDir(dir); err != nil {
			return nil, errors.Join(err, f.Close())
		}
	}
	return f, nil
}

// writePromise makes p durable in the copy its sequence number picks, leaving the other intact.
func (w *WAL) writePromise(p promise) error {
	p.seq = w.prom.seq + 1
	if _, err := w.pf.WriteAt(encodePromise(p), int64(p.seq%2)*promiseSlot); err != nil {
		return fmt.Errorf("wal: write promise file: %w", err)
	}
	if err := w.pf.Sync(); err != nil {
		return fmt.Errorf("wal: sync promise file: %w", err)
	}
	w.prom = p
	return nil
}

// promiseNow is the promise the WAL's durable state makes: its log end, term and vote. While the
// node recovers, the mark it had before the loss is kept, and so is an unknown one.
func (w *WAL) promiseNow() promise {
	p := promise{term: w.hs.Term, vote: w.hs.Vote, mark: w.lastIndex}
	if w.recovering {
		p.mark = max(p.mark, w.prom.mark)
		p.unknown = w.prom.unknown
	}
	return p
}

// keepPromise writes the promise file when what it must say has changed.
func (w *WAL) keepPromise() error {
	p := w.promiseNow()
	p.seq = w.prom.seq
	if p == w.prom {
		return nil
	}
	return w.writePromise(p)
}

// MarkLost records that this folder does not hold what the node promised, and that how far it
// had promised is unknown: the shell calls it for a node that finds its folder empty while the
// cluster already exists (a wiped folder looks exactly like a new one). Open reports the loss
// again on every start until EndRecovery.
func (w *WAL) MarkLost() error {
	if w.err != nil {
		return w.err
	}
	w.recovering = true
	p := w.promiseNow()
	p.unknown = true
	if err := w.writePromise(p); err != nil {
		return w.fail(err)
	}
	return nil
}

// EndRecovery records that the node holds again what it had promised (the core left recovery):
// from now on the mark follows the log, and a restart no longer reports a loss.
func (w *WAL) EndRecovery() error {
	if w.err != nil {
		return w.err
	}
	if !w.recovering {
		return nil
	}
	w.recovering = false
	p := w.promiseNow()
	if err := w.writePromise(p); err != nil {
		return w.fail(err)
	}
	return nil
}

// Recovering reports whether the folder is known to have lost promised state and the node has not
// yet told EndRecovery that it caught up.
func (w *WAL) Recovering() bool { return w.recovering }
