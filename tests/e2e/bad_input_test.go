// Bad input on disk and on the wire. On disk: the write-ahead log cuts a torn tail left by a crash
// mid-write and starts, but refuses to start on a corrupt record in the middle of its log, since
// dropping it could lose committed entries (docs/design.md, "The persistence contract"; Alagappan et al.,
// FAST 2018). On the wire: oversized, malformed, unauthenticated and invalid requests get the gRPC
// code docs/protocol.md promises and change no room.
package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server/demo"
)

// segments returns the WAL segment files under dir, oldest first.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	var segs []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".wal") {
			segs = append(segs, path)
		}
		return err
	}))
	sort.Strings(segs)
	require.NotEmpty(t, segs, "no *.wal segment under %s", dir)
	return segs
}

func TestWALWithTornTailStartsAndOneWithCorruptMiddleRecordRefuses(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 1)
	ctx := context.Background()
	p := newPlayer(c, newHistory(), 0, "e2e-wal", "fafnir", "takiya", 1)
	require.Equal(t, codes.OK, p.create(ctx).code)
	require.Equal(t, codes.OK, p.join(ctx).code)
	for i := 0; i < 5; i++ {
		require.False(t, p.guess(ctx, p.unguessed()).unknown)
	}
	before, ok := c.rooms(1)
	require.True(t, ok)
	require.NoError(t, c.sup.Stop(1, demo.StopGrace))

	// A torn tail: the header of a record that claims 1000 bytes, and 20 of them.
	segs := segments(t, c.sup.Node(1).DataDir)
	last := segs[len(segs)-1]
	torn := binary.LittleEndian.AppendUint32(nil, 1000)
	torn = append(torn, 0xde, 0xad, 0xbe, 0xef, 1)
	torn = append(torn, make([]byte, 20)...)
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(torn)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	require.NoError(t, c.sup.Restart(1))
	require.Eventually(t, func() bool {
		st := c.status(1)
		return st != nil && st.Role == kannapb.NodeRole_NODE_ROLE_LEADER && st.Applied >= st.Commit
	}, 30*time.Second, 50*time.Millisecond, "the node did not start after its torn tail")
	after, ok := c.rooms(1)
	require.True(t, ok)
	require.Len(t, after, len(before))
	for i := range before {
		require.True(t, proto.Equal(before[i], after[i]), "room %s changed across the torn-tail restart", before[i].Room)
	}
	require.NoError(t, c.sup.Stop(1, demo.StopGrace))

	// A corrupt record in the middle: flip a payload byte of the first record of the first
	// segment, which valid records follow.
	segs = segments(t, c.sup.Node(1).DataDir)
	data, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	require.Greater(t, len(data), 64, "the first segment should hold several records")
	data[9] ^= 0xff
	require.NoError(t, os.WriteFile(segs[0], data, 0o640))

	require.NoError(t, c.sup.Restart(1))
	require.Eventually(t, func() bool { return !c.sup.Node(1).Running }, 30*time.Second, 50*time.Millisecond,
		"a node with a corrupt record in the middle of its log must refuse to start")
	require.NotEqual(t, "exited with status 0", c.sup.Node(1).Exit)
	logText, err := os.ReadFile(c.sup.Node(1).LogFile)
	require.NoError(t, err)
	require.Contains(t, string(logText), "refusing to start")
	require.Contains(t, string(logText), filepath.Base(segs[0]), "the message names the damaged file")
	require.Contains(t, string(logText), "kanna recover --data", "the message names the command that recovers")
}

// rawCodec sends bytes as they are, to put malformed protobuf on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func TestBadRequestsGetTheirCodeAndChangeNothing(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	ctx := context.Background()
	all := c.ids()
	leader := c.leaderOf(all...)
	follower := c.others(leader)[0]
	p := newPlayer(c, newHistory(), 0, "e2e-bad", "quetzalcoatl", "saikawa", all...)
	require.Equal(t, codes.OK, p.create(ctx).code)
	require.Equal(t, codes.OK, p.join(ctx).code)
	require.Equal(t, codes.OK, p.guess(ctx, "e").code)
	require.Eventually(t, func() bool { return c.converged(all...) }, 10*time.Second, 20*time.Millisecond)
	before, _ := c.rooms(leader)

	expect := func(want codes.Code, err error, what string) {
		t.Helper()
		require.Equal(t, want, status.Code(err), "%s: %v", what, err)
		if want != codes.ResourceExhausted && want != codes.Internal {
			require.NotEmpty(t, status.Convert(err).Message(), "%s: the error says what to do", what)
		}
	}
	for _, id := range []uint64{leader, follower} {
		g := c.game(id)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		client := fmt.Sprintf("e2e-bad-probe-%d", id)
		var seq uint64 // every request a new seq, so none is answered from the session table
		next := func() uint64 { seq++; return seq }
		guess := func(room, player, letter string) error {
			_, err := g.Guess(cctx, &kannapb.GuessRequest{ClientId: client, Seq: next(), Room: room, Player: player, Letter: letter})
			return err
		}
		// Invalid letters.
		for _, letter := range []string{"", "ab", "1", "é", " ", "?"} {
			expect(codes.InvalidArgument, guess("quetzalcoatl", "saikawa", letter), "letter "+letter)
		}
		// Unknown rooms, and a player who never joined.
		expect(codes.NotFound, guess("no-such-room", "saikawa", "a"), "guess in an unknown room")
		_, err := g.JoinRoom(cctx, &kannapb.JoinRoomRequest{ClientId: client, Seq: next(), Room: "no-such-room", Player: "x"})
		expect(codes.NotFound, err, "join an unknown room")
		_, err = g.NewRound(cctx, &kannapb.NewRoundRequest{ClientId: client, Seq: next(), Room: "no-such-room"})
		expect(codes.NotFound, err, "new round in an unknown room")
		for _, lin := range []bool{false, true} {
			_, err = g.GetRoom(cctx, &kannapb.GetRoomRequest{Room: "no-such-room", Linearizable: lin})
			expect(codes.NotFound, err, "read an unknown room")
		}
		expect(codes.NotFound, guess("quetzalcoatl", "nobody", "a"), "guess by a player who never joined")
		// Malformed requests: missing client id or seq, names too long.
		_, err = g.Guess(cctx, &kannapb.GuessRequest{Seq: 105, Room: "quetzalcoatl", Player: "saikawa", Letter: "a"})
		expect(codes.InvalidArgument, err, "no client id")
		_, err = g.Guess(cctx, &kannapb.GuessRequest{ClientId: "e2e-bad-zero", Room: "quetzalcoatl", Player: "saikawa", Letter: "a"})
		expect(codes.InvalidArgument, err, "seq 0")
		_, err = g.CreateRoom(cctx, &kannapb.CreateRoomRequest{ClientId: client, Seq: next(), Room: strings.Repeat("r", 33)})
		expect(codes.InvalidArgument, err, "a 33-character room name")
		// Oversized: past the 4 MiB message limit.
		_, err = g.CreateRoom(cctx, &kannapb.CreateRoomRequest{ClientId: client, Seq: next(), Room: strings.Repeat("r", 5<<20)})
		expect(codes.ResourceExhausted, err, "a 5 MiB request")
		// Bytes that are no protobuf at all.
		garbage := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
		var reply []byte
		err = c.conn(id).Invoke(cctx, "/kanna.v1.Game/Guess", &garbage, &reply, grpc.ForceCodec(rawCodec{}))
		expect(codes.Internal, err, "undecodable request bytes")
		// The wrong cluster key, on node-to-node and cluster calls (the Game service is open to
		// players and web servers, so it takes no key).
		wrong := dialKey(t, c.sup.Node(id).Addr, "not-the-key")
		_, err = kannapb.NewGossipClient(wrong).Packet(cctx, &kannapb.GossipPacket{Data: []byte{1}, FromAddress: "127.0.0.1:1"})
		expect(codes.Unauthenticated, err, "gossip with the wrong key")
		_, err = kannapb.NewClusterClient(wrong).Status(cctx, &kannapb.StatusRequest{})
		expect(codes.Unauthenticated, err, "status with the wrong key")
		_, err = kannapb.NewClusterClient(wrong).DropTraffic(cctx, &kannapb.DropTrafficRequest{ToPeers: []uint64{leader}})
		expect(codes.Unauthenticated, err, "fault injection with the wrong key")
		cancel()
	}

	require.Eventually(t, func() bool { return c.converged(all...) }, 10*time.Second, 20*time.Millisecond)
	for _, id := range all {
		after, ok := c.rooms(id)
		require.True(t, ok)
		require.Len(t, after, len(before), "node %d", id)
		for i := range before {
			require.True(t, proto.Equal(before[i], after[i]), "node %d: room %s changed: %v, was %v", id, before[i].Room, after[i], before[i])
		}
	}
}
