// The node's small files beside its write-ahead log: which node the folder belongs to, and the
// address book of peers that gossip taught it.
//
// Raft keeps the configuration (which ids vote) in its log (thesis §4.1), but not where those ids
// listen: that comes from gossip. A restarted node needs somewhere to start gossiping from before
// anyone has told it anything, so it keeps the last addresses it learned (like the peers.json of
// hashicorp/raft's recovery notes) and tries them as seeds, besides --join.
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

const (
	nodeIDFile      = "node-id"
	addressBookFile = "peers.json"
	lockFile        = "LOCK"
)

// lockDataDir takes an exclusive lock on the data folder for this process, so that a second node
// started on the same folder by mistake is refused instead of interleaving writes to one log. The
// lock goes away with the process, however it ends; release it earlier by closing the file.
func lockDataDir(dir string, id uint64) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("node %d: open %s: %w", id, path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("node %d: data folder %s is in use by another process (%w); stop it, or give this node its own --data", id, dir, err)
	}
	return f, nil
}

// checkNodeID makes sure the data folder belongs to node id, claiming a new folder for it.
func checkNodeID(dir string, id uint64) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("node %d: create data folder: %w", id, err)
	}
	path := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return writeFileAtomic(path, []byte(strconv.FormatUint(id, 10)+"\n"))
	}
	if err != nil {
		return fmt.Errorf("node %d: read %s: %w", id, path, err)
	}
	got, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("node %d: %s holds %q, not a node id; was the folder written by something else?", id, path, b)
	}
	if got != id {
		return fmt.Errorf("data folder %s belongs to node %d, not %d: start it with --id %d, or give node %d its own folder", dir, got, id, got, id)
	}
	return nil
}

// addressBook is the persisted map from peer id to address. Only the loop writes it.
type addressBook struct {
	path  string
	addrs map[uint64]string
}

func openAddressBook(dir string) (*addressBook, error) {
	b := &addressBook{path: filepath.Join(dir, addressBookFile), addrs: map[uint64]string{}}
	data, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read address book: %w", err)
	}
	var file map[string]string
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("address book %s is damaged (%v); delete it and start the node with --join ADDR of a live member", b.path, err)
	}
	for k, v := range file {
		if id := parseID(k); id != 0 && v != "" {
			b.addrs[id] = v
		}
	}
	return b, nil
}

// entries returns a copy of the book.
func (b *addressBook) entries() map[uint64]string {
	out := make(map[uint64]string, len(b.addrs))
	for id, a := range b.addrs {
		out[id] = a
	}
	return out
}

// ids returns the ids in the book, sorted.
func (b *addressBook) ids() []uint64 {
	ids := make([]uint64, 0, len(b.addrs))
	for id := range b.addrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// set records an address and rewrites the file.
func (b *addressBook) set(id uint64, addr string) error {
	if b.addrs[id] == addr {
		return nil
	}
	b.addrs[id] = addr
	file := make(map[string]string, len(b.addrs))
	for k, v := range b.addrs {
		file[strconv.FormatUint(k, 10)] = v
	}
	data, err := json.MarshalIndent(file, "", "  ") // encoding/json sorts map keys
	if err != nil {
		return err
	}
	return writeFileAtomic(b.path, append(data, '\n'))
}

// writeFileAtomic replaces path with data through a temporary file and a rename, so a crash
// leaves either the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}
