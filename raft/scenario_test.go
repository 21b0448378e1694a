// Scenario tests: stories of a cluster under faults, told with the in-memory network
// (network_test.go). Each checks an end-to-end promise of Raft (paper §5, §8; thesis §3.10, §4,
// §6.4, §9.6) rather than one rule.
package raft

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClusterElectsOneLeaderAndReplicatesToAll(t *testing.T) {
	for size := 1; size <= 7; size++ {
		nw := newNetwork(t, size)
		lead := nw.tickUntilLeader()
		leaders := 0
		for _, id := range nw.ids() {
			if nw.nodes[id].role == Leader {
				leaders++
			}
			require.Equal(t, lead, nw.nodes[id].lead, "server %d follows the leader", id)
		}
		require.Equal(t, 1, leaders, "size %d", size)
		nw.propose(lead, "a")
		nw.propose(lead, "b")
		nw.requireSameState("a", "b")
	}
}
