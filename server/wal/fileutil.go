// File helpers for the write-ahead log: atomic replacement of a small file, and making a folder's
// changes (new, renamed, removed names) durable.
//
// A rename is atomic but not durable until the folder itself is fsynced, and the data renamed into
// place is not durable until the file is fsynced before the rename; skipping either can leave an
// empty or missing file after a power cut (Pillai et al., "All File Systems Are Not Created Equal:
// On the Complexity of Crafting Crash-Consistent Applications", OSDI 2014, found this very update
// protocol done wrong in many widely used programs).

package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// tmpSuffix marks a file being written; one left over from a crash is removed at Open.
const tmpSuffix = ".tmp"

// writeFileAtomic replaces dir/name with data: write a temporary file, fsync it, rename it over
// the old one, then fsync the folder when syncDir. A crash at any point leaves either the old
// file or the new one, never a mix.
func writeFileAtomic(dir, name string, data []byte, syncDir bool) error {
	final := filepath.Join(dir, name)
	tmp := final + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return errors.Join(fmt.Errorf("write %s: %w", tmp, werr), os.Remove(tmp))
	}
	if err := os.Rename(tmp, final); err != nil {
		return errors.Join(fmt.Errorf("rename %s to %s: %w", tmp, name, err), os.Remove(tmp))
	}
	if syncDir {
		return fsyncDir(dir)
	}
	return nil
}

// fsyncDir makes the folder's entries (creations, renames, removals) durable.
func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s to sync it: %w", dir, err)
	}
	serr := d.Sync()
	if cerr := d.Close(); serr == nil {
		serr = cerr
	}
	if serr != nil {
		return fmt.Errorf("sync folder %s: %w", dir, serr)
	}
	return nil
}
