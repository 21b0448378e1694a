// Scenario tests of cluster operations on the real shell: fault injection cutting a leader off
// (Raft paper §5.2, thesis §6.2), membership changes driven by gossip (thesis §4.1-4.2), graceful
// leaves and leadership transfer (thesis §3.10). Same in-process clusters as node_test.go.

package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

func TestIsolatedLeaderCommitsNothingWhileTheMajorityElectsAnotherAndGoesOn(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.waitLeader()
	play(t, c, old, "kobayashi", "tohru")

	// Cut every link of the old leader, on both ends.
	var others []uint64
	for id := range c.nodes {
		if id != old {
			others = append(others, id)
		}
	}
	_, err := c.cluster(old).DropTraffic(c.ctx(), &kannapb.DropTrafficRequest{ToPeers: others, FromPeers: others})
	require.NoError(t, err)
	for _, id := range others {
		_, err := c.cluster(id).DropTraffic(c.ctx(), &kannapb.DropTrafficRequest{ToPeers: []uint64{old}, FromPeers: []uint64{old}})
		require.NoError(t, err)
	}
	isolatedCommit := c.status(old).Commit

	var lead uint64
	require.Eventually(t, func() bool {
		for _, id := range others {
			if st := c.status(id); st != nil && st.Role == kannapb.NodeRole_NODE_ROLE_LEADER {
				lead = id
				return true
			}
		}
		return false
	}, settle, poll, "the majority never elected a new leader")

	st, err := c.game(lead).Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "test-kobayashi", Seq: 3, Room: "kobayashi", Player: "tohru", Letter: "a"})
	require.NoError(t, err, "the majority takes writes")

	// The isolated node cannot commit: a write sent to it times out.
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = c.game(old).Guess(short, &kannapb.GuessRequest{ClientId: "test-minority", Seq: 1, Room: "kobayashi", Player: "tohru", Letter: "z"})
	require.Error(t, err)
	require.Contains(t, []codes.Code{codes.DeadlineExceeded, codes.Unavailable}, status.Code(err), "%v", err)
	require.Equal(t, isolatedCommit, c.status(old).Commit, "the minority committed nothing")

	// Heal: everyone converges on the majority's state.
	for id := range c.nodes {
		_, err := c.cluster(id).Heal(c.ctx(), &kannapb.HealRequest{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		r, err := c.game(old).GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: "kobayashi"})
		return err == nil && r.CommitIndex >= st.CommitIndex && slices.Equal(r.GuessedLetters, []string{"a"})
	}, settle, poll, "the healed node never caught up")
}

func TestFaultInjectionIsRefusedUnlessEnabledAndRejectsBadPeers(t *testing.T) {
	c := newTestCluster(t, 2)
	_, err := c.cluster(1).DropTraffic(c.ctx(), &kannapb.DropTrafficRequest{ToPeers: []uint64{1}})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "cutting a node from itself: %v", err)
	_, err = c.cluster(1).DropTraffic(c.ctx(), &kannapb.DropTrafficRequest{ToPeers: []uint64{7}})
	require.Equal(t, codes.NotFound, status.Code(err), "cutting a node from a peer that is no member: %v", err)
	resp, err := c.cluster(1).DropTraffic(c.ctx(), &kannapb.DropTrafficRequest{ToPeers: []uint64{2}, Traffic: kannapb.TrafficClass_TRAFFIC_CLASS_RAFT})
	require.NoError(t, err)
	require.Len(t, resp.DropRules, 1)
	healed, err := c.cluster(1).Heal(c.ctx(), &kannapb.HealRequest{Peers: []uint64{2}})
	require.NoError(t, err)
	require.Empty(t, healed.DropRules)

	off := newTestClusterWith(t, 1, func(cfg *Config) { cfg.EnableFaultInjection = false })
	_, err = off.cluster(1).DropTraffic(c.ctx(), &kannapb.DropTrafficRequest{ToPeers: []uint64{2}})
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	_, err = off.cluster(1).Heal(c.ctx(), &kannapb.HealRequest{})
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
}

func TestJoiningNodeBecomesAVoterAndALeavingOneIsRemoved(t *testing.T) {
	c := newTestCluster(t, 3)
	c.start(4, c.addrs[1])
	c.waitVoter(4)

	// The new node itself comes to see four alive voters, addresses included.
	require.Eventually(t, func() bool {
		members, err := c.cluster(4).Members(c.ctx(), &kannapb.MembersRequest{})
		if err != nil || len(members.Members) != 4 {
			return false
		}
		for _, m := range members.Members {
			if m.Suffrage != kannapb.Suffrage_SUFFRAGE_VOTER || m.State != kannapb.MemberState_MEMBER_STATE_ALIVE || m.Address == "" {
				return false
			}
		}
		return true
	}, settle, poll, "node 4 never saw four alive voters")

	// A graceful stop of the leader hands leadership over and, with four voters, gets it removed.
	old := c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.nodes[old].Shutdown(ctx))
	delete(c.nodes, old)
	require.Eventually(t, func() bool {
		lead := c.leader()
		if lead == 0 || lead == old {
			return false
		}
		st := c.status(lead)
		return st != nil && len(st.Voters) == 3 && !slices.Contains(st.Voters, old)
	}, settle, poll, "the node that left was never removed")

	// Now three voters remain: removing another is refused.
	lead := c.waitLeader()
	var victim uint64
	for id := range c.nodes {
		if id != lead {
			victim = id
		}
	}
	_, err := c.cluster(lead).RemoveServer(c.ctx(), &kannapb.RemoveServerRequest{Id: victim})
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	_, err = c.cluster(lead).RemoveServer(c.ctx(), &kannapb.RemoveServerRequest{Id: 99})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	_, err = c.cluster(lead).RemoveServer(c.ctx(), &kannapb.RemoveServerRequest{})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
}

func TestTransferLeadershipThroughAFollowerMovesTheLeaderToTheTarget(t *testing.T) {
	c := newTestCluster(t, 3)
	f := c.follower()
	resp, err := c.cluster(f).TransferLeadership(c.ctx(), &kannapb.TransferLeadershipRequest{To: f})
	require.NoError(t, err)
	require.Equal(t, f, resp.Leader)
	require.Eventually(t, func() bool { return c.leader() == f }, settle, poll)

	_, err = c.cluster(f).TransferLeadership(c.ctx(), &kannapb.TransferLeadershipRequest{To: 42})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
}

func TestFollowerThatLeftGracefullyStaysAVoterOfThreeAndRejoinsOnRestart(t *testing.T) {
	c := newTestCluster(t, 3)
	f := c.follower()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.nodes[f].Shutdown(ctx))
	delete(c.nodes, f)

	lead := c.waitLeader()
	require.Eventually(t, func() bool {
		st := c.status(lead)
		if st == nil {
			return false
		}
		for _, m := range st.GossipMembers {
			if m.Id == f {
				return m.State == kannapb.MemberState_MEMBER_STATE_LEFT
			}
		}
		return false
	}, settle, poll, "gossip never heard node %d leave", f)
	st := c.status(lead)
	require.NotNil(t, st, "node %d answers Status", lead)
	require.Contains(t, st.Voters, f, "removing one of three voters would leave two")

	play(t, c, lead, "kanna", "saikawa")
	c.start(f)
	require.Eventually(t, func() bool {
		st := c.status(lead)
		if st == nil {
			return false // no answer this time (a slow machine): ask again
		}
		alive := false
		for _, m := range st.GossipMembers {
			alive = alive || (m.Id == f && m.State == kannapb.MemberState_MEMBER_STATE_ALIVE)
		}
		r, err := c.game(f).GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: "kanna"})
		return alive && err == nil && len(r.Players) == 1
	}, settle, poll, "node %d never came back alive and caught up", f)
}

func TestRemoveServerThroughAFollowerRemovesACrashedVoterOnce(t *testing.T) {
	c := newTestCluster(t, 4)
	c.kill(4)
	f := c.follower()

	resp, err := c.cluster(f).RemoveServer(c.ctx(), &kannapb.RemoveServerRequest{Id: 4})
	require.NoError(t, err)
	require.NotContains(t, resp.Voters, uint64(4))
	require.Len(t, resp.Voters, 3)
	require.NotZero(t, resp.Index, "the change's log index")

	require.Eventually(t, func() bool {
		st := c.status(c.waitLeader())
		return st != nil && st.Commit >= resp.Index && !slices.Contains(st.Voters, 4)
	}, settle, poll, "the removal never committed")
	_, err = c.cluster(f).RemoveServer(c.ctx(), &kannapb.RemoveServerRequest{Id: 4})
	require.Equal(t, codes.NotFound, status.Code(err), "removing it again: %v", err)
}

func TestNodeRestartedAtANewAddressIsReachedThere(t *testing.T) {
	c := newTestCluster(t, 3)
	f := c.follower()
	old := c.addrs[f]
	c.kill(f)
	delete(c.addrs, f) // restart on a fresh port
	c.start(f)
	require.NotEqual(t, old, c.addrs[f])

	lead := c.waitLeader()
	play(t, c, lead, "quetzalcoatl", "shouta")
	require.Eventually(t, func() bool {
		st := c.status(lead)
		moved := false
		for _, m := range st.GossipMembers {
			moved = moved || (m.Id == f && m.Address == c.addrs[f])
		}
		r, err := c.game(f).GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: "quetzalcoatl"})
		return moved && err == nil && len(r.Players) == 1
	}, settle, poll, "the leader never learned node %d's new address", f)
}
