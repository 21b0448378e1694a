// The fake node's gRPC services: Game (docs/protocol.md, "Game") and Cluster ("Cluster"), answering
// with the codes a real node answers with.
package fakenode

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/proto/kannapb"
)

type gameServer struct {
	kannapb.UnimplementedGameServer
	n *Node
}

func (g *gameServer) CreateRoom(_ context.Context, r *kannapb.CreateRoomRequest) (*kannapb.RoomState, error) {
	g.n.c.count("CreateRoom")
	return g.n.c.apply(g.n, game.Command{Kind: game.KindCreateRoom, ClientID: r.GetClientId(), Seq: r.GetSeq(), Room: r.GetRoom()})
}

func (g *gameServer) JoinRoom(_ context.Context, r *kannapb.JoinRoomRequest) (*kannapb.RoomState, error) {
	g.n.c.count("JoinRoom")
	return g.n.c.apply(g.n, game.Command{Kind: game.KindJoin, ClientID: r.GetClientId(), Seq: r.GetSeq(), Room: r.GetRoom(), Player: r.GetPlayer(), Token: r.GetToken()})
}

func (g *gameServer) Guess(_ context.Context, r *kannapb.GuessRequest) (*kannapb.RoomState, error) {
	g.n.c.count("Guess")
	return g.n.c.apply(g.n, game.Command{Kind: game.KindGuess, ClientID: r.GetClientId(), Seq: r.GetSeq(), Room: r.GetRoom(), Player: r.GetPlayer(), Letter: r.GetLetter(), Token: r.GetToken()})
}

func (g *gameServer) NewRound(_ context.Context, r *kannapb.NewRoundRequest) (*kannapb.RoomState, error) {
	g.n.c.count("NewRound")
	return g.n.c.apply(g.n, game.Command{Kind: game.KindNewRound, ClientID: r.GetClientId(), Seq: r.GetSeq(), Room: r.GetRoom()})
}

func (g *gameServer) GetRoom(_ context.Context, r *kannapb.GetRoomRequest) (*kannapb.RoomState, error) {
	g.n.c.count("GetRoom")
	g.n.c.mu.Lock()
	defer g.n.c.mu.Unlock()
	return g.n.c.roomLocked(g.n, r.GetRoom())
}

func (g *gameServer) ListRooms(context.Context, *kannapb.ListRoomsRequest) (*kannapb.ListRoomsResponse, error) {
	g.n.c.count("ListRooms")
	c := g.n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	resp := &kannapb.ListRoomsResponse{ServedBy: g.n.ID, CommitIndex: g.n.applied}
	for _, name := range c.state.RoomNames() {
		if s, err := c.roomLocked(g.n, name); err == nil {
			resp.Rooms = append(resp.Rooms, s)
		}
	}
	return resp, nil
}

// Watch sends the room's state on this node, then a new one whenever a command applied to the room
// reaches this node; an isolated node's stream goes quiet, as a real follower cut off would.
func (g *gameServer) Watch(r *kannapb.WatchRequest, stream grpc.ServerStreamingServer[kannapb.RoomState]) error {
	g.n.c.count("Watch")
	c := g.n.c
	c.mu.Lock()
	g.n.watchers++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		g.n.watchers--
		c.mu.Unlock()
	}()
	var sent uint64 // the version of the last state sent
	first := true
	for {
		c.mu.Lock()
		if !g.n.up {
			c.mu.Unlock()
			return status.Error(codes.Unavailable, "node shutting down: watch another node")
		}
		s, err := c.roomLocked(g.n, r.GetRoom())
		changed := c.changed
		c.mu.Unlock()
		if err != nil {
			return err
		}
		// A node sends a change once it has applied it: an isolated node, whose applied index
		// stands still, goes quiet.
		if first || s.GetVersion() > sent && s.GetVersion() <= s.GetCommitIndex() {
			if err := stream.Send(s); err != nil {
				return err
			}
			sent, first = s.GetVersion(), false
		}
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-changed:
		}
	}
}

type clusterServer struct {
	kannapb.UnimplementedClusterServer
	n *Node
}

func (s *clusterServer) Status(_ context.Context, r *kannapb.StatusRequest) (*kannapb.NodeStatus, error) {
	s.n.c.count("Status")
	c := s.n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &kannapb.NodeStatus{Id: s.n.ID, Address: s.n.Addr, Role: kannapb.NodeRole_NODE_ROLE_FOLLOWER, Term: c.term,
		Commit: s.n.applied, Applied: s.n.applied, FirstIndex: 1, LastIndex: s.n.applied,
		ElectionTimeoutMs: 1000}
	from := max(0, int(s.n.applied)-int(r.GetLogTail()))
	st.Log = append(st.Log, c.log[from:s.n.applied]...)
	if s.n.isolated {
		// Cut off, it has campaigned in vain and sits in a term of its own with no leader.
		st.Role, st.Term = kannapb.NodeRole_NODE_ROLE_CANDIDATE, c.term+1
	} else {
		st.Leader = c.leader
		if c.leader == s.n.ID {
			st.Role = kannapb.NodeRole_NODE_ROLE_LEADER
		}
	}
	for _, m := range c.nodes {
		st.Voters = append(st.Voters, m.ID)
		state := kannapb.MemberState_MEMBER_STATE_ALIVE
		if m != s.n && (!m.up || m.isolated || s.n.isolated) {
			state = kannapb.MemberState_MEMBER_STATE_DEAD
		}
		st.GossipMembers = append(st.GossipMembers, &kannapb.GossipMember{Id: m.ID, Address: m.Addr, State: state, Incarnation: 1})
		if m != s.n && s.n.isolated {
			st.DropRules = append(st.DropRules,
				&kannapb.DropRule{Peer: m.ID, Direction: kannapb.Direction_DIRECTION_OUTBOUND, Traffic: kannapb.TrafficClass_TRAFFIC_CLASS_ALL},
				&kannapb.DropRule{Peer: m.ID, Direction: kannapb.Direction_DIRECTION_INBOUND, Traffic: kannapb.TrafficClass_TRAFFIC_CLASS_ALL})
		}
	}
	return st, nil
}

// Events replays the node's events after the caller's position, then follows new ones until the
// node stops.
func (s *clusterServer) Events(r *kannapb.EventsRequest, stream grpc.ServerStreamingServer[kannapb.ClusterEvent]) error {
	c := s.n.c
	after := r.GetAfter()
	for {
		c.mu.Lock()
		if !s.n.up {
			c.mu.Unlock()
			return status.Error(codes.Unavailable, "node shutting down")
		}
		if r.GetBoot() != s.n.boot {
			after = 0
		}
		r = &kannapb.EventsRequest{Boot: s.n.boot}
		evs := append([]*kannapb.ClusterEvent{}, s.n.events[min(after, uint64(len(s.n.events))):]...)
		changed := c.changed
		c.mu.Unlock()
		for _, ev := range evs {
			if err := stream.Send(ev); err != nil {
				return err
			}
			after = ev.GetSeq()
		}
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-changed:
		}
	}
}

func (s *clusterServer) DropTraffic(_ context.Context, r *kannapb.DropTrafficRequest) (*kannapb.DropTrafficResponse, error) {
	s.n.c.count("DropTraffic")
	for _, p := range append(r.GetToPeers(), r.GetFromPeers()...) {
		if p == 0 || p == s.n.ID {
			return nil, status.Errorf(codes.InvalidArgument, "peer id %d is 0 or this node itself", p)
		}
	}
	c := s.n.c
	c.mu.Lock()
	s.n.isolated = true
	c.settleLocked()
	c.mu.Unlock()
	return &kannapb.DropTrafficResponse{}, nil
}

func (s *clusterServer) Heal(context.Context, *kannapb.HealRequest) (*kannapb.HealResponse, error) {
	s.n.c.count("Heal")
	c := s.n.c
	c.mu.Lock()
	s.n.isolated = false
	c.settleLocked()
	c.mu.Unlock()
	return &kannapb.HealResponse{}, nil
}
