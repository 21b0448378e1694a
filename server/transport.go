// The client side of node-to-node traffic: one long-lived Raft.Stream per peer, gossip packets and
// push-pull exchanges, and the connections and address book they share.
//
// Raft (paper §5.1) assumes a network that may lose, delay and reorder messages, and retries on
// its own; so the transport never blocks the loop and never retries a message. Each peer has a
// bounded queue drained by its own goroutine, which writes to the stream without waiting for
// replies (pipelining, thesis §10.2.2); a full queue drops the newest message, a broken stream is
// reopened with backoff and what was in flight on it is lost. Gossip packets are SWIM's datagrams
// (SWIM §3): sent once, with a short deadline, lost on any error, each on its own so that one
// waiting out its deadline delays no other.
//
// A connection whose peer stopped answering is closed and dialled afresh: a Raft stream whose
// acknowledgements stop for an election timeout while messages are outstanding, or a gossip call
// that times out on a connection nothing has come back on for as long. A new connection starts a
// new TCP handshake, where the old one would wait out a retransmission backoff that grows with the
// length of a cut (keepalive.go closes such connections from the kernel's side too).
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/kanna-cluster/kanna/gossip"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
)

const (
	// raftQueueSize bounds the messages waiting for one peer's stream: at 256 appends in flight
	// per follower (raft.Config.MaxInflight) plus heartbeats and read confirmations, a healthy
	// stream never fills it; a stalled one drops instead of holding memory.
	raftQueueSize = 1024
	// maxUnacked bounds the messages written to a stream and not yet acknowledged: beyond it the
	// receiver is not keeping up, and more would only queue in gRPC's buffers.
	maxUnacked = 2048
	// gossipQueueSize bounds the gossip messages waiting for one address.
	gossipQueueSize = 128
	// gossipTimeout is the deadline of one gossip call: about the probe timeout (500 ms), after
	// which SWIM has already counted the packet as lost.
	gossipTimeout = 500 * time.Millisecond
	// gossipInflight bounds the gossip calls waiting on one address; beyond it a packet is lost,
	// as SWIM's datagrams may be. SWIM sends a member a few packets a second, so only a peer
	// that stopped answering fills it.
	gossipInflight = 16
	// minStall is the least stall bound, whatever the election timeout: the receiver acks at most
	// every ackInterval, so a bound of a few of those would tear down healthy streams (tests run
	// with 20 ms ticks, an election timeout of 160 ms).
	minStall = 5 * ackInterval
	// retireAfter is how long a replaced connection stays open for the calls still on it: longer
	// than any call's deadline.
	retireAfter = 15 * time.Second
	// minBackoff and maxBackoff bound the wait before reopening a broken stream.
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// transport holds a node's outgoing connections.
type transport struct {
	self     uint64
	selfAddr string
	dialOpts []grpc.DialOption
	// stall is how long a connection may go without an answer while it is owed one before it is
	// closed and redialled: the Raft election timeout.
	stall  time.Duration
	faults *faults
	log    func() *slog.Logger
	// onGossip hands a push-pull reply back to the loop.
	onGossip func(gossip.Message)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[string]*grpc.ClientConn // by address
	// retired are connections redial replaced, left open a while for the calls still on them.
	retired []*grpc.ClientConn
	// heard is when each connection, by address, last brought an answer (or was opened).
	heard  map[string]time.Time
	addrs  map[uint64]string // the address book: Raft id -> gRPC address, from gossip
	peers  map[uint64]*raftPeer
	gossip map[string]chan gossip.Message // by address
}

func newTransport(self uint64, selfAddr string, opts []grpc.DialOption, stall time.Duration, f *faults, log func() *slog.Logger, onGossip func(gossip.Message)) *transport {
	ctx, cancel := context.WithCancel(context.Background())
	stall = max(stall, minStall)
	return &transport{
		self: self, selfAddr: selfAddr, dialOpts: opts, stall: stall, faults: f, log: log, onGossip: onGossip,
		ctx: ctx, cancel: cancel,
		conns: map[string]*grpc.ClientConn{}, heard: map[string]time.Time{}, addrs: map[uint64]string{},
		peers: map[uint64]*raftPeer{}, gossip: map[string]chan gossip.Message{},
	}
}

// conn returns the connection to addr, opening it on first use. grpc.NewClient connects lazily
// and reconnects on its own; a connection is replaced only when redial closes it.
func (t *transport) conn(addr string) (*grpc.ClientConn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, t.dialOpts...)
	if err != nil {
		return nil, err
	}
	t.conns[addr] = c
	t.heard[addr] = time.Now()
	return c, nil
}

// answered records that the connection to addr brought an answer.
func (t *transport) answered(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[addr]; ok {
		t.heard[addr] = time.Now()
	}
}

// silentFor reports how long the connection to addr has brought no answer.
func (t *transport) silentFor(addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.heard[addr]
	if !ok {
		return 0
	}
	return time.Since(h)
}

// reachedBy is told that the peer at addr has just reached this node: a new Raft stream or a
// gossip call from it. The path between the two works, so a connection to that peer that is not
// up and has brought nothing back for the stall bound is in the middle of a doomed attempt (a
// handshake sent into the cut, waiting out its connect timeout and then a back-off) and is
// replaced at once. A connection opened within the stall bound is left to finish.
func (t *transport) reachedBy(addr string) {
	if addr == "" {
		return
	}
	t.mu.Lock()
	c, ok := t.conns[addr]
	silent := ok && time.Since(t.heard[addr]) > t.stall
	t.mu.Unlock()
	if !silent || c.GetState() == connectivity.Ready {
		return
	}
	t.redial(addr, c, "the peer reached this node while the connection to it was down")
}

// redial closes c, the connection to addr, so that the next use dials a new one. A caller that
// holds an older connection, already replaced, changes nothing.
func (t *transport) redial(addr string, c *grpc.ClientConn, why string) {
	t.mu.Lock()
	if t.conns[addr] != c {
		t.mu.Unlock()
		return
	}
	delete(t.conns, addr)
	delete(t.heard, addr)
	t.mu.Unlock()
	t.log().Info("transport: connection to peer stopped answering; dialling a new one", "to", addr, "why", why)
	// New calls go to the new connection at once. The old one is closed only after every call on
	// it (a forwarded game call retries for up to 10 s) has had time to end on its own: it may be
	// slow rather than dead, and closing it would fail them.
	t.mu.Lock()
	t.retired = append(t.retired, c)
	t.mu.Unlock()
	time.AfterFunc(retireAfter, func() {
		_ = c.Close()
		t.mu.Lock()
		defer t.mu.Unlock()
		if i := slices.Index(t.retired, c); i >= 0 {
			t.retired = slices.Delete(t.retired, i, i+1)
		}
	})
}

// setAddr records where peer id listens; it reports whether that changed the book.
func (t *transport) setAddr(id uint64, addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id == 0 || addr == "" || t.addrs[id] == addr {
		return false
	}
	t.addrs[id] = addr
	return true
}

// addrOf returns where peer id listens, or "" when gossip has not told us.
func (t *transport) addrOf(id uint64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addrs[id]
}

// idOf returns the id of the member at addr, or 0.
func (t *transport) idOf(addr string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, a := range t.addrs {
		if a == addr {
			return id
		}
	}
	return 0
}

// sendRaft queues messages for their peers. It never blocks: a full queue drops the message.
func (t *transport) sendRaft(msgs []raft.Message) {
	for _, m := range msgs {
		if m.To == t.self || t.faults.dropOut(m.To, classRaft) {
			continue
		}
		p := t.peer(m.To)
		if p == nil {
			return
		}
		pm := toProto(m)
		if (len(m.Entries) > 0 || m.Snapshot != nil) && proto.Size(pm) > MaxMessageBytes {
			// The core bounds appends and snapshot chunks far below this; a message over it would
			// end the stream with ResourceExhausted on both sides, so it never leaves.
			t.log().Error("raft: message over the gRPC size limit not sent; is one command huge?", "to", m.To, "type", m.Type.String(), "bytes", proto.Size(pm), "limit", MaxMessageBytes)
			continue
		}
		select {
		case p.queue <- pm:
		default:
			p.dropped.Add(1)
		}
	}
}

// peer returns the sender for peer id, starting it on first use; nil once closed.
func (t *transport) peer(id uint64) *raftPeer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	p, ok := t.peers[id]
	if !ok {
		p = &raftPeer{id: id, t: t, queue: make(chan *kannapb.RaftMessage, raftQueueSize)}
		t.peers[id] = p
		t.wg.Add(1)
		go p.run()
	}
	return p
}

// sendGossip queues gossip messages for their addresses. It never blocks.
func (t *transport) sendGossip(msgs []gossip.Message) {
	for _, m := range msgs {
		to := parseID(m.ToID)
		if to == 0 {
			to = t.idOf(m.To)
		}
		if t.faults.dropOut(to, classGossip) || m.To == "" || m.To == t.selfAddr {
			continue
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return
		}
		q, ok := t.gossip[m.To]
		if !ok {
			q = make(chan gossip.Message, gossipQueueSize)
			t.gossip[m.To] = q
			t.wg.Add(1)
			go t.runGossip(m.To, q)
		}
		t.mu.Unlock()
		select {
		case q <- m:
		default:
		}
	}
}

// runGossip sends the gossip messages queued for addr, one call each, up to gossipInflight at
// once: a probe must not wait behind packets that are waiting out their deadline on a dead
// connection, or it would reach a healed peer seconds late and fail for nothing.
func (t *transport) runGossip(addr string, q chan gossip.Message) {
	defer t.wg.Done()
	slots := make(chan struct{}, gossipInflight)
	for {
		select {
		case <-t.ctx.Done():
			return
		case m := <-q:
			select {
			case slots <- struct{}{}:
			default:
				continue // lost, like a datagram on a full link
			}
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				t.sendOneGossip(addr, m)
				<-slots
			}()
		}
	}
}

// gossipFailed closes the connection to addr when a gossip call on it ran out its deadline and the
// connection has brought nothing back for longer than the stall bound.
func (t *transport) gossipFailed(addr string, conn *grpc.ClientConn, err error) {
	if status.Code(err) != codes.DeadlineExceeded || t.ctx.Err() != nil {
		return
	}
	if silent := t.silentFor(addr); silent > t.stall {
		t.redial(addr, conn, "gossip: no answer for "+silent.Round(time.Millisecond).String())
	}
}

func (t *transport) sendOneGossip(addr string, m gossip.Message) {
	data, err := m.Marshal()
	if err != nil {
		t.log().Warn("gossip: cannot encode a message; dropping it", "to", addr, "err", err)
		return
	}
	conn, err := t.conn(addr)
	if err != nil {
		t.log().Debug("gossip: cannot reach peer", "to", addr, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(t.ctx, gossipTimeout)
	defer cancel()
	client := kannapb.NewGossipClient(conn)
	if m.Type != gossip.MsgPushPull {
		if _, err := client.Packet(ctx, &kannapb.GossipPacket{Data: data, FromAddress: t.selfAddr}); err != nil {
			t.log().Debug("gossip: packet lost", "to", addr, "type", m.Type.String(), "err", err)
			t.gossipFailed(addr, conn, err)
			return
		}
		t.answered(addr)
		return
	}
	reply, err := client.PushPull(ctx, &kannapb.GossipState{Data: data, FromAddress: t.selfAddr})
	if err != nil {
		t.gossipFailed(addr, conn, err)
		level := slog.LevelDebug
		if status.Code(err) == codes.Unauthenticated {
			// Not a lost packet but a misconfiguration that will never heal on its own.
			level = slog.LevelWarn
		}
		t.log().Log(t.ctx, level, "gossip: push-pull failed", "to", addr, "err", err)
		return
	}
	t.answered(addr)
	rm, err := gossip.Unmarshal(reply.GetData())
	if err != nil {
		t.log().Warn("gossip: push-pull reply cannot be decoded; is the peer the same version?", "from", addr, "err", err)
		return
	}
	if t.faults.dropIn(parseID(rm.From), classGossip) {
		return
	}
	t.onGossip(rm)
}

// close stops every sender and closes every connection.
func (t *transport) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.conns {
		_ = c.Close()
	}
	clear(t.conns)
	for _, c := range t.retired {
		_ = c.Close()
	}
	t.retired = nil
}

// raftPeer owns the stream to one peer.
type raftPeer struct {
	id      uint64
	t       *transport
	queue   chan *kannapb.RaftMessage
	dropped atomic.Uint64
}

// run keeps a stream open to the peer while the transport lives, reopening it with backoff.
func (p *raftPeer) run() {
	defer p.t.wg.Done()
	backoff := minBackoff
	for {
		delivered, err := p.stream()
		if p.t.ctx.Err() != nil {
			return
		}
		if delivered || errors.Is(err, errNotReady) || errors.Is(err, errStalled) {
			// Either the stream worked, or the wait for the peer was the back-off already.
			backoff = minBackoff
		}
		if err != nil {
			level := slog.LevelDebug
			if status.Code(err) == codes.Unauthenticated {
				level = slog.LevelWarn
			}
			p.t.log().Log(p.t.ctx, level, "raft: stream to peer broke; reopening", "peer", p.id, "backoff", backoff, "err", err)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-p.t.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// errNotReady: the connection did not come up within the stall bound; the peer is still out of
// reach, and the wait itself was the back-off.
var errNotReady = errors.New("connection not ready")

// waitReady waits until conn is connected, for at most the stall bound, so that the stream opens
// the moment a redialled peer answers rather than after a back-off timer.
func (p *raftPeer) waitReady(addr string, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(p.t.ctx, p.t.stall)
	defer cancel()
	conn.Connect()
	for {
		st := conn.GetState()
		if st == connectivity.Ready {
			return nil
		}
		if st == connectivity.Shutdown || ctx.Err() != nil || !p.t.current(addr, conn) {
			// Gone, timed out, or replaced by redial: the next stream takes the new connection.
			return errNotReady
		}
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		conn.WaitForStateChange(wctx, st)
		cancel()
	}
}

// current reports whether c is still the connection to addr.
func (t *transport) current(addr string, c *grpc.ClientConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conns[addr] == c
}

// stream opens one stream and writes queued messages to it until it breaks, stalls, the peer's
// address changes, or the transport closes. It reports whether any message went through.
//
// A stream stalls when messages are outstanding and no acknowledgement has come for the stall
// bound (an election timeout; the receiver acks every 100 ms while it is owed one): the peer, or
// the path to it, is gone, and TCP would go on retransmitting into the void with a growing
// backoff. The connection is then closed, so the next stream starts on a new one.
func (p *raftPeer) stream() (delivered bool, err error) {
	// Wait for something to send: an idle peer holds no stream.
	var first *kannapb.RaftMessage
	select {
	case <-p.t.ctx.Done():
		return false, nil
	case first = <-p.queue:
	}
	addr := p.t.addrOf(p.id)
	if addr == "" {
		// Gossip has not told us where the peer is yet; Raft will send again.
		return false, nil
	}
	conn, err := p.t.conn(addr)
	if err != nil {
		return false, err
	}
	if err := p.waitReady(addr, conn); err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(p.t.ctx)
	defer cancel()
	s, err := kannapb.NewRaftClient(conn).Stream(metadata.AppendToOutgoingContext(ctx, AddressHeader, p.t.selfAddr))
	if err != nil {
		return false, err
	}
	var acked atomic.Uint64
	broken := make(chan error, 1)
	go func() {
		for {
			ack, err := s.Recv()
			if err != nil {
				broken <- err
				cancel()
				return
			}
			acked.Store(ack.GetReceived())
			p.t.answered(addr)
		}
	}()
	watch := time.NewTicker(p.t.stall / 4)
	defer watch.Stop()
	var sent, seen uint64
	progressAt := time.Now()
	m := first
	for {
		if m != nil {
			if p.t.addrOf(p.id) != addr {
				return delivered, nil
			}
			if sent-acked.Load() < maxUnacked {
				if err := s.Send(m); err != nil {
					if errors.Is(err, io.EOF) {
						// The receiver ended the stream; its reason comes with the next Recv.
						select {
						case err = <-broken:
						case <-p.t.ctx.Done():
						}
					}
					return delivered, err
				}
				sent++
				delivered = true
			} else {
				p.dropped.Add(1)
			}
			m = nil
		}
		select {
		case <-ctx.Done():
			select {
			case err := <-broken:
				return delivered, err
			default:
				return delivered, ctx.Err()
			}
		case <-watch.C:
			a := acked.Load()
			if a != seen || a >= sent {
				seen, progressAt = a, time.Now()
				continue
			}
			if waited := time.Since(progressAt); waited > p.t.stall {
				p.t.redial(addr, conn, fmt.Sprintf("raft: %d messages unacknowledged for %v", sent-a, waited.Round(time.Millisecond)))
				return delivered, errStalled
			}
		case m = <-p.queue:
		}
	}
}

// errStalled: the stream made no progress for the stall bound and its connection was closed.
var errStalled = errors.New("stream stalled; connection closed for a redial")

// parseID reads a gossip member name as a Raft id; 0 when it is not one.
func parseID(s string) uint64 {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return id
}
