// A node cut off by fault injection (Cluster.DropTraffic): Raft commits only what a majority holds
// (paper §5.3-5.4), so the cut-off node commits nothing while the two others elect a leader among
// themselves and go on (§5.2); once healed, the lone node learns what it missed and every replica
// holds the same game (State Machine Safety, Figure 3).
package e2e

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// cut drops all traffic between node a and each of peers, on both ends.
func (c *cluster) cut(a uint64, peers []uint64) {
	c.t.Helper()
	ctx := context.Background()
	_, err := c.admin(a).DropTraffic(ctx, &kannapb.DropTrafficRequest{ToPeers: peers, FromPeers: peers, Traffic: kannapb.TrafficClass_TRAFFIC_CLASS_ALL})
	require.NoError(c.t, err)
	for _, p := range peers {
		_, err := c.admin(p).DropTraffic(ctx, &kannapb.DropTrafficRequest{ToPeers: []uint64{a}, FromPeers: []uint64{a}})
		require.NoError(c.t, err)
	}
}

// heal removes every drop rule on every running node.
func (c *cluster) heal() {
	c.t.Helper()
	for _, id := range c.ids() {
		resp, err := c.admin(id).Heal(context.Background(), &kannapb.HealRequest{})
		require.NoError(c.t, err)
		require.Empty(c.t, resp.DropRules, "node %d kept drop rules after Heal", id)
	}
}

// newPlayer makes a player of room through the given nodes, recording into h.
func newPlayer(c *cluster, h *history, pid int, clientID, room, name string, via ...uint64) *player {
	p := &player{h: h, pid: pid, clientID: clientID, room: room, name: name, host: true, rng: rand.New(rand.NewSource(int64(pid) + 7))}
	for _, id := range via {
		p.nodes = append(p.nodes, c.game(id))
	}
	return p
}

func TestIsolatedLeaderCommitsNothingWhileTheMajorityGoesOnAndAllConvergeAfterHeal(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	all := c.ids()
	ctx := context.Background()
	isolated := c.leaderOf(all...)
	require.NotZero(t, isolated)
	majority := c.others(isolated)

	h := newHistory()
	p := newPlayer(c, h, 0, "e2e-partition", "lucoa", "shouta", all...)
	require.Equal(t, codes.OK, p.create(ctx).code)
	require.Equal(t, codes.OK, p.join(ctx).code)
	require.Eventually(t, func() bool { return c.converged(all...) }, 10*time.Second, 20*time.Millisecond)

	c.cut(isolated, majority)
	require.Eventually(t, func() bool {
		l := c.leaderOf(majority...)
		return l != 0 && l != isolated
	}, 15*time.Second, 20*time.Millisecond, "the majority did not elect a leader of its own")
	frozen := c.status(isolated)
	require.NotNil(t, frozen, "an isolated node still answers Status")

	// The majority goes on.
	p.nodes = nil
	for _, id := range majority {
		p.nodes = append(p.nodes, c.game(id))
	}
	guessed := 0
	for guessed < 5 {
		out := p.guess(ctx, p.unguessed())
		require.False(t, out.unknown, "the majority must answer")
		if out.code == codes.FailedPrecondition {
			require.Equal(t, codes.OK, p.newRound(ctx).code)
			continue
		}
		require.Equal(t, codes.OK, out.code)
		guessed++
	}

	// A write sent to the isolated node does not commit: it can reach no majority.
	lone := c.game(isolated)
	gctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := lone.Guess(gctx, &kannapb.GuessRequest{ClientId: "e2e-partition-lone", Seq: 1, Room: "lucoa", Player: "shouta", Letter: "q"})
	cancel()
	require.Contains(t, []codes.Code{codes.Unavailable, codes.DeadlineExceeded}, status.Code(err), "got %v", err)
	now := c.status(isolated)
	require.NotNil(t, now)
	require.Equal(t, frozen.Commit, now.Commit, "the isolated node committed entries without a majority")
	require.Equal(t, frozen.Applied, now.Applied)
	require.NotEqual(t, kannapb.NodeRole_NODE_ROLE_LEADER, now.Role, "a leader that cannot reach a majority steps down (check-quorum)")

	c.heal()
	require.Eventually(t, func() bool {
		st := c.status(isolated)
		return st != nil && st.Commit > frozen.Commit && c.converged(all...)
	}, 30*time.Second, 50*time.Millisecond, "replicas did not converge after heal")
	rooms, ok := c.rooms(isolated)
	require.True(t, ok)
	require.Len(t, rooms, 1)
	require.Equal(t, p.last, viewOf(rooms[0]),
		"after heal the room is exactly as the majority last answered: the write sent to the isolated node never applied")
}
