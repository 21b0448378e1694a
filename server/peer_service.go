// The server side of node-to-node traffic: Raft.Stream and the Gossip service (raft.proto,
// gossip.proto; docs/protocol.md says what each must do).
//
// Incoming messages go to the loop through bounded queues and are dropped when a queue is full:
// the loop must never wait on the network, and both protocols treat a lost message as the normal
// case (Raft paper §5.1; SWIM §3). Fault injection drops after the message is taken and
// acknowledged, so that a cut link looks like loss, not like an error.
package server

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// ackEvery and ackInterval are the ack cadence of a Raft stream: one cumulative RaftAck per
// ackEvery messages, and one every ackInterval while any message is unacknowledged. The sender
// bounds its unacknowledged messages with acks (maxUnacked, far above ackEvery), so acknowledging
// each message would double the packets for nothing; and it tears down a stream whose acks stop
// while messages are outstanding (raftPeer.stream), so the last messages before a pause must be
// acknowledged well within an election timeout.
const (
	ackEvery    = 32
	ackInterval = 100 * time.Millisecond
)

// raftService serves Raft.Stream.
type raftService struct {
	kannapb.UnimplementedRaftServer
	n *Node
}

// Stream takes every message one peer sends this node, in order, and hands each to the loop.
func (s raftService) Stream(stream kannapb.Raft_StreamServer) error {
	var received uint64
	acks := newStreamAcker(stream)
	defer acks.stop()
	md, _ := metadata.FromIncomingContext(stream.Context())
	var senderAddr string
	if a := md.Get(AddressHeader); len(a) == 1 {
		senderAddr = a[0]
	}
	for {
		pm, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		received++
		m, err := fromProto(pm)
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if m.To != s.n.id {
			return status.Errorf(codes.FailedPrecondition,
				"raft message for node %d reached node %d at %s; the sender's address book is stale and gossip will correct it", m.To, s.n.id, s.n.addr)
		}
		if received == 1 && senderAddr != "" && s.n.tr.addrOf(m.From) == "" {
			// Gossip has not told us about the sender yet; its replies need somewhere to go.
			s.n.tr.setAddr(m.From, senderAddr)
		}
		if received == 1 && !s.n.faults.dropIn(m.From, classRaft) {
			s.n.tr.reachedBy(s.n.tr.addrOf(m.From))
		}
		if !s.n.faults.dropIn(m.From, classRaft) {
			select {
			case s.n.raftIn <- m:
			case <-s.n.done:
				return status.Errorf(codes.Unavailable, "node %d is shutting down; its peers will elect around it", s.n.id)
			default:
				// The loop is behind; Raft resends what matters.
			}
		}
		if err := acks.received(received, received%ackEvery == 0); err != nil {
			return err
		}
	}
}

// streamAcker sends a Raft stream's acks from a goroutine of its own, so that acks keep coming
// while Recv waits for the next message; gRPC allows one Send beside one Recv.
type streamAcker struct {
	stream kannapb.Raft_StreamServer
	count  atomic.Uint64 // messages received so far
	now    chan struct{} // asks for an ack at once
	done   chan struct{}
	exited chan struct{}
	err    atomic.Pointer[error]
}

func newStreamAcker(stream kannapb.Raft_StreamServer) *streamAcker {
	a := &streamAcker{stream: stream, now: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	go a.run()
	return a
}

// received records that n messages have arrived, asking for an ack at once when urgent, and
// returns the error of a failed ack.
func (a *streamAcker) received(n uint64, urgent bool) error {
	a.count.Store(n)
	if urgent {
		select {
		case a.now <- struct{}{}:
		default:
		}
	}
	if err := a.err.Load(); err != nil {
		return *err
	}
	return nil
}

func (a *streamAcker) run() {
	defer close(a.exited)
	tick := time.NewTicker(ackInterval)
	defer tick.Stop()
	var sent uint64
	for {
		select {
		case <-a.done:
			return
		case <-a.stream.Context().Done():
			return
		case <-a.now:
		case <-tick.C:
		}
		n := a.count.Load()
		if n == sent {
			continue
		}
		if err := a.stream.Send(&kannapb.RaftAck{Received: n}); err != nil {
			a.err.Store(&err)
			return
		}
		sent = n
	}
}

// stop ends the goroutine and waits for it, so no Send outlives the handler.
func (a *streamAcker) stop() {
	close(a.done)
	<-a.exited
}

// gossipService serves Gossip.Packet and Gossip.PushPull.
type gossipService struct {
	kannapb.UnimplementedGossipServer
	n *Node
}

// gossipInput is one gossip message for the loop; reply, when set, receives the answer to a
// push-pull.
type gossipInput struct {
	msg   gossip.Message
	reply chan gossip.Message
}

// Packet hands one gossip datagram to the loop.
func (s gossipService) Packet(ctx context.Context, p *kannapb.GossipPacket) (*kannapb.Empty, error) {
	m, err := s.decode(p.GetData())
	if err != nil {
		return nil, err
	}
	if s.n.faults.dropIn(parseID(m.From), classGossip) {
		return &kannapb.Empty{}, nil
	}
	s.n.tr.reachedBy(p.GetFromAddress())
	select {
	case s.n.gossipIn <- gossipInput{msg: m}:
	case <-s.n.done:
		return nil, status.Errorf(codes.Unavailable, "node %d is shutting down", s.n.id)
	default:
	}
	return &kannapb.Empty{}, nil
}

// PushPull merges the caller's membership table and answers with this node's.
func (s gossipService) PushPull(ctx context.Context, st *kannapb.GossipState) (*kannapb.GossipState, error) {
	m, err := s.decode(st.GetData())
	if err != nil {
		return nil, err
	}
	if m.Type != gossip.MsgPushPull {
		return nil, status.Errorf(codes.InvalidArgument, "PushPull carries a %v message; only push-pull belongs there (send the rest with Packet)", m.Type)
	}
	if s.n.faults.dropIn(parseID(m.From), classGossip) {
		return nil, status.Errorf(codes.Unavailable, "push-pull from %s dropped by fault injection on node %d", m.From, s.n.id)
	}
	s.n.tr.reachedBy(st.GetFromAddress())
	reply := make(chan gossip.Message, 1)
	select {
	case s.n.gossipIn <- gossipInput{msg: m, reply: reply}:
	case <-s.n.done:
		return nil, status.Errorf(codes.Unavailable, "node %d is shutting down", s.n.id)
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	select {
	case r := <-reply:
		if r.Type == 0 {
			return nil, status.Errorf(codes.Unavailable, "node %d has no membership table to offer: it is leaving the cluster", s.n.id)
		}
		data, err := r.Marshal()
		if err != nil {
			return nil, status.Errorf(codes.Internal, "encode push-pull reply: %v", err)
		}
		return &kannapb.GossipState{Data: data, FromAddress: s.n.addr}, nil
	case <-s.n.done:
		return nil, status.Errorf(codes.Unavailable, "node %d is shutting down", s.n.id)
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func (s gossipService) decode(data []byte) (gossip.Message, error) {
	if len(data) == 0 {
		return gossip.Message{}, status.Error(codes.InvalidArgument, "gossip data is empty; send one message encoded by the gossip core")
	}
	m, err := gossip.Unmarshal(data)
	if err != nil {
		return gossip.Message{}, status.Error(codes.InvalidArgument, err.Error())
	}
	return m, nil
}
