// A runnable example of driving one core: the Ready loop of the package doc, on a single-server
// cluster, from bootstrap to an applied command.

package raft_test

import (
	"fmt"
	"math/rand"

	"github.com/kanna-cluster/kanna/raft"
)

func Example() {
	cfg := raft.DefaultConfig()
	cfg.ID, cfg.Peers, cfg.Rand = 1, []uint64{1}, rand.New(rand.NewSource(1))
	n, err := raft.New(cfg)
	if err != nil {
		panic(err)
	}

	// drain is the driver: persist, send, apply, advance, until the core has nothing more.
	drain := func() {
		for n.HasReady() {
			rd := n.Ready()
			// A real driver writes rd.HardState and rd.Entries to its WAL here, then sends
			// rd.Messages (a single server has none).
			for _, e := range rd.CommittedEntries {
				if e.Type == raft.EntryNormal {
					fmt.Printf("applied %q at index %d\n", e.Data, e.Index)
				}
			}
			n.Advance(rd)
		}
	}
	drain()

	// No leader yet: ticks run the election timer until the server elects itself.
	for n.Status().Role != raft.Leader {
		n.Tick()
		drain()
	}
	fmt.Println("leader in term", n.Status().Term)

	if _, _, err := n.Propose([]byte("guess e")); err != nil {
		panic(err)
	}
	drain()
	// Output:
	// leader in term 2
	// applied "guess e" at index 3
}
