// Benchmarks of the engine on the in-memory cluster: the cost of one command from proposal to
// apply on three nodes, and of one linearizable read, without any network or disk.

package engine

import (
	"testing"
)

func BenchmarkEngineGuessCommittedOnThreeNodes(b *testing.B) {
	c := newCluster(b, 3, 1000)
	lead := c.tickUntilLeader()
	cl := &client{id: "bench"}
	c.propose(lead, cl.next(createRoom("den", "kobayashi san chi no maid dragon")))
	c.propose(lead, cl.next(joinRoom("den", "kanna")))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.engines[lead].Propose(cl.next(guessLetter("den", "kanna", "k"))); err != nil {
			b.Fatal(err)
		}
		c.stabilize()
	}
}

func BenchmarkEngineLinearizableReadOnThreeNodes(b *testing.B) {
	c := newCluster(b, 3, 0)
	lead := c.tickUntilLeader()
	c.propose(lead, (&client{id: "bench"}).next(createRoom("den", "tohru")))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.engines[lead].Read("den"); err != nil {
			b.Fatal(err)
		}
		c.stabilize()
	}
}
