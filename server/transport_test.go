// The transport's stall watchdog (transport.go) and the receiver's acks (peer_service.go) against
// a real gRPC server on loopback: a stream whose acks stop while messages are outstanding is torn
// down on a new connection; a stream that is acknowledged, however slowly messages come, is kept.
package server

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/kanna-cluster/kanna/server/demo"
)

// fakeRaft serves Raft.Stream and records the client port of every stream; with ack set it
// acknowledges as a node does (streamAcker), otherwise never.
type fakeRaft struct {
	kannapb.UnimplementedRaftServer
	ack bool

	mu    sync.Mutex
	ports map[string]bool // client address of each connection a stream came on
}

func (f *fakeRaft) Stream(s kannapb.Raft_StreamServer) error {
	if p, ok := peer.FromContext(s.Context()); ok {
		f.mu.Lock()
		f.ports[p.Addr.String()] = true
		f.mu.Unlock()
	}
	acks := newStreamAcker(s)
	defer acks.stop()
	var n uint64
	for {
		if _, err := s.Recv(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		n++
		if f.ack {
			if err := acks.received(n, n%ackEvery == 0); err != nil {
				return err
			}
		}
	}
}

func (f *fakeRaft) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ports)
}

// sendSlowly runs a transport with the given stall bound towards a fakeRaft and sends it one
// heartbeat every 50 ms, fewer than ackEvery per stall, until the test ends.
func sendSlowly(t *testing.T, f *fakeRaft, stall time.Duration) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(keepaliveServerOptions()...)
	kannapb.RegisterRaftServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tr := newTransport(1, "127.0.0.1:1", dialOptions("", nil), stall, newFaults(), func() *slog.Logger { return logger }, func(gossip.Message) {})
	t.Cleanup(tr.close)
	tr.setAddr(2, lis.Addr().String())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				tr.sendRaft([]raft.Message{{Type: raft.MsgHeartbeat, From: 1, To: 2, Term: 1}})
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func TestStreamWhoseAcksStopIsReopenedOnANewConnection(t *testing.T) {
	f := &fakeRaft{ports: map[string]bool{}}
	sendSlowly(t, f, minStall)
	require.Eventually(t, func() bool { return f.connections() >= 3 }, 10*time.Second, 10*time.Millisecond,
		"a stream nobody acknowledges must be torn down, each time on a new connection")
}

func TestAcknowledgedStreamIsKeptThoughMessagesComeSlowly(t *testing.T) {
	f := &fakeRaft{ack: true, ports: map[string]bool{}}
	sendSlowly(t, f, minStall)
	// Six stall bounds: the receiver acks on its timer, not only every ackEvery messages, so the
	// sender sees progress. Waiting out the window is the claim itself: nothing is redialled in it.
	require.Never(t, func() bool { return f.connections() > 1 }, 3*time.Second, 20*time.Millisecond,
		"an acknowledged stream was torn down")
	require.Equal(t, 1, f.connections())
}

// A client that pings as often as ClientKeepalive allows must never be sent away for it, and
// `kanna status`, the load generator and the web frontend (demo.Dial) keep the node's numbers.
func TestClientsKeepTheNodesKeepaliveAndThePolicyAdmitsIt(t *testing.T) {
	require.GreaterOrEqual(t, ClientKeepalive.Time, KeepaliveMinTime)
	require.Equal(t, ClientKeepalive, demo.Keepalive)
	require.Equal(t, reconnect, demo.Reconnect)
	require.Equal(t, keepalivePolicy, demo.KeepalivePolicy)
}
