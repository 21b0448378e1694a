// Package server is one Kanna node's real shell around its deterministic engine (package
// server/engine). Node owns the write-ahead log, the gRPC server and the transport, and one loop
// goroutine (loop.go) that alone touches the engine and the gossip core.
//
// It is a thin shell (docs/design.md): everything Raft (Ongaro and Ousterhout 2014) and SWIM
// (Das et al. 2002) decide happens in the pure cores; the shell only moves time, bytes and disk
// writes in and out of them, in the order the persistence contract requires (loop.go).
package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/kanna-cluster/kanna/server/engine"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/kanna-cluster/kanna/server/wal"
)

// ErrStopped is returned by calls on a node that has stopped.
var ErrStopped = errors.New("server: node stopped")

const (
	// raftInSize and gossipInSize bound the incoming messages waiting for the loop.
	raftInSize   = 4096
	gossipInSize = 1024
	// maxDrain bounds the inputs the loop takes before it handles a Ready, so that a flood of
	// messages cannot postpone persisting and answering forever; within it, everything pending
	// shares one Ready and one fsync (group commit).
	maxDrain = 512
	// streamWorkers is how many goroutines serve calls, kept between calls: starting a goroutine
	// per call and growing its stack cost the leader a tenth of its CPU under load. A long-lived
	// stream (Raft.Stream, Watch) holds one for its life; past the pool, gRPC starts a goroutine as
	// it would without one.
	streamWorkers = 16
)

// Node is one running Kanna node.
type Node struct {
	cfg  Config
	id   uint64
	addr string // the address peers and clients reach this node at
	log  *slog.Logger

	lis    net.Listener
	grpc   *grpc.Server
	tr     *transport
	faults *faults
	wal    *wal.WAL
	book   *addressBook
	lock   *os.File  // the data folder's lock, held while the node runs
	events *eventLog // what the Events stream tells watchers (events.go)

	// Owned by the loop goroutine.
	engine *engine.Engine
	gossip *gossip.Node
	loop   loopState

	raftIn   chan raft.Message
	gossipIn chan gossipInput
	calls    chan func()
	// toWriter and fromWriter connect the loop and the writer goroutine (writer.go).
	toWriter   chan writeBatch
	fromWriter chan writeDone

	// term is the last term the loop saw, for log lines written outside it.
	term atomic.Uint64
	// lead is the leader the loop last saw; leadMoved is closed, and replaced, when that or this
	// node's role changes, so that a call in flight to the old leader can give up on it at once
	// (game_service.go).
	leadMu    sync.Mutex
	lead      raft.SoftState
	leadMoved chan struct{}

	stopOnce sync.Once
	stop     chan struct{} // closed to ask the loop to finish
	done     chan struct{} // closed when the loop has finished
	errMu    sync.Mutex
	err      error // why the node stopped on its own, if it did
}

// NewNode opens the node's data folder, rebuilds its state and binds its listener. Call Start to
// run it.
func NewNode(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, id: cfg.ID, faults: newFaults(),
		raftIn: make(chan raft.Message, raftInSize), gossipIn: make(chan gossipInput, gossipInSize),
		calls: make(chan func(), 256), stop: make(chan struct{}), done: make(chan struct{}), leadMoved: make(chan struct{}),
		toWriter: make(chan writeBatch, maxInflightWrites), fromWriter: make(chan writeDone, maxInflightWrites),
	}
	n.log = cfg.Logger.With("node", cfg.ID)
	n.events = newEventLog(cfg.ID, time.Now())

	if err := checkNodeID(cfg.DataDir, cfg.ID); err != nil {
		return nil, err
	}
	if n.lock, err = lockDataDir(cfg.DataDir, cfg.ID); err != nil {
		return nil, err
	}
	w, restored, err := wal.Open(filepath.Join(cfg.DataDir, "wal"), wal.Options{Logger: n.log})
	if err != nil {
		_ = n.lock.Close()
		return nil, fmt.Errorf("node %d: %w", cfg.ID, err)
	}
	n.wal = w
	fail := func(err error) (*Node, error) {
		_ = w.Close()
		_ = n.lock.Close()
		if n.lis != nil && n.lis != cfg.Listener {
			_ = n.lis.Close()
		}
		return nil, err
	}
	if n.book, err = openAddressBook(cfg.DataDir); err != nil {
		return fail(err)
	}

	n.lis = cfg.Listener
	if n.lis == nil {
		if n.lis, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fail(fmt.Errorf("node %d: listen on %s: %w; pick a free port or stop the process using it", cfg.ID, cfg.Addr, err))
		}
	}
	n.addr = n.lis.Addr().String()
	if ta, ok := n.lis.Addr().(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		return fail(fmt.Errorf("node %d: listening on %s, which peers cannot dial; bind a specific address such as 127.0.0.1:PORT or this host's LAN address", cfg.ID, n.addr))
	}

	rnd := rand.New(rand.NewSource(cfg.Seed))
	rc := raft.DefaultConfig()
	rc.ID, rc.Rand, rc.ElectionTick, rc.Restore = cfg.ID, rand.New(rand.NewSource(rnd.Int63())), cfg.ElectionTick, restored
	rc.HeartbeatTick = engine.DefaultHeartbeatTick
	bootstrap := restored == nil && len(cfg.Join) == 0
	if bootstrap {
		rc.Peers = []uint64{cfg.ID}
	}
	if restored == nil && !bootstrap {
		// An empty folder told to join looks exactly like a wiped one: either way the node must
		// not vote before the leader has sent it the log (raft/recovery.go). For a new member this
		// costs nothing; for a wiped one it is what keeps committed entries safe.
		if err := w.MarkLost(); err != nil {
			return fail(fmt.Errorf("node %d: %w", cfg.ID, err))
		}
		rc.Restore = &raft.Restored{Lost: &raft.Lost{}}
	}
	if rc.Restore != nil && rc.Restore.Lost != nil {
		n.loop.recovering = true
		n.log.Warn("recovery: this node's storage does not hold everything it acknowledged; it "+
			"will neither vote nor count toward commitment until the leader has sent it back",
			"acknowledged_up_to", rc.Restore.Lost.Index, "term", rc.Restore.Lost.Term, "wal", filepath.Join(cfg.DataDir, "wal"))
	}
	if n.engine, err = engine.New(engine.Config{Raft: rc, Rand: rand.New(rand.NewSource(rnd.Int63())), SnapshotEvery: cfg.SnapshotEvery}); err != nil {
		return fail(fmt.Errorf("node %d: %w", cfg.ID, err))
	}
	if restored != nil {
		n.loop.saved = restored.HardState
		n.loop.toldTerm = restored.HardState.Term
		n.term.Store(restored.HardState.Term)
	}

	gc := gossip.DefaultLANConfig(strconv.FormatUint(cfg.ID, 10), n.addr)
	gc.TickInterval = cfg.TickInterval
	gc.Rand = rand.New(rand.NewSource(rnd.Int63()))
	gc.Meta = gossip.NewMeta(n.addr, map[string]string{"raft_id": strconv.FormatUint(cfg.ID, 10)})
	if n.gossip, err = gossip.New(gc); err != nil {
		return fail(fmt.Errorf("node %d: %w", cfg.ID, err))
	}
	if restored != nil {
		// A restarted core begins at incarnation 0, which may be what the others last heard
		// from the previous run, perhaps at another address; news at the same incarnation never
		// overrides (SWIM §4.2), so start one higher. If they heard a higher one, this node
		// refutes it on first contact anyway.
		if err := n.gossip.UpdateMeta(gc.Meta); err != nil {
			return fail(fmt.Errorf("node %d: %w", cfg.ID, err))
		}
	}

	n.tr = newTransport(cfg.ID, n.addr, dialOptions(cfg.ClusterKey, cfg.ClientTLS), time.Duration(cfg.ElectionTick)*cfg.TickInterval, n.faults, n.logger, n.deliverGossipReply)
	for id, a := range n.book.entries() {
		if id != cfg.ID {
			n.tr.setAddr(id, a)
		}
	}
	n.loop.init(n)

	keys := keyChecker{key: []byte(cfg.ClusterKey)}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(keys.unary),
		grpc.ChainStreamInterceptor(keys.stream),
		grpc.NumStreamWorkers(streamWorkers),
	}
	opts = append(opts, keepaliveServerOptions()...)
	if cfg.ServerTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.ServerTLS)))
	}
	n.grpc = grpc.NewServer(opts...)
	kannapb.RegisterRaftServer(n.grpc, raftService{n: n})
	kannapb.RegisterGossipServer(n.grpc, gossipService{n: n})
	kannapb.RegisterGameServer(n.grpc, &gameService{n: n})
	kannapb.RegisterClusterServer(n.grpc, &clusterService{n: n})

	mode := "restart from data"
	switch {
	case bootstrap:
		mode = "bootstrap a new cluster as its only voter"
	case restored == nil:
		mode = "join an existing cluster"
	}
	n.logger().Info("node ready", "addr", n.addr, "data", cfg.DataDir, "mode", mode, "join", cfg.Join)
	n.events.add(eventRec{at: time.Now(), kind: kannapb.ClusterEventKind_CLUSTER_EVENT_KIND_START, term: n.term.Load(),
		text: fmt.Sprintf("node %d started to %s", cfg.ID, mode)})
	return n, nil
}

// Start serves gRPC and starts the loop.
func (n *Node) Start() {
	go func() {
		if err := n.grpc.Serve(n.lis); err != nil {
			select {
			case <-n.stop:
			default:
				// Peers and clients can no longer reach this node: stop rather than run deaf.
				n.fail(fmt.Errorf("serve gRPC on %s: %w", n.addr, err))
				go func() { _ = n.close() }()
			}
		}
	}()
	go n.run()
}

// ID returns the node's Raft id.
func (n *Node) ID() uint64 { return n.id }

// Addr returns the address the node serves on.
func (n *Node) Addr() string { return n.addr }

// Done is closed once the node has stopped, on Shutdown or on a fatal error (see Err).
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns why the node stopped on its own, or nil.
func (n *Node) Err() error {
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

// logger returns the node's logger with its current term.
func (n *Node) logger() *slog.Logger { return n.log.With("term", n.term.Load()) }

// do runs f on the loop goroutine, where it may use the engine and the gossip core.
func (n *Node) do(ctx context.Context, f func()) error {
	select {
	case n.calls <- f:
		return nil
	case <-n.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// query runs f on the loop and waits for it to finish.
func (n *Node) query(ctx context.Context, f func()) error {
	finished := make(chan struct{})
	if err := n.do(ctx, func() { f(); close(finished) }); err != nil {
		return err
	}
	select {
	case <-finished:
		return nil
	case <-n.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deliverGossipReply hands a push-pull reply, received by a transport goroutine, to the loop.
func (n *Node) deliverGossipReply(m gossip.Message) {
	select {
	case n.gossipIn <- gossipInput{msg: m}:
	case <-n.done:
	default:
	}
}

// Shutdown stops the node gracefully (docs/operations.md): it announces its leave to gossip, hands
// leadership to another voter if it leads, lets the leave spread, makes the log durable and stops.
// It returns once the node has stopped or ctx ends, whichever comes first; the node is stopped in
// both cases.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	_ = n.query(ctx, func() {
		if err := n.gossip.Leave(); err != nil {
			errs = append(errs, err)
		}
		n.flushGossip()
	})
	if err := n.handOffLeadership(ctx); err != nil {
		n.logger().Warn("shutdown: leadership not handed off; the others will elect a leader after an election timeout", "err", err)
	}
	// Give the leave a few gossip intervals to reach the others before the node goes quiet.
	linger := time.NewTimer(3 * gossip.DefaultLANConfig("", "").GossipInterval)
	select {
	case <-linger.C:
	case <-ctx.Done():
		linger.Stop()
	case <-n.done:
		linger.Stop()
	}
	errs = append(errs, n.close())
	return errors.Join(errs...)
}

// handOffLeadership transfers leadership to the most up-to-date voter when this node leads, and
// waits until it no longer does.
func (n *Node) handOffLeadership(ctx context.Context) error {
	var to uint64
	var err error
	qerr := n.query(ctx, func() {
		if n.engine.Status().Role != raft.Leader {
			return
		}
		if to, err = engine.PickTransferee(n.engine.Status()); err == nil {
			err = n.engine.TransferLeadership(to)
		}
	})
	if qerr != nil || err != nil || to == 0 {
		return errors.Join(qerr, err)
	}
	n.logger().Info("shutdown: handing leadership over", "to", to)
	deadline := time.Duration(2*n.cfg.ElectionTick) * n.cfg.TickInterval
	wctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	return n.waitFor(wctx, func(st raft.Status) bool { return st.Role != raft.Leader })
}

// waitFor polls the engine's status until ok holds or ctx ends.
func (n *Node) waitFor(ctx context.Context, ok func(raft.Status) bool) error {
	tick := time.NewTicker(n.cfg.TickInterval / 4)
	defer tick.Stop()
	for {
		var st raft.Status
		if err := n.query(ctx, func() { st = n.engine.Status() }); err != nil {
			return err
		}
		if ok(st) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// close stops the loop, the server and the transport, and closes the log. Safe to call twice.
func (n *Node) close() error {
	var err error
	n.stopOnce.Do(func() {
		close(n.stop)
		<-n.done
		n.grpc.Stop()
		n.tr.close()
		if werr := n.wal.Close(); werr != nil {
			err = fmt.Errorf("node %d: close wal: %w", n.id, werr)
		}
		_ = n.lock.Close()
		n.logger().Info("node stopped")
	})
	return err
}

// Kill stops the node without leaving gossip or handing off leadership, as a crash would (the log
// is still closed, so everything it synced stays). Tests use it to restart a node from its data.
func (n *Node) Kill() error { return n.close() }
