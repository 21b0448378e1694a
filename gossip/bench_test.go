// Benchmarks of the core's cost per tick in a settled cluster, for whoever sizes simulations.

package gossip

import (
	"fmt"
	"testing"
)

// BenchmarkClusterTick measures one tick of a whole settled cluster, every message delivered:
// divide by N for the cost of one member's tick.
func BenchmarkClusterTick(b *testing.B) {
	for _, n := range []int{16, 128, 512} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			c := newSettledCluster(b, n, 1, nil)
			c.run(10 * ticksPerPeriod) // past the first protocol periods
			b.ResetTimer()
			for range b.N {
				c.tick()
			}
		})
	}
}

// BenchmarkMessageMarshal measures the wire encoding of a ping carrying a full budget of updates.
func BenchmarkMessageMarshal(b *testing.B) {
	n := newTestNode(b, "a", nil)
	for i := 0; i < 40; i++ {
		n.queue.enqueue(news(fmt.Sprintf("member-%02d", i), StateAlive, 3, "x"))
	}
	n.send(Message{Type: MsgPing, To: "addr-b", ToID: "b", Seq: 1})
	m := n.Outbox()[0]
	b.ResetTimer()
	for range b.N {
		if _, err := m.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
