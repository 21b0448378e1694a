// The stream client path: the players' calls share one Game.Play stream per connection instead of
// one unary call each (docs/protocol.md, "Game"). Each call is a PlayRequest with a call id; its
// PlayReply, which may come back in any order, carries the RoomState or the gRPC code and message
// the unary call would have failed with, so a player sees exactly the errors of the unary path and
// retries them the same way.
package loadgen

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// Client paths, as --client-path names them.
const (
	PathUnary  = "unary"
	PathStream = "stream"
)

// Client makes a Game of a gRPC client on the named path; a stream's Close ends it, a unary
// Game's does nothing.
func Client(path string, c kannapb.GameClient) (GameCloser, error) {
	switch path {
	case PathUnary:
		return remote{c}, nil
	case PathStream:
		return Streamed(c), nil
	}
	return nil, fmt.Errorf("loadgen: client path %q: use %s or %s", path, PathUnary, PathStream)
}

// GameCloser is a Game that holds something to release when the players are done.
type GameCloser interface {
	Game
	Close() error
}

func (remote) Close() error { return nil }

// Stream is a Game whose calls share one Play stream, opened at the first call and opened again
// after it breaks. It is safe for concurrent use: that is its point.
type Stream struct {
	c  kannapb.GameClient
	mu sync.Mutex
	s  *playStream // nil until the first call, and after the stream breaks
}

// Streamed makes a Stream of a gRPC client.
func Streamed(c kannapb.GameClient) *Stream { return &Stream{c: c} }

// playStream is one open Play stream and the calls waiting on it.
type playStream struct {
	stream kannapb.Game_PlayClient
	cancel context.CancelFunc
	sendMu sync.Mutex // gRPC allows one sender at a time

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan *kannapb.PlayReply
	broken  error // why the stream ended; nil while it runs
}

func (s *Stream) CreateRoom(ctx context.Context, q *kannapb.CreateRoomRequest) (*kannapb.RoomState, error) {
	return s.call(ctx, &kannapb.PlayRequest{Command: &kannapb.PlayRequest_CreateRoom{CreateRoom: q}})
}
func (s *Stream) JoinRoom(ctx context.Context, q *kannapb.JoinRoomRequest) (*kannapb.RoomState, error) {
	return s.call(ctx, &kannapb.PlayRequest{Command: &kannapb.PlayRequest_JoinRoom{JoinRoom: q}})
}
func (s *Stream) Guess(ctx context.Context, q *kannapb.GuessRequest) (*kannapb.RoomState, error) {
	return s.call(ctx, &kannapb.PlayRequest{Command: &kannapb.PlayRequest_Guess{Guess: q}})
}
func (s *Stream) NewRound(ctx context.Context, q *kannapb.NewRoundRequest) (*kannapb.RoomState, error) {
	return s.call(ctx, &kannapb.PlayRequest{Command: &kannapb.PlayRequest_NewRound{NewRound: q}})
}

// Close ends the stream, if one is open: calls still waiting fail with Unavailable.
func (s *Stream) Close() error {
	s.mu.Lock()
	ps := s.s
	s.s = nil
	s.mu.Unlock()
	if ps != nil {
		ps.cancel()
	}
	return nil
}

// open returns the stream, opening one if there is none.
func (s *Stream) open() (*playStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s != nil {
		return s.s, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := s.c.Play(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	ps := &playStream{stream: stream, cancel: cancel, pending: map[uint64]chan *kannapb.PlayReply{}}
	s.s = ps
	go s.receive(ps)
	return ps, nil
}

// receive hands each reply to its call until the stream ends, then fails the calls left waiting
// with Unavailable, so that the players resend them (same client id and seq) on a new stream.
func (s *Stream) receive(ps *playStream) {
	for {
		r, err := ps.stream.Recv()
		if err != nil {
			s.mu.Lock()
			if s.s == ps {
				s.s = nil
			}
			s.mu.Unlock()
			ps.cancel()
			ps.mu.Lock()
			ps.broken = err
			for id, ch := range ps.pending {
				delete(ps.pending, id)
				close(ch)
			}
			ps.mu.Unlock()
			return
		}
		ps.mu.Lock()
		ch, ok := ps.pending[r.GetCallId()]
		delete(ps.pending, r.GetCallId())
		ps.mu.Unlock()
		if ok {
			ch <- r
		}
	}
}

// call sends one write and waits for its reply.
func (s *Stream) call(ctx context.Context, req *kannapb.PlayRequest) (*kannapb.RoomState, error) {
	ps, err := s.open()
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "open a Play stream: %v", err)
	}
	ch := make(chan *kannapb.PlayReply, 1)
	ps.mu.Lock()
	if ps.broken != nil {
		err := ps.broken
		ps.mu.Unlock()
		return nil, streamBroke(err)
	}
	ps.next++
	req.CallId = ps.next
	ps.pending[req.CallId] = ch
	ps.mu.Unlock()

	// A failed Send means the stream has ended; its status comes from Recv, and the receiver then
	// fails this call with the others waiting.
	ps.sendMu.Lock()
	_ = ps.stream.Send(req)
	ps.sendMu.Unlock()
	select {
	case r, ok := <-ch:
		if !ok {
			ps.mu.Lock()
			err := ps.broken
			ps.mu.Unlock()
			return nil, streamBroke(err)
		}
		if e := r.GetError(); e != nil {
			code := codes.Code(e.GetCode())
			if code == codes.OK {
				return nil, status.Errorf(codes.Internal, "the node answered call %d with an error of code 0 (OK): %s", req.CallId, e.GetMessage())
			}
			return nil, status.Error(code, e.GetMessage())
		}
		if r.GetState() == nil {
			return nil, status.Errorf(codes.Internal, "the node answered call %d with neither a state nor an error", req.CallId)
		}
		return r.GetState(), nil
	case <-ctx.Done():
		ps.mu.Lock()
		delete(ps.pending, req.CallId)
		ps.mu.Unlock()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// streamBroke is what a call left waiting on a stream that ended gets: Unavailable, whatever the
// stream's own status, since the call's fate is unknown and a retry with the same client id and
// seq applies it at most once.
func streamBroke(err error) error {
	return status.Errorf(codes.Unavailable, "the Play stream ended before the reply (%v); resend with the same client_id and seq", status.Convert(err).Message())
}
