// What a node tells watchers about itself (the Cluster service's Events stream, cluster.proto):
// role changes and elections won (Raft paper §5.2), new terms, entries its leader saw committed
// (§5.3), configuration changes (thesis §4.1) and gossip state changes (SWIM §4.2), each stamped
// when the loop saw it happen. A ring holds the last eventRing of them, so a watcher that
// connects late, such as a web server started after the first election, still sees it.
//
// The loop only appends a record under a short lock; the words are written when a stream sends
// them, so a busy leader committing thousands of entries a second formats none unless watched.
package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
	"github.com/kanna-cluster/kanna/server/engine"
)

// eventRing is how many events a node keeps for watchers.
const eventRing = 256

// eventRec is one event as the loop records it.
type eventRec struct {
	seq   uint64
	at    time.Time
	kind  kannapb.ClusterEventKind
	term  uint64
	index uint64
	text  string               // set unless entry is
	entry *engine.AppliedEntry // a committed entry, described when sent
}

// eventLog is the ring of a node's recent events, written by the loop and read by streams.
type eventLog struct {
	node, boot uint64

	mu      sync.Mutex
	seq     uint64     // the last event's seq
	ring    []eventRec // the last eventRing events: seq s is at ring[(s-1)%eventRing]
	changed chan struct{}
	handed  bool // a stream holds changed: the next add closes it and makes another
}

func newEventLog(node uint64, now time.Time) *eventLog {
	return &eventLog{node: node, boot: uint64(now.UnixMicro()), changed: make(chan struct{})}
}

// add records an event and wakes the streams.
func (l *eventLog) add(r eventRec) {
	l.mu.Lock()
	l.seq++
	r.seq = l.seq
	if len(l.ring) < eventRing {
		l.ring = append(l.ring, r)
	} else {
		l.ring[(r.seq-1)%eventRing] = r
	}
	if l.handed {
		close(l.changed)
		l.changed, l.handed = make(chan struct{}), false
	}
	l.mu.Unlock()
}

// since returns the events after seq after of boot boot (every event held when boot is another
// run's), how many the watcher missed because the ring dropped them, and a channel closed by the
// next add.
func (l *eventLog) since(boot, after uint64) (evs []eventRec, lost uint64, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.seq - uint64(len(l.ring)) + 1 // the oldest seq held
	if boot != l.boot {
		after = 0 // a new watcher, or one of an earlier run: it has nothing of this one to miss
	} else if after+1 < first {
		lost = first - after - 1
	}
	for seq := max(after+1, first); seq <= l.seq; seq++ {
		evs = append(evs, l.ring[(seq-1)%eventRing])
	}
	l.handed = true
	return evs, lost, l.changed
}

// proto renders a record for the stream.
func (l *eventLog) proto(r eventRec) *kannapb.ClusterEvent {
	text := r.text
	if r.entry != nil {
		text = fmt.Sprintf("entry %d of term %d committed: %s", r.entry.Index, r.entry.Term, describeApplied(*r.entry))
	}
	return &kannapb.ClusterEvent{Node: l.node, Boot: l.boot, Seq: r.seq, UnixMicros: r.at.UnixMicro(),
		Kind: r.kind, Term: r.term, Index: r.index, Text: text}
}

// describeEntry says what a log entry carries, in words.
func describeEntry(e raft.Entry) (kannapb.LogEntryKind, string) {
	switch e.Type {
	case raft.EntryNoop:
		return kannapb.LogEntryKind_LOG_ENTRY_KIND_NOOP, "no-op of the new leader"
	case raft.EntryConfChange:
		cc, err := raft.UnmarshalConfChange(e.Data)
		if err != nil {
			return kannapb.LogEntryKind_LOG_ENTRY_KIND_CONF_CHANGE, "configuration change (unreadable: " + err.Error() + ")"
		}
		return kannapb.LogEntryKind_LOG_ENTRY_KIND_CONF_CHANGE, describeConfChange(cc)
	}
	cmd, err := game.DecodeCommand(e.Data)
	if err != nil {
		return kannapb.LogEntryKind_LOG_ENTRY_KIND_COMMAND, "unreadable command: " + err.Error()
	}
	return kannapb.LogEntryKind_LOG_ENTRY_KIND_COMMAND, cmd.Describe()
}

// describeApplied says what an applied entry carried and, for a command, what the game made of it.
func describeApplied(ae engine.AppliedEntry) string {
	switch ae.Type {
	case raft.EntryNoop:
		return "no-op of the new leader"
	case raft.EntryConfChange:
		return describeConfChange(ae.ConfChange)
	}
	if ae.Command.Kind == "" {
		return "unreadable command, refused by the game"
	}
	text := ae.Command.Describe()
	switch r := ae.Result; {
	case r.Err != nil:
		text += " (refused: " + r.Err.Error() + ")"
	case ae.Command.Kind == game.KindGuess && r.Repeated:
		text += " (already tried)"
	case ae.Command.Kind == game.KindGuess && r.Hit:
		text += fmt.Sprintf(" (a hit, %d points)", r.Points)
	case ae.Command.Kind == game.KindGuess:
		text += " (a miss)"
	}
	return text
}

// describeConfChange says a configuration change in words: "add node 4 as a voter".
func describeConfChange(cc raft.ConfChange) string {
	switch cc.Type {
	case raft.AddVoter:
		return fmt.Sprintf("add node %d as a voter", cc.NodeID)
	case raft.AddLearner:
		return fmt.Sprintf("add node %d as a learner", cc.NodeID)
	case raft.RemoveNode:
		return fmt.Sprintf("remove node %d", cc.NodeID)
	}
	return fmt.Sprintf("%s node %d", cc.Type, cc.NodeID)
}

// roleText says a role change in words, for the event log.
func roleText(id uint64, s raft.SoftState, term uint64) string {
	switch s.Role {
	case raft.Leader:
		return fmt.Sprintf("node %d won the election for term %d and leads", id, term)
	case raft.Candidate:
		return fmt.Sprintf("node %d stands for election in term %d (candidate)", id, term)
	case raft.PreCandidate:
		return fmt.Sprintf("node %d heard from no leader within its election timeout and asks whether it could win term %d (pre-candidate)", id, term+1)
	}
	if s.Lead != raft.None {
		return fmt.Sprintf("node %d follows node %d in term %d", id, s.Lead, term)
	}
	return fmt.Sprintf("node %d is a follower in term %d, with no leader known", id, term)
}
