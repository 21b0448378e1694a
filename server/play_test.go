// Scenario tests of Game.Play on a real three-node cluster: every call on a stream is answered
// with its call id and what its unary call answers (docs/protocol.md, "Game"), on the leader and
// through a follower, across a leader change, and a stream that ends early loses nothing it
// acknowledged.
package server

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// playOne sends one request on s and waits for its reply, failing the test on a reply to
// another call.
func playOne(t *testing.T, s kannapb.Game_PlayClient, req *kannapb.PlayRequest) *kannapb.PlayReply {
	t.Helper()
	require.NoError(t, s.Send(req))
	r, err := s.Recv()
	require.NoError(t, err)
	require.Equal(t, req.CallId, r.CallId)
	return r
}

func guessReq(id uint64, client string, seq uint64, room, player, letter string) *kannapb.PlayRequest {
	return &kannapb.PlayRequest{CallId: id, Command: &kannapb.PlayRequest_Guess{Guess: &kannapb.GuessRequest{
		ClientId: client, Seq: seq, Room: room, Player: player, Letter: letter}}}
}

func TestPlayAnswersEachCallWithItsIDAndTheUnaryCallsAnswer(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.waitLeader()
	s, err := c.game(lead).Play(c.ctx())
	require.NoError(t, err)

	r := playOne(t, s, &kannapb.PlayRequest{CallId: 7, Command: &kannapb.PlayRequest_CreateRoom{CreateRoom: &kannapb.CreateRoomRequest{ClientId: "t", Seq: 1, Room: "ilulu"}}})
	require.Equal(t, "ilulu", r.GetState().GetRoom())
	require.Equal(t, lead, r.GetState().GetServedBy())
	r = playOne(t, s, &kannapb.PlayRequest{CallId: 8, Command: &kannapb.PlayRequest_JoinRoom{JoinRoom: &kannapb.JoinRoomRequest{ClientId: "t", Seq: 2, Room: "ilulu", Player: "riko"}}})
	require.Len(t, r.GetState().GetPlayers(), 1)

	// Many calls in flight at once: one that applies and several the game or the node refuses,
	// each with the code and message its unary call gets.
	unary := c.game(lead)
	cases := []struct {
		req   *kannapb.PlayRequest
		code  codes.Code
		unary func() error
	}{
		{guessReq(100, "t", 3, "ilulu", "riko", "E"), codes.OK, nil},
		{guessReq(101, "u1", 1, "ilulu", "riko", "ab"), codes.InvalidArgument, func() error {
			_, err := unary.Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "u1", Seq: 1, Room: "ilulu", Player: "riko", Letter: "ab"})
			return err
		}},
		{guessReq(102, "u2", 1, "nowhere", "riko", "a"), codes.NotFound, func() error {
			_, err := unary.Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "u2", Seq: 1, Room: "nowhere", Player: "riko", Letter: "a"})
			return err
		}},
		{&kannapb.PlayRequest{CallId: 103, Command: &kannapb.PlayRequest_CreateRoom{CreateRoom: &kannapb.CreateRoomRequest{ClientId: "u3", Seq: 1, Room: "ilulu"}}}, codes.AlreadyExists, func() error {
			_, err := unary.CreateRoom(c.ctx(), &kannapb.CreateRoomRequest{ClientId: "u3b", Seq: 1, Room: "ilulu"})
			return err
		}},
		{&kannapb.PlayRequest{CallId: 104}, codes.InvalidArgument, nil},
		{&kannapb.PlayRequest{CallId: 105, Command: &kannapb.PlayRequest_NewRound{NewRound: &kannapb.NewRoundRequest{ClientId: "u4", Seq: 1, Room: "ilulu"}}}, codes.FailedPrecondition, func() error {
			_, err := unary.NewRound(c.ctx(), &kannapb.NewRoundRequest{ClientId: "u4b", Seq: 1, Room: "ilulu"})
			return err
		}},
	}
	for _, tc := range cases {
		require.NoError(t, s.Send(tc.req))
	}
	got := map[uint64]*kannapb.PlayReply{}
	for range cases {
		r, err := s.Recv()
		require.NoError(t, err)
		require.NotContains(t, got, r.CallId, "call %d answered twice", r.CallId)
		got[r.CallId] = r
	}
	for _, tc := range cases {
		r := got[tc.req.CallId]
		require.NotNil(t, r, "call %d not answered", tc.req.CallId)
		if tc.code == codes.OK {
			require.Nil(t, r.GetError(), "call %d", tc.req.CallId)
			require.Equal(t, []string{"e"}, r.GetState().GetGuessedLetters())
			continue
		}
		require.Equal(t, uint32(tc.code), r.GetError().GetCode(), "call %d: %v", tc.req.CallId, r.GetError())
		require.NotEmpty(t, r.GetError().GetMessage())
		if tc.unary != nil {
			err := tc.unary()
			require.Equal(t, tc.code, status.Code(err), "the unary call: %v", err)
			require.Equal(t, status.Convert(err).Message(), r.GetError().GetMessage(), "call %d says what the unary call says", tc.req.CallId)
		}
	}

	// After CloseSend the node answers what is in flight, then ends the stream with OK.
	require.NoError(t, s.Send(guessReq(200, "t", 4, "ilulu", "riko", "a")))
	require.NoError(t, s.CloseSend())
	r, err = s.Recv()
	require.NoError(t, err)
	require.Equal(t, uint64(200), r.CallId)
	require.Contains(t, r.GetState().GetGuessedLetters(), "a")
	_, err = s.Recv()
	require.ErrorIs(t, err, io.EOF)
}

func TestPlayThroughAFollowerIsForwardedToTheLeader(t *testing.T) {
	c := newTestCluster(t, 3)
	f := c.follower()
	play(t, c, f, "kobayashi", "tohru")
	s, err := c.game(f).Play(c.ctx())
	require.NoError(t, err)
	r := playOne(t, s, guessReq(1, "test-kobayashi", 3, "kobayashi", "tohru", "a"))
	require.Nil(t, r.GetError())
	require.Equal(t, []string{"a"}, r.GetState().GetGuessedLetters())
	require.NotEqual(t, f, r.GetState().GetServedBy(), "the follower forwarded the call; the leader applied it and answered")
	r = playOne(t, s, guessReq(2, "test-kobayashi", 4, "kobayashi", "tohru", "ab"))
	require.Equal(t, uint32(codes.InvalidArgument), r.GetError().GetCode(), "refused on the follower, as the unary call is")
}

func TestPlayCallsInFlightAcrossALeaderChangeAreAllAnsweredOK(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.waitLeader()
	s, err := c.game(lead).Play(c.ctx())
	require.NoError(t, err)
	// Eight clients each create rooms one after another while the leadership moves away from
	// the node the stream is on: calls it proposed are lost or refused and go on through the new
	// leader, each still answered OK, and each applied once.
	const clients, each = 8, 8
	create := func(i, k int) *kannapb.PlayRequest {
		return &kannapb.PlayRequest{CallId: uint64(k*clients + i), Command: &kannapb.PlayRequest_CreateRoom{CreateRoom: &kannapb.CreateRoomRequest{
			ClientId: fmt.Sprintf("c%d", i), Seq: uint64(k + 1), Room: fmt.Sprintf("kanna-%d-%d", i, k)}}}
	}
	for i := range clients {
		require.NoError(t, s.Send(create(i, 0)))
	}
	moved := false
	for answered := 1; answered <= clients*each; answered++ {
		r, err := s.Recv()
		require.NoError(t, err)
		require.Nil(t, r.GetError(), "call %d: %v", r.CallId, r.GetError())
		i, k := int(r.CallId%clients), int(r.CallId/clients)
		require.Equal(t, fmt.Sprintf("kanna-%d-%d", i, k), r.GetState().GetRoom())
		if !moved && answered == clients {
			_, err := c.cluster(lead).TransferLeadership(c.ctx(), &kannapb.TransferLeadershipRequest{})
			require.NoError(t, err)
			moved = true
		}
		if k+1 < each {
			require.NoError(t, s.Send(create(i, k+1)))
		}
	}
	require.NotEqual(t, lead, c.waitLeader(), "the leadership moved")
	rooms, err := c.game(c.waitLeader()).ListRooms(c.ctx(), &kannapb.ListRoomsRequest{})
	require.NoError(t, err)
	require.Len(t, rooms.Rooms, clients*each, "every room created, once")
}

func TestPlayStreamCancelledMidFlightLosesNothingAcknowledged(t *testing.T) {
	c := newTestCluster(t, 3)
	lead := c.waitLeader()
	const rooms = 32
	for i := range rooms {
		play(t, c, lead, fmt.Sprintf("elma%d", i), "p")
	}
	ctx, cancel := context.WithCancel(c.ctx())
	s, err := c.game(lead).Play(ctx)
	require.NoError(t, err)
	for i := range rooms {
		require.NoError(t, s.Send(guessReq(uint64(i), fmt.Sprintf("test-elma%d", i), 3, fmt.Sprintf("elma%d", i), "p", "e")))
	}
	var acked []uint64
	for len(acked) < rooms/2 {
		r, err := s.Recv()
		require.NoError(t, err)
		require.Nil(t, r.GetError())
		acked = append(acked, r.CallId)
	}
	cancel()
	for {
		if _, err := s.Recv(); err != nil {
			require.Equal(t, codes.Canceled, status.Code(err), "%v", err)
			break
		}
	}
	// Every acknowledged guess is applied on every node; the others may or may not be.
	for id := range c.nodes {
		for _, i := range acked {
			room := fmt.Sprintf("elma%d", i)
			require.Eventually(t, func() bool {
				st, err := c.game(id).GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: room})
				return err == nil && slices.Contains(st.GuessedLetters, "e")
			}, settle, poll, "node %d lacks the acknowledged guess in %s", id, room)
		}
	}
	// The node serves new streams after the cancelled one.
	s2, err := c.game(lead).Play(c.ctx())
	require.NoError(t, err)
	r := playOne(t, s2, guessReq(1, "test-elma0", 4, "elma0", "p", "t"))
	require.Nil(t, r.GetError())
}

func TestWriteCommandCarriesEveryFieldOfEachWriteRequest(t *testing.T) {
	for _, c := range []struct {
		req  any
		want game.Command
	}{
		{&kannapb.CreateRoomRequest{ClientId: "c", Seq: 1, Room: "r"},
			game.Command{Kind: game.KindCreateRoom, ClientID: "c", Seq: 1, Room: "r"}},
		{&kannapb.JoinRoomRequest{ClientId: "c", Seq: 2, Room: "r", Player: "p", Token: "t"},
			game.Command{Kind: game.KindJoin, ClientID: "c", Seq: 2, Room: "r", Player: "p", Token: "t"}},
		{&kannapb.GuessRequest{ClientId: "c", Seq: 3, Room: "r", Player: "p", Letter: "a", Token: "t"},
			game.Command{Kind: game.KindGuess, ClientID: "c", Seq: 3, Room: "r", Player: "p", Letter: "a", Token: "t"}},
		{&kannapb.NewRoundRequest{ClientId: "c", Seq: 4, Room: "r"},
			game.Command{Kind: game.KindNewRound, ClientID: "c", Seq: 4, Room: "r"}},
	} {
		got, ok := WriteCommand(c.req)
		require.True(t, ok, "%T", c.req)
		require.Equal(t, c.want, got, "%T", c.req)
	}
	_, ok := WriteCommand(&kannapb.GetRoomRequest{Room: "r"})
	require.False(t, ok, "a read is not a write")
	_, ok = WriteCommand(nil)
	require.False(t, ok)
}
