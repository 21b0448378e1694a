// Tests of `kanna status` against stand-in Cluster servers on loopback: the member list comes from
// one node, each row from that member's own Status, and the last-contact column from the leader's
// check-quorum view (thesis §6.2).
package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// standInCluster answers Members and Status from fixed data, for the key it was given.
type standInCluster struct {
	kannapb.UnimplementedClusterServer
	key     string
	members *kannapb.MembersResponse
	status  *kannapb.NodeStatus
}

func (s *standInCluster) checkKey(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get(demo.ClusterKeyHeader); len(got) != 1 || got[0] != s.key {
		return status.Error(codes.Unauthenticated, "wrong or missing kanna-cluster-key")
	}
	return nil
}

func (s *standInCluster) Members(ctx context.Context, _ *kannapb.MembersRequest) (*kannapb.MembersResponse, error) {
	if err := s.checkKey(ctx); err != nil {
		return nil, err
	}
	return s.members, nil
}

func (s *standInCluster) Status(ctx context.Context, _ *kannapb.StatusRequest) (*kannapb.NodeStatus, error) {
	if err := s.checkKey(ctx); err != nil {
		return nil, err
	}
	return s.status, nil
}

// serveCluster serves c on a fresh loopback port and returns its address.
func serveCluster(t *testing.T, c kannapb.ClusterServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	kannapb.RegisterClusterServer(srv, c)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// threeNodeCluster starts stand-ins for a leader (1), a follower (2) and a member whose address
// answers nothing (3), all sharing one member list, and returns the leader's address.
func threeNodeCluster(t *testing.T, key string) string {
	t.Helper()
	members := &kannapb.MembersResponse{Leader: 1, ServedBy: 1}
	leader := &standInCluster{key: key, members: members, status: &kannapb.NodeStatus{
		Id: 1, Role: kannapb.NodeRole_NODE_ROLE_LEADER, Term: 7, Leader: 1, Commit: 120, Applied: 120, LastIndex: 121,
		Progress: []*kannapb.PeerProgress{{Id: 2, Match: 120, RecentActive: true}, {Id: 3, Match: 80}},
	}}
	follower := &standInCluster{key: key, members: members, status: &kannapb.NodeStatus{
		Id: 2, Role: kannapb.NodeRole_NODE_ROLE_FOLLOWER, Term: 7, Leader: 1, Commit: 119, Applied: 118, LastIndex: 120,
	}}
	leaderAddr, followerAddr := serveCluster(t, leader), serveCluster(t, follower)
	members.Members = []*kannapb.Member{
		{Id: 3, Address: closedAddr(t), Suffrage: kannapb.Suffrage_SUFFRAGE_VOTER, State: kannapb.MemberState_MEMBER_STATE_DEAD},
		{Id: 1, Address: leaderAddr, Suffrage: kannapb.Suffrage_SUFFRAGE_VOTER, State: kannapb.MemberState_MEMBER_STATE_ALIVE},
		{Id: 2, Address: followerAddr, Suffrage: kannapb.Suffrage_SUFFRAGE_VOTER, State: kannapb.MemberState_MEMBER_STATE_ALIVE},
	}
	return leaderAddr
}

func TestStatusShowsEachMemberAsItSeesItselfSortedByID(t *testing.T) {
	addr := threeNodeCluster(t, demo.DefaultClusterKey)
	report, err := collectStatus(context.Background(), addr, "", 2*time.Second)
	require.NoError(t, err)
	var out bytes.Buffer
	report.render(&out)
	lines := strings.Split(out.String(), "\n")
	require.Equal(t, []string{"ID", "ADDRESS", "GOSSIP", "SUFFRAGE", "ROLE", "TERM", "COMMIT", "APPLIED", "LAST", "INDEX", "LAST", "CONTACT"}, strings.Fields(lines[0]))

	row1 := strings.Fields(lines[1])
	require.Equal(t, []string{"1", addr, "alive", "voter", "leader", "7", "120", "120", "121", "self", "(leader)"}, row1)
	row2 := strings.Fields(lines[2])
	require.Equal(t, []string{"2", "alive", "voter", "follower", "7", "119", "118", "120", "within", "election", "timeout"},
		append(row2[:1:1], row2[2:]...))
	row3 := strings.Fields(lines[3])
	require.Equal(t, []string{"3", "dead", "voter", "unreachable", "-", "-", "-", "-", "silent", "for", "an", "election", "timeout"},
		append(row3[:1:1], row3[2:]...))
	require.Contains(t, out.String(), "leader: node 1 (member list from node 1)")
	require.Regexp(t, `node 3: .* is unreachable`, out.String())
}

func TestStatusShowsANodeRecoveringFromLostStorage(t *testing.T) {
	members := &kannapb.MembersResponse{Leader: 0, ServedBy: 2}
	follower := &standInCluster{key: demo.DefaultClusterKey, members: members, status: &kannapb.NodeStatus{
		Id: 2, Role: kannapb.NodeRole_NODE_ROLE_FOLLOWER, Term: 7, Commit: 90, Applied: 90, Recovering: true,
	}}
	addr := serveCluster(t, follower)
	members.Members = []*kannapb.Member{{Id: 2, Address: addr, Suffrage: kannapb.Suffrage_SUFFRAGE_VOTER, State: kannapb.MemberState_MEMBER_STATE_ALIVE}}
	report, err := collectStatus(context.Background(), addr, "", 2*time.Second)
	require.NoError(t, err)
	var out bytes.Buffer
	report.render(&out)
	row := strings.Fields(strings.Split(out.String(), "\n")[1])
	require.Equal(t, "follower:recovering", row[4])
}

func TestStatusSendsTheClusterKeyItIsGiven(t *testing.T) {
	addr := threeNodeCluster(t, "sesame")
	_, err := collectStatus(context.Background(), addr, "wrong", 2*time.Second)
	require.ErrorContains(t, err, "refused the cluster key")
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	report, err := collectStatus(context.Background(), addr, "sesame", 2*time.Second)
	require.NoError(t, err)
	require.Len(t, report.statuses, 2)
}

func TestStatusOfAnUnreachableAddressSaysSo(t *testing.T) {
	addr := closedAddr(t)
	_, err := collectStatus(context.Background(), addr, "", 2*time.Second)
	require.ErrorContains(t, err, "ask "+addr+" for the cluster's members: "+addr+" is unreachable")
	require.Equal(t, 1, runStatus([]string{"--addr", addr, "--timeout", "500ms"}))
	require.Equal(t, 2, runStatus(nil), "--addr is required")
}

func TestStatusWithoutAKnownLeaderSaysNone(t *testing.T) {
	r := &statusReport{
		members:  &kannapb.MembersResponse{ServedBy: 2, Members: []*kannapb.Member{{Id: 2, Address: "127.0.0.1:1"}}},
		statuses: map[uint64]*kannapb.NodeStatus{2: {Id: 2, Role: kannapb.NodeRole_NODE_ROLE_PRE_CANDIDATE, Term: 3}},
	}
	var out bytes.Buffer
	r.render(&out)
	require.Contains(t, out.String(), "pre-candidate")
	require.Contains(t, out.String(), "leader: none known to node 2")
}
