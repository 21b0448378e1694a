// Watchers: the fan-out of room states from the apply path to Game.Watch streams.
//
// After each Ready the loop pushes the new state of every room a command changed (Raft paper §5.3:
// every server applies committed entries in order, so every node can serve watches) to the
// room's watchers. A watcher holds one slot that always keeps the newest state: a slow stream
// skips states instead of making the loop wait, and never sees an older state after a newer one.
package server

import (
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/kanna-cluster/kanna/server/engine"
)

// watcher is one Watch stream's mailbox.
type watcher struct {
	room   string
	latest chan *kannapb.RoomState // capacity 1: the newest state not yet sent
	// offered is the commit index of the last state offered. A held write's answers are delivered
	// after the engine has moved on, so the same state can be offered twice (once when the watch
	// starts, once when the write that applied it completes): only a newer one goes out.
	offered uint64
}

func newWatcher(room string) *watcher {
	return &watcher{room: room, latest: make(chan *kannapb.RoomState, 1)}
}

// offer replaces whatever state the watcher has not taken yet with s, unless s is no newer than
// what it was offered before. Only the loop calls it, so after the drain the slot is empty and the
// send cannot block.
func (w *watcher) offer(s *kannapb.RoomState) {
	if s.CommitIndex <= w.offered {
		return
	}
	w.offered = s.CommitIndex
	select {
	case <-w.latest:
	default:
	}
	w.latest <- s
}

// addWatcher registers w and gives it the room's current state; it fails when the room does not
// exist. Loop only.
func (n *Node) addWatcher(w *watcher) error {
	view, err := n.engine.LocalRoom(w.room)
	if err != nil {
		return err
	}
	set := n.loop.watchers[w.room]
	if set == nil {
		set = map[*watcher]struct{}{}
		n.loop.watchers[w.room] = set
	}
	set[w] = struct{}{}
	w.offer(roomState(view, n.id, n.engine.Applied()))
	return nil
}

// removeWatcher unregisters w. Loop only.
func (n *Node) removeWatcher(w *watcher) {
	set := n.loop.watchers[w.room]
	delete(set, w)
	if len(set) == 0 {
		delete(n.loop.watchers, w.room)
	}
}

// notifyWatchers pushes the state of each watched room that out changed: those its commands
// named, or every watched room when a snapshot replaced the game.
func (n *Node) notifyWatchers(out engine.Output) {
	if len(n.loop.watchers) == 0 {
		return
	}
	changed := map[string]bool{}
	if out.Snapshot != nil {
		for room := range n.loop.watchers {
			changed[room] = true
		}
	}
	for _, ae := range out.Applied {
		if ae.Type == raft.EntryNormal && ae.Result.Err == nil {
			changed[ae.Command.Room] = true
		}
	}
	applied := n.engine.Applied()
	for room := range changed {
		set := n.loop.watchers[room]
		if len(set) == 0 {
			continue
		}
		view, err := n.engine.LocalRoom(room)
		if err != nil {
			continue
		}
		s := roomState(view, n.id, applied)
		for w := range set {
			w.offer(s)
		}
	}
}
