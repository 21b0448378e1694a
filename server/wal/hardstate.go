// The hard state file: currentTerm, votedFor and the commit index, kept apart from the log in one
// small file that is replaced atomically whenever the term or the vote changes. A commit index
// that advances on its own is written to the log as a commit record (see Save); Open takes the
// highest commit index of the two.
//
// Raft paper, Figure 2: currentTerm and votedFor are "persistent state on all servers (updated on
// stable storage before responding to RPCs)". Losing votedFor lets a server vote twice in one term
// and elect two leaders (§5.2), so a damaged file is never guessed around: Open refuses to start.

package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kanna-cluster/kanna/raft"
)

// hardStateFile is the name of the hard state file inside the WAL folder.
const hardStateFile = "hardstate"

// hardStateSize is crc (u32) + term, vote, commit (u64 each).
const hardStateSize = 4 + 3*8

// encodeHardState lays out hs as the whole content of the hard state file.
func encodeHardState(hs raft.HardState) []byte {
	b := make([]byte, 4, hardStateSize)
	b = binary.LittleEndian.AppendUint64(b, hs.Term)
	b = binary.LittleEndian.AppendUint64(b, hs.Vote)
	b = binary.LittleEndian.AppendUint64(b, hs.Commit)
	binary.LittleEndian.PutUint32(b, crc32.Checksum(b[4:], castagnoli))
	return b
}

// decodeHardState checks and decodes the content of the hard state file.
func decodeHardState(b []byte) (raft.HardState, error) {
	if len(b) != hardStateSize {
		return raft.HardState{}, fmt.Errorf("is %d bytes long, want %d", len(b), hardStateSize)
	}
	if crc32.Checksum(b[4:], castagnoli) != binary.LittleEndian.Uint32(b) {
		return raft.HardState{}, errChecksum
	}
	return raft.HardState{
		Term:   binary.LittleEndian.Uint64(b[4:]),
		Vote:   binary.LittleEndian.Uint64(b[12:]),
		Commit: binary.LittleEndian.Uint64(b[20:]),
	}, nil
}

// readHardState loads the hard state file of dir; a missing file is the empty HardState with
// present false. A file that fails its checks gives damage, which Open forgives only when the
// promise file still holds the term and vote.
func readHardState(dir string) (hs raft.HardState, present bool, damage, err error) {
	path := filepath.Join(dir, hardStateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return raft.HardState{}, false, nil, nil
	}
	if err != nil {
		return raft.HardState{}, false, nil, fmt.Errorf("open wal: read hard state: %w", err)
	}
	hs, derr := decodeHardState(b)
	if derr != nil {
		return raft.HardState{}, true, fmt.Errorf("open wal: hard state file %s %v; refusing to start: "+
			"the saved term and vote cannot be trusted, the promise file holds no copy, and guessing "+
			"them could let this node vote twice in one term. %s: %w", path, derr, remedy, ErrCorrupt), nil
	}
	return hs, true, nil, nil
}

// writeHardState replaces the hard state file with hs. The temporary file is always fsynced before
// the rename, so a crash never leaves a damaged file under the real name; the folder is fsynced
// (making the new file durable) only when sync.
func writeHardState(dir string, hs raft.HardState, sync bool) error {
	if err := writeFileAtomic(dir, hardStateFile, encodeHardState(hs), sync); err != nil {
		return fmt.Errorf("wal: save hard state: %w", err)
	}
	return nil
}
