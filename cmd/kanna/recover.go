// `kanna recover`: the operator's command for a node whose start was refused on damaged data, or
// whose data folder was wiped. It moves the damaged files aside and leaves the promise file, so the
// node's next start rejoins the way a node that found its log cut short does by itself: it
// neither votes nor counts toward commitment until the leader has sent it back what it had
// acknowledged (Alagappan et al., "Protocol-Aware Recovery for Consensus-Based Storage", FAST
// 2018, §4; docs/wal.md, docs/operations.md).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kanna-cluster/kanna/server/wal"
)

func init() {
	register("recover", "set a stopped node's damaged log aside so it rejoins from the leader (--data)", runRecover)
}

func runRecover(args []string) int { return recoverMain(args, time.Now()) }

func recoverMain(args []string, now time.Time) int {
	fs := newFlags("recover", recoverHelp,
		"kanna recover --data ./data/node3",
		"kanna recover --data /var/lib/kanna/node3 && kanna node --id 3 --data /var/lib/kanna/node3 --join 10.0.0.1:7001")
	data := fs.String("data", "", "the stopped node's --data folder (required)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *data == "" {
		fmt.Fprintln(stderr, "kanna recover: --data is required: the data folder of the stopped node, e.g. --data ./data/node3")
		return 2
	}
	// A folder that is not there is far more often a mistyped path than a lost disk; creating it
	// would report success for a node that was never touched.
	if st, err := os.Stat(*data); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "kanna recover: --data %s is not a folder; give the stopped node's data folder (for a node whose folder was lost with its disk, create the empty folder first: mkdir -p %s)\n", *data, *data)
		return 2
	}
	dir := filepath.Join(*data, "wal")
	dest, moved, err := wal.Quarantine(dir, now)
	if err != nil {
		fmt.Fprintf(stderr, "kanna recover: %v\n", err)
		return 1
	}
	if len(moved) == 0 {
		fmt.Fprintf(stdout, "%s holds no log: marked as lost, so the node rejoins without voting\n", dir)
	} else {
		fmt.Fprintf(stdout, "moved %d file(s) of %s aside into %s (keep them to inspect the damage):\n", len(moved), dir, dest)
		for _, name := range moved {
			fmt.Fprintf(stdout, "  %s\n", name)
		}
	}
	fmt.Fprintln(stdout, "start the node again with the same --id and --join: it will neither vote nor count toward "+
		"commitment until the leader has sent it back what it had acknowledged (kanna status shows \"recovering\")")
	return 0
}

const recoverHelp = `
For a stopped node that refused to start on a damaged write-ahead log, or whose data folder was
lost. Moves every log segment, snapshot and the hard state of DATA/wal into DATA/wal/damaged-<UTC
time>/ and keeps the promise file, which records what the node had acknowledged. Started again,
the node rejoins without voting or counting toward commitment until the leader has sent it back
everything it had acknowledged (docs/operations.md).`
