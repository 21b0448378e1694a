// Tests that the Raft service's shape allows what the transport needs (docs/protocol.md, "Raft"):
// a sender pipelines many messages on one stream without waiting for replies (thesis §10.2.2),
// and the receiver's cumulative RaftAck counts let it bound what is in flight. The server here is
// a minimal stand-in for the node's real one, over an in-memory connection.
package kannapb_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// ackEvery is how many messages the stand-in receiver takes before it acknowledges, so the test
// also covers coalesced acknowledgements.
const ackEvery = 8

// recordingRaftServer takes every message on a stream, keeps it, and acknowledges cumulatively.
type recordingRaftServer struct {
	kannapb.UnimplementedRaftServer
	got chan []*kannapb.RaftMessage // what one stream carried, sent when the stream ends
}

func (s *recordingRaftServer) Stream(stream kannapb.Raft_StreamServer) error {
	var got []*kannapb.RaftMessage
	defer func() { s.got <- got }()
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			// The sender is done: acknowledge the tail that a full batch did not cover.
			return stream.Send(&kannapb.RaftAck{Received: uint64(len(got))})
		}
		if err != nil {
			return err
		}
		got = append(got, m)
		if len(got)%ackEvery == 0 {
			if err := stream.Send(&kannapb.RaftAck{Received: uint64(len(got))}); err != nil {
				return err
			}
		}
	}
}

func dialInMemory(t *testing.T, srv kannapb.RaftServer) kannapb.RaftClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	kannapb.RegisterRaftServer(server, srv)
	served := make(chan error, 1)
	go func() { served <- server.Serve(lis) }()
	t.Cleanup(func() {
		server.Stop()
		require.NoError(t, <-served)
	})

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	return kannapb.NewRaftClient(conn)
}

func TestRaftStreamPipelinesAppendsAndAcknowledgesThemCumulatively(t *testing.T) {
	srv := &recordingRaftServer{got: make(chan []*kannapb.RaftMessage, 1)}
	client := dialInMemory(t, srv)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Stream(ctx)
	require.NoError(t, err)

	// Send every append before reading a single acknowledgement: the sender never waits.
	const n = 3*ackEvery + 5
	var sent []*kannapb.RaftMessage
	for i := uint64(1); i <= n; i++ {
		m := &kannapb.RaftMessage{
			Type: kannapb.RaftMessageType_RAFT_MESSAGE_TYPE_APP, From: 1, To: 2, Term: 3,
			Index: i - 1, LogTerm: 3, Commit: i / 2,
			Entries: []*kannapb.RaftEntry{{Term: 3, Index: i, Type: kannapb.RaftEntryType_RAFT_ENTRY_TYPE_NORMAL, Data: []byte{byte(i)}}},
		}
		sent = append(sent, m)
		require.NoError(t, stream.Send(m))
	}
	require.NoError(t, stream.CloseSend())

	var acks []uint64
	for {
		ack, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		acks = append(acks, ack.GetReceived())
	}

	got := <-srv.got
	require.Len(t, got, n, "the receiver must take every message sent")
	for i := range sent {
		require.Truef(t, proto.Equal(sent[i], got[i]), "message %d arrived changed or out of order:\nsent %v\ngot  %v", i, sent[i], got[i])
	}
	require.Equal(t, []uint64{ackEvery, 2 * ackEvery, 3 * ackEvery, n}, acks,
		"acks must count what was taken, grow only, and cover the last message")
}
