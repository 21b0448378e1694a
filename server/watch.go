// Watchers: the fan-out of room states from the apply path to Game.Watch streams.
//
// After each Ready the loop pushes the new state of every room a command changed (Raft paper §5.3:
// every server applies committed entries in order, so every node can serve watches) to the
// room's watchers. A watcher holds one slot that always keeps the newest state: a slow stream
// skips states instead of making the loop wait, never sees an older state after a newer one, and
// always ends on the room's latest state. "Newer" is the room's version (the log index of the
// command that last changed it), never the node's commit index: commands to other rooms move that.
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
	// offered is the version of the last state offered: only a newer one goes out, so the same
	// state offered twice (at the watch's start, then by the write that made it) goes out once.
	offered uint64
	any     bool // a state has been offered
}

func newWatcher(room string) *watcher {
	return &watcher{room: room, latest: make(chan *kannapb.RoomState, 1)}
}

// offer replaces whatever state the watcher has not taken yet with s, unless s is no newer than
// what it was offered before. Only the loop calls it, so after the drain the slot is empty and the
// send cannot block.
func (w *watcher) offer(s *kannapb.RoomState) {
	if w.any && s.Version <= w.offered {
		return
	}
	w.offered, w.any = s.Version, true
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
