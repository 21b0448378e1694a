// Tests of the stream client path: calls of many players share one Game.Play stream, each gets
// its own reply whatever the order replies come in, errors come back as the unary call's status,
// and a stream that breaks fails its calls with Unavailable and is opened again for the next.
package loadgen

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// playOverUnary serves Play by running each call through the stand-in's unary method in a
// goroutine of its own, so replies come back in whatever order the calls finish.
type playOverUnary struct {
	*standInGame
}

func (g playOverUnary) Play(stream kannapb.Game_PlayServer) error {
	var sendMu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := stream.Context()
			var st *kannapb.RoomState
			var err error
			switch w := req.Command.(type) {
			case *kannapb.PlayRequest_CreateRoom:
				st, err = g.CreateRoom(ctx, w.CreateRoom)
			case *kannapb.PlayRequest_JoinRoom:
				st, err = g.JoinRoom(ctx, w.JoinRoom)
			case *kannapb.PlayRequest_Guess:
				st, err = g.Guess(ctx, w.Guess)
			case *kannapb.PlayRequest_NewRound:
				st, err = g.NewRound(ctx, w.NewRound)
			}
			reply := &kannapb.PlayReply{CallId: req.CallId, Outcome: &kannapb.PlayReply_State{State: st}}
			if err != nil {
				s := status.Convert(err)
				reply.Outcome = &kannapb.PlayReply_Error{Error: &kannapb.CallError{Code: uint32(s.Code()), Message: s.Message()}}
			}
			sendMu.Lock()
			defer sendMu.Unlock()
			_ = stream.Send(reply)
		}()
	}
}

func TestBenchOnTheStreamPathCountsEachAppliedCommandOnceAcrossLostAnswers(t *testing.T) {
	g := newStandInGame(5)
	g.roundsDone, g.roundsWanted = make(chan struct{}), 8
	conn := serveGame(t, playOverUnary{g})
	game, err := Client(PathStream, kannapb.NewGameClient(conn))
	require.NoError(t, err)
	defer game.Close()
	res, err := Run(context.Background(), []Game{game}, Options{Clients: 4, Duration: time.Minute, Payload: 20, Stop: g.roundsDone}, io.Discard)
	require.NoError(t, err)
	requireOneOpPerAppliedCommand(t, g, res)
	require.Positive(t, res.Retries, "an Unavailable in a reply is retried as a unary one is")
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Len(t, g.answered, 4, "every player resent a request whose answer was lost")
}

// reversingPlay answers nothing until it holds `hold` calls, then answers them last first; the
// call naming room "refuse" gets an error.
type reversingPlay struct {
	kannapb.UnimplementedGameServer
	hold    atomic.Int32
	streams chan struct{} // one value per stream opened
}

func (r *reversingPlay) Play(stream kannapb.Game_PlayServer) error {
	r.streams <- struct{}{}
	var held []*kannapb.PlayRequest
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if req.GetGuess().GetRoom() == "break" {
			return status.Error(codes.Internal, "this stream is broken on purpose")
		}
		held = append(held, req)
		if len(held) < int(r.hold.Load()) {
			continue
		}
		for i := len(held) - 1; i >= 0; i-- {
			q := held[i]
			reply := &kannapb.PlayReply{CallId: q.CallId, Outcome: &kannapb.PlayReply_State{State: &kannapb.RoomState{Room: q.GetGuess().GetRoom()}}}
			if q.GetGuess().GetRoom() == "refuse" {
				reply.Outcome = &kannapb.PlayReply_Error{Error: &kannapb.CallError{Code: uint32(codes.NotFound), Message: "no room refuse"}}
			}
			if err := stream.Send(reply); err != nil {
				return err
			}
		}
		held = held[:0]
	}
}

func TestStreamMatchesRepliesToCallsInAnyOrderAndMapsErrors(t *testing.T) {
	srv := &reversingPlay{streams: make(chan struct{}, 10)}
	srv.hold.Store(3)
	conn := serveGame(t, srv)
	s := Streamed(kannapb.NewGameClient(conn))
	defer s.Close()

	rooms := []string{"a", "b", "refuse"}
	type answer struct {
		st  *kannapb.RoomState
		err error
	}
	answers := make([]answer, len(rooms))
	var wg sync.WaitGroup
	for i, room := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := s.Guess(ctx, &kannapb.GuessRequest{ClientId: room, Seq: 1, Room: room, Player: "p", Letter: "e"})
			answers[i] = answer{st, err}
		}()
	}
	wg.Wait()
	require.NoError(t, answers[0].err)
	require.Equal(t, "a", answers[0].st.Room)
	require.NoError(t, answers[1].err)
	require.Equal(t, "b", answers[1].st.Room)
	require.Equal(t, codes.NotFound, status.Code(answers[2].err))
	require.Equal(t, "no room refuse", status.Convert(answers[2].err).Message())
	require.Len(t, srv.streams, 1, "the three calls shared one stream")

	// A stream that breaks fails the call waiting on it with Unavailable; the next call opens a
	// new stream.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Guess(ctx, &kannapb.GuessRequest{ClientId: "x", Seq: 1, Room: "break", Player: "p", Letter: "e"})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	require.Contains(t, status.Convert(err).Message(), "broken on purpose")
	srv.hold.Store(1)
	st, err := s.Guess(ctx, &kannapb.GuessRequest{ClientId: "y", Seq: 1, Room: "c", Player: "p", Letter: "e"})
	require.NoError(t, err)
	require.Equal(t, "c", st.Room)
	require.Len(t, srv.streams, 2, "the call after the break opened a second stream")
}

func TestStreamCallGivesUpAtItsDeadline(t *testing.T) {
	srv := &reversingPlay{streams: make(chan struct{}, 10)}
	srv.hold.Store(2) // never answers one call alone
	conn := serveGame(t, srv)
	s := Streamed(kannapb.NewGameClient(conn))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Guess(ctx, &kannapb.GuessRequest{ClientId: "x", Seq: 1, Room: "a", Player: "p", Letter: "e"})
	require.Equal(t, codes.DeadlineExceeded, status.Code(err))
}

func TestClientRefusesAnUnknownPath(t *testing.T) {
	_, err := Client("carrier-pigeon", nil)
	require.ErrorContains(t, err, `client path "carrier-pigeon": use unary or stream`)
}
