// The hub: one Game.Watch stream per room that has viewers, fanned out to every browser in that
// room, and moved to another node when its node fails or falls behind.
//
// Ordering follows docs/protocol.md ("Watch semantics"): a room's states are ordered by their
// version, the log index of the command that last changed the room. Every node applies the same log
// (Raft paper §5.3, State Machine Safety), so two states of a room with one version are the same
// state, whichever node produced them, and a higher version is a later state. The feed shows a
// state only if its version is above the last one shown: never an older one, across streams and
// the states writes return, and never stuck before the newest (commit_index cannot do this: the
// guesses committed in one batch all come back with the same commit_index).
package web

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// notFoundAttempts is how many nodes in a row must say a room does not exist before its viewers
// are told so: a follower that has not yet applied the room's creation says NotFound too.
const notFoundAttempts = 4

// errStale ends a stream whose node has fallen behind a state the cluster is known to have.
var errStale = errors.New("watched node fell behind a newer committed state; moving to another node")

// hub owns the room feeds.
type hub struct {
	ctx  context.Context
	pool *nodePool
	cfg  Config
	log  *slog.Logger

	mu    sync.Mutex
	rooms map[string]*feed
}

// feed is one room's Watch stream and its viewers.
type feed struct {
	room string
	stop context.CancelFunc

	mu         sync.Mutex
	subs       map[*conn]struct{}
	last       *kannapb.RoomState // the newest state shown, nil before the first
	lastMsg    []byte             // last, encoded as a "room" message
	hint       *kannapb.RoomState // the newest state a write has returned for the room
	streamLast *kannapb.RoomState // the newest state the current stream sent
	behindAt   time.Time          // when the stream first lagged behind hint; zero when it does not
}

func newHub(ctx context.Context, pool *nodePool, cfg Config) *hub {
	return &hub{ctx: ctx, pool: pool, cfg: cfg, log: cfg.Logger, rooms: map[string]*feed{}}
}

// subscribe adds c to room's viewers, starting the room's stream if c is the first, and sends c the
// room's newest state at once if the feed has one.
func (h *hub) subscribe(c *conn, room string) {
	// The viewer joins under h.mu, so that an unsubscribe racing with it never finds the new
	// feed empty and stops it.
	h.mu.Lock()
	f, ok := h.rooms[room]
	if !ok {
		ctx, stop := context.WithCancel(h.ctx)
		f = &feed{room: room, stop: stop, subs: map[*conn]struct{}{}}
		h.rooms[room] = f
		go h.run(ctx, f)
	}
	f.mu.Lock()
	f.subs[c] = struct{}{}
	if f.lastMsg != nil {
		c.send(f.lastMsg) // under f.mu, so that no newer state can reach c first (see offer)
	}
	f.mu.Unlock()
	h.mu.Unlock()
}

// unsubscribe removes c from room's viewers, and ends the room's stream when none are left.
func (h *hub) unsubscribe(c *conn, room string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.rooms[room]
	if !ok {
		return
	}
	f.mu.Lock()
	delete(f.subs, c)
	empty := len(f.subs) == 0
	f.mu.Unlock()
	if empty {
		f.stop()
		delete(h.rooms, room)
	}
}

// viewers returns how many browsers watch room; tests use it.
func (h *hub) viewers(room string) int {
	h.mu.Lock()
	f, ok := h.rooms[room]
	h.mu.Unlock()
	if !ok {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// publish offers a state that a write returned to the room's viewers. It also tells the room's
// stream how far the cluster has got, so that a stream stuck on a cut-off node is noticed.
func (h *hub) publish(s *kannapb.RoomState) {
	h.mu.Lock()
	f, ok := h.rooms[s.GetRoom()]
	h.mu.Unlock()
	if !ok {
		return
	}
	f.mu.Lock()
	if f.hint == nil || s.GetVersion() > f.hint.GetVersion() {
		f.hint = s
	}
	f.mu.Unlock()
	f.offer(s)
}

// offer shows s to every viewer unless a state at least as new was shown already. The same state
// from another node is shown too, so players see which node serves them now.
func (f *feed) offer(s *kannapb.RoomState) {
	f.mu.Lock()
	if f.last != nil && (s.GetVersion() < f.last.GetVersion() ||
		s.GetVersion() == f.last.GetVersion() && s.GetServedBy() == f.last.GetServedBy()) {
		f.mu.Unlock()
		return
	}
	f.last = s
	f.lastMsg = encode(roomMsg{Type: typeRoom, State: roomToJSON(s)})
	// Queued under f.mu: two offers racing (a write's answer, the stream) must reach every
	// browser in the order they passed the check above, or a browser could end on the older one.
	// send never waits, so holding the lock costs nothing.
	for c := range f.subs {
		c.send(f.lastMsg)
	}
	f.mu.Unlock()
}

// gone tells every viewer that the room does not exist, and forgets them.
func (h *hub) gone(f *feed, err error) {
	h.mu.Lock()
	if h.rooms[f.room] == f {
		delete(h.rooms, f.room)
	}
	h.mu.Unlock()
	f.mu.Lock()
	subs := f.subs
	f.subs = map[*conn]struct{}{}
	f.mu.Unlock()
	msg := encode(errorMsg{Type: typeError, Code: codeNotFound, Room: f.room,
		Message: "room " + f.room + " does not exist on any node: " + status.Convert(err).Message()})
	for c := range subs {
		c.leftRoom(f.room)
		c.send(msg)
	}
}

// run keeps one Watch stream open for f until its viewers leave, moving to the next node whenever
// the stream's node fails, shuts down, or falls behind.
func (h *hub) run(ctx context.Context, f *feed) {
	defer f.stop()
	failures, notFound := 0, 0
	for ctx.Err() == nil {
		i := h.pool.pick()
		n := h.pool.nodes[i]
		progressed, err := h.stream(ctx, f, n)
		if ctx.Err() != nil {
			return
		}
		if status.Code(err) == codes.NotFound {
			notFound++
			if notFound >= notFoundAttempts {
				h.gone(f, err)
				return
			}
		} else {
			notFound = 0
		}
		if progressed {
			failures = 0
		}
		h.log.Info("room watch moves to another node", "room", f.room, "node", n.addr, "err", err)
		h.pool.failed(i)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryBackoff(failures)):
		}
		failures++
	}
}

// stream runs one Watch stream on n until it fails or falls behind; progressed says whether it
// delivered any state.
func (h *hub) stream(ctx context.Context, f *feed, n *node) (progressed bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := n.game.Watch(sctx, &kannapb.WatchRequest{Room: f.room})
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	f.streamLast, f.behindAt = nil, time.Time{}
	f.mu.Unlock()

	states := make(chan *kannapb.RoomState)
	ended := make(chan error, 1)
	go func() {
		for {
			s, err := w.Recv()
			if err != nil {
				ended <- err
				return
			}
			select {
			case states <- s:
			case <-sctx.Done():
				ended <- sctx.Err()
				return
			}
		}
	}()

	check := time.NewTicker(h.cfg.StaleWatch / 4)
	defer check.Stop()
	for {
		select {
		case s := <-states:
			progressed = true
			f.mu.Lock()
			if f.streamLast == nil || s.GetVersion() >= f.streamLast.GetVersion() {
				f.streamLast = s
			}
			f.mu.Unlock()
			f.offer(s)
		case err := <-ended:
			return progressed, err
		case now := <-check.C:
			if f.lagging(now, h.cfg.StaleWatch) {
				return progressed, errStale
			}
		}
	}
}

// lagging reports whether the stream has been behind a state a write returned for longer than
// limit, starting the clock the first time it sees it behind. The stream has caught up when it has
// sent a state of the room at least as new, by version, as the write's.
func (f *feed) lagging(now time.Time, limit time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hint == nil || f.streamLast != nil && f.streamLast.GetVersion() >= f.hint.GetVersion() {
		f.behindAt = time.Time{}
		return false
	}
	if f.behindAt.IsZero() {
		f.behindAt = now
	}
	return now.Sub(f.behindAt) >= limit
}
