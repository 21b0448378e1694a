// Tests of the peer: both modes (the service on both client paths) form a cluster of real node
// processes (this test binary started as `node`), play Hangman through it and count ops, and its
// Game service, unary and Play, answers a rejection with the code a Kanna node uses.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/internal/loadgen"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		os.Exit(runNodeProcess(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func TestBothModesPlayOnATwoNodeCluster(t *testing.T) {
	runs := []struct{ mode, path string }{
		{loadgen.ModeConsensus, ""},
		{loadgen.ModeService, loadgen.PathUnary},
		{loadgen.ModeService, loadgen.PathStream},
	}
	for _, r := range runs {
		t.Run(r.mode+"/"+r.path, func(t *testing.T) {
			res, err := bench(context.Background(), r.mode, r.path, 2, loadgen.Options{Clients: 3, Duration: 300 * time.Millisecond, Payload: 8}, io.Discard)
			require.NoError(t, err)
			require.Equal(t, r.mode, res.Mode)
			require.Equal(t, r.path, res.ClientPath)
			require.Equal(t, system, res.System)
			require.Equal(t, 2, res.Nodes)
			require.Positive(t, res.Ops)
			require.LessOrEqual(t, res.P50ms, res.P99ms)
		})
	}
}

func TestGameServiceAnswersAsAKannaNodeDoes(t *testing.T) {
	n, ctx := leadingNode(t)
	g := &gameService{n: n}

	_, err := g.Guess(ctx, &kannapb.GuessRequest{ClientId: "c", Seq: 1, Room: "nowhere", Player: "p", Letter: "a"})
	require.Equal(t, codes.NotFound, status.Code(err), "a guess in a missing room: %v", err)
	_, err = g.Guess(ctx, &kannapb.GuessRequest{ClientId: "c", Seq: 2, Room: "r", Player: "p", Letter: "ab"})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "two letters are refused before the log: %v", err)

	st, err := g.CreateRoom(ctx, &kannapb.CreateRoomRequest{ClientId: "c", Seq: 3, Room: "r"})
	require.NoError(t, err)
	require.Equal(t, "r", st.Room)
	require.NotEmpty(t, st.MaskedWord, "the leader picked a word")
	again, err := g.CreateRoom(ctx, &kannapb.CreateRoomRequest{ClientId: "c", Seq: 3, Room: "r"})
	require.NoError(t, err, "a retry with the same seq gets the first answer")
	require.Greater(t, again.CommitIndex, st.CommitIndex, "the retry went through the log again")
	require.Equal(t, raft.Leader, n.raft.State())
}

func TestPlayAnswersEachCallAsItsUnaryCall(t *testing.T) {
	n, ctx := leadingNode(t)
	addr, err := freeAddr()
	require.NoError(t, err)
	stop, err := serveGame(n, addr)
	require.NoError(t, err)
	t.Cleanup(stop)
	conn, err := demo.Dial(addr, "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	s, err := kannapb.NewGameClient(conn).Play(ctx)
	require.NoError(t, err)

	reqs := []*kannapb.PlayRequest{
		{CallId: 1, Command: &kannapb.PlayRequest_CreateRoom{CreateRoom: &kannapb.CreateRoomRequest{ClientId: "c", Seq: 1, Room: "r"}}},
		{CallId: 2, Command: &kannapb.PlayRequest_Guess{Guess: &kannapb.GuessRequest{ClientId: "d", Seq: 1, Room: "nowhere", Player: "p", Letter: "a"}}},
		{CallId: 3, Command: &kannapb.PlayRequest_Guess{Guess: &kannapb.GuessRequest{ClientId: "e", Seq: 1, Room: "r", Player: "p", Letter: "ab"}}},
		{CallId: 4},
	}
	for _, r := range reqs {
		require.NoError(t, s.Send(r))
	}
	require.NoError(t, s.CloseSend())
	got := map[uint64]*kannapb.PlayReply{}
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got[r.CallId] = r
	}
	require.Len(t, got, len(reqs), "every call answered before the stream ended")
	require.Equal(t, "r", got[1].GetState().GetRoom())
	require.Equal(t, uint32(codes.NotFound), got[2].GetError().GetCode())
	require.Equal(t, uint32(codes.InvalidArgument), got[3].GetError().GetCode())
	require.Equal(t, uint32(codes.InvalidArgument), got[4].GetError().GetCode())
}

// leadingNode starts a one-node peer cluster and waits for it to lead; the context bounds the test.
func leadingNode(t *testing.T) (*node, context.Context) {
	t.Helper()
	n, err := startNode(nodeConfig{id: 1, dir: filepath.Join(t.TempDir(), "n1"), raftAddr: "127.0.0.1:0", bootstrap: true})
	require.NoError(t, err)
	t.Cleanup(n.close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	require.NoError(t, n.form(ctx, nil))
	return n, ctx
}
