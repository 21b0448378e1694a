// A runnable example of driving cores by hand: the smallest possible shell.

package gossip_test

import (
	"fmt"
	"math/rand"

	"github.com/kanna-cluster/kanna/gossip"
)

// Example starts two members, joins the second through the first, and then crashes the first:
// every message is handed over by hand, as a shell or a simulator would.
func Example() {
	nodes := map[string]*gossip.Node{}
	for i, id := range []string{"alpha", "beta"} {
		cfg := gossip.DefaultLANConfig(id, id+":7946")
		cfg.Rand = rand.New(rand.NewSource(int64(i)))
		n, err := gossip.New(cfg)
		if err != nil {
			panic(err)
		}
		nodes[cfg.Addr] = n
	}
	alpha, beta := nodes["alpha:7946"], nodes["beta:7946"]
	crashed := map[*gossip.Node]bool{}

	// deliver hands every queued message to its receiver, and prints what each core reports.
	deliver := func() {
		for busy := true; busy; {
			busy = false
			for _, n := range []*gossip.Node{alpha, beta} {
				for _, e := range n.Events() {
					fmt.Printf("%s sees %s\n", n.ID(), e)
				}
				for _, m := range n.Outbox() {
					if to := nodes[m.To]; !crashed[to] {
						busy = true
						if err := to.Step(m); err != nil {
							panic(err)
						}
					}
				}
			}
		}
	}

	if err := beta.Join("alpha:7946"); err != nil {
		panic(err)
	}
	deliver()

	crashed[alpha] = true
	for range 100 { // ten seconds of 100ms ticks
		beta.Tick()
		deliver()
	}
	// Output:
	// alpha sees joined beta inc=0
	// beta sees joined alpha inc=0
	// beta sees suspect alpha inc=0
	// beta sees failed alpha inc=0
}
