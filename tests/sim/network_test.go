// Tests of the network model: fates follow the seed, rates hold, and each partition shape cuts what
// it says (Raft paper §5.1: messages may be lost, delayed, duplicated, reordered).

package sim

import (
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var fiveNodes = []uint64{1, 2, 3, 4, 5}

func TestNetworkFatesFollowTheSeed(t *testing.T) {
	cfg := netConfig{Latency: time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.2, Dup: 0.1}
	draw := func(seed int64) []fate {
		n := newNetwork(cfg, rand.New(rand.NewSource(seed)), fiveNodes)
		var fates []fate
		for i := 0; i < 200; i++ {
			fates = append(fates, n.send(uint64(1+i%5), uint64(1+(i+1)%5)))
		}
		return fates
	}
	require.Equal(t, draw(7), draw(7))
	require.NotEqual(t, draw(7), draw(8))
}

func TestNetworkLosesDuplicatesAndDelaysAtItsRates(t *testing.T) {
	cfg := netConfig{Latency: time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.2, Dup: 0.1}
	n := newNetwork(cfg, rand.New(rand.NewSource(1)), fiveNodes)
	const sends = 20000
	lost, dups := 0, 0
	for i := 0; i < sends; i++ {
		f := n.send(1, 2)
		if f.drop != "" {
			require.Equal(t, "loss", f.drop)
			lost++
			continue
		}
		if f.n == 2 {
			dups++
		}
		for _, d := range f.times() {
			require.GreaterOrEqual(t, d, cfg.Latency)
			require.Less(t, d, cfg.Latency+cfg.Jitter)
		}
	}
	require.InDelta(t, 0.2, float64(lost)/sends, 0.02)
	require.InDelta(t, 0.1*0.8, float64(dups)/sends, 0.02)
}

func TestNetworkWithoutJitterKeepsMessagesInOrder(t *testing.T) {
	n := newNetwork(netConfig{Latency: 3 * time.Millisecond}, rand.New(rand.NewSource(1)), fiveNodes)
	for i := 0; i < 100; i++ {
		f := n.send(1, 2)
		require.Equal(t, []time.Duration{3 * time.Millisecond}, f.times(), "equal delays: the queue's tie-break keeps send order")
	}
}

func TestSymmetricPartitionCutsBothWaysOnlyAcrossGroups(t *testing.T) {
	n := newNetwork(netConfig{}, rand.New(rand.NewSource(1)), fiveNodes)
	n.apply(symmetricPartition([]uint64{1, 2}, []uint64{3, 4, 5}))
	require.True(t, n.blocked(1, 3))
	require.True(t, n.blocked(3, 1))
	require.False(t, n.blocked(1, 2))
	require.False(t, n.blocked(4, 5))
	require.Equal(t, "partition", n.send(2, 5).drop)
}

func TestAsymmetricPartitionCutsOneDirection(t *testing.T) {
	n := newNetwork(netConfig{}, rand.New(rand.NewSource(1)), fiveNodes)
	n.apply(asymmetricPartition([]uint64{1}, []uint64{2, 3}))
	require.True(t, n.blocked(2, 1), "b's messages to a are dropped")
	require.False(t, n.blocked(1, 2), "a still reaches b")
	require.False(t, n.reachable(1, 2))
}

func TestIsolateCutsOneNodeFromEveryOther(t *testing.T) {
	n := newNetwork(netConfig{}, rand.New(rand.NewSource(1)), fiveNodes)
	n.apply(isolatePartition(3, fiveNodes))
	for _, other := range []uint64{1, 2, 4, 5} {
		require.False(t, n.reachable(3, other))
	}
	require.True(t, n.reachable(1, 5))
}

func TestBridgeNodeReachesBothSidesThatCannotReachEachOther(t *testing.T) {
	n := newNetwork(netConfig{}, rand.New(rand.NewSource(1)), fiveNodes)
	n.apply(bridgePartition(3, []uint64{1, 2}, []uint64{4, 5}))
	for _, other := range []uint64{1, 2, 4, 5} {
		require.True(t, n.reachable(3, other))
	}
	require.False(t, n.reachable(1, 4))
	require.False(t, n.reachable(2, 5))
}

func TestMajorityPartitionLeavesAQuorumOnOneSide(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		p := randomPartition("majority", rng, fiveNodes)
		n := newNetwork(netConfig{}, rng, fiveNodes)
		n.apply(p)
		// The largest group of mutually reachable nodes must hold at least three of five.
		best := 0
		for _, a := range fiveNodes {
			group := 0
			for _, b := range fiveNodes {
				if a == b || n.reachable(a, b) {
					group++
				}
			}
			best = max(best, group)
		}
		require.GreaterOrEqual(t, best, 3, "partition %s", p.desc)
		require.Less(t, best, 5, "partition %s cuts nothing", p.desc)
	}
}

func TestHealAndToggleRestoreLinks(t *testing.T) {
	n := newNetwork(netConfig{}, rand.New(rand.NewSource(1)), fiveNodes)
	n.apply(isolatePartition(1, fiveNodes))
	require.True(t, n.partitioned())
	n.heal()
	require.False(t, n.partitioned())
	require.True(t, n.reachable(1, 2))

	n.toggle(link{1, 2})
	require.True(t, n.blocked(1, 2))
	n.toggle(link{1, 2})
	require.False(t, n.blocked(1, 2))
}

func TestEveryPartitionShapeWorksOnTinyClusters(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, nodes := range [][]uint64{{1}, {1, 2}, {1, 2, 3}} {
		for _, kind := range partitionKinds {
			p := randomPartition(kind, rng, nodes)
			if len(nodes) == 1 {
				require.Empty(t, p.cuts)
			}
			for _, l := range p.cuts {
				require.NotEqual(t, l.from, l.to)
			}
		}
	}
}

func TestEachLinkHasItsOwnFixedLatency(t *testing.T) {
	n := newNetwork(netConfig{Latency: time.Millisecond, Spread: 5 * time.Millisecond}, rand.New(rand.NewSource(3)), fiveNodes)
	distinct := map[time.Duration]bool{}
	for _, from := range fiveNodes {
		for _, to := range fiveNodes {
			if from == to {
				continue
			}
			first := n.send(from, to).delays[0]
			require.GreaterOrEqual(t, first, time.Millisecond)
			require.Less(t, first, 6*time.Millisecond)
			require.Equal(t, first, n.send(from, to).delays[0], "without jitter a link's delay is fixed: it stays FIFO")
			distinct[first] = true
		}
	}
	require.Greater(t, len(distinct), 10, "links differ")
}
