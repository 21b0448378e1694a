// Game.Play: many writes in flight on one stream, each answered as its unary call would be.
//
// A unary write costs a gRPC call of its own (a new HTTP/2 stream, headers both ways, a handler
// goroutine), which on a busy leader costs as much CPU as the Raft work of the write; a stream
// pays for that once. The Raft side is unchanged (paper §5.3, §8): every call is one proposal,
// answered once committed and applied, and a retry with the same client id and seq applies once.
//
// On the leader a call is proposed straight from the stream's reader and its result comes back,
// tagged with the call, on one channel per stream: no goroutine or timer per call. Anything else
// (this node does not lead, or the proposal was lost in a leader change) goes through the unary
// path's own code, write and leaderCall, in a goroutine for the call: forwarded to the leader and
// retried across leader changes, so a call on a stream gets the answers a unary call would.
package server

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
)

// maxPlayInFlight bounds the calls one Play stream runs at once; the stream reads no further
// request until one of them is answered. It is also the room of the stream's reply channels, so
// neither the loop nor a call's goroutine ever blocks handing over a reply.
const maxPlayInFlight = 1024

// playCall is one call on a Play stream.
type playCall struct {
	id      uint64
	cmd     game.Command
	forward func(context.Context, kannapb.GameClient) (*kannapb.RoomState, error)
}

// playStream is the state of one Play stream. The handler's goroutine is the only one that sends;
// a reader goroutine receives and starts calls.
type playStream struct {
	n      *Node
	stream kannapb.Game_PlayServer
	ctx    context.Context
	// results carries the loop's answers to calls proposed straight from the reader.
	results chan waitResult
	// replies carries every other answer: refused requests, and calls that took the unary path.
	replies chan *kannapb.PlayReply
	// slots holds one token per call in flight.
	slots chan struct{}
}

// Play serves a stream of writes.
func (g *gameService) Play(stream kannapb.Game_PlayServer) error {
	p := &playStream{
		n:       g.n,
		stream:  stream,
		ctx:     stream.Context(),
		results: make(chan waitResult, maxPlayInFlight),
		replies: make(chan *kannapb.PlayReply, maxPlayInFlight),
		slots:   make(chan struct{}, maxPlayInFlight),
	}
	readEnd := make(chan error, 1)
	go func() { readEnd <- p.read() }()
	var ended chan error = readEnd // nil once the reader has ended with the client's CloseSend
	for {
		if ended == nil && len(p.slots) == 0 {
			// The client sent its last call and every call is answered.
			return nil
		}
		var reply *kannapb.PlayReply
		select {
		case r := <-p.results:
			reply = p.finish(r)
		case reply = <-p.replies:
		case err := <-ended:
			if err != nil {
				return err
			}
			ended = nil
			continue
		case <-p.n.done:
			return status.Errorf(codes.Unavailable, "node %d is shutting down; resend the calls not answered to another node with the same client_id and seq", p.n.id)
		case <-p.ctx.Done():
			return status.FromContextError(p.ctx.Err()).Err()
		}
		if reply == nil {
			continue // the call went on to the unary path
		}
		if err := stream.Send(reply); err != nil {
			return err
		}
		<-p.slots
	}
}

// read receives requests and starts each call, until the client closes its side (nil) or the
// stream breaks.
func (p *playStream) read() error {
	for {
		req, err := p.stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case p.slots <- struct{}{}:
		case <-p.ctx.Done():
			return status.FromContextError(p.ctx.Err()).Err()
		}
		p.start(req)
	}
}

// start begins one call: refused at once if malformed, proposed here if this node leads, or
// handed to the unary path otherwise.
func (p *playStream) start(req *kannapb.PlayRequest) {
	c := &playCall{id: req.GetCallId()}
	var ok bool
	if c.cmd, c.forward, ok = playWrite(req); !ok {
		p.replies <- playReply(c.id, nil, errNoWrite)
		return
	}
	if err := validate(c.cmd); err != nil {
		p.replies <- playReply(c.id, nil, toStatus(err))
		return
	}
	if !p.n.leads() {
		p.unary(c)
		return
	}
	stamped := c.cmd
	stamped.Time = time.Now().UnixMilli() // the log's clock (game/session.go); only a leader's Propose keeps it
	if err := p.n.do(p.ctx, func() {
		id, err := p.n.engine.Propose(stamped)
		if err != nil {
			p.results <- waitResult{err: err, call: c}
			return
		}
		p.n.loop.waiters[id] = waiter{ch: p.results, call: c}
	}); err != nil {
		p.replies <- playReply(c.id, nil, toStatus(err))
	}
}

// finish turns the loop's answer to a call into its reply, or, when the answer says to try again
// (a leader change), hands the call to the unary path and returns nil.
func (p *playStream) finish(r waitResult) *kannapb.PlayReply {
	c := r.call
	err := r.err
	if err == nil {
		err = r.res.Err
	}
	if err == nil {
		if verdict := r.res.Result.Error(); verdict != nil {
			return playReply(c.id, nil, toStatus(verdict))
		}
		return playReply(c.id, roomState(r.res.Room, p.n.id, r.applied), nil)
	}
	if retryable(err) {
		p.unary(c)
		return nil
	}
	return playReply(c.id, nil, toStatus(err))
}

// unary runs the call as its unary RPC would run on this node (write), in a goroutine of its own:
// forwarded to the leader, retried across leader changes until defaultCallTimeout.
func (p *playStream) unary(c *playCall) {
	go func() {
		st, err := p.n.write(p.ctx, c.cmd, c.forward)
		p.replies <- playReply(c.id, st, err)
	}()
}

// errNoWrite answers a PlayRequest that holds no write.
var errNoWrite = status.Error(codes.InvalidArgument, "a PlayRequest must hold one write: create_room, join_room, guess or new_round")

// playWrite is the write a PlayRequest holds: its game command, and the unary call that forwards
// it to the leader. It is false when the request holds none.
func playWrite(req *kannapb.PlayRequest) (game.Command, func(context.Context, kannapb.GameClient) (*kannapb.RoomState, error), bool) {
	var forward func(context.Context, kannapb.GameClient) (*kannapb.RoomState, error)
	var write any
	switch w := req.GetCommand().(type) {
	case *kannapb.PlayRequest_CreateRoom:
		write, forward = w.CreateRoom, func(ctx context.Context, g kannapb.GameClient) (*kannapb.RoomState, error) {
			return g.CreateRoom(ctx, w.CreateRoom)
		}
	case *kannapb.PlayRequest_JoinRoom:
		write, forward = w.JoinRoom, func(ctx context.Context, g kannapb.GameClient) (*kannapb.RoomState, error) {
			return g.JoinRoom(ctx, w.JoinRoom)
		}
	case *kannapb.PlayRequest_Guess:
		write, forward = w.Guess, func(ctx context.Context, g kannapb.GameClient) (*kannapb.RoomState, error) {
			return g.Guess(ctx, w.Guess)
		}
	case *kannapb.PlayRequest_NewRound:
		write, forward = w.NewRound, func(ctx context.Context, g kannapb.GameClient) (*kannapb.RoomState, error) {
			return g.NewRound(ctx, w.NewRound)
		}
	}
	cmd, ok := WriteCommand(write)
	return cmd, forward, ok
}

// playReply is a call's reply: its state, or err (a gRPC status error) when err is set.
func playReply(id uint64, st *kannapb.RoomState, err error) *kannapb.PlayReply {
	if err != nil {
		s := status.Convert(err)
		return &kannapb.PlayReply{CallId: id, Outcome: &kannapb.PlayReply_Error{Error: &kannapb.CallError{Code: uint32(s.Code()), Message: s.Message()}}}
	}
	return &kannapb.PlayReply{CallId: id, Outcome: &kannapb.PlayReply_State{State: st}}
}

// leads reports whether the loop's last Ready made this node the leader.
func (n *Node) leads() bool {
	n.leadMu.Lock()
	defer n.leadMu.Unlock()
	return n.lead.Role == raft.Leader
}
