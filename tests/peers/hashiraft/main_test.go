// Tests of the peer: both modes form a cluster of real node processes (this test binary started as
// `node`), play Hangman through it and count ops, and its Game service answers a rejection with the
// code a Kanna node uses.
package main

import (
	"context"
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
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		os.Exit(runNodeProcess(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func TestBothModesPlayOnATwoNodeCluster(t *testing.T) {
	for _, mode := range []string{loadgen.ModeConsensus, loadgen.ModeService} {
		t.Run(mode, func(t *testing.T) {
			res, err := bench(context.Background(), mode, 2, loadgen.Options{Clients: 3, Duration: 300 * time.Millisecond, Payload: 8}, io.Discard)
			require.NoError(t, err)
			require.Equal(t, mode, res.Mode)
			require.Equal(t, system, res.System)
			require.Equal(t, 2, res.Nodes)
			require.Positive(t, res.Ops)
			require.LessOrEqual(t, res.P50ms, res.P99ms)
		})
	}
}

func TestGameServiceAnswersAsAKannaNodeDoes(t *testing.T) {
	n, err := startNode(nodeConfig{id: 1, dir: filepath.Join(t.TempDir(), "n1"), raftAddr: "127.0.0.1:0", bootstrap: true})
	require.NoError(t, err)
	t.Cleanup(n.close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, n.form(ctx, nil))
	g := &gameService{n: n}

	_, err = g.Guess(ctx, &kannapb.GuessRequest{ClientId: "c", Seq: 1, Room: "nowhere", Player: "p", Letter: "a"})
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
