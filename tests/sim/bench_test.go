// The simulator's own speed: one 5-node seed of 300 simulated seconds, the run
// `kanna sim --seed 11 --nodes 5 --duration 300s` makes, with every checker after every event.

package sim

import (
	"testing"
	"time"
)

// BenchmarkRun reports simulated seconds per wall second (sim_s/s) and the events of one run;
// -benchmem and -memprofile show where its allocations go.
func BenchmarkRun(b *testing.B) {
	var simTime time.Duration
	events := 0
	for b.Loop() {
		r, err := Execute(Options{Seed: 11, Nodes: 5, Duration: 300 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		if r.Failed() {
			b.Fatalf("seed 11 failed: %v", r.Violations)
		}
		simTime += r.SimTime
		events += r.EventCount
	}
	b.ReportMetric(simTime.Seconds()/b.Elapsed().Seconds(), "sim_s/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}
