// One node of the peer system: hashicorp/raft with raft-boltdb (fsync on every append), the
// Hangman state machine of game/ as its FSM, and, in the whole-service mode, the Game gRPC service
// in front of it. It is the same work a Kanna node does (Raft paper §5.3 replication and §8 client
// interaction: a command is answered once applied, a retry with the same client id and seq applies
// once), done by another Raft library, so that `make bench-cluster` compares consensus with
// consensus and service with service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/internal/gamecode"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/server"
	"github.com/kanna-cluster/kanna/server/demo"
)

// applyTimeout bounds how long a command waits to be enqueued by the leader.
const applyTimeout = 5 * time.Second

// nodeConfig starts one node.
type nodeConfig struct {
	id       uint64
	dir      string
	raftAddr string
	// bootstrap makes this node found the cluster alone; it then adds the nodes of --peers as voters.
	bootstrap bool
}

// fsm applies committed commands to the game. The leader keeps the room as it is after each of
// its commands, which its Game service returns; followers only apply.
type fsm struct {
	mu      sync.Mutex
	state   *game.State
	leading func() bool
}

// applied is what Apply returns to the leader's Game service through the future.
type applied struct {
	result game.Result
	room   game.RoomView
	index  uint64
}

func (f *fsm) Apply(l *raft.Log) any {
	cmd, err := game.DecodeCommand(l.Data)
	if err != nil {
		return fmt.Errorf("entry %d: %w", l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := applied{result: f.state.Apply(cmd), index: l.Index}
	if f.leading() {
		out.room, _ = f.state.Room(cmd.Room)
	}
	return out
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return snapshot(f.state.Snapshot()), nil
}

func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	st := game.NewState()
	if err := st.Restore(b); err != nil {
		return err
	}
	f.mu.Lock()
	f.state = st
	f.mu.Unlock()
	return nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshot) Release() {}

// node is one running peer node.
type node struct {
	id    uint64
	raft  *raft.Raft
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore

	mu   sync.Mutex // guards rand
	rand *rand.Rand
}

// startNode opens the node's BoltDB log and starts its Raft. The timing is the one the hashicorp
// anchor always used (300 ms heartbeat and election timeouts, the library's LAN-ish tuning), and
// snapshots every 10,000 entries as a Kanna node takes them.
func startNode(cfg nodeConfig) (*node, error) {
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return nil, err
	}
	trans, err := raft.NewTCPTransport(cfg.raftAddr, nil, 8, 10*time.Second, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("node %d: listen on %s: %w", cfg.id, cfg.raftAddr, err)
	}
	store, err := raftboltdb.NewBoltStore(filepath.Join(cfg.dir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("node %d: open bolt store: %w", cfg.id, err)
	}
	snaps, err := raft.NewFileSnapshotStore(cfg.dir, 1, io.Discard)
	if err != nil {
		return nil, err
	}
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(fmt.Sprint(cfg.id))
	c.LogOutput = io.Discard
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 300 * time.Millisecond
	c.LeaderLeaseTimeout = 150 * time.Millisecond
	c.SnapshotThreshold = 10000
	n := &node{id: cfg.id, trans: trans, store: store, rand: rand.New(rand.NewSource(time.Now().UnixNano()))}
	f := &fsm{state: game.NewState(), leading: func() bool { return n.raft != nil && n.raft.State() == raft.Leader }}
	r, err := raft.NewRaft(c, f, store, store, snaps, trans)
	if err != nil {
		return nil, err
	}
	n.raft = r
	if cfg.bootstrap {
		boot := raft.Configuration{Servers: []raft.Server{{ID: c.LocalID, Address: trans.LocalAddr()}}}
		if err := r.BootstrapCluster(boot).Error(); err != nil {
			return nil, fmt.Errorf("node %d: bootstrap: %w", cfg.id, err)
		}
	}
	return n, nil
}

// form waits for this node to lead, then adds every peer as a voter, one after another.
func (n *node) form(ctx context.Context, peers map[uint64]string) error {
	for n.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d did not become leader: %w", n.id, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	for id := uint64(1); id <= uint64(len(peers))+1; id++ {
		addr, ok := peers[id]
		if !ok {
			continue
		}
		if err := n.raft.AddVoter(raft.ServerID(fmt.Sprint(id)), raft.ServerAddress(addr), 0, time.Minute).Error(); err != nil {
			return fmt.Errorf("add node %d at %s: %w", id, addr, err)
		}
	}
	return nil
}

func (n *node) close() {
	_ = n.raft.Shutdown().Error()
	_ = n.trans.Close()
	_ = n.store.Close()
}

// gameService is the Game service in front of the node, the same calls and answers as a Kanna
// node's: malformed requests refused before they reach the log, the leader picks the word, a
// rejection is the game's verdict with the same gRPC code, anything about leadership is
// Unavailable so the client retries with the same client id and seq.
type gameService struct {
	kannapb.UnimplementedGameServer
	n *node
}

func (g *gameService) CreateRoom(ctx context.Context, req *kannapb.CreateRoomRequest) (*kannapb.RoomState, error) {
	cmd, _ := server.WriteCommand(req)
	return g.write(ctx, cmd)
}

func (g *gameService) JoinRoom(ctx context.Context, req *kannapb.JoinRoomRequest) (*kannapb.RoomState, error) {
	cmd, _ := server.WriteCommand(req)
	return g.write(ctx, cmd)
}

func (g *gameService) Guess(ctx context.Context, req *kannapb.GuessRequest) (*kannapb.RoomState, error) {
	cmd, _ := server.WriteCommand(req)
	return g.write(ctx, cmd)
}

func (g *gameService) NewRound(ctx context.Context, req *kannapb.NewRoundRequest) (*kannapb.RoomState, error) {
	cmd, _ := server.WriteCommand(req)
	return g.write(ctx, cmd)
}

func (g *gameService) write(ctx context.Context, cmd game.Command) (*kannapb.RoomState, error) {
	timeout := applyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	fut, err := g.apply(cmd, timeout)
	if err != nil {
		return nil, err
	}
	return g.answer(fut)
}

// apply checks cmd and, on the leader, starts it through the log: the first half of a write.
func (g *gameService) apply(cmd game.Command, timeout time.Duration) (raft.ApplyFuture, error) {
	check := cmd
	if check.NeedsWord() {
		check.Word = anyWord
	}
	if err := check.Validate(); err != nil {
		return nil, gameStatus(err)
	}
	if g.n.raft.State() != raft.Leader {
		return nil, status.Errorf(codes.Unavailable, "node %d does not lead; retry on the leader", g.n.id)
	}
	if cmd.NeedsWord() {
		g.n.mu.Lock()
		cmd.Word = game.PickWord(g.n.rand)
		g.n.mu.Unlock()
	}
	return g.n.raft.Apply(cmd.Encode(), timeout), nil
}

// answer waits for a write's entry to apply and says what the unary call answers: the second half.
func (g *gameService) answer(fut raft.ApplyFuture) (*kannapb.RoomState, error) {
	if err := fut.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrEnqueueTimeout) {
			return nil, status.Errorf(codes.Unavailable, "%v; retry with the same client_id and seq", err)
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	switch a := fut.Response().(type) {
	case applied:
		if err := a.result.Error(); err != nil {
			return nil, gameStatus(err)
		}
		return server.RoomState(a.room, g.n.id, a.index), nil
	case error:
		return nil, status.Error(codes.Internal, a.Error())
	default:
		return nil, status.Errorf(codes.Internal, "unexpected apply result %T", a)
	}
}

// anyWord stands in for the leader's pick when a request is checked.
var anyWord = game.Words()[0]

// maxPlayInFlight bounds the calls one Play stream runs at once, as on a Kanna node.
const maxPlayInFlight = 1024

// Play serves a stream of writes with the unary calls' answers, as a Kanna node does: up to
// maxPlayInFlight calls at once, each answered in the order they finish, and a follower answers
// every call Unavailable, as its unary calls do. Each call runs raft.Apply and waits for its
// future in a goroutine of its own: Apply blocks until the library's leader loop takes the entry
// (its apply channel is unbuffered), and the loop batches only the entries offered while it
// writes, so calls applied one after another from the stream's reader would be committed a few at
// a time; concurrent callers are how the library batches, as the unary calls' handlers are.
func (g *gameService) Play(stream kannapb.Game_PlayServer) error {
	ctx := stream.Context()
	replies := make(chan *kannapb.PlayReply, maxPlayInFlight)
	slots := make(chan struct{}, maxPlayInFlight)
	readEnd := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				readEnd <- nil
				return
			}
			if err != nil {
				readEnd <- err
				return
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				readEnd <- status.FromContextError(ctx.Err()).Err()
				return
			}
			go func() { replies <- g.play(req) }()
		}
	}()
	ended := readEnd // nil once the client has sent its last call
	for {
		if ended == nil && len(slots) == 0 {
			return nil
		}
		select {
		case r := <-replies:
			if err := stream.Send(r); err != nil {
				return err
			}
			<-slots
		case err := <-ended:
			if err != nil {
				return err
			}
			ended = nil
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// play runs one call of a Play stream and says what the unary call would have answered.
func (g *gameService) play(req *kannapb.PlayRequest) *kannapb.PlayReply {
	cmd, ok := server.PlayCommand(req)
	if !ok {
		return server.PlayReply(req.GetCallId(), nil, server.ErrNoWrite)
	}
	fut, err := g.apply(cmd, applyTimeout)
	if err != nil {
		return server.PlayReply(req.GetCallId(), nil, err)
	}
	st, err := g.answer(fut)
	return server.PlayReply(req.GetCallId(), st, err)
}

// gameStatus maps a game rejection to the code a Kanna node answers with.
func gameStatus(err error) error {
	var ge *game.Error
	if errors.As(err, &ge) {
		return status.Error(gamecode.GRPC(ge.Code), ge.Message)
	}
	return status.Error(codes.Internal, err.Error())
}

// serveGame serves the Game service on addr until the returned stop is called.
func serveGame(n *node, addr string) (stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// The same worker pool a Kanna node serves its calls with (server/node.go), and the same
	// policy on clients' keepalive pings: gRPC's default would answer the players' idle pings
	// (server/demo.Dial) with GOAWAY too_many_pings.
	srv := grpc.NewServer(grpc.NumStreamWorkers(16), grpc.KeepaliveEnforcementPolicy(demo.KeepalivePolicy))
	kannapb.RegisterGameServer(srv, &gameService{n: n})
	go func() { _ = srv.Serve(lis) }()
	return srv.Stop, nil
}
