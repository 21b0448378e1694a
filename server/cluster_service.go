// The Cluster service (cluster.proto): what a node believes (Status, Members), membership changes
// by an operator (RemoveServer, one server at a time, thesis §4.1), leadership transfer (thesis
// §3.10) and fault injection (DropTraffic, Heal).
//
// Status and Members answer from the node called without asking anyone, so a node cut off from
// the rest still answers. The changes go to the leader, forwarded like game writes.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/kanna-cluster/kanna/server/engine"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
)

// clusterService serves the Cluster RPCs.
type clusterService struct {
	kannapb.UnimplementedClusterServer
	n *Node
}

// Status reports the node's Raft state, log bounds, gossip view and drop rules.
func (c *clusterService) Status(ctx context.Context, req *kannapb.StatusRequest) (*kannapb.NodeStatus, error) {
	n := c.n
	out := &kannapb.NodeStatus{Id: n.id, Address: n.addr, DropRules: n.faults.list()}
	var tail []raft.Entry
	if err := n.query(ctx, func() {
		st := n.engine.Status()
		out.Role, out.Term, out.Vote, out.Leader = nodeRole(st.Role), st.Term, st.Vote, st.Lead
		out.Commit, out.Applied, out.Recovering = st.Commit, n.engine.Applied(), st.Recovering
		out.FirstIndex, out.LastIndex = st.FirstIndex, st.LastIndex
		out.Voters, out.Learners = st.ConfState.Voters, st.ConfState.Learners
		tick := n.cfg.TickInterval.Milliseconds()
		out.ElectionElapsedMs, out.ElectionTimeoutMs = uint32(int64(st.ElectionElapsed)*tick), uint32(int64(st.ElectionTimeout)*tick)
		out.RaftSent, out.RaftReceived = n.loop.raftSent, n.loop.raftReceived
		out.GossipSent, out.GossipReceived = n.loop.gossipSent, n.loop.gossipRecved
		if want := uint64(min(req.GetLogTail(), maxLogTail)); want > 0 && st.LastIndex >= st.FirstIndex {
			lo := max(st.FirstIndex, (st.LastIndex+1)-min(want, st.LastIndex))
			tail, _ = n.engine.Raft().Entries(lo, st.LastIndex+1)
		}
		ids := make([]uint64, 0, len(st.Progress))
		for id := range st.Progress {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			pr := st.Progress[id]
			out.Progress = append(out.Progress, &kannapb.PeerProgress{
				Id: id, Match: pr.Match, Next: pr.Next, Learner: pr.Learner, Inflight: uint32(pr.Inflight),
				Snapshotting: pr.Snapshotting, RecentActive: pr.RecentActive, Recovering: pr.Recovering,
			})
		}
		for _, m := range n.gossip.Members() {
			out.GossipMembers = append(out.GossipMembers, &kannapb.GossipMember{
				Id: parseID(m.ID), Address: m.Addr, State: memberState(m.State), Incarnation: m.Incarnation,
			})
		}
		out.LocalHealth = uint32(n.gossip.LocalHealth())
	}); err != nil {
		return nil, toStatus(err)
	}
	slices.SortFunc(out.GossipMembers, func(a, b *kannapb.GossipMember) int { return cmp.Compare(a.Id, b.Id) })
	// Entries are described here, off the loop: decoding them is the costly part.
	for _, e := range tail {
		kind, text := describeEntry(e)
		out.Log = append(out.Log, &kannapb.LogEntry{Index: e.Index, Term: e.Term, Kind: kind, Text: text})
	}
	return out, nil
}

// maxLogTail bounds the entries one Status call returns.
const maxLogTail = 200

// Events streams the node's events: those still held after the caller's position, then each new
// one as it happens.
func (c *clusterService) Events(req *kannapb.EventsRequest, stream grpc.ServerStreamingServer[kannapb.ClusterEvent]) error {
	l := c.n.events
	boot, after := req.GetBoot(), req.GetAfter()
	for {
		evs, lost, changed := l.since(boot, after)
		if lost > 0 {
			gap := &kannapb.ClusterEvent{Node: l.node, Boot: l.boot, UnixMicros: time.Now().UnixMicro(),
				Kind: kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_GAP, Text: fmt.Sprintf("%d events of node %d were missed", lost, l.node)}
			if err := stream.Send(gap); err != nil {
				return err
			}
		}
		for _, r := range evs {
			if err := stream.Send(l.proto(r)); err != nil {
				return err
			}
			boot, after = l.boot, r.seq
		}
		if len(evs) == 0 {
			boot = l.boot
		}
		select {
		case <-changed:
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-c.n.done:
			return status.Error(codes.Unavailable, "node stopped")
		}
	}
}

// Members joins the Raft configuration with the gossip view.
func (c *clusterService) Members(ctx context.Context, _ *kannapb.MembersRequest) (*kannapb.MembersResponse, error) {
	n := c.n
	resp := &kannapb.MembersResponse{ServedBy: n.id}
	rows := map[uint64]*kannapb.Member{}
	row := func(id uint64) *kannapb.Member {
		if rows[id] == nil {
			rows[id] = &kannapb.Member{Id: id}
		}
		return rows[id]
	}
	if err := n.query(ctx, func() {
		st := n.engine.Status()
		resp.Leader = st.Lead
		for _, id := range st.ConfState.Voters {
			row(id).Suffrage = kannapb.Suffrage_SUFFRAGE_VOTER
		}
		for _, id := range st.ConfState.Learners {
			row(id).Suffrage = kannapb.Suffrage_SUFFRAGE_LEARNER
		}
		for _, m := range n.gossip.Members() {
			if id := parseID(m.ID); id != 0 {
				r := row(id)
				r.Address, r.State, r.Incarnation = m.Addr, memberState(m.State), m.Incarnation
			}
		}
	}); err != nil {
		return nil, toStatus(err)
	}
	for _, r := range rows {
		resp.Members = append(resp.Members, r)
	}
	slices.SortFunc(resp.Members, func(a, b *kannapb.Member) int { return cmp.Compare(a.Id, b.Id) })
	return resp, nil
}

// TransferLeadership hands leadership to a voter and returns once this node sees it lead.
func (c *clusterService) TransferLeadership(ctx context.Context, req *kannapb.TransferLeadershipRequest) (*kannapb.TransferLeadershipResponse, error) {
	n := c.n
	timeout := time.Duration(2*n.cfg.ElectionTick) * n.cfg.TickInterval
	local := func(ctx context.Context) (*kannapb.TransferLeadershipResponse, error) {
		var to uint64
		var err error
		var done *kannapb.TransferLeadershipResponse
		if qerr := n.query(ctx, func() {
			st := n.engine.Status()
			switch {
			case req.GetTo() != 0 && st.Lead == req.GetTo():
				done = &kannapb.TransferLeadershipResponse{Leader: st.Lead, Term: st.Term}
			case st.Role != raft.Leader:
				err = &raft.NotLeaderError{Leader: st.Lead}
			default:
				to, err = transferTarget(st, req.GetTo())
				if err == nil {
					err = n.engine.TransferLeadership(to)
				}
			}
		}); qerr != nil {
			return nil, qerr
		}
		if done != nil || err != nil {
			return done, err
		}
		n.logger().Info("cluster: transferring leadership", "to", to)
		return n.awaitLeader(ctx, to, timeout)
	}
	resp, err := leaderCall(ctx, n, "transfer leadership", local,
		func(ctx context.Context, conn *grpc.ClientConn) (*kannapb.TransferLeadershipResponse, error) {
			return kannapb.NewClusterClient(conn).TransferLeadership(ctx, req)
		})
	if err != nil {
		return nil, err
	}
	// Forwarded: the leader saw the change; wait until this node sees it too.
	return n.awaitLeader(ctx, resp.GetLeader(), timeout)
}

// transferTarget checks the requested target, or picks the most up-to-date voter for 0.
func transferTarget(st raft.Status, to uint64) (uint64, error) {
	if to == 0 {
		id, err := engine.PickTransferee(st)
		if err != nil {
			return 0, status.Error(codes.FailedPrecondition, err.Error())
		}
		return id, nil
	}
	if slices.Contains(st.ConfState.Learners, to) {
		return 0, status.Errorf(codes.FailedPrecondition, "node %d is a learner and cannot lead; wait until it is promoted to voter, or pick one of %v", to, st.ConfState.Voters)
	}
	if !slices.Contains(st.ConfState.Voters, to) {
		return 0, status.Errorf(codes.NotFound, "node %d is not a member; pick one of the voters %v", to, st.ConfState.Voters)
	}
	return to, nil
}

// awaitLeader waits until this node sees leader lead, for at most timeout.
func (n *Node) awaitLeader(ctx context.Context, leader uint64, timeout time.Duration) (*kannapb.TransferLeadershipResponse, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var term uint64
	err := n.waitFor(wctx, func(st raft.Status) bool {
		term = st.Term
		return st.Lead == leader
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, toStatus(ctx.Err())
		}
		return nil, status.Errorf(codes.Unavailable, "node %d did not see node %d take over within %v; check Status and retry", n.id, leader, timeout)
	}
	return &kannapb.TransferLeadershipResponse{Leader: leader, Term: term}, nil
}

// RemoveServer removes a member for good, never leaving fewer than three voters.
func (c *clusterService) RemoveServer(ctx context.Context, req *kannapb.RemoveServerRequest) (*kannapb.RemoveServerResponse, error) {
	n := c.n
	id := req.GetId()
	if id == 0 {
		return nil, status.Error(codes.InvalidArgument, "id 0 names no node; pass the id of the member to remove (see Members)")
	}
	local := func(ctx context.Context) (*kannapb.RemoveServerResponse, error) {
		var index uint64
		_, err := n.submit(ctx, func() (engine.ProposalID, error) {
			st := n.engine.Status()
			if st.Role != raft.Leader {
				return 0, &raft.NotLeaderError{Leader: st.Lead}
			}
			if err := checkRemoval(st, id); err != nil {
				return 0, err
			}
			pid, err := n.engine.ProposeConfChange(raft.ConfChange{Type: raft.RemoveNode, NodeID: id})
			if errors.Is(err, raft.ErrConfChangePending) {
				return 0, status.Error(codes.FailedPrecondition, "another configuration change is still uncommitted; retry after it commits")
			}
			if err != nil {
				return 0, err
			}
			index = n.engine.Status().LastIndex
			n.loop.members.Bar(id)
			n.logger().Info("cluster: removing member on request", "member", id, "index", index)
			return pid, nil
		})
		if err != nil {
			return nil, err
		}
		var conf raft.ConfState
		if qerr := n.query(ctx, func() { conf = n.engine.Status().ConfState }); qerr != nil {
			return nil, qerr
		}
		return &kannapb.RemoveServerResponse{Voters: conf.Voters, Learners: conf.Learners, Index: index}, nil
	}
	var wasMember bool
	if err := n.query(ctx, func() {
		cs := n.engine.Status().ConfState
		wasMember = slices.Contains(cs.Voters, id) || slices.Contains(cs.Learners, id)
	}); err != nil {
		return nil, toStatus(err)
	}
	resp, err := leaderCall(ctx, n, fmt.Sprintf("remove node %d", id), local,
		func(ctx context.Context, conn *grpc.ClientConn) (*kannapb.RemoveServerResponse, error) {
			return kannapb.NewClusterClient(conn).RemoveServer(ctx, req)
		})
	if status.Code(err) == codes.NotFound && wasMember {
		// The member was there when the call began, so an earlier attempt of this very call
		// removed it before a leader change hid the answer, and the retry found nothing left.
		return n.removedAlready(ctx, id)
	}
	return resp, err
}

// removedAlready answers a removal that an earlier attempt made: the configuration once this node
// sees the member gone, with index 0 since the attempt that committed it is not known here.
func (n *Node) removedAlready(ctx context.Context, id uint64) (*kannapb.RemoveServerResponse, error) {
	wctx, cancel := context.WithTimeout(ctx, time.Duration(2*n.cfg.ElectionTick)*n.cfg.TickInterval)
	defer cancel()
	var conf raft.ConfState
	err := n.waitFor(wctx, func(st raft.Status) bool {
		conf = st.ConfState
		return !slices.Contains(conf.Voters, id) && !slices.Contains(conf.Learners, id)
	})
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "node %d's removal was not seen committed here in time; check Members and retry", id)
	}
	return &kannapb.RemoveServerResponse{Voters: conf.Voters, Learners: conf.Learners}, nil
}

// checkRemoval refuses to remove a non-member, or a voter when fewer than three would remain.
func checkRemoval(st raft.Status, id uint64) error {
	voters := st.ConfState.Voters
	isVoter := slices.Contains(voters, id)
	if !isVoter && !slices.Contains(st.ConfState.Learners, id) {
		return status.Errorf(codes.NotFound, "node %d is not a member; the voters are %v and the learners %v", id, voters, st.ConfState.Learners)
	}
	if isVoter && len(voters)-1 < engine.MinAutoVoters {
		return status.Errorf(codes.FailedPrecondition,
			"removing node %d would leave %d voters, fewer than %d, and the cluster could then not survive a failure; add a member first", id, len(voters)-1, engine.MinAutoVoters)
	}
	return nil
}

// DropTraffic adds fault-injection rules.
func (c *clusterService) DropTraffic(ctx context.Context, req *kannapb.DropTrafficRequest) (*kannapb.DropTrafficResponse, error) {
	if err := c.faultsAllowed(); err != nil {
		return nil, err
	}
	known := map[uint64]bool{}
	if err := c.n.query(ctx, func() {
		st := c.n.engine.Status()
		for _, id := range append(slices.Clone(st.ConfState.Voters), st.ConfState.Learners...) {
			known[id] = true
		}
		for _, m := range c.n.gossip.Members() {
			known[parseID(m.ID)] = true
		}
	}); err != nil {
		return nil, toStatus(err)
	}
	for _, p := range append(slices.Clone(req.GetToPeers()), req.GetFromPeers()...) {
		if p == 0 || p == c.n.id {
			return nil, status.Errorf(codes.InvalidArgument, "peer %d cannot be cut from node %d: name other members by their ids", p, c.n.id)
		}
		if !known[p] {
			return nil, status.Errorf(codes.NotFound, "peer %d is not a member node %d knows, in its configuration or its gossip view; Members lists them", p, c.n.id)
		}
	}
	c.n.faults.add(req.GetToPeers(), req.GetFromPeers(), req.GetTraffic())
	rules := c.n.faults.list()
	c.n.logger().Warn("fault injection: dropping traffic", "to", req.GetToPeers(), "from", req.GetFromPeers(), "traffic", req.GetTraffic().String())
	return &kannapb.DropTrafficResponse{DropRules: rules}, nil
}

// Heal removes fault-injection rules.
func (c *clusterService) Heal(_ context.Context, req *kannapb.HealRequest) (*kannapb.HealResponse, error) {
	if err := c.faultsAllowed(); err != nil {
		return nil, err
	}
	c.n.faults.heal(req.GetPeers())
	c.n.logger().Warn("fault injection: healed", "peers", req.GetPeers())
	return &kannapb.HealResponse{DropRules: c.n.faults.list()}, nil
}

func (c *clusterService) faultsAllowed() error {
	if !c.n.cfg.EnableFaultInjection {
		return status.Errorf(codes.FailedPrecondition,
			"fault injection is disabled on node %d; restart it with --enable-fault-injection (kanna demo does) to cut links", c.n.id)
	}
	return nil
}

func memberState(s gossip.State) kannapb.MemberState {
	switch s {
	case gossip.StateAlive:
		return kannapb.MemberState_MEMBER_STATE_ALIVE
	case gossip.StateSuspect:
		return kannapb.MemberState_MEMBER_STATE_SUSPECT
	case gossip.StateDead:
		return kannapb.MemberState_MEMBER_STATE_DEAD
	case gossip.StateLeft:
		return kannapb.MemberState_MEMBER_STATE_LEFT
	}
	return kannapb.MemberState_MEMBER_STATE_UNSPECIFIED
}
