// Quarantine: the operator's way out when Open refuses damaged data. It moves the log, the hard
// state and the snapshots aside, keeps (or remakes) the promise file, and so turns a refusal into
// the recovery Open performs by itself for a log cut short (promise.go): the node restarts with an
// empty log, knows what it had promised, and rejoins without voting until the leader has sent it
// everything back (Alagappan et al., FAST 2018, §4: a faulty node is repaired from the others, not
// from a guess at its own damaged files).

package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Quarantine moves every segment, snapshot and the hard state file of dir into a new folder
// dir/damaged-<UTC time>, which it returns with the names moved, and leaves a promise file that
// makes the next Open report the loss. When the promise file is missing or damaged, it writes one
// whose mark is unknown, with the term and vote of the hard state file if that still reads. A
// missing dir is created: a folder that was wiped whole rejoins the same way.
func Quarantine(dir string, now time.Time) (dest string, moved []string, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", nil, fmt.Errorf("quarantine: create %s: %w", dir, err)
	}
	prom, state, err := readPromise(dir)
	if err != nil {
		return "", nil, fmt.Errorf("quarantine: %w", err)
	}
	hs, _, hsDamage, err := readHardState(dir)
	if err != nil {
		return "", nil, fmt.Errorf("quarantine: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, fmt.Errorf("quarantine: list %s: %w", dir, err)
	}
	for _, de := range entries {
		name := de.Name()
		_, isSeg := parseSegmentName(name)
		isSnap := strings.HasPrefix(name, snapPrefix)
		if de.Type().IsRegular() && (isSeg || isSnap || name == hardStateFile || strings.HasSuffix(name, tmpSuffix)) {
			moved = append(moved, name)
		}
	}
	if len(moved) > 0 {
		dest = filepath.Join(dir, "damaged-"+now.UTC().Format("20060102T150405Z"))
		if err := os.Mkdir(dest, 0o750); err != nil {
			return "", nil, fmt.Errorf("quarantine: %w", err)
		}
		for _, name := range moved {
			if err := os.Rename(filepath.Join(dir, name), filepath.Join(dest, name)); err != nil {
				return "", nil, fmt.Errorf("quarantine: move %s aside: %w", name, err)
			}
		}
		if err := fsyncDir(dest); err != nil {
			return "", nil, fmt.Errorf("quarantine: %w", err)
		}
	}
	if state != promiseOK || prom.mark == 0 {
		p := promise{term: prom.term, vote: prom.vote, mark: prom.mark, unknown: true}
		if state != promiseOK && hsDamage == nil {
			p.term, p.vote = hs.Term, hs.Vote
		}
		w := &WAL{dir: dir, prom: prom}
		if w.pf, err = openPromiseFile(dir); err != nil {
			return "", nil, fmt.Errorf("quarantine: %w", err)
		}
		err = errors.Join(w.writePromise(p), w.pf.Close())
		if err != nil {
			return "", nil, fmt.Errorf("quarantine: %w", err)
		}
	}
	if err := fsyncDir(dir); err != nil {
		return "", nil, fmt.Errorf("quarantine: %w", err)
	}
	return dest, moved, nil
}
