// Scenario tests of the real shell: three nodes on loopback gRPC, each with a write-ahead log in a
// temporary folder. Each test reads as a story: start a cluster, do something to it, expect what
// Raft (paper §5, §8; thesis §4.1, §6.4) and the protocol (docs/protocol.md) promise.

package server

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// play creates a room through node via and joins player p to it.
func play(t *testing.T, c *testCluster, via uint64, room, player string) {
	t.Helper()
	g := c.game(via)
	_, err := g.CreateRoom(c.ctx(), &kannapb.CreateRoomRequest{ClientId: "test-" + room, Seq: 1, Room: room})
	require.NoError(t, err, "create room %q through node %d", room, via)
	_, err = g.JoinRoom(c.ctx(), &kannapb.JoinRoomRequest{ClientId: "test-" + room, Seq: 2, Room: room, Player: player})
	require.NoError(t, err, "join room %q through node %d", room, via)
}

func TestGuessSentToAFollowerIsForwardedToTheLeaderAndAppliedOnEveryNode(t *testing.T) {
	c := newTestCluster(t, 3)
	f := c.follower()
	play(t, c, f, "tohru", "kanna")

	st, err := c.game(f).Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "test-tohru", Seq: 3, Room: "tohru", Player: "kanna", Letter: "E"})
	require.NoError(t, err)
	require.Equal(t, []string{"e"}, st.GuessedLetters, "the guess is in the state the call answers with")
	require.NotZero(t, st.CommitIndex)
	require.NotEqual(t, f, st.ServedBy, "the follower forwarded the guess; the leader applied it and answered")
	require.NotZero(t, st.ServedBy)

	// Retrying the same request (same client id and seq) answers it again without applying it twice.
	again, err := c.game(f).Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "test-tohru", Seq: 3, Room: "tohru", Player: "kanna", Letter: "E"})
	require.NoError(t, err)
	require.Equal(t, st.LivesLeft, again.LivesLeft)

	for id := range c.nodes {
		require.Eventually(t, func() bool {
			r, err := c.game(id).GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: "tohru"})
			return err == nil && slices.Equal(r.GuessedLetters, []string{"e"}) && r.ServedBy == id
		}, settle, poll, "node %d never applied the guess", id)
	}

	// A linearizable read through a follower reflects the guess at once.
	r, err := c.game(f).GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: "tohru", Linearizable: true})
	require.NoError(t, err)
	require.Equal(t, []string{"e"}, r.GuessedLetters)
	require.GreaterOrEqual(t, r.CommitIndex, st.CommitIndex)
}

func TestGameErrorsMapToTheirCodesAndChangeNothing(t *testing.T) {
	c := newTestCluster(t, 3)
	f := c.follower()
	play(t, c, f, "lucoa", "shouta")
	before := c.applied(c.waitLeader())

	g := c.game(f)
	cases := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"two letters", func() error {
			_, err := g.Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "x", Seq: 1, Room: "lucoa", Player: "shouta", Letter: "ab"})
			return err
		}, codes.InvalidArgument},
		{"unknown room", func() error {
			_, err := g.Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "x", Seq: 1, Room: "nowhere", Player: "shouta", Letter: "a"})
			return err
		}, codes.NotFound},
		{"room taken", func() error {
			_, err := g.CreateRoom(c.ctx(), &kannapb.CreateRoomRequest{ClientId: "y", Seq: 1, Room: "lucoa"})
			return err
		}, codes.AlreadyExists},
		{"empty client id", func() error {
			_, err := g.CreateRoom(c.ctx(), &kannapb.CreateRoomRequest{Seq: 1, Room: "elma"})
			return err
		}, codes.InvalidArgument},
		{"read of an unknown room", func() error {
			_, err := g.GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: "nowhere", Linearizable: true})
			return err
		}, codes.NotFound},
	}
	for _, tc := range cases {
		err := tc.call()
		require.Equal(t, tc.code, status.Code(err), "%s: %v", tc.name, err)
		require.NotEmpty(t, status.Convert(err).Message(), tc.name)
	}
	r, err := g.GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: "lucoa", Linearizable: true})
	require.NoError(t, err)
	require.Empty(t, r.GuessedLetters, "no rejected guess touched the room")
	// The rejected commands that reached the log (a game verdict is applied as a no-op) must not
	// have created a room.
	rooms, err := g.ListRooms(c.ctx(), &kannapb.ListRoomsRequest{})
	require.NoError(t, err)
	require.Len(t, rooms.Rooms, 1)
	require.GreaterOrEqual(t, c.applied(c.waitLeader()), before)
}

func TestClusterAndPeerCallsWithAWrongClusterKeyAreUnauthenticated(t *testing.T) {
	c := newTestCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()

	_, err := c.cluster(1).Status(WithClusterKey(ctx, "not-the-key"), &kannapb.StatusRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "wrong key: %v", err)
	_, err = c.cluster(1).Status(ctx, &kannapb.StatusRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "no key: %v", err)

	stream, err := kannapb.NewRaftClient(c.conn(1)).Stream(WithClusterKey(ctx, "not-the-key"))
	require.NoError(t, err)
	_, err = stream.Recv()
	require.Equal(t, codes.Unauthenticated, status.Code(err), "raft stream: %v", err)

	_, err = kannapb.NewGossipClient(c.conn(1)).Packet(ctx, &kannapb.GossipPacket{Data: []byte("{}")})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "gossip: %v", err)

	// Game calls are open: no key needed.
	_, err = c.game(1).ListRooms(ctx, &kannapb.ListRoomsRequest{})
	require.NoError(t, err)
	_, err = c.cluster(1).Status(WithClusterKey(ctx, DevClusterKey), &kannapb.StatusRequest{})
	require.NoError(t, err)
}

func TestNodeRestartedFromItsDataCatchesUpThroughASnapshot(t *testing.T) {
	c := newTestClusterWith(t, 3, func(cfg *Config) { cfg.SnapshotEvery = 8 })
	f := c.follower()
	dir := c.dirs[f]
	c.kill(f)

	lead := c.waitLeader()
	play(t, c, lead, "elma", "fafnir")
	var last *kannapb.RoomState
	for i, letter := range []string{"a", "e", "i", "o", "u", "r", "s", "t", "n", "l"} {
		st, err := c.game(lead).Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "test-elma", Seq: uint64(3 + i), Room: "elma", Player: "fafnir", Letter: letter})
		if status.Code(err) == codes.FailedPrecondition {
			break // the round ended
		}
		require.NoError(t, err)
		last = st
	}
	require.NotNil(t, last)
	require.Greater(t, c.status(lead).FirstIndex, uint64(1), "the leader compacted its log, so the restarted node needs the snapshot")

	// Restart it from the same folder and address.
	require.Equal(t, dir, c.dirs[f])
	c.start(f)
	require.Eventually(t, func() bool {
		r, err := c.game(f).GetRoom(c.ctx(), &kannapb.GetRoomRequest{Room: "elma"})
		return err == nil && r.CommitIndex >= last.CommitIndex && slices.Equal(r.GuessedLetters, last.GuessedLetters)
	}, settle, poll, "the restarted node never caught up")
	st := c.status(f)
	require.NotNil(t, st)
	require.Contains(t, st.Voters, f, "it rejoined as the voter it was")
}

func TestWatchStreamsTheRoomAfterEveryChange(t *testing.T) {
	c := newTestCluster(t, 3)
	f := c.follower()
	play(t, c, f, "ilulu", "take")

	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	w, err := c.game(f).Watch(ctx, &kannapb.WatchRequest{Room: "ilulu"})
	require.NoError(t, err)
	first, err := w.Recv()
	require.NoError(t, err)
	require.Empty(t, first.GuessedLetters)

	_, err = c.game(c.waitLeader()).Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "test-ilulu", Seq: 3, Room: "ilulu", Player: "take", Letter: "k"})
	require.NoError(t, err)
	// The follower may still be applying the join when the watch starts, so the guess can come
	// after one more state; every state must be newer than the one before it.
	prev := first
	for {
		next, err := w.Recv()
		require.NoError(t, err)
		require.Greater(t, next.CommitIndex, prev.CommitIndex, "states arrive oldest first")
		prev = next
		if len(next.GuessedLetters) > 0 {
			require.Equal(t, []string{"k"}, next.GuessedLetters)
			break
		}
	}

	gone, err := c.game(f).Watch(ctx, &kannapb.WatchRequest{Room: "nowhere"})
	require.NoError(t, err)
	_, err = gone.Recv()
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
}

func TestPeerCallsRefuseMalformedAndOversizedMessages(t *testing.T) {
	c := newTestCluster(t, 1)
	ctx := c.ctx()

	send := func(m *kannapb.RaftMessage) error {
		stream, err := kannapb.NewRaftClient(c.conn(1)).Stream(ctx)
		require.NoError(t, err)
		require.NoError(t, stream.Send(m))
		_, err = stream.Recv()
		return err
	}
	err := send(&kannapb.RaftMessage{From: 2, To: 1})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "no type: %v", err)
	err = send(&kannapb.RaftMessage{Type: kannapb.RaftMessageType_RAFT_MESSAGE_TYPE_HEARTBEAT, From: 2, To: 9})
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "for another node: %v", err)

	gossip := kannapb.NewGossipClient(c.conn(1))
	_, err = gossip.Packet(ctx, &kannapb.GossipPacket{})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "empty packet: %v", err)
	_, err = gossip.Packet(ctx, &kannapb.GossipPacket{Data: []byte("not gossip")})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "undecodable packet: %v", err)
	_, err = gossip.PushPull(ctx, &kannapb.GossipState{Data: []byte(`{"type":1,"from":"2","fromAddr":"127.0.0.1:1"}`)})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "a ping sent as push-pull: %v", err)
	_, err = gossip.Packet(ctx, &kannapb.GossipPacket{Data: make([]byte, MaxMessageBytes+1)})
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "oversized: %v", err)

	_, err = c.game(1).CreateRoom(ctx, &kannapb.CreateRoomRequest{ClientId: "big", Seq: 1, Room: string(make([]byte, MaxMessageBytes))})
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "oversized game call: %v", err)

	rooms, err := c.game(1).ListRooms(ctx, &kannapb.ListRoomsRequest{})
	require.NoError(t, err)
	require.Empty(t, rooms.Rooms, "nothing was created")
}

func TestNewRoundStartsTheNextRoundOnceTheRoundIsOver(t *testing.T) {
	c := newTestCluster(t, 3)
	f := c.follower()
	play(t, c, f, "saikawa", "riko")
	g := c.game(f)

	_, err := g.NewRound(c.ctx(), &kannapb.NewRoundRequest{ClientId: "test-saikawa", Seq: 3, Room: "saikawa"})
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "the first round is still played: %v", err)

	// Lose the round: guess letters until the lives run out or the word is found.
	seq := uint64(4)
	var st *kannapb.RoomState
	for _, letter := range "qzxjvwkyfbghmpcdulsrtnoiea" {
		st, err = g.Guess(c.ctx(), &kannapb.GuessRequest{ClientId: "test-saikawa", Seq: seq, Room: "saikawa", Player: "riko", Letter: string(letter)})
		require.NoError(t, err)
		seq++
		if st.Status != kannapb.RoundStatus_ROUND_STATUS_PLAYING {
			break
		}
	}
	require.NotEqual(t, kannapb.RoundStatus_ROUND_STATUS_PLAYING, st.Status)
	require.NotEmpty(t, st.Word, "the word shows once the round is over")

	next, err := g.NewRound(c.ctx(), &kannapb.NewRoundRequest{ClientId: "test-saikawa", Seq: seq, Room: "saikawa"})
	require.NoError(t, err)
	require.Equal(t, st.Round+1, next.Round)
	require.Equal(t, kannapb.RoundStatus_ROUND_STATUS_PLAYING, next.Status)
	require.Empty(t, next.Word, "the new word stays hidden")
	require.EqualValues(t, next.MaxLives, next.LivesLeft)
}
