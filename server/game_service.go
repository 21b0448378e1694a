// The Game service (game.proto): any node takes the call; writes and linearizable reads go to the
// leader, forwarded once and retried across leader changes within the call's deadline.
//
// Raft paper §8 ("Client interaction"): clients send requests to the leader, a follower that gets
// one points it at the leader (here it forwards the call itself), and a request retried after a
// leader change is applied once because the state machine remembers each client's last serial
// number; the retry carries the same client id and seq. Reads use ReadIndex (thesis §6.4).
package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/kanna-cluster/kanna/server/engine"
)

const (
	// defaultCallTimeout bounds a game call that came without a deadline: several election
	// timeouts, so a call survives a leader change, but not forever.
	defaultCallTimeout = 10 * time.Second
	// The retry backoff across leader changes: quick at first, and never longer than one tick,
	// so that a call waiting out an election (one to two election timeouts) is resent within a
	// tick of the new leader's arrival; a failover is measured to the next acknowledged write.
	minRetryBackoff = 10 * time.Millisecond
	maxRetryBackoff = 50 * time.Millisecond
)

// gameService serves the Game RPCs.
type gameService struct {
	kannapb.UnimplementedGameServer
	n *Node
}

// CreateRoom creates a room; the leader picks the word.
func (g *gameService) CreateRoom(ctx context.Context, req *kannapb.CreateRoomRequest) (*kannapb.RoomState, error) {
	cmd, _ := WriteCommand(req)
	return g.n.write(ctx, cmd, func(ctx context.Context, c kannapb.GameClient) (*kannapb.RoomState, error) {
		return c.CreateRoom(ctx, req)
	})
}

// JoinRoom adds a player to a room.
func (g *gameService) JoinRoom(ctx context.Context, req *kannapb.JoinRoomRequest) (*kannapb.RoomState, error) {
	cmd, _ := WriteCommand(req)
	return g.n.write(ctx, cmd, func(ctx context.Context, c kannapb.GameClient) (*kannapb.RoomState, error) {
		return c.JoinRoom(ctx, req)
	})
}

// Guess guesses one letter.
func (g *gameService) Guess(ctx context.Context, req *kannapb.GuessRequest) (*kannapb.RoomState, error) {
	cmd, _ := WriteCommand(req)
	return g.n.write(ctx, cmd, func(ctx context.Context, c kannapb.GameClient) (*kannapb.RoomState, error) {
		return c.Guess(ctx, req)
	})
}

// NewRound starts a room's next round; the leader picks the word.
func (g *gameService) NewRound(ctx context.Context, req *kannapb.NewRoundRequest) (*kannapb.RoomState, error) {
	cmd, _ := WriteCommand(req)
	return g.n.write(ctx, cmd, func(ctx context.Context, c kannapb.GameClient) (*kannapb.RoomState, error) {
		return c.NewRound(ctx, req)
	})
}

// GetRoom reads a room, through ReadIndex on the leader when linearizable is set.
func (g *gameService) GetRoom(ctx context.Context, req *kannapb.GetRoomRequest) (*kannapb.RoomState, error) {
	n := g.n
	if !req.GetLinearizable() {
		var out *kannapb.RoomState
		var err error
		if qerr := n.query(ctx, func() {
			view, verr := n.engine.LocalRoom(req.GetRoom())
			out, err = roomState(view, n.id, n.engine.Applied()), verr
		}); qerr != nil {
			return nil, toStatus(qerr)
		}
		return out, toStatus(err)
	}
	local := func(ctx context.Context) (*kannapb.RoomState, error) {
		r, err := n.submit(ctx, func() (engine.ProposalID, error) { return n.engine.Read(req.GetRoom()) })
		if err != nil {
			return nil, err
		}
		return roomState(r.res.Room, n.id, r.applied), nil
	}
	return leaderCall(ctx, n, "read room "+strconv.Quote(req.GetRoom()), local,
		func(ctx context.Context, conn *grpc.ClientConn) (*kannapb.RoomState, error) {
			return kannapb.NewGameClient(conn).GetRoom(ctx, req)
		})
}

// ListRooms lists every room this node has applied, sorted by name.
func (g *gameService) ListRooms(ctx context.Context, _ *kannapb.ListRoomsRequest) (*kannapb.ListRoomsResponse, error) {
	n := g.n
	resp := &kannapb.ListRoomsResponse{ServedBy: n.id}
	if err := n.query(ctx, func() {
		resp.CommitIndex = n.engine.Applied()
		for _, name := range n.engine.Game().RoomNames() {
			if view, err := n.engine.LocalRoom(name); err == nil {
				resp.Rooms = append(resp.Rooms, roomState(view, n.id, resp.CommitIndex))
			}
		}
	}); err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

// Watch streams a room's state after every change this node applies.
func (g *gameService) Watch(req *kannapb.WatchRequest, stream kannapb.Game_WatchServer) error {
	n := g.n
	ctx := stream.Context()
	w := newWatcher(req.GetRoom())
	var err error
	if qerr := n.query(ctx, func() { err = n.addWatcher(w) }); qerr != nil {
		return toStatus(qerr)
	}
	if err != nil {
		return toStatus(err)
	}
	defer func() { _ = n.do(context.Background(), func() { n.removeWatcher(w) }) }()
	for {
		select {
		case s := <-w.latest:
			if err := stream.Send(s); err != nil {
				return err
			}
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-n.done:
			return status.Errorf(codes.Unavailable, "node %d is shutting down; watch the room on another node", n.id)
		}
	}
}

// write proposes a game command through the leader and answers with the room after it.
func (n *Node) write(ctx context.Context, cmd game.Command, forward func(context.Context, kannapb.GameClient) (*kannapb.RoomState, error)) (*kannapb.RoomState, error) {
	if err := validate(cmd); err != nil {
		return nil, toStatus(err)
	}
	local := func(ctx context.Context) (*kannapb.RoomState, error) {
		stamped := cmd
		stamped.Time = time.Now().UnixMilli() // the log's clock (game/session.go); only a leader's Propose keeps it
		r, err := n.submit(ctx, func() (engine.ProposalID, error) { return n.engine.Propose(stamped) })
		if err != nil {
			return nil, err
		}
		if verdict := r.res.Result.Error(); verdict != nil {
			return nil, toStatus(verdict)
		}
		return roomState(r.res.Room, n.id, r.applied), nil
	}
	return leaderCall(ctx, n, string(cmd.Kind)+" in room "+strconv.Quote(cmd.Room), local,
		func(ctx context.Context, conn *grpc.ClientConn) (*kannapb.RoomState, error) {
			return forward(ctx, kannapb.NewGameClient(conn))
		})
}

// anyWord is a valid word, which stands in for the leader's pick when a request is checked.
var anyWord = game.Words()[0]

// validate refuses a malformed request here rather than after a hop to the leader. The word is
// the leader's to pick, so any valid one stands in for it in the check.
func validate(cmd game.Command) error {
	if cmd.NeedsWord() {
		cmd.Word = anyWord
	}
	return cmd.Validate()
}

// submit starts a proposal or read on the loop and waits for its result. A result that carries an
// error (ErrProposalLost, or a read's NotFound) is returned as that error.
func (n *Node) submit(ctx context.Context, start func() (engine.ProposalID, error)) (waitResult, error) {
	reply := make(chan waitResult, 1)
	if err := n.do(ctx, func() {
		id, err := start()
		if err != nil {
			reply <- waitResult{err: err}
			return
		}
		n.loop.waiters[id] = waiter{ch: reply}
	}); err != nil {
		return waitResult{}, err
	}
	select {
	case r := <-reply:
		if r.err != nil {
			return r, r.err
		}
		return r, r.res.Err
	case <-n.done:
		return waitResult{}, ErrStopped
	case <-ctx.Done():
		return waitResult{}, ctx.Err()
	}
}

// leaderCall runs local on this node; when it is not the leader, it forwards the call once to the
// leader it knows (marked with ForwardedHeader); and it retries either across leader changes until
// the call's deadline. A forwarded call is never forwarded again: a node that gets one without
// leading answers Unavailable, and the node that forwarded it retries.
//
// No attempt outlives the leadership it was made under: an attempt is abandoned (and the call
// retried at once) when this node sees the leader or its own role change, and a forwarded attempt
// also after hopTimeout. A leader that stalls (paused, cut off) thus costs its callers one election,
// not their whole deadline; the retry carries the same client id and seq, so it applies once.
func leaderCall[T any](ctx context.Context, n *Node, what string, local func(context.Context) (T, error),
	forward func(context.Context, *grpc.ClientConn) (T, error)) (T, error) {
	var zero T
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCallTimeout)
		defer cancel()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	forwarded := len(md.Get(ForwardedHeader)) > 0
	backoff := minRetryBackoff
	var last error
	for {
		moved := n.leaderMoved()
		v, err := untilMoved(ctx, moved, local)
		if err == nil {
			return v, nil
		}
		var nl *raft.NotLeaderError
		switch {
		case ctx.Err() != nil:
			return zero, deadlineError(ctx, what, last)
		case errors.As(err, &nl) && forwarded:
			return zero, status.Errorf(codes.Unavailable,
				"node %d got a forwarded %s but does not lead (%v); the forwarding node retries", n.id, what, nl)
		case errors.As(err, &nl) && nl.Leader != raft.None && nl.Leader != n.id:
			v, ferr := untilMoved(ctx, moved, func(ctx context.Context) (T, error) {
				hctx, cancel := context.WithTimeout(ctx, n.hopTimeout())
				defer cancel()
				return forwardTo(hctx, n, nl.Leader, forward)
			})
			if ferr == nil {
				return v, nil
			}
			err = ferr
		}
		if !retryable(err) {
			if ctx.Err() != nil {
				return zero, deadlineError(ctx, what, last)
			}
			return zero, toStatus(err)
		}
		last = err
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return zero, deadlineError(ctx, what, last)
		case <-n.done:
			timer.Stop()
			return zero, toStatus(ErrStopped)
		case <-moved:
			// A leader change is what the call was waiting for: try again now.
			timer.Stop()
		case <-timer.C:
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

// errAbandoned ends an attempt made under a leader that is no longer this node's leader, or a hop
// that took longer than hopTimeout. The call retries it.
var errAbandoned = errors.New("server: attempt abandoned: the leader changed or did not answer in time")

// untilMoved runs one attempt, cancelling it when moved is closed. An attempt cut short, by moved
// or by its own hop deadline, while ctx still runs, fails with errAbandoned.
func untilMoved[T any](ctx context.Context, moved <-chan struct{}, attempt func(context.Context) (T, error)) (T, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-moved:
			cancel()
		case <-stop:
		}
	}()
	v, err := attempt(actx)
	if err != nil && ctx.Err() == nil {
		switch c := status.Code(err); {
		case actx.Err() != nil, c == codes.Canceled, c == codes.DeadlineExceeded,
			errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return v, fmt.Errorf("%w (%v)", errAbandoned, err)
		}
	}
	return v, err
}

// hopTimeout bounds one forwarded attempt: two election timeouts. A healthy leader commits in
// milliseconds; one that has not answered by then is paused or cut off, and will be voted out.
func (n *Node) hopTimeout() time.Duration {
	return 2 * time.Duration(n.cfg.ElectionTick) * n.cfg.TickInterval
}

// forwardTo makes the call on the leader's node.
func forwardTo[T any](ctx context.Context, n *Node, leader uint64, call func(context.Context, *grpc.ClientConn) (T, error)) (T, error) {
	var zero T
	addr := n.tr.addrOf(leader)
	if addr == "" {
		return zero, status.Errorf(codes.Unavailable, "leader %d's address is not known yet; gossip will tell", leader)
	}
	conn, err := n.tr.conn(addr)
	if err != nil {
		return zero, status.Errorf(codes.Unavailable, "connect to leader %d at %s: %v", leader, addr, err)
	}
	return call(metadata.AppendToOutgoingContext(ctx, ForwardedHeader, strconv.FormatUint(n.id, 10)), conn)
}
