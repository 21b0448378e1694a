// Membership through gossip: new nodes started with --join meet the cluster through SWIM, join the
// Raft configuration as non-voting learners, catch up, and are promoted to voters, one server at a
// time (Ongaro's thesis §4.1, §4.2.1); a node stopped with SIGTERM leaves gossip gracefully and the
// leader removes it from the configuration (docs/design.md, "Membership").
package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

func TestFourthAndFifthNodesJoinAsVotersAndANodeLeavingWithSigtermIsRemoved(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	ctx := context.Background()
	h := newHistory()
	p := newPlayer(c, h, 0, "e2e-members", "ilulu", "kanna", c.ids()...)
	require.Equal(t, codes.OK, p.create(ctx).code)
	require.Equal(t, codes.OK, p.join(ctx).code)

	for i := 0; i < 2; i++ {
		n, err := c.sup.AddNode()
		require.NoError(t, err)
		require.Equal(t, uint64(4+i), n.ID)
	}
	leader := c.waitFormed()
	st := c.status(leader)
	require.Equal(t, []uint64{1, 2, 3, 4, 5}, st.Voters)
	require.Empty(t, st.Learners)
	require.Eventually(t, func() bool { return c.converged(1, 2, 3, 4, 5) }, 30*time.Second, 50*time.Millisecond,
		"the new voters did not catch up with the room")

	// Node 5 leaves, or the leader if that is node 5: the configuration must lose it either way.
	require.NoError(t, c.sup.Stop(5, demo.StopGrace))
	require.Equal(t, "exited with status 0", c.sup.Node(5).Exit, "a node exits 0 within 5 s of SIGTERM")
	rest := []uint64{1, 2, 3, 4}
	require.Eventually(t, func() bool {
		l := c.leaderOf(rest...)
		if l == 0 {
			return false
		}
		st := c.status(l)
		return st != nil && slices.Equal(st.Voters, rest) && len(st.Learners) == 0
	}, 30*time.Second, 50*time.Millisecond, "node 5 was not removed from the configuration after leaving")

	mctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	members, err := c.admin(c.leaderOf(rest...)).Members(mctx, &kannapb.MembersRequest{})
	require.NoError(t, err)
	for _, m := range members.Members {
		if m.Id == 5 {
			require.Equal(t, kannapb.Suffrage_SUFFRAGE_UNSPECIFIED, m.Suffrage, "node 5 is out of the Raft configuration")
			require.Equal(t, kannapb.MemberState_MEMBER_STATE_LEFT, m.State, "gossip remembers node 5 left")
		} else {
			require.Equal(t, kannapb.Suffrage_SUFFRAGE_VOTER, m.Suffrage, "node %d", m.Id)
		}
	}
	// The game goes on with four voters.
	require.Equal(t, codes.OK, p.guess(ctx, p.unguessed()).code)
}
