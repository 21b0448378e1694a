// BenchmarkCommit3Nodes measures the cost in the core of committing one proposal on a three-server
// cluster: proposing, building Ready, replicating, acknowledging and applying, with a driver that
// does no I/O (persisting and applying are free), so the number is the core's own CPU cost.

package raft

import (
	"fmt"
	"math/rand"
	"testing"
)

func BenchmarkCommit3Nodes(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkCommit(b, batch) })
	}
}

// benchDriver is the leanest possible driver: messages go straight into a queue.
type benchDriver struct {
	nodes []*Node
	queue []Message
}

func (d *benchDriver) pump() {
	for {
		for _, n := range d.nodes {
			for n.HasReady() {
				rd := n.Ready()
				d.queue = append(d.queue, rd.Messages...)
				n.Advance(rd)
			}
		}
		if len(d.queue) == 0 {
			return
		}
		batch := d.queue
		d.queue = nil
		for _, m := range batch {
			if err := d.nodes[m.To-1].Step(m); err != nil {
				panic(err)
			}
		}
	}
}

func benchmarkCommit(b *testing.B, batch int) {
	d := &benchDriver{}
	for id := uint64(1); id <= 3; id++ {
		c := DefaultConfig()
		c.ID, c.Peers, c.Rand = id, []uint64{1, 2, 3}, rand.New(rand.NewSource(int64(id)))
		n, err := New(c)
		if err != nil {
			b.Fatal(err)
		}
		d.nodes = append(d.nodes, n)
	}
	lead := d.nodes[0]
	lead.hup()
	d.pump()
	if lead.role != Leader {
		b.Fatal("server 1 did not win the election")
	}
	data := make([]byte, 64)

	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(batch, b.N-done)
		var last uint64
		for range k {
			index, _, err := lead.Propose(data)
			if err != nil {
				b.Fatal(err)
			}
			last = index
		}
		d.pump()
		for _, n := range d.nodes {
			if n.log.applied < last {
				b.Fatalf("server %d applied %d of %d", n.id, n.log.applied, last)
			}
		}
		// Keep memory flat, as an application snapshotting now and then would.
		for _, n := range d.nodes {
			if n.log.applied-n.log.snapshot.Meta.Index > 4096 {
				if _, err := n.Compact(n.log.applied, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		done += k
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/proposal")
}
